/**
 * `concord unpark <id>`: lifts a connector's rate-limit park (after a 429 or a spent daily
 * allowance), the same as `POST /api/v1/connectors/{id}/unpark`. It acts on the hub's Redis
 * directly: every running hub process notices before its next call to the system, and a push
 * (and erase run) of what waits is queued at once. A system still out of allowance parks again.
 */
import type { Command } from 'commander';
import { toMergePolicy } from '../../config/policy.js';
import { PrivacyService, privacyOptionsFromConfig } from '../../privacy/index.js';
import { openConfiguredStore } from '../../app/store.js';
import { createEngine } from '../../sync/index.js';
import { withConfigOption } from '../config-path.js';
import { loadConnector } from '../connector-config.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { createHubLogger } from '../../app/logger.js';

interface Options {
  config?: string;
  json?: boolean;
}

async function unpark(io: CliIo, id: string, options: Options): Promise<number> {
  const loaded = await loadConnector(io, 'concord unpark', id, options.config);
  if (!loaded) return 1;
  const { config, connectors } = loaded;
  const logger = createHubLogger({ level: io.env['LOG_LEVEL'] ?? 'warn', ...(io.logs ? { destination: io.logs } : {}) });
  const policy = toMergePolicy(config);
  const store = await openConfiguredStore(config, connectors, logger);
  const engine = createEngine({ redis: config.hub.redisUrl, prefix: config.hub.keyPrefix, store, connectors, policy, logger });
  const privacy = new PrivacyService({
    store,
    redis: engine.connection,
    prefix: engine.prefix,
    connectors,
    policy,
    ingestPatch: () => Promise.reject(new Error('concord unpark ingests nothing')),
    logger,
    options: privacyOptionsFromConfig(config),
  });
  try {
    const lifted = await engine.unpark(id);
    const parkedForMs = Math.max(lifted.parkedForMs, await privacy.unpark(id));
    await store.appendAudit({ actor: 'cli', action: 'connector.unparked', profileId: null, detail: { connector: id, parkedForMs } });
    if (options.json) io.log(JSON.stringify({ connector: id, parkedForMs }));
    else if (parkedForMs > 0) io.log(`${id}: park lifted (${Math.ceil(parkedForMs / 1000)} s were left); waiting work is pushed now`);
    else io.log(`${id}: park lifted (it was not parked); waiting work is pushed now`);
    return 0;
  } finally {
    await privacy.close();
    await engine.close();
    await store.close();
  }
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('unpark <id>'))
    .description("lift a connector's rate-limit park (its allowance is back early) and push what waits at once")
    .option('--json', 'print the result as JSON')
    .action(async (id: string, options: Options) => {
      try {
        io.exit(await unpark(io, id, options));
      } catch (err) {
        io.error(`concord unpark: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}

/**
 * `concord connector setup <id>`: tells a connected system what it must know of the hub (its
 * webhook, with the right event sources) through the connector's `setup`, and prints what was
 * done, one line each. Safe to run again: a registration already right is kept.
 */
import type { Command } from 'commander';
import { createHubLogger } from '../../app/logger.js';
import { webhookUrlOf } from '../../connector/webhook-url.js';
import { withConfigOption } from '../config-path.js';
import { loadConnector } from '../connector-config.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

interface SetupOptions {
  config?: string;
  publicUrl?: string;
}

async function setup(io: CliIo, id: string, options: SetupOptions): Promise<number> {
  const loaded = await loadConnector(io, 'concord connector setup', id, options.config);
  if (!loaded) return 1;
  const { connector } = loaded;
  const logger = createHubLogger({ level: io.env['LOG_LEVEL'] ?? 'warn', ...(io.logs ? { destination: io.logs } : {}) });
  const instance = await connector.create({ logger });
  try {
    if (!instance.setup) {
      io.log(`${id}: the ${connector.type} connector has nothing to set up in the system`);
      return 0;
    }
    const webhookUrl = webhookUrlOf(options.publicUrl ?? loaded.config.hub.publicUrl, id);
    for (const line of await instance.setup({ webhookUrl }, AbortSignal.timeout(60_000))) io.log(`${id}: ${line}`);
    return 0;
  } finally {
    await instance.close?.();
  }
}

export function register(program: Command, io: CliIo = processIo): void {
  const connector = program.command('connector').description('act on one connected system');
  withConfigOption(connector.command('setup <id>'))
    .description('register what the system must know of the hub (its webhook, with the right sources), and print what was done')
    .option('--public-url <url>', 'the URL the system reaches the hub at (default: hub.publicUrl)')
    .action(async (id: string, options: SetupOptions) => {
      try {
        io.exit(await setup(io, id, options));
      } catch (err) {
        io.error(`concord connector setup: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}

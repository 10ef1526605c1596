/**
 * What `concord dsr` and `concord retention` share: the privacy service on the hub's store and
 * Redis, opened for one command. The hub is the config's, or, while `npm start` runs a demo of
 * the same config file (its state file, `data/demo.json`), the demo's, unless `--no-demo`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { closeRedisClient, createRedisClient } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import { builtinConnectors } from '../../connectors/index.js';
import { demoStateFile, runningDemo } from '../app/demo-state.js';
import { createHubLogger } from '../app/logger.js';
import { redisUrlForLog } from '../app/redis.js';
import { openConfiguredStore } from '../app/store.js';
import { loadConfig } from '../config/load.js';
import { toMergePolicy } from '../config/policy.js';
import type { Config } from '../config/schema.js';
import { PrivacyService, privacyOptionsFromConfig } from '../privacy/index.js';
import { connectorsFromConfig, HubPatchIngest } from '../sync/index.js';
import { resolveConfigPath, withConfigOption } from './config-path.js';
import type { CliIo } from './io.js';
import { printErrors, printWarnings, redactUrl } from './report.js';

export interface SessionOptions {
  config?: string;
  /** `false` with `--no-demo`. */
  demo?: boolean;
}

export interface Session {
  privacy: PrivacyService;
  /** Where the requests are recorded and queued, for hints (no credentials). */
  where: string;
  close(): Promise<void>;
}

/** `--config`, and `--no-demo` to stay off a running demo's data. */
export function withSessionOptions(command: Command): Command {
  return withConfigOption(command).option('--no-demo', "use the config's database and Redis even while npm start runs a demo");
}

/** The hub the command works on: the config's, or the running demo's of the same config file. */
function target(io: CliIo, config: Config, file: string, options: SessionOptions): Config {
  if (options.demo === false) return config;
  const demo = runningDemo(demoStateFile(io.env));
  if (!demo || (demo.config !== undefined && demo.config !== resolve(file))) return config;
  io.error(
    `using the demo that runs now (pid ${demo.pid}): database ${redactUrl(demo.databaseUrl)}, Redis prefix ${demo.keyPrefix}; --no-demo uses the config's`,
  );
  return {
    ...config,
    hub: {
      ...config.hub,
      databaseUrl: demo.databaseUrl,
      keyPrefix: demo.keyPrefix,
      redisUrl: demo.privateRedisUrl ?? config.hub.redisUrl,
    },
  };
}

/** The logger of a command: `LOG_LEVEL` (warn by default), to the io's log destination. */
export function commandLogger(io: CliIo): Logger {
  return createHubLogger({ level: io.env['LOG_LEVEL'] ?? 'warn', ...(io.logs ? { destination: io.logs } : {}) });
}

async function open(io: CliIo, config: Config): Promise<Session> {
  const connectors = connectorsFromConfig(config, builtinConnectors);
  const logger = commandLogger(io);
  const store = await openConfiguredStore(config, connectors, logger);
  const redis = createRedisClient(config.hub.redisUrl, { maxRetriesPerRequest: null });
  const hubIngest = new HubPatchIngest({ store, redis, prefix: config.hub.keyPrefix });
  const privacy = new PrivacyService({
    store,
    redis,
    prefix: config.hub.keyPrefix,
    connectors,
    policy: toMergePolicy(config),
    ingestPatch: (patch, apply) => hubIngest.ingest(patch, apply),
    logger,
    options: privacyOptionsFromConfig(config),
  });
  return {
    privacy,
    where: `database ${redactUrl(config.hub.databaseUrl)}, Redis ${redisUrlForLog(config.hub.redisUrl)} prefix ${config.hub.keyPrefix}`,
    async close() {
      await privacy.close();
      await hubIngest.close();
      await closeRedisClient(redis);
      await store.close();
    },
  };
}

/**
 * Loads the config (its problems printed) and picks the hub the command works on (see
 * `target`); undefined when the config is invalid.
 */
export async function loadSessionConfig(io: CliIo, options: SessionOptions): Promise<Config | undefined> {
  const file = resolveConfigPath(options.config, io.env);
  const loaded = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
  if (!loaded.ok) {
    printErrors(io, loaded.errors);
    return undefined;
  }
  printWarnings(io, loaded.warnings);
  return target(io, loaded.config, file, options);
}

/**
 * Runs a command on a session: loads the config, opens the session with `openSession`, runs
 * `fn` and exits with its code (1 on an error, named after `command`), closing the session.
 */
export async function runSession<S extends { close(): Promise<void> }>(
  io: CliIo,
  command: string,
  options: SessionOptions,
  openSession: (config: Config) => Promise<S>,
  fn: (session: S) => Promise<number>,
): Promise<void> {
  const config = await loadSessionConfig(io, options);
  if (!config) {
    io.exit(1);
    return;
  }
  const session = await openSession(config);
  try {
    io.exit(await fn(session));
  } catch (err) {
    io.error(`concord ${command}: ${err instanceof Error ? err.message : String(err)}`);
    io.exit(1);
  } finally {
    await session.close();
  }
}

/** Loads the config, opens the session, runs `fn` and exits with its code (1 on an error, named after `command`). */
export async function withPrivacySession(
  io: CliIo,
  command: string,
  options: SessionOptions,
  fn: (session: Session) => Promise<number>,
): Promise<void> {
  await runSession(io, command, options, (config) => open(io, config), fn);
}

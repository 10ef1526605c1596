/**
 * What the operator's commands on the engine share (`concord unpark`, `concord sync`, `concord
 * push`): the hub's store, sync engine (no workers started) and privacy service, opened for one
 * command on the config's database and Redis, or a running demo's (see `privacy-session.ts`).
 */
import { builtinConnectors } from '../../connectors/index.js';
import type { Logger } from 'pino';
import { openConfiguredStore } from '../app/store.js';
import { toMergePolicy } from '../config/policy.js';
import type { Config } from '../config/schema.js';
import { PrivacyService, privacyOptionsFromConfig } from '../privacy/index.js';
import type { Store } from '../store/types.js';
import { connectorsFromConfig, engineFromConfig } from '../sync/index.js';
import type { Engine, SyncConnector } from '../sync/index.js';
import type { CliIo } from './io.js';
import { commandLogger, runSession } from './privacy-session.js';
import type { SessionOptions } from './privacy-session.js';

export interface HubSession {
  config: Config;
  /** Every enabled connector instance of the config. */
  connectors: SyncConnector[];
  store: Store;
  /** The engine on the hub's Redis; `start` it to run workers in the command's process. */
  engine: Engine;
  privacy: PrivacyService;
  logger: Logger;
  close(): Promise<void>;
}

async function openHub(io: CliIo, command: string, config: Config): Promise<HubSession> {
  const connectors = connectorsFromConfig(config, builtinConnectors);
  const logger = commandLogger(io);
  const policy = toMergePolicy(config);
  const store = await openConfiguredStore(config, connectors, logger);
  // The hub's own tuning (leases, park durations, timeouts): the workers this process may run behave as the hub's do.
  const engine = engineFromConfig(config, { store, connectors, policy, logger });
  const privacy = new PrivacyService({
    store,
    redis: engine.connection,
    prefix: engine.prefix,
    connectors,
    policy,
    ingestPatch: () => Promise.reject(new Error(`concord ${command} ingests nothing`)),
    logger,
    options: privacyOptionsFromConfig(config),
  });
  return {
    config,
    connectors,
    store,
    engine,
    privacy,
    logger,
    async close() {
      await privacy.close();
      await engine.close();
      await store.close();
    },
  };
}

/** Loads the config, opens the hub session, runs `fn` and exits with its code (1 on an error, named after `command`). */
export async function withHubSession(
  io: CliIo,
  command: string,
  options: SessionOptions,
  fn: (session: HubSession) => Promise<number>,
): Promise<void> {
  await runSession(io, command, options, (config) => openHub(io, command, config), fn);
}

/** The enabled connector instance `id`, or undefined after a line naming the instances there are. */
export function findConnector(io: CliIo, command: string, session: HubSession, id: string): SyncConnector | undefined {
  const connector = session.connectors.find((c) => c.id === id);
  if (!connector)
    io.error(`concord ${command}: no enabled connector "${id}" (known: ${session.connectors.map((c) => c.id).join(', ') || 'none'})`);
  return connector;
}

/**
 * Makes sure some process works the connectors' `stage` queues: when no hub process does (none
 * runs, or none with that role), this command's process starts the engine's workers of that role
 * and says so, so a command that waits for its work does not wait forever.
 */
export async function ensureWorkers(io: CliIo, session: HubSession, stage: 'push' | 'pull', connectors: readonly string[]): Promise<void> {
  const counts = await Promise.all(connectors.map((id) => session.engine.queueWorkers(id, stage)));
  const idle = connectors.filter((_, i) => counts[i] === 0);
  if (idle.length === 0) return;
  io.error(`no hub process works ${idle.map((id) => `${stage}.${id}`).join(', ')}: running the ${stage} workers in this process`);
  await session.engine.start({ ingest: false, relay: false, push: stage === 'push', pull: stage === 'pull' });
}

/** Resolves when `check` answers true, looking every `everyMs`; false when the command is stopped (SIGINT) first. */
export async function pollUntil(io: CliIo, check: () => Promise<boolean>, everyMs = 250): Promise<boolean> {
  let stopped = false;
  void io.untilStopped().then(() => (stopped = true));
  while (!stopped) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return false;
}

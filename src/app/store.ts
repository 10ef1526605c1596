/**
 * The store a `concord.yaml` names, opened the one way every command opens it: its URL, the
 * merge policy, the push-capable connector instances as outbox targets, and the hash key.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { toMergePolicy } from '../config/policy.js';
import type { Config } from '../config/schema.js';
import { openStore, parseStoreUrl } from '../store/index.js';
import type { Store } from '../store/index.js';
import type { SyncConnector } from '../sync/index.js';

const outboxTargets = (connectors: readonly SyncConnector[]): string[] => connectors.filter((c) => c.capabilities.push).map((c) => c.id);

export function openConfiguredStore(config: Config, connectors: readonly SyncConnector[], logger: Logger): Promise<Store> {
  return openStore({
    url: config.hub.databaseUrl,
    policy: toMergePolicy(config),
    outboxTargets: outboxTargets(connectors),
    hashKey: config.hub.secrets.hashKey,
    logger,
  });
}

/**
 * The store, for commands that only read it (`concord plan`, `concord profile`): no migration
 * runs, and a SQLite file that does not exist yet is not created (an empty in-memory database
 * stands for it, and `empty` says so).
 */
export async function openStoreForReading(
  config: Config,
  connectors: readonly SyncConnector[],
  logger?: Logger,
): Promise<{ store: Store; empty: boolean }> {
  const location = parseStoreUrl(config.hub.databaseUrl);
  const empty = location.dialect === 'sqlite' && location.filename !== ':memory:' && !existsSync(location.filename);
  const store = await openStore({
    url: empty ? 'sqlite::memory:' : config.hub.databaseUrl,
    policy: toMergePolicy(config),
    outboxTargets: outboxTargets(connectors),
    hashKey: config.hub.secrets.hashKey,
    autoMigrate: empty,
    ...(logger ? { logger } : {}),
  });
  return { store, empty };
}

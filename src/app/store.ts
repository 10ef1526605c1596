/**
 * The store a `concord.yaml` names, opened the one way every command opens it: its URL, the
 * merge policy, the push-capable connector instances as outbox targets, and the hash key.
 */
import type { Logger } from 'pino';
import { toMergePolicy } from '../config/policy.js';
import type { Config } from '../config/schema.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/index.js';
import type { SyncConnector } from '../sync/index.js';

export function openConfiguredStore(config: Config, connectors: readonly SyncConnector[], logger: Logger): Promise<Store> {
  return openStore({
    url: config.hub.databaseUrl,
    policy: toMergePolicy(config),
    outboxTargets: connectors.filter((c) => c.capabilities.push).map((c) => c.id),
    hashKey: config.hub.secrets.hashKey,
    logger,
  });
}

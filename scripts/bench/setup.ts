/**
 * What the sync benchmark's processes share: the systems, the merge policy, and how each
 * memory connector instance is bound.
 */
import type { ConnectorDefinition } from '../../src/connector/define.js';
import { compileMapping } from '../../src/connector/mapping.js';
import { MergePolicy } from '../../src/profile/schema.js';
import { bindConnector } from '../../src/sync/bind.js';
import type { SyncConnector } from '../../src/sync/bind.js';
import { memoryConnector } from '../../connectors/memory/index.js';
import type { MemoryConfig, MemoryCursor } from '../../connectors/memory/index.js';

export const TARGETS = ['a', 'b', 'c'] as const;

/** What the bench tells each of its other hub processes (`hub-worker.ts`), as JSON in CONCORD_BENCH_WORKER. */
export interface HubWorkerSpec {
  redisUrl: string;
  prefix: string;
  dbUrl: string;
  maxBatch: number;
  /** `--role` text of the process. */
  roles: string;
  /** The systems' loopback bridge. */
  systemsUrl: string;
  /** `--waits`: time the calls to Redis, the store and the vendors, and answer `waits` messages with them. */
  waits: boolean;
}
export const SOURCE = 'src';
export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789abcdef';
export const HASH_KEY = 'k'.repeat(32);

/** The memory connector without push and pull: a system people change, that the hub only hears from. */
const sourceDefinition: ConnectorDefinition<MemoryConfig, MemoryCursor> = {
  ...memoryConnector,
  capabilities: { ...memoryConnector.capabilities, push: false, pull: false },
};

export function benchPolicy(): MergePolicy {
  const ids = [SOURCE, ...TARGETS];
  return MergePolicy.parse({
    priorities: Object.fromEntries(ids.map((id, i) => [id, ids.length - i])),
    purposes: { marketing: { authorities: [...ids, 'preference_center', 'admin'], objection: 'directMarketing' } },
  });
}

/**
 * Every connector instance of the bench, for the systems registered under `<prefix>-<id>`
 * (in this process, or behind the loopback bridge at `systemsUrl`).
 */
export function benchConnectors(prefix: string, maxBatch: number, systemsUrl?: string): SyncConnector[] {
  const mapping = compileMapping(memoryConnector, []);
  const bind = (id: string, definition: ConnectorDefinition<MemoryConfig, MemoryCursor>): SyncConnector =>
    bindConnector({
      id,
      definition,
      config: memoryConnector.configSchema.parse({
        system: `${prefix}-${id}`,
        webhookSecret: WEBHOOK_SECRET,
        ...(systemsUrl ? { url: systemsUrl } : {}),
      }),
      mapping,
      // Fast systems: the API's rate limit is not what is measured here.
      limits: { maxBatch, requestsPerWindow: 100_000, windowMs: 1_000 },
    });
  return [bind(SOURCE, sourceDefinition), ...TARGETS.map((id) => bind(id, memoryConnector))];
}

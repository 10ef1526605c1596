/**
 * Ingest of canonical patches from the hub's own sources (`preference_center`, `admin`).
 * They need no mapping and no shadow comparison (no external system reported them), so they
 * go straight into the same store transaction every source's change goes through (identity
 * resolution, suppression check, merge, consent ledger, audit, outbox rows), and the outbox
 * relay is kicked so the change reaches every connected system at once. The caller gets the
 * store's answer, so a page or an API response can show the result.
 */
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { logRedisTrouble, redisAddress } from '../../queue/redis-health.js';
import type { RedisClient } from '../../queue/redis-client.js';
import { HUB_SOURCES } from '../../config/schema.js';
import { ProfilePatch } from '../../profile/schema.js';
import type { ApplyResult, Store } from '../../store/types.js';
import { addRelayJob } from '../context.js';
import { queueNames, queuePrefix } from '../../queue/keys.js';
import type { SyncMetrics } from '../metrics.js';

export interface HubPatchIngestOptions {
  store: Store;
  /** A Redis connection; it is not closed by `close()`. */
  redis: RedisClient;
  /** The engine's key prefix. */
  prefix: string;
  /** The engine's metrics, so hub changes count in `concord_sync_changes_ingested_total`. */
  metrics?: Pick<SyncMetrics, 'changesIngested'> & Partial<Pick<SyncMetrics, 'suppressed'>>;
  /** Debounce of the relay kick (the engine's `relayDelayMs`). */
  relayDelayMs?: number;
  /** Where the relay queue's errors go (at a bounded rate); without it they are left to the connection's owner. */
  logger?: Logger;
}

/** A patch whose source is not one of the hub's own. */
export class NotAHubSourceError extends Error {
  readonly code = 'sync.not_a_hub_source';
  constructor(source: string) {
    super(`source ${JSON.stringify(source)} is not a hub source (${HUB_SOURCES.join(', ')}); connectors report through ingest jobs`);
    this.name = 'NotAHubSourceError';
  }
}

export class HubPatchIngest {
  private readonly relay: Queue;
  private readonly relayDelayMs: number;

  constructor(private readonly options: HubPatchIngestOptions) {
    this.relay = new Queue(queueNames.relay, { connection: options.redis, prefix: queuePrefix(options.prefix, queueNames.relay) });
    // Without a listener BullMQ prints every connection error while Redis is away.
    this.relay.on('error', (err) => {
      if (options.logger)
        logRedisTrouble(options.logger, { queue: this.relay.name, err }, `queue error (redis at ${redisAddress(options.redis)})`);
    });
    this.relayDelayMs = options.relayDelayMs ?? 20;
  }

  /** Applies the patch in one store transaction and schedules its delivery. */
  async ingest(input: ProfilePatch, apply: { actor?: string } = {}): Promise<ApplyResult> {
    const patch = ProfilePatch.parse(input);
    if (!(HUB_SOURCES as readonly string[]).includes(patch.source)) throw new NotAHubSourceError(patch.source);
    const result = await this.options.store.applyPatch(patch, apply.actor ? { actor: apply.actor } : {});
    if (result.status === 'suppressed') this.options.metrics?.suppressed?.inc({ connector: patch.source });
    if (result.status === 'applied') {
      this.options.metrics?.changesIngested.inc({ connector: patch.source });
      if (result.outbox.length > 0) await addRelayJob(this.relay, this.relayDelayMs);
    }
    return result;
  }

  async close(): Promise<void> {
    await this.relay.close();
  }
}

/** What the engine's stages share: connections, stores, queues and the scheduling helpers. */
import type { ChangeCounts } from '../queue/change-counts.js';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import type { ExternalRecord } from '../connector/define.js';
import type { MergePolicy } from '../profile/schema.js';
import type { Store } from '../store/types.js';
import type { SyncConnector, SyncInstance } from './bind.js';
import type { CallLimiter } from '../queue/call-limiter.js';
import type { DeadLetterView } from './outbound/dead-letter.js';
import { jobOptions } from '../queue/job-options.js';
import type { EngineKeys } from '../queue/keys.js';
import { jobId } from '../queue/keys.js';
import type { SyncMetrics } from './metrics.js';
import type { EngineTuning } from './options.js';
import type { DirtyMark, WorkSets } from '../queue/work-sets.js';

export interface EngineContext {
  redis: RedisClient;
  keys: EngineKeys;
  store: Store;
  policy: MergePolicy;
  logger: Logger;
  metrics: SyncMetrics;
  tuning: EngineTuning;
  connectors: ReadonlyMap<string, SyncConnector>;
  /** Live instances, created on first use. */
  instance(id: string): Promise<SyncInstance>;
  work: WorkSets;
  limiter: CallLimiter;
  dead: DeadLetterView;
  queues: {
    ingest: Queue;
    relay: Queue;
    push: ReadonlyMap<string, Queue>;
    pull: ReadonlyMap<string, Queue>;
    /** Per connector that takes webhooks and reads records: the batch reads of changed records. */
    read: ReadonlyMap<string, Queue>;
  };
  /** Screens every batch of records passes before ingest (see `Engine.addRecordScreen`). */
  screens: RecordScreen[];
  /** Changes per minute in and out, per connector (the operations page's chart). */
  changes: ChangeCounts;
}

/**
 * Looks at records before they are ingested and returns those to ingest (e.g. privacy/ takes
 * out a record that asks for an erasure and starts the request). Records left out are not
 * ingested at all.
 */
export type RecordScreen = (connector: SyncConnector, records: readonly ExternalRecord[]) => Promise<ExternalRecord[]>;

/** Granularity of "as soon as possible" flush jobs; adds within one slot share a job. */
const NOW_SLOT_MS = 10;

/**
 * Schedules a push of the connector's dirty profiles. Job ids name a future time slot, so
 * adds within one slot collapse into one job, and a job that is already running never
 * swallows an add meant for work that arrived after it started. `now` pushes full batches at
 * once (a partial one still waits until its oldest profile has waited `flushDelayMs`);
 * `eager` pushes what is dirty at once, full or not (the first change of an idle stage, see
 * `markDirtyAndFlush`); a time pushes what is due then.
 */
export async function scheduleFlush(ctx: EngineContext, connector: string, when: 'now' | 'eager' | number): Promise<void> {
  const queue = ctx.queues.push.get(connector);
  if (!queue) return;
  const now = Date.now();
  let id: string;
  let fireAt: number;
  if (when === 'now' || when === 'eager' || ctx.tuning.flushDelayMs === 0 || when <= now) {
    const slot = Math.floor(now / NOW_SLOT_MS) + 1;
    id = jobId('flush', when === 'eager' ? 'e' : 'n', slot);
    fireAt = slot * NOW_SLOT_MS;
  } else {
    const step = ctx.tuning.flushDelayMs;
    const slot = Math.ceil(when / step);
    id = jobId('flush', 'w', slot);
    fireAt = slot * step;
  }
  await queue.add('flush', when === 'eager' ? { connector, eager: true } : { connector }, {
    ...jobOptions.flush(ctx.tuning.pushAttempts),
    jobId: id,
    delay: Math.max(0, fireAt - now),
  });
}

/**
 * Marks profiles dirty for their connectors and schedules each connector's push, "flush
 * immediately when idle, batch when busy" (like Nagle's algorithm): a full batch goes at once;
 * the first change that finds the connector's push stage idle (nothing dirty for it, and
 * nothing marked dirty for it for `idleAfterMs`) goes at once too, as a partial batch; the
 * changes that follow it while the stage is busy gather until a batch is full or its oldest
 * has waited `flushDelayMs`.
 */
export async function markDirtyAndFlush(ctx: EngineContext, byConnector: ReadonlyMap<string, readonly string[]>): Promise<void> {
  await flushMarked(ctx, await ctx.work.markDirty(byConnector, ctx.tuning.idleAfterMs));
}

/** Schedules the pushes of a `markDirty` (given `idleAfterMs`), as `markDirtyAndFlush` does. */
export async function flushMarked(ctx: EngineContext, marks: ReadonlyMap<string, DirtyMark>): Promise<void> {
  for (const [connector, mark] of marks) {
    const maxBatch = ctx.connectors.get(connector)?.limits.maxBatch ?? 1;
    let when: 'now' | 'eager' | number = Date.now() + ctx.tuning.flushDelayMs;
    if (mark.dirty >= maxBatch) when = 'now';
    else if (mark.idle) when = 'eager';
    await scheduleFlush(ctx, connector, when);
  }
}

/** Schedules the outbox relay shortly after a change (debounced by time slot). */
export async function kickRelay(ctx: EngineContext): Promise<void> {
  await addRelayJob(ctx.queues.relay, ctx.tuning.relayDelayMs);
}

/** Adds the debounced relay job to a relay queue: adds within one `relayDelayMs` slot share one job. */
export async function addRelayJob(relay: Queue, relayDelayMs: number): Promise<void> {
  const step = Math.max(1, relayDelayMs);
  const now = Date.now();
  const slot = Math.floor(now / step) + 1;
  await relay.add(
    'relay',
    {},
    {
      ...jobOptions.relay(),
      jobId: jobId('relay', slot),
      delay: Math.max(0, slot * step - now),
    },
  );
}

/**
 * The outbox relay: moves outbox rows (written in the merge's transaction) into the
 * per-connector dirty sets in Redis, then marks them relayed. Rows are claimed with a lease: a
 * relay that dies between claim and mark loses nothing, the rows come back when the lease
 * expires. A relayed row stays in the store until a push to its connector settles it
 * (`Store.settleOutbox`): if Redis loses the dirty sets, `Store.redriveOutbox` hands the rows
 * back to the relay. Many changes to one profile become one dirty entry (coalescing happens here).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisUnavailableError } from '../../queue/redis-health.js';
import type { EngineContext } from '../context.js';
import { flushMarked, scheduleFlush } from '../context.js';
import { sweepRuns } from '../runs.js';

/** How often, and how far apart (ms), the relay asks again when Redis refuses its dirty marks for now. */
const MARK_TRIES = 20;
const MARK_PAUSE_MS = 100;

/**
 * Runs `mark` (the dirty marks of claimed rows) and asks again while Redis answers "not now"
 * (`RedisUnavailableError`: a Cluster slot migrating, a failover): the claimed rows would
 * otherwise wait out their whole lease (`outboxLeaseMs`) before a sweep relays them.
 */
async function markWhileRefused<T>(mark: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await mark();
    } catch (err) {
      if (!(err instanceof RedisUnavailableError) || tries >= MARK_TRIES) throw err;
      await sleep(MARK_PAUSE_MS);
    }
  }
}

export class Relay {
  /** When this process last swept the sync runs (they need it far less often than the outbox). */
  private runsSweptAt = 0;

  constructor(private readonly ctx: EngineContext) {}

  /** Drains the outbox; returns how many rows were relayed. */
  async drain(): Promise<number> {
    const { store, tuning } = this.ctx;
    let total = 0;
    for (;;) {
      const started = performance.now();
      const rows = await store.claimOutbox(tuning.relayBatchSize, tuning.outboxLeaseMs);
      if (rows.length === 0) break;
      const byConnector = new Map<string, string[]>();
      const unknown: string[] = [];
      for (const row of rows) {
        if (!this.ctx.queues.push.has(row.connector)) {
          unknown.push(row.id);
          continue;
        }
        const list = byConnector.get(row.connector) ?? [];
        list.push(row.profileId);
        byConnector.set(row.connector, list);
      }
      if (unknown.length > 0) this.ctx.logger.warn({ rows: unknown.length }, 'outbox rows for connectors without a push queue dropped');
      const marks = await markWhileRefused(() => this.ctx.work.markDirty(byConnector, tuning.idleAfterMs));
      const unknownIds = new Set(unknown);
      // One claim, one lease: rows handed back meanwhile (Redis lost) are not marked.
      await store.markRelayed(
        rows.filter((r) => !unknownIds.has(r.id)).map((r) => r.id),
        rows[0]?.leasedUntil ?? '',
      );
      await store.ackOutbox(unknown);
      total += rows.length;
      await flushMarked(this.ctx, marks);
      // One line per batch of rows, with the rows per target connector.
      const perConnector = Object.fromEntries([...byConnector].map(([connector, ids]) => [connector, ids.length]));
      this.ctx.logger.info(
        { rows: rows.length, connectors: perConnector, dropped: unknown.length, ms: Math.round(performance.now() - started) },
        'relay batch processed',
      );
      if (rows.length < tuning.relayBatchSize) break;
    }
    return total;
  }

  /**
   * The safety net, run on a schedule: drains the outbox (rows whose lease expired after a
   * crash come back here), returns expired in-flight profiles and due retries to dirty, and
   * makes sure every connector with dirty or held profiles has a push scheduled (a push releases
   * held creates once the first pull finished, should the pull have stopped before it did). Every `runSweepEveryMs`
   * it also sweeps the sync runs (`sweepRuns`: abandoned runs failed, old ones deleted).
   */
  async sweep(): Promise<void> {
    await this.drain();
    const now = Date.now();
    if (now - this.runsSweptAt >= this.ctx.tuning.runSweepEveryMs) {
      this.runsSweptAt = now;
      await sweepRuns(
        this.ctx.store,
        this.ctx.logger,
        { runsMs: this.ctx.tuning.runRetentionMs, historyMs: this.ctx.tuning.historyRetentionMs },
        now,
      );
    }
    for (const connector of this.ctx.queues.push.keys()) {
      const taken = await this.ctx.work.take(connector, 0, this.ctx.tuning.inflightLeaseMs);
      if (taken.dirtyLeft > 0 || (await this.ctx.work.heldCount(connector)) > 0) await scheduleFlush(this.ctx, connector, 'now');
      if (taken.nextRetryAt !== null) await scheduleFlush(this.ctx, connector, taken.nextRetryAt);
    }
  }
}

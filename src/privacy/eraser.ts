/**
 * Erasure in one system, batched: a run of `dsr-erase.<connector>` takes up to
 * `eraseBatchSize` waiting erasures, erases all their references in one `erase` call (through
 * the engine's limiter for that system), then reads the system back (`export`, else `read`)
 * to verify the person is gone. Per request and system:
 *
 * - erased or not found, and not found again on reading back: completed (the outcome is kept
 *   as proof); the request is settled, which empties the store once every system is done;
 * - still found on reading back: the records found are added to its references and it is
 *   tried again;
 * - a failure that may pass (5xx, timeouts, a locked record): tried again with exponential
 *   backoff, the error visible on the system's status, up to `eraseMaxAttempts`;
 * - a failure that will not pass: failed.
 *
 * A 429 parks the queue for the Retry-After without spending an attempt.
 */
import { Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { EraseOutcome, EraseRef, ExternalRecord } from '../connector/define.js';
import { RateLimitedError } from '../connector/errors.js';
import { backoffDelay } from '../sync/backoff.js';
import type { SyncConnector, SyncInstance } from '../sync/bind.js';
import type { CallLimiter } from '../sync/call-limiter.js';
import type { Engine } from '../sync/engine.js';
import { callExternal } from '../sync/external-call.js';
import type { DataSubjectRequest } from '../store/types.js';
import { audit, encodeDetail, readDetail, reasonOf, scheduleEraseFlush, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import type { SystemOutcome } from './schema.js';
import { settleRequest } from './settle.js';

export interface EraseJobData {
  connector: string;
}

export interface EraseRunResult {
  taken: number;
  completed: number;
  retried: number;
  failed: number;
}

export interface EraserDeps {
  engine: Pick<Engine, 'instance' | 'metrics'>;
  limiter: CallLimiter;
}

interface Item {
  request: DataSubjectRequest;
  refs: EraseRef[];
  attempt: number;
}

const lower = (s: string): string => s.trim().toLowerCase();

export class Eraser {
  constructor(
    private readonly ctx: PrivacyContext,
    private readonly deps: EraserDeps,
  ) {}

  async process(job: Job<EraseJobData>, signal?: AbortSignal): Promise<EraseRunResult> {
    const { ctx } = this;
    const result: EraseRunResult = { taken: 0, completed: 0, retried: 0, failed: 0 };
    const connector = ctx.connectors.get(job.data.connector);
    if (!connector) return result;
    const t = ctx.options.tuning;
    const take = await ctx.work.take(connector.id, t.eraseBatchSize, t.eraseLeaseMs, t.eraseBatchWaitMs);
    result.taken = take.profileIds.length;
    if (take.profileIds.length === 0) {
      if (take.waitUntil !== null) await scheduleEraseFlush(ctx, connector.id, take.waitUntil);
      if (take.nextRetryAt !== null) await scheduleEraseFlush(ctx, connector.id, take.nextRetryAt);
      return result;
    }
    // Keep the lease while a long batch runs (each reference may be one call).
    const renew = setInterval(() => {
      ctx.work.extend(connector.id, take.profileIds, t.eraseLeaseMs).catch(() => undefined);
    }, Math.max(1_000, t.eraseLeaseMs / 3));
    try {
      await this.eraseBatch(connector, take.profileIds, result, signal ?? new AbortController().signal);
    } finally {
      clearInterval(renew);
    }
    const waiting = await ctx.work.dirtyState(connector.id);
    if (waiting.count >= t.eraseBatchSize) await scheduleEraseFlush(ctx, connector.id, 'now');
    else if (waiting.oldestAt !== null) await scheduleEraseFlush(ctx, connector.id, waiting.oldestAt + t.eraseBatchWaitMs);
    return result;
  }

  private async eraseBatch(connector: SyncConnector, ids: readonly string[], result: EraseRunResult, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const items: Item[] = [];
    const settled: string[] = [];
    for (const id of ids) {
      const request = await ctx.store.getDsr(id);
      const system = request?.systems.find((s) => s.connector === connector.id);
      if (!request || request.kind !== 'erase' || request.status === 'completed' || !system || (system.status !== 'pending' && system.status !== 'in_progress')) {
        settled.push(id);
        continue;
      }
      items.push({ request, refs: readDetail(request).work?.[connector.id] ?? [], attempt: system.attempts + 1 });
    }
    await ctx.work.done(connector.id, settled);
    if (items.length === 0) return;

    const instance = await this.deps.engine.instance(connector.id);
    const erase = instance.erase;
    if (!erase) {
      for (const item of items) await this.fail(connector, item, 'the connector cannot erase; erase the person there by hand', result);
      return;
    }
    for (const item of items) {
      await ctx.store.updateDsrSystem(item.request.id, connector.id, { status: 'in_progress', attempts: item.attempt });
      await audit(ctx, 'dsr.erase.attempt', item.request, { connector: connector.id, attempt: item.attempt, refs: item.refs.length });
    }

    const all = items.flatMap((item) => item.refs);
    let outcomes: EraseOutcome[] = [];
    try {
      if (all.length > 0) outcomes = await this.call(connector, 'erase', () => erase(all, signal), signal);
    } catch (err) {
      await this.callFailed(connector, items, err, result);
      return;
    }

    const confirmed: { item: Item; outcomes: EraseOutcome[] }[] = [];
    let offset = 0;
    for (const item of items) {
      const own = outcomes.slice(offset, offset + item.refs.length);
      offset += item.refs.length;
      const failure = own.find((o): o is Extract<EraseOutcome, { status: 'failed' }> => o.status === 'failed');
      if (own.length < item.refs.length) await this.retryOrFail(connector, item, 'the system returned no outcome for a reference', true, result);
      else if (failure) await this.retryOrFail(connector, item, failure.reason, failure.retryable, result);
      else confirmed.push({ item, outcomes: own });
    }
    if (confirmed.length === 0) return;

    let verified: SystemOutcome['verified'] = 'off';
    let remaining = new Map<Item, ExternalRecord[]>();
    if (ctx.options.verifyErasure) {
      try {
        const check = await this.readBack(connector, instance, confirmed.map((c) => c.item), signal);
        verified = check.verified;
        remaining = check.remaining;
      } catch (err) {
        await this.callFailed(connector, confirmed.map((c) => c.item), err, result);
        return;
      }
    }
    for (const { item, outcomes: own } of confirmed) {
      const left = remaining.get(item) ?? [];
      if (left.length > 0) {
        await this.addRefs(item, connector.id, [...new Set(left.map((r) => r.externalId))].map((externalId) => ({ externalId })));
        await this.retryOrFail(connector, item, `still found after erasing: ${left.length} record(s)`, true, result);
        continue;
      }
      const erased = own.filter((o) => o.status === 'erased').length;
      await this.complete(connector, item, { outcome: erased > 0 ? 'erased' : 'not_found', records: erased, verified, at: ctx.now().toISOString() }, result);
    }
  }

  /** One call through the engine's limiter for the system, with its quick retries of transient failures. */
  private call<T>(connector: SyncConnector, operation: 'erase' | 'export' | 'read', fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const t = this.ctx.options.tuning;
    return callExternal(
      { limiter: this.deps.limiter, metrics: this.deps.engine.metrics, retries: t.callRetries, retryMinMs: t.callRetryMinMs },
      connector,
      operation,
      fn,
      { signal },
    );
  }

  /** Reads the system back: which of the erased people does it still hold? */
  private async readBack(
    connector: SyncConnector,
    instance: SyncInstance,
    items: readonly Item[],
    signal: AbortSignal,
  ): Promise<{ verified: SystemOutcome['verified']; remaining: Map<Item, ExternalRecord[]> }> {
    const ids = [...new Set(items.flatMap((i) => i.refs.flatMap((r) => (r.externalId ? [r.externalId] : []))))];
    const emails = [...new Set(items.flatMap((i) => i.refs.flatMap((r) => (r.email ? [lower(r.email)] : []))))];
    let found: ExternalRecord[];
    const exporter = instance.export;
    const reader = instance.read;
    if (exporter) {
      // Ids and addresses apart: a duplicate record with the same address is found too.
      const refs: EraseRef[] = [...ids.map((externalId) => ({ externalId })), ...emails.map((email) => ({ email }))];
      found = refs.length === 0 ? [] : await this.call(connector, 'export', () => exporter(refs, signal), signal);
    } else if (reader) {
      found = ids.length === 0 ? [] : await this.call(connector, 'read', () => reader(ids, signal), signal);
    } else {
      return { verified: 'unsupported', remaining: new Map() };
    }
    const remaining = new Map<Item, ExternalRecord[]>();
    for (const item of items) {
      const itemIds = new Set(item.refs.flatMap((r) => (r.externalId ? [r.externalId] : [])));
      const itemEmails = new Set(item.refs.flatMap((r) => (r.email ? [lower(r.email)] : [])));
      const mine = found.filter(
        (record) =>
          itemIds.has(record.externalId) ||
          Object.values(record.fields).some((value) => typeof value === 'string' && itemEmails.has(lower(value))),
      );
      if (mine.length > 0) remaining.set(item, mine);
    }
    return { verified: 'yes', remaining };
  }

  /** The whole call failed: park on a 429, otherwise each request is tried again later (or fails). */
  private async callFailed(connector: SyncConnector, items: readonly Item[], err: unknown, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    if (err instanceof RateLimitedError) {
      await ctx.work.requeue(connector.id, items.map((i) => i.request.id));
      // The attempt does not count: a rate limit is no failure of the system.
      for (const item of items) await ctx.store.updateDsrSystem(item.request.id, connector.id, { attempts: item.attempt - 1 });
      ctx.logger.info({ connector: connector.id, retryAfterMs: err.retryAfterMs }, 'rate limited: erase queue parked');
      await ctx.queues.erase.get(connector.id)?.rateLimit(Math.max(1, err.retryAfterMs));
      throw Worker.RateLimitError();
    }
    const reason = reasonOf(err);
    ctx.logger.warn({ connector: connector.id, requests: items.length, reason }, 'erase call failed');
    // An auth or config error needs a person to fix it, but it does not make the erasure impossible: keep trying with backoff.
    for (const item of items) await this.retryOrFail(connector, item, reason, true, result);
  }

  private async retryOrFail(connector: SyncConnector, item: Item, reason: string, retryable: boolean, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    const t = ctx.options.tuning;
    if (!retryable || item.attempt >= t.eraseMaxAttempts) {
      await this.fail(connector, item, retryable ? `gave up after ${item.attempt} attempts: ${reason}` : reason, result);
      return;
    }
    const delayMs = backoffDelay(item.attempt, t.backoff);
    await ctx.work.retryLater(connector.id, [{ profileId: item.request.id, delayMs }]);
    // It stays in progress, with the failure visible, until it succeeds or gives up.
    await ctx.store.updateDsrSystem(item.request.id, connector.id, { status: 'in_progress', error: reason });
    await audit(ctx, 'dsr.erase.retry', item.request, { connector: connector.id, attempt: item.attempt, retryInMs: delayMs, reason });
    ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: 'retry' });
    await scheduleEraseFlush(ctx, connector.id, Date.now() + delayMs);
    result.retried++;
  }

  private async fail(connector: SyncConnector, item: Item, reason: string, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    await ctx.work.done(connector.id, [item.request.id]);
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      detail.outcomes[connector.id] = { outcome: 'failed', at: ctx.now().toISOString() };
      await ctx.store.updateDsr(current.id, { detail: encodeDetail(detail) });
      await ctx.store.updateDsrSystem(current.id, connector.id, { status: 'failed', error: reason });
      await audit(ctx, 'dsr.erase.failed', current, { connector: connector.id, attempt: item.attempt, reason });
      await settleRequest(ctx, current.id);
    });
    ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: 'failed' });
    ctx.logger.warn({ dsrId: item.request.id, connector: connector.id, reason }, 'erasure failed in one system');
    result.failed++;
  }

  private async complete(connector: SyncConnector, item: Item, outcome: SystemOutcome, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      detail.outcomes[connector.id] = outcome;
      await ctx.store.updateDsr(current.id, { detail: encodeDetail(detail) });
      await ctx.store.updateDsrSystem(current.id, connector.id, { status: 'completed', error: null });
      await audit(ctx, 'dsr.erase.completed', current, { connector: connector.id, outcome: outcome.outcome, records: outcome.records ?? 0, verified: outcome.verified ?? 'off' });
      await settleRequest(ctx, current.id);
    });
    await ctx.work.done(connector.id, [item.request.id]);
    ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: outcome.outcome });
    result.completed++;
  }

  /** Adds references found on reading back, so the next attempt erases them too. */
  private async addRefs(item: Item, connector: string, refs: EraseRef[]): Promise<void> {
    const { ctx } = this;
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      const work = { ...(detail.work ?? {}) };
      const list = [...(work[connector] ?? [])];
      for (const ref of refs) if (!list.some((r) => r.externalId === ref.externalId)) list.push(ref);
      work[connector] = list;
      await ctx.store.updateDsr(current.id, { detail: encodeDetail({ ...detail, work }) });
    });
  }
}

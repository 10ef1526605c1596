/**
 * Push: one job of `push.<connector>` takes up to `maxBatch` dirty profiles, maps each out
 * (gated by consent and restriction), drops what equals the shadow, and makes one batch call.
 * Each record's outcome is handled on its own: ok updates the shadow, retryable backs off,
 * rejected goes to the dead-letter view. A 429 parks the whole queue without spending an
 * attempt; any other failure of the call puts the batch back and lets BullMQ retry the job.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import type { Job, Queue } from 'bullmq';
import { RateLimitedError, RejectedError } from '../../connector/errors.js';
import type { ConnectorError } from '../../connector/errors.js';
import type { PushOutcome, PushRecord } from '../../connector/define.js';
import { outboundTimes } from '../../connector/mapping.js';
import { outboundChange } from './outbound-change.js';
import { backoffDelay } from '../../queue/backoff.js';
import type { SyncConnector, SyncInstance } from '../bind.js';
import { scheduleFlush } from '../context.js';
import type { EngineContext } from '../context.js';
import type { DeadLetter } from './dead-letter.js';
import { callExternal, limitOf } from '../../queue/external-call.js';
import type { IngestJobData } from '../inbound/ingest.js';
import { ingestJobOptions } from '../inbound/webhooks.js';
import type { TakeResult } from '../../queue/work-sets.js';
import { millisOf } from '../inbound/write-log.js';
import type { WriteLog } from '../inbound/write-log.js';
import type { OutboxSettlement, PushLogEntry } from '../../store/types.js';
import { StoreError } from '../../store/index.js';
import type { Json } from '../../profile/schema.js';
import type { RunRowError } from '../../store/types.js';
import { startRun } from '../runs.js';
import type { RunRecorder } from '../runs.js';
import { firstPullPending, holdsCreates, waitsForFirstPull } from '../initial-sync.js';

/** Most extra takes that refill a batch whose profiles had nothing new (see `prepareFull`). */
const TOP_UP_ROUNDS = 3;

/** Attempts at recording the outcome of a call the system answered (see `recordOutcome`). */
const OUTCOME_ATTEMPTS = 5;

export interface FlushJobData {
  connector: string;
  /**
   * The first change of an idle stage (`markDirtyAndFlush`): what is dirty goes now, a partial
   * batch too. Without it a partial batch waits until its oldest profile has waited `flushDelayMs`.
   */
  eager?: boolean;
}

export interface FlushResult {
  taken: number;
  sent: number;
  ok: number;
  retryable: number;
  rejected: number;
  /** Records it would have created, held until the system's first full pull finished. */
  held: number;
}

/**
 * Taken profiles sorted: records to send, profiles with nothing to send, and profiles whose record
 * would be created but is held (the system's first full pull has not finished).
 */
interface PreparedBatch {
  prepared: Prepared[];
  settled: string[];
  creates: string[];
}

/** A record to push with the shadow values its fields replace. */
interface Prepared {
  record: PushRecord;
  prev: Record<string, Json>;
  /** What the system will hold once the record is written (its shadow with the fields sent). */
  after: Record<string, Json>;
  /** When the shadow learnt each field it held (ms, `Shadow.valuesAt`). */
  knownAtBy: Record<string, number>;
}

export class Pusher {
  /** Instances whose first full pull this process saw finished (it stays finished): nothing is held for them. */
  private readonly released = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly writes: WriteLog,
  ) {}

  async process(job: Job<FlushJobData>, signal?: AbortSignal): Promise<FlushResult> {
    const { ctx } = this;
    const connector = ctx.connectors.get(job.data.connector);
    const queue = ctx.queues.push.get(job.data.connector);
    const result: FlushResult = { taken: 0, sent: 0, ok: 0, retryable: 0, rejected: 0, held: 0 };
    if (!connector || !queue) return result;
    const instance = await ctx.instance(connector.id);
    if (!instance.push) return result;
    // Until the first full pull finished (`initial-sync.ts`), pull-only pushes nothing: what is
    // dirty stays dirty (its outbox rows stay too); both and push-only create nothing (`prepare`).
    // The end of that pull queues a flush.
    const holds = await this.heldUntilFirstPull(connector);
    if (holds === 'everything') return result;

    const eager = job.data.eager === true;
    const take = await ctx.work.take(
      connector.id,
      connector.limits.maxBatch,
      ctx.tuning.inflightLeaseMs,
      eager ? 0 : ctx.tuning.flushDelayMs,
    );
    if (take.profileIds.length === 0) {
      if (take.waitUntil !== null) await scheduleFlush(ctx, connector.id, take.waitUntil);
      // Eager, but what is dirty is held (a push or an ingest of it is running): it waits as a partial batch does.
      if (eager && take.dirtyLeft > 0) await scheduleFlush(ctx, connector.id, Date.now() + ctx.tuning.flushDelayMs);
      if (take.nextRetryAt !== null) await scheduleFlush(ctx, connector.id, take.nextRetryAt);
      return result;
    }

    // The profiles stay ours however long this push runs (see `keepLeases`).
    const leased = new Set(take.profileIds);
    const stop = ctx.work.keepLeases(
      () => [...leased].map((profileId) => ({ connector: connector.id, profileId })),
      ctx.tuning.inflightLeaseMs,
      (err) => ctx.logger.warn({ connector: connector.id, err }, 'could not renew the in-flight lease'),
    );
    try {
      return await this.processTaken(connector, instance, queue, { take, leased, holdCreates: holds === 'creates' }, result, signal);
    } finally {
      stop();
    }
  }

  /**
   * What pushes to the instance hold back until its first full pull finished: everything
   * (pull-only), the records they would create (both, push-only; see `holdsCreates`), or nothing.
   */
  private async heldUntilFirstPull(connector: SyncConnector): Promise<'everything' | 'creates' | null> {
    const holds = waitsForFirstPull(connector) ? 'everything' : holdsCreates(connector) ? 'creates' : null;
    if (this.released.has(connector.id)) return null;
    if (holds !== null && (await firstPullPending(this.ctx.store, connector.id))) return holds;
    this.released.add(connector.id);
    // The pull released what was held when it finished; this covers a pull that stopped in
    // between, and an instance that holds nothing any more (its schedule removed, now pull-only
    // after its first pull, no pull at all): what an earlier hold left is pushed now, once per process.
    if ((await this.ctx.work.releaseHeld(connector.id)) > 0) await scheduleFlush(this.ctx, connector.id, 'now');
    return null;
  }

  /**
   * Holds the profiles whose records a push would create in a system whose first full pull has
   * not finished: out of flight and out of the dirty set, so no flush takes them again (their
   * outbox rows stay). The pull makes them dirty when it finished; if it finished since this flush
   * looked, that release may have run before this hold, so they are released here.
   */
  private async holdCreates(connector: SyncConnector, profileIds: readonly string[], leased: Set<string>): Promise<void> {
    await this.ctx.work.hold(connector.id, profileIds);
    for (const id of profileIds) leased.delete(id);
    this.ctx.logger.debug({ connector: connector.id, profiles: profileIds.length }, 'creates held until the first full pull finished');
    if (await firstPullPending(this.ctx.store, connector.id)) return;
    await this.ctx.work.releaseHeld(connector.id);
    await scheduleFlush(this.ctx, connector.id, 'now');
  }

  private async processTaken(
    connector: SyncConnector,
    instance: SyncInstance,
    queue: Queue,
    taken: { take: TakeResult; leased: Set<string>; holdCreates: boolean },
    result: FlushResult,
    signal?: AbortSignal,
  ): Promise<FlushResult> {
    const { ctx } = this;
    // The profile version each taken profile was read at: a finished push settles the outbox rows
    // up to it (null: the profile is gone).
    const versions = new Map<string, number | null>();
    const { prepared, settled, creates } = await this.prepareFull(connector, taken, versions);
    if (creates.length > 0) await this.holdCreates(connector, creates, taken.leased);
    result.held = creates.length;
    // Every profile taken, the top-ups included, is prepared, settled or held (counted apart).
    result.taken = prepared.length + settled.length;
    const records = prepared.map((p) => p.record);
    if (records.length === 0) {
      await this.settleOutbox(connector, settled, versions);
      await this.settle(connector, [], settled);
      await this.chain(connector);
      return result;
    }
    result.sent = records.length;

    // Park the queue rather than hold a worker when the system's budget is spent.
    const [slot, attempts, asked] = await Promise.all([
      ctx.limiter.tryReserve(connector.id, limitOf(connector)),
      ctx.work.attempts(
        connector.id,
        records.map((r) => r.profileId),
      ),
      ctx.work.repushOrigin(
        connector.id,
        records.map((r) => r.profileId),
      ),
    ]);
    if (slot.token === null) {
      await this.putBack(connector, records, settled, versions);
      await queue.rateLimit(slot.wait);
      throw Worker.RateLimitError();
    }
    // The batch is a run from here (see `runs.ts`): what it read, sent, wrote, skipped, and each failed record.
    const run = await startRun(
      { store: ctx.store, logger: ctx.logger, leaseMs: ctx.tuning.runLeaseMs },
      // A batch carrying a profile an operator asked to push again (`pushAgain`) is theirs.
      { connector: connector.id, kind: 'push', ...(asked ?? { trigger: 'schedule' }) },
    );
    Object.assign(run.counts, { read: result.taken, changed: records.length, skipped: settled.length });
    try {
      await this.send(connector, instance, queue, { prepared, settled, versions, attempts, slot: slot.token }, result, run, signal);
    } catch (err) {
      await run.finish(err);
      throw err;
    }
    await run.finish();
    return result;
  }

  /** Sends a prepared batch (its call slot reserved) and handles each record's outcome. */
  private async send(
    connector: SyncConnector,
    instance: SyncInstance,
    queue: Queue,
    batch: {
      prepared: readonly Prepared[];
      settled: readonly string[];
      versions: ReadonlyMap<string, number | null>;
      attempts: readonly (number | undefined)[];
      slot: string;
    },
    result: FlushResult,
    run: RunRecorder,
    signal?: AbortSignal,
  ): Promise<void> {
    const { ctx } = this;
    const { prepared, settled, versions, attempts } = batch;
    const records = prepared.map((p) => p.record);
    const uncertain = await this.writes.begin(
      connector.id,
      prepared.map((p) => ({
        profileId: p.record.profileId,
        fields: p.record.fields,
        prev: p.prev,
        after: p.after,
        valuesAt: millisOf(p.record.valuesAt),
        ...(p.record.heldAt ? { knownAt: Date.parse(p.record.heldAt) } : {}),
        knownAtBy: p.knownAtBy,
      })),
    );
    for (const r of records) if (r.externalId === undefined && uncertain.has(r.profileId)) r.mayExist = true;
    await this.learnPrev(connector, prepared);

    let outcomes: PushOutcome[];
    const answered = { at: 0 };
    try {
      outcomes = await this.call(connector, instance, records, batch.slot, answered, signal);
    } catch (err) {
      // A connector that stopped before its first call wrote nothing: its entries are refused writes, never echoes.
      if (err instanceof RateLimitedError && err.nothingWritten)
        this.writes.settle(connector.id, new Map(records.map((r) => [r.profileId, { ok: false }])));
      await this.writes.finish(
        connector.id,
        records.map((r) => r.profileId),
      );
      await this.putBack(connector, records, settled, versions);
      // The run ends with the system's answer, not with the queue's park that follows.
      await run.finish(err);
      if (err instanceof RateLimitedError) {
        ctx.logger.info({ connector: connector.id, retryAfterMs: err.retryAfterMs }, 'rate limited: push queue parked');
        await queue.rateLimit(Math.max(1, err.retryAfterMs));
        throw Worker.RateLimitError();
      }
      ctx.logger.warn({ connector: connector.id, err, records: records.length }, 'push call failed');
      throw err;
    }

    const byProfile = new Map(outcomes.map((o) => [o.profileId, o]));
    this.writes.settle(
      connector.id,
      new Map(
        records.map((r) => {
          const o = byProfile.get(r.profileId);
          return [
            r.profileId,
            {
              ok: o?.status === 'ok',
              ...(o?.status === 'ok' && o.created === true ? { created: true } : {}),
              ...(o?.status === 'ok' && o.writtenAt !== undefined ? { landedAt: Date.parse(o.writtenAt) } : {}),
              ...(o?.status === 'ok' && o.fieldsWrittenAt !== undefined ? { landedAtBy: millisOf(o.fieldsWrittenAt) } : {}),
            },
          ];
        }),
      ),
      answered.at,
    );
    const delivered: string[] = [];
    const retry: { profileId: string; delayMs: number }[] = [];
    const dead: DeadLetter[] = [];
    const found: string[] = [];
    const externalIds = new Map<string, string>();
    const pushedAt = new Date().toISOString();
    const accepted: PushLogEntry[] = [];
    for (const [i, record] of records.entries()) {
      const outcome: PushOutcome = byProfile.get(record.profileId) ?? {
        status: 'retryable',
        profileId: record.profileId,
        reason: 'no outcome returned for the record',
      };
      ctx.metrics.pushes.inc({ connector: connector.id, outcome: outcome.status });
      const tries = (attempts[i] ?? 0) + 1;
      switch (outcome.status) {
        case 'ok':
          run.counts.written++;
          run.change(record.profileId, Object.keys(record.fields), {
            ref: outcome.externalId,
            ...(outcome.created ? { created: true } : {}),
          });
          accepted.push({
            profileId: record.profileId,
            connector: connector.id,
            externalId: outcome.externalId,
            values: record.fields,
            pushedAt,
          });
          delivered.push(record.profileId);
          externalIds.set(record.profileId, outcome.externalId);
          result.ok++;
          break;
        case 'retryable':
          result.retryable++;
          run.failRow(rowError(record, outcome.reason, 'retryable', outcome.externalId));
          if (outcome.externalId !== undefined) found.push(outcome.externalId);
          if (tries >= ctx.tuning.profileMaxAttempts) {
            dead.push(letter(connector.id, record.profileId, 'exhausted', outcome.reason, undefined, tries));
          } else {
            const delayMs = Math.max(outcome.retryAfterMs ?? 0, backoffDelay(tries, ctx.tuning.backoff));
            retry.push({ profileId: record.profileId, delayMs });
          }
          break;
        case 'rejected':
          result.rejected++;
          run.failRow(rowError(record, outcome.reason, outcome.code ?? 'rejected'));
          dead.push(letter(connector.id, record.profileId, 'rejected', outcome.reason, outcome.code, tries - 1));
          break;
      }
    }
    // Records an earlier write made unseen are read (ingested) before the retry writes to them.
    if (found.length > 0) {
      const data: IngestJobData = {
        kind: 'changed',
        connector: connector.id,
        origin: 'push:found',
        receivedAt: new Date().toISOString(),
        externalIds: found,
      };
      await ctx.queues.ingest.add('changed', data, ingestJobOptions(ctx));
      ctx.logger.info({ connector: connector.id, records: found.length }, 'records an earlier write made are read before writing again');
    }
    // Shadows and the push log of the whole batch in one transaction.
    await this.recordOutcome(connector, accepted);
    await ctx.changes
      .add('out', new Map([[connector.id, accepted.length]]))
      .catch((err: unknown) => ctx.logger.debug({ err }, 'changes per minute not counted'));
    // Only now may the outbox forget these changes: the system holds them (or they are dead).
    await this.settleOutbox(connector, [...delivered, ...settled, ...dead.map((d) => d.profileId)], versions);
    if (dead.length > 0)
      ctx.logger.warn(
        { connector: connector.id, profiles: dead.map((d) => d.profileId), codes: dead.map((d) => d.code ?? d.kind) },
        'records dead-lettered',
      );
    // The log must say the writes are done before the profiles are released to ingest.
    await this.writes.finish(
      connector.id,
      records.map((r) => r.profileId),
      externalIds,
    );
    await Promise.all([
      ctx.dead.add(dead),
      ctx.work.retryLater(connector.id, retry),
      ctx.dead.clear(connector.id, delivered),
      this.settle(connector, delivered, [...settled, ...dead.map((d) => d.profileId)]),
    ]);
    await this.chain(connector);
    if (retry.length > 0) await scheduleFlush(ctx, connector.id, Date.now() + Math.min(...retry.map((r) => r.delayMs)));
  }

  /**
   * Records what the system took (shadows and push log). The call has reached the system, so a
   * write conflict here (SQLite's `database is locked` past the store's own retries, several hub
   * processes on one file) is retried after a backoff pause, up to `OUTCOME_ATTEMPTS` times:
   * failing the job instead would leave the shadows without these values and the retried job
   * would send the same batch again (duplicate pushes). Other errors fail the job at once.
   */
  private async recordOutcome(connector: SyncConnector, accepted: readonly PushLogEntry[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.store.recordPushes(accepted);
        return;
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'write_conflict') || attempt >= OUTCOME_ATTEMPTS) throw err;
        const delayMs = backoffDelay(attempt, this.ctx.tuning.backoff);
        this.ctx.logger.warn(
          { connector: connector.id, err, records: accepted.length, attempt, delayMs },
          'could not record what the system took: retrying, not sending again',
        );
        await sleep(delayMs);
      }
    }
  }

  /**
   * Fields a write replaces without knowing the value the system held (the shadow did not have
   * them when the batch was prepared): the system's first record of the person may have been
   * ingested since, unheld (see `repairAfterUnheld` in ingest). The shadows are read again now
   * that the write log holds the writes: an ingest that commits after this repairs the entries
   * itself. Without it a later snapshot taken before the write counts the system's old value as
   * a change, stamped with the snapshot's newer time, and an older value wins everywhere.
   */
  private async learnPrev(connector: SyncConnector, prepared: readonly Prepared[]): Promise<void> {
    const unknown = prepared.filter((p) => Object.keys(p.record.fields).some((field) => !Object.hasOwn(p.prev, field)));
    if (unknown.length === 0) return;
    const shadows = await this.ctx.store.getShadows(
      connector.id,
      unknown.map((p) => p.record.profileId),
    );
    const known = new Map<string, Record<string, Json>>();
    for (const p of unknown) {
      const shadow = shadows.get(p.record.profileId);
      if (shadow) known.set(p.record.profileId, shadow.values);
    }
    await this.writes.fillPrev(connector.id, known);
  }

  /**
   * Prepares the taken profiles; when some turn out to have nothing new for the system (a
   * push already carried their latest change, which coalescing cannot know when it marks them
   * dirty), the batch is topped up from the dirty set, whatever is there: it is going anyway.
   */
  private async prepareFull(
    connector: SyncConnector,
    { take, leased, holdCreates }: { take: TakeResult; leased: Set<string>; holdCreates: boolean },
    versions: Map<string, number | null>,
  ): Promise<PreparedBatch> {
    const out = await this.prepare(connector, take.profileIds, versions, holdCreates);
    let dirtyLeft = take.dirtyLeft;
    for (let round = 0; round < TOP_UP_ROUNDS && dirtyLeft > 0; round++) {
      const missing = connector.limits.maxBatch - out.prepared.length;
      if (missing <= 0) break;
      const more = await this.ctx.work.take(connector.id, missing, this.ctx.tuning.inflightLeaseMs, 0);
      dirtyLeft = more.dirtyLeft;
      if (more.profileIds.length === 0) break;
      for (const id of more.profileIds) leased.add(id);
      const next = await this.prepare(connector, more.profileIds, versions, holdCreates);
      out.prepared.push(...next.prepared);
      out.settled.push(...next.settled);
      out.creates.push(...next.creates);
    }
    return out;
  }

  /**
   * Loads, gates and maps the profiles; splits them into records to send, profiles with nothing
   * to send and, when `holdCreates`, profiles whose record the push would create (no link yet).
   */
  private async prepare(
    connector: SyncConnector,
    profileIds: readonly string[],
    versions: Map<string, number | null>,
    holdCreates: boolean,
  ): Promise<PreparedBatch> {
    const { store, policy } = this.ctx;
    const now = new Date().toISOString();
    const prepared: Prepared[] = [];
    const settled: string[] = [];
    const creates: string[] = [];
    const [profiles, shadows, repush] = await Promise.all([
      store.getProfiles(profileIds),
      store.getShadows(connector.id, profileIds),
      this.ctx.work.repushing(connector.id, profileIds),
    ]);
    const hashesOf = new Map<string, string[]>();
    for (const [id, profile] of profiles)
      hashesOf.set(
        id,
        profile.identities.map((identity) => store.hashIdentity(identity)),
      );
    const suppressed = await store.suppressedAmong([...hashesOf.values()].flat());
    for (const profileId of profileIds) {
      const profile = profiles.get(profileId);
      // Gone (erased) or merged into another profile, which has its own outbox rows.
      if (!profile || profile.id !== profileId) {
        versions.set(profileId, null);
        settled.push(profileId);
        continue;
      }
      versions.set(profileId, profile.version);
      // Being erased (its identities are suppressed): nothing more is sent, so no push can bring
      // the person back into a system the erasure has already cleared.
      if (suppressed.size > 0 && (hashesOf.get(profileId) ?? []).some((hash) => suppressed.has(hash))) {
        settled.push(profileId);
        continue;
      }
      const shadow = shadows.get(profileId);
      // Pushed again on an operator's request (`concord push`): every field, whatever the shadow says.
      const change = outboundChange(connector, profile, shadow, policy, now, { everyField: repush.has(profileId) });
      if (change.kind !== 'restricted' && change.out.errors.length > 0) {
        this.ctx.logger.warn(
          { connector: connector.id, profileId, errors: change.out.errors.map((e) => e.message) },
          'some values could not be mapped out',
        );
      }
      if (change.kind !== 'send') {
        settled.push(profileId);
        continue;
      }
      if (holdCreates && !shadow?.externalId) {
        creates.push(profileId);
        continue;
      }
      const { fields, gated } = change;
      const prev: Record<string, Json> = {};
      const prevAt: Record<string, string> = {};
      for (const field of Object.keys(fields)) {
        const before = shadow?.values[field];
        if (before === undefined) continue;
        prev[field] = before;
        const at = shadow?.valuesAt[field];
        if (at !== undefined) prevAt[field] = at;
      }
      const valuesAt = outboundTimes(connector.mapping, gated.profile, policy, Object.keys(fields));
      prepared.push({
        record: {
          profileId,
          ...(shadow?.externalId ? { externalId: shadow.externalId, held: prev, heldAt: shadow.updatedAt, heldFieldsAt: prevAt } : {}),
          fields,
          profile: gated.profile,
          valuesAt: Object.fromEntries(Object.entries(valuesAt).map(([field, ms]) => [field, new Date(ms).toISOString()])),
        },
        prev,
        after: { ...shadow?.values, ...fields },
        knownAtBy: millisOf(shadow?.valuesAt),
      });
    }
    return { prepared, settled, creates };
  }

  /**
   * One batch call. If the system refuses the call as a whole, each record is sent alone, so a
   * single bad record ends in the dead-letter view without taking the others with it.
   */
  private async call(
    connector: SyncConnector,
    instance: SyncInstance,
    records: PushRecord[],
    slot: string,
    /** Set to when the system answered, in the same tick (before any other await): the write log orders the system's webhooks against it. */
    answered: { at: number },
    signal?: AbortSignal,
  ): Promise<PushOutcome[]> {
    const send = instance.push;
    if (!send) return [];
    const abort = signal ?? new AbortController().signal;
    const push = (batch: PushRecord[], s: AbortSignal): Promise<PushOutcome[]> =>
      send(batch, s).finally(() => {
        answered.at = Date.now();
      });
    const callCtx = {
      limiter: this.ctx.limiter,
      metrics: this.ctx.metrics,
      retries: this.ctx.tuning.callRetries,
      retryMinMs: this.ctx.tuning.callRetryMinMs,
    };
    try {
      return await callExternal(callCtx, connector, 'push', () => push(records, abort), { signal: abort, slot });
    } catch (err) {
      if (!(err instanceof RejectedError) || records.length === 1) {
        if (err instanceof RejectedError) return [rejectedOutcome(records[0]?.profileId ?? '', err)];
        throw err;
      }
      this.ctx.logger.warn({ connector: connector.id, records: records.length }, 'batch refused as a whole: sending records one by one');
      const outcomes: PushOutcome[] = [];
      for (const record of records) {
        try {
          outcomes.push(...(await callExternal(callCtx, connector, 'push', () => push([record], abort), { signal: abort })));
        } catch (single) {
          if (single instanceof RejectedError) outcomes.push(rejectedOutcome(record.profileId, single));
          else throw single;
        }
      }
      return outcomes;
    }
  }

  private async putBack(
    connector: SyncConnector,
    records: readonly PushRecord[],
    settled: readonly string[],
    versions: ReadonlyMap<string, number | null>,
  ): Promise<void> {
    await this.ctx.work.requeue(
      connector.id,
      records.map((r) => r.profileId),
    );
    await this.settleOutbox(connector, settled, versions);
    await this.ctx.work.done(connector.id, settled);
  }

  /** Deletes the outbox rows a finished push covered, up to the version each profile was read at. */
  private async settleOutbox(
    connector: SyncConnector,
    profileIds: readonly string[],
    versions: ReadonlyMap<string, number | null>,
  ): Promise<void> {
    const settlements: OutboxSettlement[] = [];
    for (const profileId of new Set(profileIds)) {
      const version = versions.get(profileId);
      // A profile this push never read keeps its rows.
      if (version !== undefined) settlements.push({ profileId, version });
    }
    await this.ctx.store.settleOutbox(connector.id, settlements);
  }

  /** Clears in-flight state and records the delivery lag of what was delivered. */
  private async settle(connector: SyncConnector, delivered: readonly string[], other: readonly string[]): Promise<void> {
    const since = await this.ctx.work.done(connector.id, [...delivered, ...other]);
    const now = Date.now();
    delivered.forEach((_, i) => {
      const at = since[i];
      if (at != null) this.ctx.metrics.deliveryLag.observe({ connector: connector.id }, (now - at) / 1000);
    });
  }

  /** Keeps draining: a full batch goes at once, a partial one when its oldest profile is due. */
  private async chain(connector: SyncConnector): Promise<void> {
    const dirty = await this.ctx.work.dirtyState(connector.id);
    if (dirty.count >= connector.limits.maxBatch) await scheduleFlush(this.ctx, connector.id, 'now');
    else if (dirty.oldestAt !== null) await scheduleFlush(this.ctx, connector.id, dirty.oldestAt + this.ctx.tuning.flushDelayMs);
  }
}

/** A record that failed, as its run keeps it: the system's record id, the profile, the code (no values). */
function rowError(record: PushRecord, reason: string, code: string, externalId?: string): RunRowError {
  return { ref: record.externalId ?? externalId ?? null, profileId: record.profileId, code, message: reason };
}

function letter(
  connector: string,
  profileId: string,
  kind: DeadLetter['kind'],
  reason: string,
  code: string | undefined,
  attempts: number,
): DeadLetter {
  return { connector, profileId, kind, reason, ...(code ? { code } : {}), at: new Date().toISOString(), attempts };
}

function rejectedOutcome(profileId: string, err: ConnectorError & { reasonCode?: string | undefined }): PushOutcome {
  return { status: 'rejected', profileId, reason: err.message, ...(err.reasonCode ? { code: err.reasonCode } : {}) };
}

export type { Queue };

/**
 * Erasure in one system, batched: a run of `dsr-erase.<connector>` takes up to
 * `eraseBatchSize` waiting erasures, searches the system for those not yet searched there in one
 * call (`find`, else `export`: find before you act, `search.ts`), erases all their references in
 * one `erase` call (through the engine's limiter for that system), then reads the system back
 * (`find` by the same identities, else `export`, else `read`) to verify the person is gone. A
 * request whose search finds nothing, where the hub knows nothing either, completes as "searched,
 * not found". Each request's evidence (calls, search, read-back) goes into its outcome. Per
 * request and system:
 *
 * - erased or not found, and not found again on reading back: completed (the outcome is kept
 *   as proof); the request is settled, which empties the store once every system is done;
 * - still found on reading back: the records found are added to its references and it is
 *   tried again;
 * - a failure that may pass (5xx, timeouts, a locked record): tried again with exponential
 *   backoff, the error visible on the system's status, up to `eraseMaxAttempts`;
 * - a failure that will not pass: failed.
 *
 * A rate limit (a 429, HubSpot's DAILY limit, the engine's call budget spent) parks the
 * queue for its window without spending an attempt, like push: the batch goes back to the
 * work set, the queue is rate limited (`queue.rateLimit`) and the job ends with
 * `Worker.RateLimitError`. When the limit interrupts reading back after the erase call
 * succeeded, what was erased is kept (`detail.erasing`) and the next run only reads back.
 *
 * A system that carries the erasure out later (a Segment regulation) answers `pending` with a
 * ticket: the tickets are kept on the request (`detail.erasing`), the system stays in progress
 * with the system's progress shown, and the request waits in the retry set for the wait the
 * system suggests (`checkAfterMs`, within `erasePollMinMs`..`erasePollMaxMs`), spending no
 * attempt: waiting for the system is no failure. A later run asks `eraseProgress` for the
 * tickets of its batch in one call (through the same limiter), and per request: every ticket
 * done, the references count as erased and the system is read back as above; still pending,
 * the progress is updated and it waits again; a ticket failed, the reason is the request's
 * failure in that system, tried again with a new erasure (the tickets forgotten) when
 * retryable, else failed. The legal deadline runs on meanwhile (overdue shows as for any
 * request). A failed call to ask keeps the tickets and is retried like a failed erase call.
 */
import { Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { EraseOutcome, EraseRef, ErasureProgress, FindQuery } from '../connector/define.js';
import { RateLimitedError } from '../connector/errors.js';
import { backoffDelay } from '../queue/backoff.js';
import { startRun } from '../sync/index.js';
import type { SyncConnector, SyncInstance, Engine } from '../sync/index.js';
import type { CallLimiter } from '../queue/call-limiter.js';
import { limitOf } from '../queue/external-call.js';
import type { DataSubjectRequest, RunRowError } from '../store/types.js';
import { audit, callSystem, encodeDetail, readDetail, reasonOf, safeText, scheduleEraseFlush, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import type { SearchScope } from './search.js';
import type { DsrDetail, ErasureState, SystemEvidence, SystemOutcome } from './schema.js';
import { hashedRecords, matching, noteCall, queryFor, searchMethod, searchScope, searchSystem, withFound } from './search.js';
import { settleRequest } from './settle.js';

export interface EraseJobData {
  connector: string;
}

export interface EraseRunResult {
  taken: number;
  completed: number;
  retried: number;
  failed: number;
  /** Requests waiting for a system that carries the erasure out later. */
  waiting: number;
  /** The requests that failed or will be retried, for the batch's sync run (no personal data). */
  rowErrors: RunRowError[];
}

export interface EraserDeps {
  engine: Pick<Engine, 'instance' | 'metrics'>;
  limiter: CallLimiter;
}

interface Item {
  request: DataSubjectRequest;
  refs: EraseRef[];
  attempt: number;
  /** Records erased by earlier runs whose reading back a rate limit interrupted. */
  erasedBefore: number;
  /** Erased already: this run only reads back. */
  verifyOnly: boolean;
  /** The system carries the erasure out later under these tickets: this run asks how it is going. */
  tickets: string[];
  /** The references those tickets cover (erased once they are done). */
  awaiting: number;
  /** Tickets the system carried out, kept for the outcome. */
  finished: string[];
  /** The erasure state as stored when the run began. */
  state: ErasureState | undefined;
  /** Whom to search the system for (the person's addresses, phone numbers and known ids); `null` for a request made before searching. */
  query: FindQuery | null;
  /** The person's first address, given with each record id erased (a system may erase by it too). */
  email: string | undefined;
  /** What was called, the search and the read-back so far (kept in the outcome). */
  evidence: SystemEvidence;
}

/** One run of a system's erase queue: the system, the requests taken, those waiting for the system. */
interface BatchRun {
  connector: SyncConnector;
  instance: SyncInstance;
  items: readonly Item[];
  /** Requests whose erasure the system carries out later: this run asks how it is going. */
  polled: readonly Item[];
  result: EraseRunResult;
  signal: AbortSignal;
  /** Requests this run makes an attempt for (those not waiting for the system). */
  attempted: readonly Item[];
  /** Those whose attempt is audited (once the search passed: a run parked by a rate limit writes none). */
  audited: Set<Item>;
}

type Pending = Extract<EraseOutcome, { status: 'pending' }>;
type Failed = Extract<EraseOutcome, { status: 'failed' }>;

const lower = (s: string): string => s.trim().toLowerCase();

export class Eraser {
  constructor(
    private readonly ctx: PrivacyContext,
    private readonly deps: EraserDeps,
  ) {}

  async process(job: Job<EraseJobData>, signal?: AbortSignal): Promise<EraseRunResult> {
    const { ctx } = this;
    const result: EraseRunResult = { taken: 0, completed: 0, retried: 0, failed: 0, waiting: 0, rowErrors: [] };
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
    const renew = setInterval(
      () => {
        ctx.work.extend(connector.id, take.profileIds, t.eraseLeaseMs).catch(() => undefined);
      },
      Math.max(1_000, t.eraseLeaseMs / 3),
    );
    // The batch is a sync run (kind `erase`): its one info line replaces a line of its own.
    const run = await startRun(
      { store: ctx.store, logger: ctx.logger, leaseMs: t.eraseLeaseMs },
      { connector: connector.id, kind: 'erase', trigger: 'schedule' },
    );
    try {
      await this.eraseBatch(connector, take.profileIds, result, signal ?? new AbortController().signal);
    } catch (err) {
      await run.finish(err);
      throw err;
    } finally {
      clearInterval(renew);
    }
    const acted = result.completed + result.failed + result.retried;
    Object.assign(run.counts, {
      read: result.taken,
      changed: result.completed,
      written: result.completed,
      skipped: Math.max(0, result.taken - acted),
    });
    for (const error of result.rowErrors) run.failRow(error);
    await run.finish();
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
      if (
        !request ||
        request.kind !== 'erase' ||
        request.status === 'completed' ||
        !system ||
        (system.status !== 'pending' && system.status !== 'in_progress')
      ) {
        settled.push(id);
        continue;
      }
      const detail = readDetail(request);
      const erasing = detail.erasing?.[connector.id];
      const verifyOnly = erasing?.verifyOnly ?? false;
      items.push({
        request,
        refs: detail.work?.[connector.id] ?? [],
        attempt: system.attempts + 1,
        erasedBefore: erasing?.records ?? 0,
        verifyOnly,
        tickets: verifyOnly ? [] : (erasing?.tickets ?? []),
        awaiting: erasing?.awaiting ?? 0,
        finished: erasing?.finished ?? [],
        state: erasing,
        query: detail.search ? queryFor(detail.search, connector.id) : null,
        email: detail.search?.emails[0],
        evidence: structuredClone(detail.evidence?.[connector.id] ?? { calls: {} }),
      });
    }
    await ctx.work.done(connector.id, settled);
    if (items.length === 0) return;

    const instance = await this.deps.engine.instance(connector.id);
    const erase = instance.erase;
    if (!erase) {
      for (const item of items) await this.fail(connector, item, 'the connector cannot erase; erase the person there by hand', result);
      return;
    }
    // Park rather than hold a worker while the system's call budget is spent or it is blocked
    // after a 429 (a DAILY block lasts until the reset): no attempt is counted.
    const slot = await this.deps.limiter.tryReserve(connector.id, limitOf(connector));
    if (slot.token === null) {
      await this.park(connector, items, slot.wait, 'call budget spent');
      return;
    }
    let first: string | undefined = slot.token;
    const useSlot = (): string | undefined => {
      const token = first;
      first = undefined;
      return token;
    };
    try {
      // Asking a system how an erasure it carries out is going is no attempt (unless it ends one, see `askProgress`).
      const attempted = items.filter((item) => item.tickets.length === 0);
      for (const item of attempted)
        await ctx.store.updateDsrSystem(item.request.id, connector.id, { status: 'in_progress', attempts: item.attempt });

      // Erasures the system carries out later: ask how they are going (those done join the read-back).
      const polled = items.filter((item) => item.tickets.length > 0);
      const run: BatchRun = { connector, instance, items, polled, result, signal, attempted, audited: new Set() };
      if (polled.length > 0) await this.askProgress(run, useSlot());

      // Find before acting: the requests not yet searched here are searched in one call.
      const done = await this.search(run, useSlot);
      await this.auditAttempts(run);

      const toErase = items.filter((item) => !item.verifyOnly && !polled.includes(item) && !done.has(item));
      const all = toErase.flatMap((item) => item.refs);
      let outcomes: EraseOutcome[] = [];
      try {
        if (all.length > 0) outcomes = await this.call(connector, 'erase', () => erase(all, signal), signal, useSlot());
      } catch (err) {
        // Those only reading back go back untouched: nothing was tried for them.
        const untried = items.filter((i) => i.verifyOnly);
        for (const item of untried) await ctx.store.updateDsrSystem(item.request.id, connector.id, { attempts: item.attempt - 1 });
        await ctx.work.requeue(
          connector.id,
          untried.map((i) => i.request.id),
        );
        await this.callFailed(connector, toErase, err, result);
        return;
      }

      const calledAt = ctx.now().toISOString();
      if (all.length > 0) for (const item of toErase) noteCall(item.evidence, 'erase', calledAt);

      // Erased (or found absent) in this system; `erased` counts the records, earlier runs included.
      const confirmed: { item: Item; erased: number }[] = items
        .filter((i) => i.verifyOnly && !done.has(i))
        .map((item) => ({ item, erased: item.erasedBefore }));
      let offset = 0;
      for (const item of toErase) {
        const own = outcomes.slice(offset, offset + item.refs.length);
        offset += item.refs.length;
        const failure = own.find((o): o is Failed => o.status === 'failed');
        const pending = own.filter((o): o is Pending => o.status === 'pending');
        const erased = item.erasedBefore + own.filter((o) => o.status === 'erased').length;
        if (own.length < item.refs.length)
          await this.retryOrFail(connector, item, 'the system returned no outcome for a reference', true, result);
        else if (failure) await this.retryOrFail(connector, item, failure.reason, failure.retryable, result);
        else if (pending.length > 0 && !instance.eraseProgress)
          await this.retryOrFail(connector, item, 'the system erases later, but the connector cannot tell when it is done', false, result);
        else if (pending.length > 0)
          // Kept only now: a crash since the call leaves no tickets, and the next run erases again
          // (the system then holds two erasures of the person, e.g. two Segment regulations).
          await this.awaitSystem(connector, item, { records: erased, awaiting: pending.length, answers: pending }, result);
        else confirmed.push({ item, erased });
      }
      if (confirmed.length === 0) return;

      let verified: SystemOutcome['verified'] = 'off';
      let remaining = new Map<Item, string[]>();
      if (ctx.options.verifyErasure) {
        try {
          const check = await this.readBack(
            connector,
            instance,
            confirmed.map((c) => c.item),
            signal,
            useSlot(),
          );
          verified = check.verified;
          remaining = check.remaining;
        } catch (err) {
          // The erase call succeeded: keep what it did, so the next run only reads back.
          if (err instanceof RateLimitedError)
            for (const c of confirmed) await this.setErasing(c.item, connector.id, this.erasedState(c.item, c.erased, true));
          await this.callFailed(
            connector,
            confirmed.map((c) => c.item),
            err,
            result,
          );
          return;
        }
      }
      for (const { item, erased } of confirmed) {
        const left = remaining.get(item) ?? [];
        if (left.length > 0) {
          await this.addRefs(
            item,
            connector.id,
            left.map((externalId) => ({ externalId })),
          );
          if (erased > 0 || item.verifyOnly) await this.setErasing(item, connector.id, this.erasedState(item, erased, false));
          await this.retryOrFail(connector, item, `still found after erasing: ${left.length} record(s)`, true, result);
          continue;
        }
        await this.complete(
          connector,
          item,
          {
            outcome: erased > 0 ? 'erased' : 'not_found',
            records: erased,
            verified,
            ...(item.finished.length > 0 ? { tickets: item.finished } : {}),
            evidence: item.evidence,
            at: ctx.now().toISOString(),
          },
          result,
        );
      }
    } finally {
      // A slot reserved but not used (nothing to call) goes back at once.
      const unused = useSlot();
      if (unused !== undefined) this.deps.limiter.release(connector.id, unused).catch(() => undefined);
    }
  }

  /**
   * Asks the system how the erasures it carries out later are going, one call for the tickets
   * of the batch. Per request: every ticket done, it only reads back from now on (kept on the
   * request first, so a later failure does not ask again); some still pending, it waits again;
   * one failed, the tickets are forgotten and the reason is retried (a new erasure) or fails.
   * A failed call keeps the tickets and is retried like a failed erase call; a rate limit parks
   * the whole batch, nothing of it tried. Only a run that ends the wait (done, failed, or the
   * call failing) counts as an attempt.
   */
  private async askProgress(run: BatchRun, slot: string | undefined): Promise<void> {
    const { connector, instance, items, polled, result, signal } = run;
    const eraseProgress = instance.eraseProgress;
    if (!eraseProgress) {
      for (const item of polled) {
        await this.setErasing(item, connector.id, this.erasedState(item, item.erasedBefore, false));
        await this.retryOrFail(connector, item, 'the system erases later, but the connector cannot tell when it is done', false, result);
      }
      return;
    }
    const tickets = [...new Set(polled.flatMap((item) => item.tickets))];
    const counted = (item: Item): Promise<void> =>
      this.ctx.store.updateDsrSystem(item.request.id, connector.id, { attempts: item.attempt });
    let answers: ErasureProgress[];
    try {
      answers = await this.call(connector, 'erase', () => eraseProgress(tickets, signal), signal, slot);
    } catch (err) {
      if (!(err instanceof RateLimitedError)) for (const item of polled) await counted(item);
      await this.callFailed(connector, err instanceof RateLimitedError ? items : polled, err, result);
      return;
    }
    const askedAt = this.ctx.now().toISOString();
    for (const item of polled) noteCall(item.evidence, 'eraseProgress', askedAt);
    const byTicket = new Map(answers.map((a, i) => [tickets[i] === a.ticket ? a.ticket : `#${i}`, a]));
    for (const item of polled) {
      const own = item.tickets.map((ticket) => byTicket.get(ticket));
      const failure = own.find((a) => a?.status === 'failed');
      const pending = own.filter((a): a is Extract<ErasureProgress, { status: 'pending' }> => a?.status === 'pending');
      if (own.some((a) => a === undefined) || failure !== undefined || pending.length === 0) await counted(item);
      if (own.some((a) => a === undefined)) {
        await this.retryOrFail(connector, item, 'the system gave no progress for an erasure it carries out', true, result);
      } else if (failure?.status === 'failed') {
        // The system gave up: forget its tickets, so trying again is a new erasure.
        const retryable = own.every((a) => a?.status !== 'failed' || a.retryable);
        await this.setErasing(item, connector.id, this.erasedState(item, item.erasedBefore, false));
        await this.retryOrFail(connector, item, safeText(failure.reason), retryable, result);
      } else if (pending.length > 0) {
        await this.awaitSystem(connector, item, { records: item.erasedBefore, awaiting: item.awaiting, answers: pending }, result);
      } else {
        const erased = item.erasedBefore + item.awaiting;
        Object.assign(item, { finished: [...item.finished, ...item.tickets], tickets: [], awaiting: 0 });
        await this.setErasing(item, connector.id, this.erasedState(item, erased, true));
        Object.assign(item, { verifyOnly: true, erasedBefore: erased });
      }
    }
  }

  /**
   * The system carries the erasure out later: its tickets are kept on the request with its
   * progress, and the request waits for the wait the system suggests. Waiting for the system is
   * no failure: the attempt does not count (as for a rate limit), and an earlier error is
   * cleared. Stored and audited when the system accepts the erasure and whenever its progress
   * changes; an unchanged answer writes nothing (many requests may wait for days).
   */
  private async awaitSystem(
    connector: SyncConnector,
    item: Item,
    state: { records: number; awaiting: number; answers: readonly { ticket: string; progress: string; checkAfterMs: number }[] },
    result: EraseRunResult,
  ): Promise<void> {
    const { ctx } = this;
    const t = ctx.options.tuning;
    const now = ctx.now().toISOString();
    const tickets = [...new Set(state.answers.map((a) => a.ticket))];
    const progress = safeText([...new Set(state.answers.map((a) => a.progress))].join('; '));
    const accepted = item.tickets.length === 0;
    const changed = accepted || progress !== item.state?.progress;
    const waitMs = Math.min(...state.answers.map((a) => (Number.isFinite(a.checkAfterMs) ? a.checkAfterMs : 0)));
    const delayMs = Math.min(t.erasePollMaxMs, Math.max(t.erasePollMinMs, waitMs));
    if (changed) {
      await this.setErasing(item, connector.id, {
        records: state.records,
        verifyOnly: false,
        tickets: accepted ? tickets : item.tickets,
        awaiting: state.awaiting,
        progress,
        since: (accepted ? undefined : item.state?.since) ?? now,
        reportedAt: now,
        ...(item.finished.length > 0 ? { finished: item.finished } : {}),
      });
      await audit(ctx, 'dsr.erase.pending', item.request, { connector: connector.id, tickets, progress, checkAfterMs: delayMs });
    }
    // A new erasure gives back the attempt its run took; a question took none, but may follow a failed one.
    const hadError = item.request.systems.some((s) => s.connector === connector.id && s.error !== null);
    if (accepted || hadError)
      await ctx.store.updateDsrSystem(item.request.id, connector.id, { status: 'in_progress', attempts: item.attempt - 1, error: null });
    if (accepted) ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: 'pending' });
    await ctx.work.retryLater(connector.id, [{ profileId: item.request.id, delayMs }]);
    await scheduleEraseFlush(ctx, connector.id, Date.now() + delayMs);
    result.waiting++;
  }

  /** What a run keeps of an erasure that is not waiting for the system: the records erased, and the tickets it carried out. */
  private erasedState(item: Item, records: number, verifyOnly: boolean): ErasureState {
    return { records, verifyOnly, ...(item.finished.length > 0 ? { finished: item.finished } : {}) };
  }

  /**
   * Searches the system for the requests of the batch not yet searched there, in one call
   * (`find`, else `export` by ids and addresses). Per request: nothing found and nothing the hub
   * knows there, the system's part completes as "searched, not found" (the search is its
   * read-back); records found join its references (by id, with the person's first address; the
   * hub's own references stay, so a search that misses a record the hub knows, or an always-erase
   * address, is still erased), their ids go on the suppression list, and the erasure goes on in
   * this run. A rate limit parks the whole batch, nothing of it
   * counted; another failure retries the requests searched (the rest go on). Returns the
   * requests this run is done with.
   */
  private async search(run: BatchRun, useSlot: () => string | undefined): Promise<Set<Item>> {
    const { connector, instance, items, polled, result, signal } = run;
    const { ctx } = this;
    const done = new Set<Item>();
    const method = searchMethod(connector, instance);
    const candidates = items.filter(
      (item) => method !== null && item.query !== null && !item.verifyOnly && !polled.includes(item) && !item.evidence.searched,
    );
    if (method === null || candidates.length === 0) return done;
    const toSearch: Item[] = [];
    const scopes: SearchScope[] = [];
    for (const item of candidates) {
      const scope = searchScope(ctx, connector, instance, item.query ?? { emails: [], phones: [], externalIds: [] });
      if (scope.unsearchable.length > 0) item.evidence.unsearchable = scope.unsearchable;
      else delete item.evidence.unsearchable;
      // Nothing of theirs can be searched here and the hub knows no record: no "searched, not found".
      if (scope.byHand !== null && item.refs.length === 0) {
        await this.auditAttempts(run, [item]);
        done.add(item);
        await this.fail(connector, item, scope.byHand, result);
        continue;
      }
      toSearch.push(item);
      scopes.push(scope);
    }
    if (toSearch.length === 0) return done;
    let found: string[][];
    try {
      found = (
        await searchSystem(
          ctx,
          this.deps,
          connector,
          instance,
          scopes.map((scope) => scope.query),
          signal,
          useSlot(),
        )
      ).found;
    } catch (err) {
      // A rate limit parks the whole batch (and ends the run); any other failure retries those searched.
      if (!(err instanceof RateLimitedError)) await this.auditAttempts(run);
      await this.callFailed(connector, err instanceof RateLimitedError ? items.filter((i) => !done.has(i)) : toSearch, err, result);
      for (const item of toSearch) done.add(item);
      return done;
    }
    await this.auditAttempts(run);
    const at = ctx.now().toISOString();
    for (const [i, item] of toSearch.entries()) {
      const ids = found[i] ?? [];
      noteCall(item.evidence, method, at);
      item.evidence.searched = {
        at,
        via: method,
        identities: scopes[i]?.identities ?? [],
        found: ids.length,
        records: hashedRecords(ctx, connector.id, ids),
      };
      if (ids.length === 0 && item.refs.length === 0) {
        done.add(item);
        await this.complete(connector, item, { outcome: 'not_found', records: 0, verified: 'yes', evidence: item.evidence, at }, result);
        continue;
      }
      // Kept, so that a run parked later (e.g. on the erase call) does not search again.
      if (ids.length === 0) {
        await this.keep(item, connector.id);
        continue;
      }
      // Every record found joins the references the hub had (its known ids, an always-erase address).
      const merged = withFound(item.refs, ids, item.email);
      const added = merged.added;
      item.refs = merged.refs;
      await this.keep(item, connector.id, (detail) => ({ work: { ...detail.work, [connector.id]: item.refs } }));
      await ctx.store.suppress(hashedRecords(ctx, connector.id, added), `erasure ${item.request.id}`);
    }
    return done;
  }

  /** Audits the attempt of each request (of `items`) the run makes one for, once per run. */
  private async auditAttempts(run: BatchRun, items: readonly Item[] = run.attempted): Promise<void> {
    for (const item of items) {
      if (run.audited.has(item) || !run.attempted.includes(item)) continue;
      run.audited.add(item);
      await audit(this.ctx, 'dsr.erase.attempt', item.request, {
        connector: run.connector.id,
        attempt: item.attempt,
        refs: item.refs.length,
      });
    }
  }

  /**
   * Keeps on the request the evidence gathered so far in the system (the calls made, the search,
   * the read-back), with what `change` sets in its detail beside it.
   */
  private async keep(item: Item, connector: string, change: (detail: DsrDetail) => Partial<DsrDetail> = () => ({})): Promise<void> {
    const { ctx } = this;
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      await ctx.store.updateDsr(current.id, {
        detail: encodeDetail({ ...detail, ...change(detail), evidence: { ...detail.evidence, [connector]: item.evidence } }),
      });
    });
  }

  /** One call through the engine's limiter for the system, with its quick retries of transient failures. */
  private call<T>(
    connector: SyncConnector,
    operation: 'erase' | 'export' | 'read',
    fn: () => Promise<T>,
    signal: AbortSignal,
    slot?: string,
  ): Promise<T> {
    return callSystem(this.ctx, this.deps, connector, operation, fn, { signal, ...(slot === undefined ? {} : { slot }) });
  }

  /**
   * Reads the system back: which of the erased people does it still hold? With `find`, by the
   * same identities the search used and the ids erased; else by `export` (ids and addresses
   * apart, so a duplicate record with the same address is found too), else `read` by ids. Notes
   * the call and what it returned in each request's evidence.
   */
  private async readBack(
    connector: SyncConnector,
    instance: SyncInstance,
    items: readonly Item[],
    signal: AbortSignal,
    slot: string | undefined,
  ): Promise<{ verified: SystemOutcome['verified']; remaining: Map<Item, string[]> }> {
    const { ctx } = this;
    const idsOf = (item: Item): string[] => item.refs.flatMap((r) => (r.externalId ? [r.externalId] : []));
    const queries = items.map((item): FindQuery => ({
      emails: [...new Set([...(item.query?.emails ?? []), ...item.refs.flatMap((r) => (r.email ? [lower(r.email)] : []))])],
      phones: item.query?.phones ?? [],
      externalIds: [...new Set([...(item.query?.externalIds ?? []), ...idsOf(item)])],
    }));
    const reader = instance.read;
    let found: string[][];
    let via: 'find' | 'export' | 'read';
    if (searchMethod(connector, instance) !== null) {
      const answer = await searchSystem(ctx, this.deps, connector, instance, queries, signal, slot);
      via = answer.method;
      found = answer.found;
    } else if (reader) {
      const ids = [...new Set(items.flatMap(idsOf))];
      const records = ids.length === 0 ? [] : await this.call(connector, 'read', () => reader(ids, signal), signal, slot);
      via = 'read';
      found = queries.map((query) => matching(records, query).map((r) => r.externalId));
    } else {
      return { verified: 'unsupported', remaining: new Map() };
    }
    const at = ctx.now().toISOString();
    const remaining = new Map<Item, string[]>();
    for (const [i, item] of items.entries()) {
      const left = found[i] ?? [];
      noteCall(item.evidence, via, at);
      item.evidence.readBack = { at, via, found: left.length, records: hashedRecords(ctx, connector.id, left) };
      if (left.length > 0) remaining.set(item, left);
    }
    return { verified: 'yes', remaining };
  }

  /** The whole call failed: park on a rate limit, otherwise each request is tried again later (or fails). */
  private async callFailed(connector: SyncConnector, items: readonly Item[], err: unknown, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    if (err instanceof RateLimitedError) {
      // The attempt does not count: a rate limit is no failure of the system.
      for (const item of items) await ctx.store.updateDsrSystem(item.request.id, connector.id, { attempts: item.attempt - 1 });
      await this.park(connector, items, err.retryAfterMs, err.policy ?? 'rate limited');
      return;
    }
    const reason = reasonOf(err);
    ctx.logger.warn({ connector: connector.id, requests: items.length, reason }, 'erase call failed');
    // An auth or config error needs a person to fix it, but it does not make the erasure impossible: keep trying with backoff.
    for (const item of items) await this.retryOrFail(connector, item, reason, true, result);
  }

  /**
   * Puts the batch back and parks the queue for `ms` (BullMQ's manual rate limit; the worker
   * has a limiter, without which the queue would not honour it). Ends the job: it throws
   * `Worker.RateLimitError`, so BullMQ neither counts a failure nor spends a job attempt.
   */
  private async park(connector: SyncConnector, items: readonly Item[], ms: number, why: string): Promise<never> {
    const { ctx } = this;
    await ctx.work.requeue(
      connector.id,
      items.map((i) => i.request.id),
    );
    ctx.logger.info({ connector: connector.id, requests: items.length, parkedMs: ms, why }, 'rate limited: erase queue parked');
    await ctx.queues.erase.get(connector.id)?.rateLimit(Math.max(1, Math.ceil(ms)));
    throw Worker.RateLimitError();
  }

  /** Keeps an erasure under way (counts and the system's handles, no personal data) on the request. */
  private setErasing(item: Item, connector: string, state: ErasureState): Promise<void> {
    return this.keep(item, connector, (detail) => ({ erasing: { ...detail.erasing, [connector]: state } }));
  }

  private async retryOrFail(
    connector: SyncConnector,
    item: Item,
    reason: string,
    retryable: boolean,
    result: EraseRunResult,
  ): Promise<void> {
    const { ctx } = this;
    const t = ctx.options.tuning;
    if (!retryable || item.attempt >= t.eraseMaxAttempts) {
      await this.fail(connector, item, retryable ? `gave up after ${item.attempt} attempts: ${reason}` : reason, result);
      return;
    }
    const delayMs = backoffDelay(item.attempt, t.backoff);
    if (Object.keys(item.evidence.calls).length > 0) await this.keep(item, connector.id);
    await ctx.work.retryLater(connector.id, [{ profileId: item.request.id, delayMs }]);
    // It stays in progress, with the failure visible, until it succeeds or gives up.
    await ctx.store.updateDsrSystem(item.request.id, connector.id, { status: 'in_progress', error: reason });
    await audit(ctx, 'dsr.erase.retry', item.request, { connector: connector.id, attempt: item.attempt, retryInMs: delayMs, reason });
    ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: 'retry' });
    await scheduleEraseFlush(ctx, connector.id, Date.now() + delayMs);
    result.retried++;
    result.rowErrors.push(requestError(item, 'erase_retry', reason));
  }

  private async fail(connector: SyncConnector, item: Item, reason: string, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    await ctx.work.done(connector.id, [item.request.id]);
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      detail.outcomes[connector.id] = { outcome: 'failed', evidence: item.evidence, at: ctx.now().toISOString() };
      delete detail.evidence?.[connector.id];
      await ctx.store.updateDsr(current.id, { detail: encodeDetail(detail) });
      await ctx.store.updateDsrSystem(current.id, connector.id, { status: 'failed', error: reason });
      await audit(ctx, 'dsr.erase.failed', current, { connector: connector.id, attempt: item.attempt, reason });
      await settleRequest(ctx, current.id);
    });
    ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: 'failed' });
    ctx.logger.warn({ dsrId: item.request.id, connector: connector.id, reason }, 'erasure failed in one system');
    result.failed++;
    result.rowErrors.push(requestError(item, 'erase_failed', reason));
  }

  private async complete(connector: SyncConnector, item: Item, outcome: SystemOutcome, result: EraseRunResult): Promise<void> {
    const { ctx } = this;
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      detail.outcomes[connector.id] = outcome;
      delete detail.erasing?.[connector.id];
      delete detail.evidence?.[connector.id];
      await ctx.store.updateDsr(current.id, { detail: encodeDetail(detail) });
      await ctx.store.updateDsrSystem(current.id, connector.id, { status: 'completed', error: null });
      await audit(ctx, 'dsr.erase.completed', current, {
        connector: connector.id,
        outcome: outcome.outcome,
        records: outcome.records ?? 0,
        verified: outcome.verified ?? 'off',
        ...(outcome.tickets ? { tickets: outcome.tickets } : {}),
      });
      await settleRequest(ctx, current.id);
    });
    await ctx.work.done(connector.id, [item.request.id]);
    ctx.metrics.systemOutcomes.inc({ kind: 'erase', connector: connector.id, outcome: outcome.outcome });
    result.completed++;
  }

  /**
   * Adds references found on reading back, so the next attempt erases them too, and puts their
   * ids on the suppression list like those found by searching (keyed hashes).
   */
  private async addRefs(item: Item, connector: string, refs: EraseRef[]): Promise<void> {
    const { ctx } = this;
    const added: string[] = [];
    await withLock(ctx, item.request.id, async () => {
      const current = await ctx.store.getDsr(item.request.id);
      if (!current) return;
      const detail = readDetail(current);
      const work = { ...(detail.work ?? {}) };
      const list = [...(work[connector] ?? [])];
      for (const ref of refs)
        if (!list.some((r) => r.externalId === ref.externalId)) {
          list.push(ref);
          if (ref.externalId !== undefined) added.push(ref.externalId);
        }
      work[connector] = list;
      await ctx.store.updateDsr(current.id, { detail: encodeDetail({ ...detail, work }) });
    });
    if (added.length > 0) await ctx.store.suppress(hashedRecords(ctx, connector, added), `erasure ${item.request.id}`);
  }
}

/** A request of an erase batch that failed (or will be retried), as its sync run keeps it: the request id, the profile, why. */
function requestError(item: Item, code: string, reason: string): RunRowError {
  return { ref: `dsr:${item.request.id}`, profileId: item.request.profileId, code, message: reason };
}

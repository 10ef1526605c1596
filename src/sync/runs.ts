/**
 * Sync runs as the engine records them: each pull, push batch and backfill is a run in the store
 * (`RunRepository`) with its counts and row errors, and writes its log lines through one child
 * logger bound to the connector, the run id and the request id (`reqId`):
 *
 * - at `info`, exactly one line per run when it ends (`sync run finished`: kind, trigger, status,
 *   counts, row errors, duration in ms);
 * - at `debug`, one line per change (`sync run change`: the profile id and the changed field
 *   paths, never a value; an identity's path names only its kind; the record's id with e-mail
 *   addresses and phone numbers redacted).
 *
 * Recording never fails the sync: a store error while recording is logged and the work goes on.
 * A run is held under a lease renewed while it works; a process that dies leaves it `running`
 * until the sweep (`sweepRuns`, on the relay's schedule) marks it failed.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { currentRequestId, redactContacts } from '../log/logger.js';
import type { Change } from '../profile/schema.js';
import type { ProfileRepository, RunCounts, RunKind, RunRepository, RunRowError, RunTrigger } from '../store/types.js';

/** Row errors a run keeps in memory (the store keeps as many); the count goes on. */
const KEPT_ERRORS = 100;

/** What starts a run. */
export interface RunStart {
  connector: string;
  kind: RunKind;
  trigger: RunTrigger;
  /** The HTTP request's id when a request or webhook started it; else one is generated. */
  requestId?: string;
}

/** Where a run is recorded and logged. */
export interface RunDeps {
  store: RunRepository;
  logger: Logger;
  /** The run's lease (renewed at a third of it). */
  leaseMs: number;
}

/**
 * The trigger and request id of work started now: inside an HTTP request (`requestLogScope`),
 * the request's id and `api`; else a new id and `fallback`.
 */
export function runOrigin(fallback: RunTrigger = 'manual'): { trigger: RunTrigger; requestId: string } {
  const requestId = currentRequestId();
  return requestId === undefined ? { trigger: fallback, requestId: randomUUID() } : { trigger: 'api', requestId };
}

/** Field paths of changes, without values: an identity's path (`email:ada@...`) becomes its kind. */
export function changePaths(changes: readonly Pick<Change, 'kind' | 'path'>[]): string[] {
  return [...new Set(changes.map((c) => (c.kind === 'identity' ? `identity:${c.path.split(':')[0] ?? ''}` : c.path)))];
}

/** One run while it works: counts, row errors, change lines, and its end. */
export class RunRecorder {
  readonly id = randomUUID();
  readonly requestId: string;
  readonly counts: RunCounts = { read: 0, changed: 0, written: 0, skipped: 0, failed: 0 };
  /** The run's logger: every line carries the connector, the run id and the request id. */
  readonly log: Logger;
  readonly #deps: RunDeps;
  readonly #start: RunStart;
  readonly #errors: RunRowError[] = [];
  #errorCount = 0;
  #startedAt = 0;
  #recorded = false;
  #renew: NodeJS.Timeout | undefined;
  #finished = false;

  constructor(deps: RunDeps, start: RunStart) {
    this.#deps = deps;
    this.#start = start;
    this.requestId = start.requestId ?? randomUUID();
    this.log = deps.logger.child({ connector: start.connector, runId: this.id, reqId: this.requestId });
  }

  /** Records the run as running and keeps its lease. */
  async begin(): Promise<this> {
    this.#startedAt = performance.now();
    const { store, leaseMs } = this.#deps;
    try {
      await store.startRun({
        id: this.id,
        connector: this.#start.connector,
        kind: this.#start.kind,
        trigger: this.#start.trigger,
        requestId: this.requestId,
        leasedUntil: new Date(Date.now() + leaseMs).toISOString(),
      });
      this.#recorded = true;
    } catch (err) {
      this.log.warn({ err }, 'could not record the start of a sync run');
      return this;
    }
    this.#renew = setInterval(
      () => {
        store.renewRun(this.id, new Date(Date.now() + leaseMs).toISOString()).catch((err: unknown) => {
          this.log.warn({ err }, 'could not renew the lease of a sync run');
        });
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    this.#renew.unref();
    return this;
  }

  /** A row that failed: counted, and kept (the first ones) with its code. The message is redacted here too. */
  failRow(error: RunRowError): void {
    this.counts.failed++;
    this.#errorCount++;
    if (this.#errors.length < KEPT_ERRORS) this.#errors.push({ ...error, message: redactContacts(error.message).slice(0, 300) });
  }

  /**
   * One change the run made (debug line): the profile and the field paths, no values; the
   * record's id (`ref`) with any e-mail address or phone number redacted (a Segment `userId` may be one).
   */
  change(profileId: string, fields: readonly string[], detail: Record<string, string | number | boolean> = {}): void {
    const ref = typeof detail['ref'] === 'string' ? { ref: redactContacts(detail['ref']) } : {};
    this.log.debug({ profileId, fields, ...detail, ...ref }, 'sync run change');
  }

  /**
   * Ends the run: `failed` when `error` is given (the run itself failed), `partial` when rows
   * failed, else `succeeded`. Writes the run's one info line. Only the first call counts.
   */
  async finish(error?: unknown): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    clearInterval(this.#renew);
    const failure = error === undefined ? null : failureOf(error);
    const status = failure ? 'failed' : this.counts.failed > 0 ? 'partial' : 'succeeded';
    const ms = Math.round(performance.now() - this.#startedAt);
    if (this.#recorded) {
      await this.#deps.store
        .finishRun(this.id, { status, counts: this.counts, errors: this.#errors, errorCount: this.#errorCount, failure })
        .catch((err: unknown) => this.log.warn({ err }, 'could not record the end of a sync run'));
    }
    this.log.info(
      {
        kind: this.#start.kind,
        trigger: this.#start.trigger,
        status,
        counts: this.counts,
        errors: this.#errorCount,
        ...(failure ? { failure } : {}),
        ms,
      },
      'sync run finished',
    );
  }
}

/** Starts a run (see `RunRecorder`). */
export function startRun(deps: RunDeps, start: RunStart): Promise<RunRecorder> {
  return new RunRecorder(deps, start).begin();
}

/**
 * Runs `work` as a run: finished as it returns (or `failed` with what it threw, which is thrown
 * again).
 */
export async function asRun<T>(deps: RunDeps, start: RunStart, work: (run: RunRecorder) => Promise<T>): Promise<T> {
  const run = await startRun(deps, start);
  try {
    const result = await work(run);
    await run.finish();
    return result;
  } catch (err) {
    await run.finish(err);
    throw err;
  }
}

/**
 * The runs' upkeep, on the relay's sweep: runs whose lease passed are marked failed (their process
 * died), finished runs older than their retention are deleted, and so are profile history entries
 * older than theirs. Logged, never thrown.
 */
export async function sweepRuns(
  store: RunRepository & Pick<ProfileRepository, 'purgeProfileHistory'>,
  logger: Logger,
  retention: { runsMs: number; historyMs: number },
  now = Date.now(),
): Promise<void> {
  try {
    const abandoned = await store.failAbandonedRuns(new Date(now).toISOString());
    if (abandoned > 0) logger.warn({ runs: abandoned }, 'sync runs abandoned by a stopped process marked failed');
    const purged = await store.purgeRuns(new Date(now - retention.runsMs).toISOString());
    if (purged > 0) logger.info({ runs: purged }, 'sync runs past their retention deleted');
    const entries = await store.purgeProfileHistory(new Date(now - retention.historyMs).toISOString());
    if (entries > 0) logger.info({ entries }, 'profile history entries past their retention deleted');
  } catch (err) {
    logger.warn({ err }, 'sweeping sync runs failed');
  }
}

/** A stable code and a redacted message for what failed a run. */
function failureOf(error: unknown): { code: string; message: string } {
  // BullMQ's park of a rate-limited queue (the system's 429 came before it).
  if (error instanceof Error && error.name === 'RateLimitError')
    return { code: 'rate_limited', message: 'the queue is parked by a rate limit' };
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return { code: typeof code === 'string' ? code : 'internal', message: redactContacts(message).slice(0, 300) };
}

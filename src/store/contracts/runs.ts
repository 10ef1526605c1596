/**
 * The sync runs aggregate: one row per pull, push batch, backfill or erasure pass of a connector,
 * with when it started and ended, its status, its counts and a bounded list of row-level errors
 * (record references, profile ids, stable error codes: never e-mails, phones or other values).
 *
 * A run is started `running` under a lease that the engine renews while it works; a process that
 * died mid-run leaves its run `running` until `failAbandonedRuns` (the sweep) marks it `failed`
 * once the lease has passed. Finished runs are deleted after the retention (`purgeRuns`).
 */

export const RUN_KINDS = ['pull', 'full-pull', 'push', 'backfill', 'erase'] as const;
/** `pull`: incremental read from the system; `full-pull`: a re-read from the start; `push`: one outbound batch; `backfill`: the initial push of existing profiles; `erase`: an erasure pass. */
export type RunKind = (typeof RUN_KINDS)[number];

export const RUN_TRIGGERS = ['schedule', 'webhook', 'manual', 'api'] as const;
/** What started the run: the scheduler (and the outbound queue), a webhook, the CLI, or the admin API. */
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'partial'] as const;
/** `partial`: the run finished but some rows failed; `failed`: the run itself failed (or was abandoned). */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Rows a run touched. */
export interface RunCounts {
  /** Records read from the system (pull) or profiles taken for sending (push). */
  read: number;
  /** Of those, the ones that carried a change (a pull that changed the hub, a push with something to send). */
  changed: number;
  /** Written: profiles the hub applied (pull) or records the system accepted (push). */
  written: number;
  /** Left alone on purpose (echoes, nothing to send, consent gates, suppressed). */
  skipped: number;
  /** Rows that failed (each has a row error, up to `MAX_RUN_ERRORS` of them stored). */
  failed: number;
}

/** Row errors kept per run; `errorCount` tells how many there were in all. */
export const MAX_RUN_ERRORS = 100;

/** One failed row. No values: a reference to the record and a stable code. */
export interface RunRowError {
  /** The system's record id (or another non-personal reference), when known. */
  ref: string | null;
  /** The hub profile, when known. */
  profileId: string | null;
  /** A stable error code (e.g. `hubspot.validation_error`, `http_400`). */
  code: string;
  /** A short message, redacted of personal data by the caller. */
  message: string;
}

/** Run-level failure codes the store itself sets (others are the failing error's code). */
export type RunErrorCode = 'run_abandoned';

/** A run-level failure (a `failed` run). */
export interface RunFailure {
  code: string;
  message: string;
}

export interface SyncRun {
  id: string;
  connector: string;
  kind: RunKind;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  /** Null while `running`. */
  endedAt: string | null;
  counts: RunCounts;
  /** The first `MAX_RUN_ERRORS` row errors. */
  errors: RunRowError[];
  /** How many row errors there were (may exceed `errors.length`). */
  errorCount: number;
  /** Why the run failed, for a `failed` run. */
  failure: RunFailure | null;
  /** The request id of its log lines (the HTTP request's when an HTTP request or webhook triggered it). */
  requestId: string;
  /** While `running`: the run counts as abandoned once this instant passes without a renewal. */
  leasedUntil: string | null;
}

/** A run to start (`startRun`). */
export interface NewSyncRun {
  /** Defaults to a random UUID. */
  id?: string;
  connector: string;
  kind: RunKind;
  trigger: RunTrigger;
  requestId: string;
  /** @defaultValue now */
  startedAt?: string;
  /** The first lease: the run is abandoned when not renewed or finished by then. */
  leasedUntil: string;
}

/** How a run ended (`finishRun`). */
export interface RunOutcome {
  /** `succeeded`, `partial` or `failed`. */
  status: Exclude<RunStatus, 'running'>;
  counts: RunCounts;
  /** Row errors; only the first `MAX_RUN_ERRORS` are kept. */
  errors: readonly RunRowError[];
  /** How many row errors there were; defaults to `errors.length`. */
  errorCount?: number;
  failure?: RunFailure | null;
  /** @defaultValue now */
  endedAt?: string;
}

/** Which runs to list (`listRuns`): newest first. */
export interface RunQuery {
  connector?: string;
  kind?: RunKind;
  status?: RunStatus;
  /** @defaultValue 50 (at most 500) */
  limit?: number;
  /** The `next` cursor of the previous page. */
  cursor?: string;
}

export interface RunPage {
  runs: SyncRun[];
  /** The cursor of the next (older) page; null on the last page. */
  next: string | null;
}

/** The sync runs. */
export interface RunRepository {
  /** Records a run as `running`. */
  startRun(run: NewSyncRun): Promise<SyncRun>;
  /** Extends a running run's lease; false when the run is no longer running (swept or finished). */
  renewRun(id: string, leasedUntil: string): Promise<boolean>;
  /**
   * Records how a run ended. Only a `running` run is finished (false otherwise): a run the sweep
   * already marked failed stays failed.
   */
  finishRun(id: string, outcome: RunOutcome): Promise<boolean>;
  getRun(id: string): Promise<SyncRun | null>;
  /** Runs, newest first (by start, then id), filtered; a page at a time. */
  listRuns(query?: RunQuery): Promise<RunPage>;
  /** Marks `failed` (code `run_abandoned`) every running run whose lease passed before `now`; returns how many. */
  failAbandonedRuns(now: string): Promise<number>;
  /** Deletes finished runs that ended before `before`; returns how many. */
  purgeRuns(before: string): Promise<number>;
}

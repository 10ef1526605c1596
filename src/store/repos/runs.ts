/** The sync runs repository (both dialects): runs with counts and bounded row errors, the sweep, the purge. */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { z } from 'zod';
import { decodeJson, encodeJson } from '../codec.js';
import { MAX_RUN_ERRORS, RUN_KINDS, RUN_STATUSES, RUN_TRIGGERS } from '../contracts/runs.js';
import type {
  NewSyncRun,
  RunErrorCode,
  RunFailure,
  RunOutcome,
  RunPage,
  RunQuery,
  RunRepository,
  RunRowError,
  SyncRun,
} from '../contracts/runs.js';
import type { SyncRunsTable } from '../db-schema.js';
import { StoreError, WriteConflictError } from '../errors.js';
import { oneOf } from './db.js';
import type { Executor, StoreDb } from './db.js';

const RowErrors = z.array(
  z.object({ ref: z.string().nullable(), profileId: z.string().nullable(), code: z.string(), message: z.string() }),
);
/**
 * Erasure: removes from every run's kept row errors those of a profile (`profileIds`: its id and
 * the ids merged into it) or naming one of its records (`refs`: its identities and the external ids
 * systems gave it; a Segment `userId` may be its e-mail address). The counts stay.
 */
export async function eraseRunErrors(trx: Executor, profileIds: readonly string[], refs: readonly string[]): Promise<void> {
  const ids = new Set(profileIds);
  const named = new Set(refs);
  const rows = await trx.selectFrom('sync_runs').select(['id', 'errors']).where('errors', '<>', '[]').execute();
  for (const row of rows) {
    const errors = decodeJson<RunRowError[]>(row.errors, RowErrors);
    const left = errors.filter((e) => !(e.profileId !== null && ids.has(e.profileId)) && !(e.ref !== null && named.has(e.ref)));
    if (left.length === errors.length) continue;
    await trx
      .updateTable('sync_runs')
      .set({ errors: encodeJson(left) })
      .where('id', '=', row.id)
      .execute();
  }
}

/**
 * A run's row errors less those of profiles erased while it ran (neither a profile nor an id
 * merged into one): an erasure removes the errors runs kept (`eraseRunErrors`), and a run that
 * records its errors after it (a push that failed a record of the profile, a failing erase batch
 * whose retry completed the erasure) must not bring them back, with the record's external id
 * (a Segment `userId` may be an e-mail address). The count of errors stays.
 */
async function withoutErased(trx: Executor, dialect: StoreDb['dialect'], errors: readonly RunRowError[]): Promise<RunRowError[]> {
  const ownerOf = new Map<string, string>();
  const owner = (id: string): string => ownerOf.get(id) ?? id;
  const alive = new Set<string>();
  let pending = [...new Set(errors.flatMap((e) => (e.profileId === null ? [] : [e.profileId])))];
  for (let round = 0; pending.length > 0 && round < MAX_OWNER_ROUNDS; round++) {
    const before = new Map(pending.map((id) => [id, owner(id)]));
    const aliases = await trx.selectFrom('profile_aliases').select(['merged_id', 'into_id']).where('merged_id', 'in', pending).execute();
    for (const alias of aliases) ownerOf.set(alias.merged_id, alias.into_id);
    // After the first round only ids whose owner changed are looked at again (see below).
    const asked = round === 0 ? pending : pending.filter((id) => owner(id) !== before.get(id));
    if (asked.length === 0) break;
    let select = trx
      .selectFrom('profiles')
      .select('id')
      .where('id', 'in', [...new Set(asked.map(owner))]);
    // PostgreSQL: held against an erasure, which locks the profile row before it removes the run
    // errors naming it: it either ends first (the row is gone here) or waits for this commit. Taken
    // in the order a patch batch locks its profiles in (within a round), so the two do not wait on
    // each other crosswise.
    if (dialect === 'postgres') select = select.orderBy(sql`id collate "C"`).forKeyShare();
    for (const row of await select.execute()) alive.add(row.id);
    // An owner not found was erased, or (PostgreSQL) merged into another profile by a transaction
    // that committed while this one read: its alias, written with the delete, is visible now.
    pending = asked.filter((id) => !alive.has(owner(id)));
    // Still moving after the last round: start the transaction again rather than drop a live one's errors.
    if (round === MAX_OWNER_ROUNDS - 1 && pending.length > 0) {
      throw new WriteConflictError('profiles named by a run kept merging while it finished');
    }
  }
  return errors.filter((e) => e.profileId === null || alive.has(owner(e.profileId)));
}

/** Rounds of alias lookups for profiles merged while a run finishes (one more merge each). */
const MAX_OWNER_ROUNDS = 5;

const Failure = z.object({ code: z.string(), message: z.string() });
const Cursor = z.tuple([z.string(), z.string()]);

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

export class KyselyRuns implements RunRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async startRun(run: NewSyncRun): Promise<SyncRun> {
    const row: SyncRunsTable = {
      id: run.id ?? randomUUID(),
      connector: run.connector,
      kind: run.kind,
      triggered_by: run.trigger,
      status: 'running',
      started_at: run.startedAt ?? new Date().toISOString(),
      ended_at: null,
      leased_until: run.leasedUntil,
      read_count: 0,
      changed_count: 0,
      written_count: 0,
      skipped_count: 0,
      failed_count: 0,
      error_count: 0,
      errors: '[]',
      failure: null,
      request_id: run.requestId,
    };
    await this.#store.write((trx) => trx.insertInto('sync_runs').values(row).execute());
    return runOf(row);
  }

  async renewRun(id: string, leasedUntil: string): Promise<boolean> {
    const result = await this.#store.write((trx) =>
      trx
        .updateTable('sync_runs')
        .set({ leased_until: leasedUntil })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  async finishRun(id: string, outcome: RunOutcome): Promise<boolean> {
    const { counts } = outcome;
    const result = await this.#store.write(async (trx) => {
      const kept = outcome.errors.slice(0, MAX_RUN_ERRORS);
      const errors = await withoutErased(trx, this.#store.dialect, kept);
      return trx
        .updateTable('sync_runs')
        .set({
          status: outcome.status,
          ended_at: outcome.endedAt ?? new Date().toISOString(),
          leased_until: null,
          read_count: counts.read,
          changed_count: counts.changed,
          written_count: counts.written,
          skipped_count: counts.skipped,
          failed_count: counts.failed,
          error_count: outcome.errorCount ?? outcome.errors.length,
          errors: encodeJson(errors),
          failure: outcome.failure ? encodeJson(outcome.failure) : null,
        })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .executeTakeFirst();
    });
    return Number(result.numUpdatedRows) > 0;
  }

  async getRun(id: string): Promise<SyncRun | null> {
    const row = await this.#store.db.selectFrom('sync_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? runOf(row) : null;
  }

  async listRuns(query: RunQuery = {}): Promise<RunPage> {
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? DEFAULT_LIMIT)), MAX_LIMIT);
    let select = this.#store.db.selectFrom('sync_runs').selectAll();
    if (query.connector !== undefined) select = select.where('connector', '=', query.connector);
    if (query.kind !== undefined) select = select.where('kind', '=', query.kind);
    if (query.status !== undefined) select = select.where('status', '=', query.status);
    if (query.cursor !== undefined) {
      const [startedAt, id] = decodeCursor(query.cursor);
      select = select.where((eb) =>
        eb.or([eb('started_at', '<', startedAt), eb.and([eb('started_at', '=', startedAt), eb('id', '<', id)])]),
      );
    }
    const rows = await select
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { runs: page.map(runOf), next: rows.length > limit && last ? encodeCursor(last.started_at, last.id) : null };
  }

  async failAbandonedRuns(now: string): Promise<number> {
    const code: RunErrorCode = 'run_abandoned';
    const failure: RunFailure = { code, message: 'the process running it stopped before it finished (lease expired)' };
    // A read first: with nothing abandoned, the sweep never takes SQLite's write lock.
    const first = await this.#store.db
      .selectFrom('sync_runs')
      .select('id')
      .where('status', '=', 'running')
      .where('leased_until', '<', now)
      .limit(1)
      .executeTakeFirst();
    if (!first) return 0;
    const result = await this.#store.write((trx) =>
      trx
        .updateTable('sync_runs')
        .set((eb) => ({ status: 'failed', ended_at: eb.ref('leased_until'), leased_until: null, failure: encodeJson(failure) }))
        .where('status', '=', 'running')
        .where('leased_until', '<', now)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows);
  }

  async purgeRuns(before: string): Promise<number> {
    const first = await this.#store.db
      .selectFrom('sync_runs')
      .select('id')
      .where('status', '!=', 'running')
      .where('ended_at', '<', before)
      .limit(1)
      .executeTakeFirst();
    if (!first) return 0;
    const result = await this.#store.write((trx) =>
      trx.deleteFrom('sync_runs').where('status', '!=', 'running').where('ended_at', '<', before).executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }
}

function runOf(row: SyncRunsTable): SyncRun {
  return {
    id: row.id,
    connector: row.connector,
    kind: oneOf(row.kind, RUN_KINDS),
    trigger: oneOf(row.triggered_by, RUN_TRIGGERS),
    status: oneOf(row.status, RUN_STATUSES),
    startedAt: row.started_at,
    endedAt: row.ended_at,
    counts: {
      read: row.read_count,
      changed: row.changed_count,
      written: row.written_count,
      skipped: row.skipped_count,
      failed: row.failed_count,
    },
    errors: decodeJson<RunRowError[]>(row.errors, RowErrors),
    errorCount: row.error_count,
    failure: row.failure === null ? null : decodeJson(row.failure, Failure),
    requestId: row.request_id,
    leasedUntil: row.leased_until,
  };
}

function encodeCursor(startedAt: string, id: string): string {
  return Buffer.from(JSON.stringify([startedAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new StoreError('invalid_cursor', 'the runs cursor is malformed: use the `next` value of a previous page');
  }
}

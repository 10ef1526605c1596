/**
 * What the Kysely repositories share: the database handle, write transactions retried when
 * they lose a race, the lookups that follow merged profile ids, and `IN (...)` chunking.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { ApplyContext } from '../apply-patch.js';
import type { Database } from '../db-schema.js';
import { withRetry } from '../retry.js';

/** Chunk size for `IN (...)` lists, well under both dialects' parameter limits. */
const CHUNK = 500;

export interface StoreDbConfig extends ApplyContext {
  logger: Logger;
  /** Attempts of a transaction that keeps losing write races before giving up. */
  retryAttempts: number;
  /**
   * SQLite: how long a writer keeps trying for the write lock, and the longest pause between
   * tries. The wait is asynchronous (see `dialect.ts`), so a busy database never blocks the
   * event loop.
   */
  busyRetry?: { budgetMs: number; maxDelayMs: number };
}

/** A handle for reads (the database) or for writes inside a transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

/** The database of one store, as each of its repositories uses it. */
export class StoreDb {
  readonly dialect: 'sqlite' | 'postgres';

  constructor(
    readonly db: Kysely<Database>,
    readonly config: StoreDbConfig,
  ) {
    this.dialect = config.dialect;
  }

  /** Runs `fn` in a write transaction, retried from scratch when it loses a race. */
  write<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return withRetry(() => this.db.transaction().execute(fn), {
      attempts: this.config.retryAttempts,
      ...this.config.busyRetry,
      onRetry: (attempt, error) => this.config.logger.debug({ attempt, code: errorCode(error) }, 'store transaction retried'),
    });
  }

  /** Where `profileId` leads after merges (itself when it was not merged away). */
  async resolveId(db: Executor, profileId: string): Promise<string> {
    const alias = await db.selectFrom('profile_aliases').select('into_id').where('merged_id', '=', profileId).executeTakeFirst();
    return alias?.into_id ?? profileId;
  }

  /** Where each id leads after merges (ids not merged away map to themselves). */
  async resolveIds(db: Executor, profileIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map(profileIds.map((id) => [id, id]));
    for (const chunk of chunks([...out.keys()])) {
      const rows = await db.selectFrom('profile_aliases').select(['merged_id', 'into_id']).where('merged_id', 'in', chunk).execute();
      for (const row of rows) out.set(row.merged_id, row.into_id);
    }
    return out;
  }
}

/** `items` in lists of at most `size` (default: the `IN (...)` chunk). */
export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A stored string that must be one of `allowed`. */
export function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new Error(`unexpected stored value ${JSON.stringify(value)}`);
  return found;
}

/**
 * Values found for the ids they lead to, keyed by the id asked for (`resolved`: asked -> id);
 * ids with nothing found are absent.
 */
export function byAskedId<T>(resolved: ReadonlyMap<string, string>, found: ReadonlyMap<string, T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [asked, id] of resolved) {
    const value = found.get(id);
    if (value !== undefined) out.set(asked, value);
  }
  return out;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

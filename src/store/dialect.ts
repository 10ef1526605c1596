/** Builds the Kysely instance for one store location. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, Driver, SqliteDatabase, SqliteStatement } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './db-schema.js';
import type { StoreLocation } from './url.js';
import { WalCheckpointer, walCheckpointPragmas } from './wal-checkpoint.js';
import type { WalCheckpointOptions } from './wal-checkpoint.js';

/**
 * Write transactions on SQLite begin IMMEDIATE: they take the write lock up front, so two
 * processes never deadlock upgrading a read lock to a write lock (which SQLite reports as
 * SQLITE_BUSY without waiting). Readers are not blocked thanks to WAL.
 *
 * Taking the write lock never waits inside SQLite: SQLite waits by sleeping in the calling
 * thread, which here is the event loop, and another process's write transaction can hold the
 * lock for tens of milliseconds. `begin` fails at once with SQLITE_BUSY instead, and the store
 * retries the transaction asynchronously for up to its busy timeout (`busyRetry` in
 * kysely-store.ts). Under two-process load, the 1 ms in-thread wait this replaced took 15 %
 * of the waiting process's event loop.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #hooks: SqliteHooks;
  constructor(config: ConstructorParameters<typeof SqliteDriver>[0], hooks: SqliteHooks) {
    super(config);
    this.#hooks = hooks;
  }
  override async beginTransaction(_connection: DatabaseConnection): Promise<void> {
    this.#hooks.begin();
  }
  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await super.commitTransaction(connection);
    this.#hooks.committed?.();
  }
  override async destroy(): Promise<void> {
    await super.destroy();
    await this.#hooks.destroyed?.();
  }
}

interface SqliteHooks {
  begin: () => void;
  /** After each committed transaction. */
  committed?: () => void;
  /** After the connection is closed. */
  destroyed?: () => Promise<void>;
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  readonly #hooks: SqliteHooks;
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0], hooks: SqliteHooks) {
    super(config);
    this.#config = config;
    this.#hooks = hooks;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#hooks);
  }
}

/** `begin immediate` without waiting for the lock; other statements keep SQLite's short wait. */
function beginImmediateNoWait(database: BetterSqlite3.Database): () => void {
  const noWait = database.prepare('pragma busy_timeout = 0');
  const shortWait = database.prepare(`pragma busy_timeout = ${SYNC_BUSY_WAIT_MS}`);
  const begin = database.prepare('begin immediate');
  return () => {
    noWait.get();
    try {
      begin.run();
    } finally {
      shortWait.get();
    }
  };
}

/**
 * Kysely prepares every SQLite statement anew; the store runs the same few dozen statements
 * over and over, so prepared statements are kept (bounded, oldest dropped first).
 */
function withStatementCache(database: BetterSqlite3.Database, capacity = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sqlText: string): SqliteStatement {
      const cached = cache.get(sqlText);
      if (cached) return cached;
      const statement = database.prepare(sqlText);
      if (cache.size >= capacity) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(sqlText, statement);
      return statement;
    },
  };
}

/**
 * How long SQLite itself waits (blocking) for a lock outside `begin immediate`: a reader can
 * meet one briefly in WAL mode, e.g. while another process's last connection checkpoints on
 * close. See `createKysely`.
 */
const SYNC_BUSY_WAIT_MS = 5;

export interface DialectOptions {
  /** Milliseconds SQLite waits for a lock while the database is opened (WAL switch, pragmas). */
  busyTimeoutMs: number;
  /** Maximum connections in the PostgreSQL pool. */
  poolSize: number;
  logger: Logger;
  /** WAL checkpointing of a SQLite file (`wal-checkpoint.ts`); the defaults suit production. */
  walCheckpoint?: WalCheckpointOptions;
}

/**
 * Opens the database: SQLite (WAL, and for a file a checkpoint thread, stopped by `destroy()`)
 * or a PostgreSQL pool.
 */
export function createKysely(location: StoreLocation, options: DialectOptions): Kysely<Database> {
  if (location.dialect === 'sqlite') {
    const memory = location.filename === ':memory:';
    if (!memory) mkdirSync(dirname(location.filename), { recursive: true });
    // The full busy timeout while opening: switching to WAL needs a lock too.
    const database = new BetterSqlite3(location.filename, { timeout: Math.max(0, Math.floor(options.busyTimeoutMs)) });
    if (!memory) database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    // WAL + NORMAL is durable against application crashes and much faster than FULL.
    database.pragma('synchronous = NORMAL');
    // A file's WAL is checkpointed by a thread every ~40 MB, off the event loop; this
    // connection's own automatic checkpoint is only the safety net (see wal-checkpoint.ts).
    let checkpointer: WalCheckpointer | undefined;
    if (!memory) {
      const pageSize = Number(database.pragma('page_size', { simple: true }));
      for (const pragma of walCheckpointPragmas(pageSize, options.walCheckpoint)) database.pragma(pragma);
      checkpointer = new WalCheckpointer(location.filename, pageSize, options.logger, options.walCheckpoint, (pages) =>
        database.pragma(`wal_autocheckpoint = ${pages}`),
      );
    }
    // SQLite waits for a lock by sleeping in the calling thread, which here is the event loop.
    // From now on it waits only briefly, and never for the write lock (`ImmediateSqliteDriver`).
    database.pragma(`busy_timeout = ${SYNC_BUSY_WAIT_MS}`);
    const hooks: SqliteHooks = checkpointer
      ? { begin: beginImmediateNoWait(database), committed: () => checkpointer.committed(), destroyed: () => checkpointer.stop() }
      : { begin: beginImmediateNoWait(database) };
    return new Kysely<Database>({
      dialect: new ImmediateSqliteDialect({ database: withStatementCache(database) }, hooks),
    });
  }
  const pool = new pg.Pool({ connectionString: location.connectionString, max: options.poolSize });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (error) => options.logger.warn({ err: error.message }, 'idle PostgreSQL connection failed'));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

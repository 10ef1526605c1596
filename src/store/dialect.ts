/** Builds the Kysely instance for one store location. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, Driver, SqliteDatabase, SqliteStatement } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './db-schema.js';
import type { StoreLocation } from './url.js';

/**
 * Write transactions on SQLite begin IMMEDIATE: they take the write lock up front, so two
 * processes never deadlock upgrading a read lock to a write lock (which SQLite reports as
 * SQLITE_BUSY without waiting). Readers are not blocked thanks to WAL.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
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

/** How long SQLite itself waits for a lock (blocking); see `createKysely`. */
const SYNC_BUSY_WAIT_MS = 1;

export interface DialectOptions {
  /** Milliseconds SQLite waits for a lock while the database is opened (WAL switch, pragmas). */
  busyTimeoutMs: number;
  /** Maximum connections in the PostgreSQL pool. */
  poolSize: number;
  logger: Logger;
}

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
    // Checkpoint every ~40 MB of WAL rather than SQLite's default ~4 MB: a hot page (a profile
    // changed again and again) is copied back once per checkpoint, not once per few commits.
    // That took a quarter off the store's time in the sync benchmark.
    database.pragma('wal_autocheckpoint = 10000');
    // SQLite waits for a lock by sleeping in the calling thread, which here is the event loop.
    // From now on it waits only briefly; the store retries a busy transaction asynchronously,
    // for up to its busy timeout (`busyRetry` in kysely-store.ts), so another process's long
    // write costs this one a few polls instead of a blocked event loop.
    database.pragma(`busy_timeout = ${SYNC_BUSY_WAIT_MS}`);
    return new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(database) }) });
  }
  const pool = new pg.Pool({ connectionString: location.connectionString, max: options.poolSize });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (error) => options.logger.warn({ err: error.message }, 'idle PostgreSQL connection failed'));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

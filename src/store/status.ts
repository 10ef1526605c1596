/**
 * Where a database stands, asked without changing it (for `concord check`): reachable, and which
 * of this version's migrations it has, lacks, or has beyond them. Nothing is created: a SQLite
 * file that does not exist is reported as missing, not made.
 */
import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS } from './migrations.js';
import { parseStoreUrl } from './url.js';

export interface DatabaseStatus {
  dialect: 'sqlite' | 'postgres';
  /** False for a SQLite file that does not exist yet (the hub or `concord migrate` creates it). */
  exists: boolean;
  /** Versions this Concord knows and the database lacks. */
  pending: string[];
  /** Versions the database has that this Concord does not know (it is older than the schema). */
  unknown: string[];
}

function compare(done: readonly string[]): Pick<DatabaseStatus, 'pending' | 'unknown'> {
  const known = new Set(MIGRATIONS.map((m) => m.version));
  const have = new Set(done);
  return {
    pending: MIGRATIONS.map((m) => m.version)
      .filter((v) => !have.has(v))
      .sort(),
    unknown: done.filter((v) => !known.has(v)).sort(),
  };
}

/** Reads the database's migration table; throws when the database cannot be reached. */
export async function databaseStatus(url: string, options: { timeoutMs?: number } = {}): Promise<DatabaseStatus> {
  const location = parseStoreUrl(url);
  if (location.dialect === 'sqlite') {
    if (location.filename === ':memory:') return { dialect: 'sqlite', exists: false, pending: [], unknown: [] };
    if (!existsSync(location.filename)) return { dialect: 'sqlite', exists: false, ...compare([]) };
    const db = new BetterSqlite3(location.filename, { readonly: true, fileMustExist: true, timeout: options.timeoutMs ?? 5_000 });
    try {
      const table = db.prepare("select name from sqlite_master where type = 'table' and name = 'concord_migrations'").get();
      const rows = table === undefined ? [] : (db.prepare('select version from concord_migrations').all() as { version: string }[]);
      return { dialect: 'sqlite', exists: true, ...compare(rows.map((r) => r.version)) };
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: location.connectionString, connectionTimeoutMillis: options.timeoutMs ?? 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const table = await client.query<{ t: string | null }>("select to_regclass('concord_migrations')::text as t");
    const rows = table.rows[0]?.t ? (await client.query<{ version: string }>('select version from concord_migrations')).rows : [];
    return { dialect: 'postgres', exists: true, ...compare(rows.map((r) => r.version)) };
  } finally {
    await client.end();
  }
}

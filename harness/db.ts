/**
 * A fresh database per test: a SQLite file in its own temporary directory, or a PostgreSQL
 * database `concord_t_<random>` created on 127.0.0.1:5432 and dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

export type TestDialect = 'sqlite' | 'postgres';
export const TEST_DIALECTS: readonly TestDialect[] = ['sqlite', 'postgres'];

/** The server and maintenance database the tests use (trust auth). */
export const PG_ADMIN_URL = process.env.CONCORD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  dialect: TestDialect;
  /** Store URL (`sqlite:/tmp/.../concord.db` or `postgres://.../concord_t_...`). */
  url: string;
  /** Rows in a table, read through a separate connection. */
  count(table: string): Promise<number>;
  /** Runs a read-only query through a separate connection. */
  query<T extends Record<string, unknown>>(sqlText: string): Promise<T[]>;
  /** Runs one writing statement (DDL included) through a separate connection. */
  exec(sqlText: string): Promise<void>;
  drop(): Promise<void>;
}

function pgUrlFor(database: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withPgClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'concord-t-'));
    const file = join(dir, 'concord.db');
    const query = async <T extends Record<string, unknown>>(sqlText: string): Promise<T[]> => {
      const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sqlText).all() as T[];
      } finally {
        db.close();
      }
    };
    return {
      dialect,
      url: `sqlite:${file}`,
      query,
      async exec(sqlText) {
        const db = new BetterSqlite3(file, { fileMustExist: true });
        try {
          db.exec(sqlText);
        } finally {
          db.close();
        }
      },
      async count(table) {
        const rows = await query<{ n: number }>(`select count(*) as n from ${table}`);
        return Number(rows[0]?.n ?? 0);
      },
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  const name = `concord_t_${randomBytes(6).toString('hex')}`;
  await withPgClient(PG_ADMIN_URL, (client) => client.query(`create database ${name}`));
  const url = pgUrlFor(name);
  const query = <T extends Record<string, unknown>>(sqlText: string): Promise<T[]> =>
    withPgClient(url, async (client) => (await client.query<T>(sqlText)).rows);
  return {
    dialect,
    url,
    query,
    async exec(sqlText) {
      await withPgClient(url, (client) => client.query(sqlText));
    },
    async count(table) {
      const rows = await query<{ n: string }>(`select count(*) as n from ${table}`);
      return Number(rows[0]?.n ?? 0);
    },
    async drop() {
      await withPgClient(PG_ADMIN_URL, (client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

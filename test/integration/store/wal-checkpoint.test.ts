import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/store/db-schema.js';
import { createKysely } from '../../../src/store/dialect.js';
import { withRetry } from '../../../src/store/retry.js';
import type { WalCheckpointOptions } from '../../../src/store/wal-checkpoint.js';

const PAGE = 4096;
const MB = 1024 * 1024;

describe('SQLite WAL checkpoints in a thread', () => {
  let dir: string;
  let file: string;
  let warnings: string[];
  const open = (walCheckpoint: WalCheckpointOptions): Kysely<Database> => {
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    return createKysely({ dialect: 'sqlite', filename: file }, { busyTimeoutMs: 1_000, poolSize: 1, logger, walCheckpoint });
  };
  /**
   * `transactions` commits of 10 rows of one page each (~11 WAL frames a commit), yielding
   * between them; retried on SQLITE_BUSY as the store does (the thread's last pass takes the
   * write lock for a moment).
   */
  const write = async (db: Kysely<Database>, transactions: number): Promise<void> => {
    await sql`create table if not exists t (id integer primary key, b blob)`.execute(db);
    const tenRows = sql`select 1 union all select 2 union all select 3 union all select 4 union all select 5 union all select 6 union all select 7 union all select 8 union all select 9 union all select 10`;
    for (let i = 0; i < transactions; i++) {
      await withRetry(
        () => db.transaction().execute((trx) => sql`insert into t (b) select randomblob(${PAGE - 100}) from (${tenRows})`.execute(trx)),
        {
          attempts: 50,
          budgetMs: 2_000,
          maxDelayMs: 10,
        },
      );
      await sleep(1);
    }
  };
  const size = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-wal-'));
    file = join(dir, 'store.db');
    warnings = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies the WAL back off the event loop, the writing connection never reaching its own threshold', async () => {
    // ~3,300 frames (~13 MB) written; the thread checkpoints every 200; the connection's own
    // checkpoint would wait for 1,000,000.
    const db = open({ pages: 200, startPages: 40, pollMs: 5, safetyNetPages: 1_000_000 });
    try {
      await write(db, 300);
      // The rows are in the database file while the store is open: only a checkpoint puts them there.
      expect(size(file)).toBeGreaterThan(10 * MB);
      // And the WAL was restarted and cut back (journal_size_limit) instead of growing to ~13 MB.
      expect(size(`${file}-wal`)).toBeLessThan(4 * MB);
      expect(warnings).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('gives the connection its own checkpoint back when the thread cannot start, logging that once', async () => {
    // The safety net alone would let the WAL grow to 1,000,000 frames.
    const db = open({ pages: 200, startPages: 40, pollMs: 5, safetyNetPages: 1_000_000, driverPath: join(dir, 'missing-driver.js') });
    try {
      await write(db, 300);
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0] ?? '{}')).toMatchObject({ level: 40, msg: expect.stringContaining('checkpoint thread failed') });
      // The connection checkpointed on its own every ~200 frames: rows in the file, WAL bounded.
      expect(size(file)).toBeGreaterThan(10 * MB);
      expect(size(`${file}-wal`)).toBeLessThan(4 * MB);
    } finally {
      await db.destroy();
    }
  });

  it('without the thread or the safety net, the WAL keeps everything (what the tests above rule out)', async () => {
    const db = open({ pages: 200, startPages: 1_000_000, safetyNetPages: 1_000_000 });
    try {
      await write(db, 300);
      expect(size(file)).toBeLessThan(1 * MB);
      expect(size(`${file}-wal`)).toBeGreaterThan(10 * MB);
    } finally {
      await db.destroy();
    }
  });

  it('a process with nothing else to do still finishes closing the store (the thread does not let it end first)', async () => {
    // An .mts file outside the project: ESM, importing nothing but the store's dialect module.
    const script = join(dir, 'close.mts');
    const dialect = fileURLToPath(new URL('../../../src/store/dialect.ts', import.meta.url));
    await writeFile(
      script,
      [
        `import { createKysely } from ${JSON.stringify(dialect)};`,
        `const logger = { warn: (...args) => console.error(...args), info() {}, debug() {} };`,
        `const walCheckpoint = { pages: 200, startPages: 40, pollMs: 5 };`,
        // Five stores one after the other: each close races the process's end without the fix.
        `for (let round = 0; round < 5; round++) {`,
        `  const db = createKysely({ dialect: 'sqlite', filename: ${JSON.stringify(file)} }, { busyTimeoutMs: 1_000, poolSize: 1, logger, walCheckpoint });`,
        `  await db.schema.createTable('t').ifNotExists().addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('b', 'blob').execute();`,
        `  const rows = [{ b: Buffer.alloc(4000, 1) }, { b: Buffer.alloc(4000, 2) }];`,
        `  for (let i = 0; i < 60; i++) await db.transaction().execute((trx) => trx.insertInto('t').values(rows).execute());`,
        `  await new Promise((resolve) => setTimeout(resolve, 50));`,
        `  await db.destroy();`,
        `  console.log('closed');`,
        `}`,
      ].join('\n'),
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 30_000 });
    expect({ status: child.status, stdout: child.stdout.trim(), stderr: child.stderr.trim() }).toEqual({
      status: 0,
      stdout: Array(5).fill('closed').join('\n'),
      stderr: '',
    });
  });

  /** Open descriptors of this process on the database file: one per connection. */
  const descriptors = async (): Promise<number> => {
    const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return links.filter((target) => target === file).length;
  };

  it.runIf(process.platform === 'linux')('stops the thread, and closes its connection, when the store is closed', async () => {
    const db = open({ pages: 200, startPages: 40, pollMs: 5, safetyNetPages: 1_000_000 });
    let closed = false;
    try {
      await write(db, 10);
      expect(await descriptors()).toBe(1);
      await write(db, 20);
      // The thread opened its own connection once the WAL reached 40 frames.
      for (let i = 0; i < 200 && (await descriptors()) < 2; i++) await sleep(10);
      expect(await descriptors()).toBe(2);
      await db.destroy();
      closed = true;
      expect(await descriptors()).toBe(0);
    } finally {
      if (!closed) await db.destroy();
    }
  });
});

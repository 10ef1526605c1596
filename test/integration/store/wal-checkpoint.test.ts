import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
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

  it('leaves the WAL to the safety net when the thread cannot start, logging that once', async () => {
    const db = open({ pages: 200, startPages: 40, pollMs: 5, safetyNetPages: 300, driverPath: join(dir, 'missing-driver.js') });
    try {
      await write(db, 300);
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0] ?? '{}')).toMatchObject({ level: 40, msg: expect.stringContaining('checkpoint thread failed') });
      // The connection checkpointed on its own every ~300 frames: rows in the file, WAL bounded.
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

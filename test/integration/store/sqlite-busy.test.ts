/**
 * SQLite with another process writing: the store waits for the write lock without blocking
 * the event loop, commits once the lock is free, and gives up with a clear error after its
 * busy timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { StoreError } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/index.js';
import { openTestStore, patch } from './fixtures.js';

describe('SQLite write lock held elsewhere', () => {
  let db: TestDatabase;
  let store: Store;
  let other: BetterSqlite3.Database;

  beforeEach(async () => {
    db = await createTestDatabase('sqlite');
    store = await openTestStore(db.url, { busyTimeoutMs: 2_000 });
    other = new BetterSqlite3(db.url.slice('sqlite:'.length));
  });
  afterEach(async () => {
    if (other.inTransaction) other.exec('rollback');
    other.close();
    await store.close();
    await db.drop();
  });

  it('waits for the lock without blocking the event loop, then commits', async () => {
    other.exec('begin immediate');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const applying = store.applyPatch(patch({ identities: [{ kind: 'email', value: 'busy@example.com' }] }));
    await sleep(400);
    const ticksWhileHeld = ticks;
    other.exec('commit');
    const result = await applying;
    clearInterval(ticker);
    expect(result.status).toBe('applied');
    // A blocked event loop would have ticked a handful of times at most in 400 ms.
    expect(ticksWhileHeld).toBeGreaterThan(20);
  });

  it('gives up after its busy timeout with a write_conflict error', async () => {
    other.exec('begin immediate');
    const started = Date.now();
    const error = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'late@example.com' }] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('write_conflict');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });
});

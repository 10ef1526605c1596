/**
 * The outbox is a queue table: every change writes row versions (the upsert, the lease, the
 * relayed mark) that a delete ends. On PostgreSQL a version that changes an indexed column gets
 * an entry in every index, which stays until a vacuum and which scans visit. A lease changes
 * no indexed column, so on a page with room PostgreSQL writes it as a HOT update (the new
 * version on the same page, no index entry).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../harness/db.js';
import type { Store } from '../../../src/store/index.js';
import { at, openTestStore, patch, TARGETS } from './fixtures.js';

const PEOPLE = 150;
const ROUNDS = 12;

/** Changes `PEOPLE` people `ROUNDS` times, each change claimed, relayed and settled for every target. */
async function churn(store: Store): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    await store.applyPatches(
      Array.from({ length: PEOPLE }, (_, person) => ({
        patch: patch({
          at: at(round * 1000 + person),
          receivedAt: at(round * 1000 + person),
          identities: [{ kind: 'email', value: `churn-${person}@example.com` }],
          attributes: { round },
        }),
      })),
    );
    const claimed = await store.claimOutbox(10 * PEOPLE);
    expect(claimed).toHaveLength(PEOPLE * TARGETS.length);
    await store.markRelayed(
      claimed.map((row) => row.id),
      claimed[0]?.leasedUntil ?? '',
    );
    for (const target of TARGETS) {
      const settled = claimed
        .filter((row) => row.connector === target)
        .map((row) => ({ profileId: row.profileId, version: row.profileVersion }));
      await store.settleOutbox(target, settled);
    }
  }
}

describe('the outbox under churn (postgres)', () => {
  it('writes most leases as HOT updates (no index lists the lease, and pages keep room for it)', async () => {
    const database = await createTestDatabase('postgres');
    try {
      const store = await openTestStore(database.url);
      try {
        await churn(store);
      } finally {
        await store.close(); // its connections end, and report their statistics
      }
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ updates: string; hot: string }>(
          `select n_tup_upd as updates, n_tup_hot_upd as hot from pg_stat_user_tables where relname = 'outbox'`,
        );
        const [stats] = rows;
        // Each claimed row is written twice (its lease, its relayed mark) besides its upserts.
        expect(Number(stats?.updates)).toBeGreaterThanOrEqual(2 * PEOPLE * TARGETS.length * ROUNDS);
        // Most leases find room on their page (with full pages 1 % did).
        expect(Number(stats?.hot), JSON.stringify(stats)).toBeGreaterThanOrEqual(0.5 * PEOPLE * TARGETS.length * ROUNDS);
      } finally {
        await admin.end();
      }
    } finally {
      await database.drop();
    }
  });
});

/**
 * PostgreSQL: every writer of the outbox locks its rows in one order, (profile, connector), so
 * that an ingest batch upserting outbox rows and a push settling them never hold each other's
 * rows crosswise. Such a deadlock is broken only after `deadlock_timeout` (1 s) by failing one
 * transaction, which is then retried whole: a 4-worker bench met 34 of them in a minute.
 *
 * Each test holds the row of the later profile from another connection, starts the writer, and
 * checks that the writer took the earlier profile's row before it waited: in heap order (what the
 * plan gives) it would wait first, holding nothing the other side could want next.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import type { Store } from '../../../src/store/index.js';
import { createTestDatabase } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { openTestStore, patch } from './fixtures.js';

describe('outbox rows locked in (profile, connector) order (postgres)', () => {
  let db: TestDatabase;
  let store: Store;
  let holder: pg.Client;
  let prober: pg.Client;
  /** The profile whose id sorts first, and the other. */
  let first: string;
  let second: string;

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    store = await openTestStore(db.url);
    holder = new pg.Client({ connectionString: db.url });
    prober = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await prober.connect();
    const created = async (email: string): Promise<string> => {
      const result = await store.applyPatch(patch({ identities: [{ kind: 'email', value: email }], attributes: { n: 1 } }));
      if (result.status !== 'applied') throw new Error(`not created: ${result.status}`);
      return result.profileId;
    };
    const a = await created('a@lock.example');
    const b = await created('b@lock.example');
    [first = '', second = ''] = [a, b].sort();
    // A change of the first profile rewrites its outbox rows at the end of the heap: heap order is now second, first.
    await store.applyPatch(
      patch({ identities: [{ kind: 'email', value: first === a ? 'a@lock.example' : 'b@lock.example' }], attributes: { n: 2 } }),
    );
  });

  afterEach(async () => {
    await holder.end();
    await prober.end();
    await store.close();
    await db.drop();
  });

  /** Locks the second profile's hubspot row from another connection (until `release`). */
  async function holdSecond(): Promise<void> {
    await holder.query('begin');
    await holder.query(`select id from outbox where profile_id = $1 and connector = 'hubspot' for update`, [second]);
  }

  async function release(): Promise<void> {
    await holder.query('rollback');
  }

  /** Resolves once a statement waits for a row lock. */
  async function someoneWaits(): Promise<void> {
    await vi.waitFor(
      async () => {
        const rows = await db.query<{ n: string }>(`select count(*) as n from pg_locks where not granted and locktype = 'transactionid'`);
        expect(Number(rows[0]?.n)).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 20 },
    );
  }

  /** Tries to lock the first profile's hubspot row at once. */
  function probeFirst(): Promise<unknown> {
    return prober.query(`select id from outbox where profile_id = $1 and connector = 'hubspot' for update nowait`, [first]);
  }

  it('settleOutbox takes the first profile before it waits for the second', async () => {
    await holdSecond();
    const settling = store.settleOutbox('hubspot', [
      { profileId: second, version: null },
      { profileId: first, version: null },
    ]);
    await someoneWaits();
    await expect(probeFirst()).rejects.toMatchObject({ code: '55P03' });
    await release();
    await settling;
    const left = await db.query<{ profile_id: string }>(`select profile_id from outbox where connector = 'hubspot'`);
    expect(left).toEqual([]);
  });

  it('an ingest batch upserts the first profile before it waits for the second', async () => {
    await holdSecond();
    const emailOf = async (id: string): Promise<string> => (await store.getProfile(id))?.identities[0]?.value ?? '';
    const [firstEmail, secondEmail] = [await emailOf(first), await emailOf(second)];
    // The batch names the second profile first.
    const applying = store.applyPatches([
      { patch: patch({ identities: [{ kind: 'email', value: secondEmail }], attributes: { n: 3 } }) },
      { patch: patch({ identities: [{ kind: 'email', value: firstEmail }], attributes: { n: 3 } }) },
    ]);
    await someoneWaits();
    await expect(probeFirst()).rejects.toMatchObject({ code: '55P03' });
    await release();
    const results = await applying;
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
  });
  it('settleOutbox over several chunks holds no later profile while it waits for an earlier one', async () => {
    // Another writer in lock order holds the first profile's row, and will want the second's next.
    await holder.query('begin');
    await holder.query(`select id from outbox where profile_id = $1 and connector = 'hubspot' for update`, [first]);
    // The push names the second profile first and the first after 249 others: in the order given,
    // the first would fall in a second chunk of 250, the second already locked by the first chunk.
    const others = Array.from({ length: 249 }, (_, i) => ({ profileId: `zz-none-${i}`, version: null }));
    const settling = store.settleOutbox('hubspot', [{ profileId: second, version: null }, ...others, { profileId: first, version: null }]);
    await someoneWaits();
    // The settle waits for the first profile holding nothing: the other writer takes the second (a deadlock, else).
    await holder.query(`select id from outbox where profile_id = $1 and connector = 'hubspot' for update`, [second]);
    await holder.query('rollback');
    await settling;
    const left = await db.query<{ profile_id: string }>(`select profile_id from outbox where connector = 'hubspot'`);
    expect(left).toEqual([]);
    const stats = await db.query<{ deadlocks: string }>(`select deadlocks from pg_stat_database where datname = current_database()`);
    expect(Number(stats[0]?.deadlocks)).toBe(0);
  });

  it('redriveOutbox takes the first profile before it waits for the second', async () => {
    // Rewrites every row in heap order (second, first): all relayed, as after a Redis loss.
    await db.query(`update outbox set relayed_at = '2026-01-01T00:00:00.000Z'`);
    await holdSecond();
    const redriving = store.redriveOutbox();
    await someoneWaits();
    await expect(probeFirst()).rejects.toMatchObject({ code: '55P03' });
    await release();
    expect(await redriving).toBe(6);
  });

  it('an erasure locks the profile before its outbox rows, as ingest does', async () => {
    // Ingest holds the profile row (its compare-and-swap) and will want its outbox rows next.
    await holder.query('begin');
    await holder.query(`select id from profiles where id = $1 for update`, [first]);
    const erasing = store.deleteProfileData(first);
    await someoneWaits();
    // The erasure waits for the profile holding none of its outbox rows (a deadlock, else).
    await probeFirst();
    await release();
    await erasing;
    expect((await prober.query(`select id from outbox where profile_id = $1`, [first])).rows).toEqual([]);
    expect(await store.getProfile(first)).toBeNull();
  });

  it("an erasure takes the profile's outbox rows in connector order", async () => {
    // Heap order of the first profile's rows is now mailchimp, salesforce, hubspot. (The plan takes
    // the (profile, connector) index here, so this held before the explicit lock too; a guard.)
    await prober.query(`update outbox set relayed_at = null where profile_id = $1 and connector = 'hubspot'`, [first]);
    await holder.query('begin');
    await holder.query(`select id from outbox where profile_id = $1 and connector = 'salesforce' for update`, [first]);
    const erasing = store.deleteProfileData(first);
    await someoneWaits();
    await expect(probeFirst()).rejects.toMatchObject({ code: '55P03' });
    await release();
    await erasing;
    expect((await prober.query(`select id from outbox where profile_id = $1`, [first])).rows).toEqual([]);
  });

  it("an identity merge takes the survivor's rows before it waits for the absorbed profile's", async () => {
    await holdSecond();
    const emailOf = async (id: string): Promise<string> => (await store.getProfile(id))?.identities[0]?.value ?? '';
    const [firstEmail, secondEmail] = [await emailOf(first), await emailOf(second)];
    // Both identities in one patch: the first profile (created first) survives and absorbs the second.
    const merging = store.applyPatch(
      patch({
        identities: [
          { kind: 'email', value: secondEmail },
          { kind: 'email', value: firstEmail },
        ],
        attributes: { n: 3 },
      }),
    );
    await someoneWaits();
    await expect(probeFirst()).rejects.toMatchObject({ code: '55P03' });
    await release();
    expect(await merging).toMatchObject({ status: 'applied', profileId: first });
    expect((await prober.query(`select profile_id from outbox where profile_id = $1`, [second])).rows).toEqual([]);
  });

  it('a batch split around a merge holds no later profile while it waits for an earlier one', async () => {
    // Another writer in lock order holds the first profile's row.
    await holder.query('begin');
    await holder.query(`select id from outbox where profile_id = $1 and connector = 'hubspot' for update`, [first]);
    const emailOf = async (id: string): Promise<string> => (await store.getProfile(id))?.identities[0]?.value ?? '';
    const [firstEmail, secondEmail] = [await emailOf(first), await emailOf(second)];
    // The first segment changes the second profile; the merge of both follows in its own step.
    const applying = store.applyPatches([
      { patch: patch({ identities: [{ kind: 'email', value: secondEmail }], attributes: { n: 3 } }) },
      {
        patch: patch({
          identities: [
            { kind: 'email', value: firstEmail },
            { kind: 'email', value: secondEmail },
          ],
          attributes: { n: 4 },
        }),
      },
    ]);
    await someoneWaits();
    // The batch waits for the first profile holding none of the second's rows (a deadlock, else).
    await prober.query(`select id from outbox where profile_id = $1 and connector = 'hubspot' for update nowait`, [second]);
    await holder.query('rollback');
    const results = await applying;
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
  });
});

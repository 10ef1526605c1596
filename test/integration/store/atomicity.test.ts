import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import type { Store } from '../../../src/store/index.js';
import { at, openTestStore, patch, TARGETS } from './fixtures.js';

const TABLES = [
  'profiles',
  'profile_aliases',
  'identities',
  'consent_ledger',
  'profile_history',
  'shadows',
  'outbox',
  'audit_log',
  'suppression',
];

class InjectedFailure extends Error {}

/** Makes the database refuse inserts into `table` of rows matching `when` (SQL over `new`), with a message naming the table. */
async function refuseInserts(db: TestDatabase, table: string, when: string): Promise<void> {
  if (db.dialect === 'sqlite') {
    await db.exec(
      `create trigger refuse_${table} before insert on ${table} when ${when} begin select raise(abort, 'refused by ${table}'); end`,
    );
    return;
  }
  await db.exec(
    `create function refuse_${table}() returns trigger language plpgsql as $$ begin raise exception 'refused by ${table}'; end $$`,
  );
  await db.exec(`create trigger refuse_${table} before insert on ${table} for each row when (${when}) execute function refuse_${table}()`);
}

describe.each(TEST_DIALECTS)('atomicity and suppression (%s)', (dialect) => {
  let db: TestDatabase;
  let store: Store;
  let failOn: string | null;

  async function snapshot(): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    for (const table of TABLES) out[table] = await db.query(`select * from ${table} order by 1, 2`);
    return out;
  }

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    failOn = null;
    store = await openTestStore(db.url, {
      faultInjection: {
        beforeCommit: ({ patchId }) => {
          if (patchId === failOn) throw new InjectedFailure(`injected before commit of ${patchId}`);
        },
      },
    });
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it("leaves no row behind when a new profile's transaction fails before commit", async () => {
    const doomed = patch({
      identities: [{ kind: 'email', value: 'doomed@example.com' }],
      attributes: { firstName: 'D' },
      consents: { marketing: { email: { status: 'granted' } } },
    });
    failOn = doomed.id;
    await expect(
      store.applyPatch(doomed, { observed: { connector: 'hubspot', externalId: 'hs-d', values: { a: 1 } } }),
    ).rejects.toBeInstanceOf(InjectedFailure);
    for (const table of TABLES) expect(await db.count(table)).toBe(0);
    expect(await store.findProfile({ kind: 'email', value: 'doomed@example.com' })).toBeNull();
  });

  it('leaves an existing profile, its merge partner and every side table untouched when the failure comes late', async () => {
    const one = await store.applyPatch(
      patch({ identities: [{ kind: 'email', value: 'one@example.com' }], consents: { marketing: { email: { status: 'granted' } } } }),
      { observed: { connector: 'hubspot', externalId: 'hs-1', values: { n: 1 } } },
    );
    await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'two@example.com' }], attributes: { n: 2 } }));
    const before = await snapshot();

    const doomed = patch({
      source: 'salesforce',
      at: at(30),
      identities: [
        { kind: 'email', value: 'one@example.com' },
        { kind: 'email', value: 'two@example.com' },
        { kind: 'phone', value: '+14155550132' },
      ],
      attributes: { n: 3 },
      consents: { marketing: { email: { status: 'denied' } } },
    });
    failOn = doomed.id;
    await expect(
      store.applyPatch(doomed, { observed: { connector: 'hubspot', externalId: 'hs-1', values: { n: 3 } } }),
    ).rejects.toBeInstanceOf(InjectedFailure);
    expect(await snapshot()).toEqual(before);
    if (one.status !== 'applied') throw new Error('not applied');
    expect((await store.getProfile(one.profileId))?.version).toBe(1);
  });

  it('rolls back a whole batch when one of its patches fails', async () => {
    const ok = patch({ identities: [{ kind: 'email', value: 'batch-ok@example.com' }] });
    const doomed = patch({ identities: [{ kind: 'email', value: 'batch-doomed@example.com' }] });
    failOn = doomed.id;
    await expect(store.applyPatches([{ patch: ok }, { patch: doomed }])).rejects.toBeInstanceOf(InjectedFailure);
    for (const table of TABLES) expect(await db.count(table)).toBe(0);

    failOn = null;
    const results = await store.applyPatches([{ patch: ok }, { patch: doomed }, { patch: ok }]);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'unchanged']);
  });

  // A statement failing amid a batch's writes (a constraint, a trigger, a full disk): the error
  // reported is that statement's (on PostgreSQL every later statement meets "current transaction
  // is aborted"), nothing of the batch stays behind, and the connection goes back usable.
  it.each([
    ['identities', "new.kind = 'phone'"],
    ['profile_history', "new.actor = 'segment'"],
    ['audit_log', "new.actor = 'segment'"],
  ])(
    'a batch whose %s insert fails amid its writes reports that failure, leaves no row behind and the store goes on',
    async (table, when) => {
      const batch = (): Parameters<Store['applyPatches']>[0] => [
        ...Array.from({ length: 30 }, (_, i) => ({
          patch: patch({
            identities: [{ kind: 'email', value: `amid-${i}@example.com` }],
            attributes: { n: i },
            consents: { marketing: { email: { status: 'granted' } } },
          }),
          options: { observed: { connector: 'hubspot', externalId: `hs-amid-${i}`, values: { n: i } } },
        })),
        {
          patch: patch({
            source: 'segment',
            identities: [
              { kind: 'email', value: 'amid-doomed@example.com' },
              { kind: 'phone', value: '+14155550177' },
            ],
            attributes: { n: 99 },
          }),
        },
        ...Array.from({ length: 30 }, (_, i) => ({
          patch: patch({ identities: [{ kind: 'email', value: `amid-after-${i}@example.com` }], attributes: { n: i } }),
          options: { observed: { connector: 'salesforce', externalId: `sf-amid-${i}`, values: { n: i } } },
        })),
      ];
      await refuseInserts(db, table, when);
      await expect(store.applyPatches(batch())).rejects.toThrow(`refused by ${table}`);
      for (const t of TABLES) expect(await db.count(t)).toBe(0);

      // The same transaction's connection and the store still work: without the doomed patch all is stored.
      const results = await store.applyPatches(batch().filter((item) => item.patch.source !== 'segment'));
      expect(results.every((r) => r.status === 'applied')).toBe(true);
      expect(await db.count('profiles')).toBe(60);
      expect(await db.count('outbox')).toBe(60 * TARGETS.length);
    },
  );

  it('writes nothing for a patch carrying a suppressed identity, however it is spelt', async () => {
    await store.suppress([store.hashIdentity({ kind: 'email', value: 'erased@example.com' })], 'erasure');
    const result = await store.applyPatch(
      patch({
        identities: [
          { kind: 'email', value: '  ERASED@example.com' },
          { kind: 'phone', value: '+14155550132' },
        ],
        attributes: { firstName: 'Back' },
      }),
      { observed: { connector: 'hubspot', externalId: 'hs-x', values: { a: 1 } } },
    );
    expect(result).toEqual({ status: 'suppressed', reason: 'suppressed_identity' });
    for (const table of TABLES.filter((t) => t !== 'suppression')) expect(await db.count(table)).toBe(0);
    expect(await store.findProfile({ kind: 'phone', value: '+14155550132' })).toBeNull();
  });

  it('does not touch an existing profile when the patch carries a suppressed identity', async () => {
    const kept = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'kept@example.com' }], attributes: { n: 1 } }));
    if (kept.status !== 'applied') throw new Error('not applied');
    await store.suppress([store.hashIdentity({ kind: 'external', value: 'sf-gone', system: 'salesforce' })], 'erasure');
    const before = await snapshot();
    const result = await store.applyPatch(
      patch({
        source: 'salesforce',
        at: at(60),
        identities: [
          { kind: 'email', value: 'kept@example.com' },
          { kind: 'external', value: 'sf-gone' },
        ],
        attributes: { n: 2 },
      }),
    );
    expect(result.status).toBe('suppressed');
    expect(await snapshot()).toEqual(before);
  });
});

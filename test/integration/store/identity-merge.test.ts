import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import type { ApplyResult, Store } from '../../../src/store/index.js';
import { at, openTestStore, patch, TARGETS } from './fixtures.js';

function applied(result: ApplyResult): Extract<ApplyResult, { status: 'applied' }> {
  if (result.status !== 'applied') throw new Error(`expected applied, got ${result.status}`);
  return result;
}

describe.each(TEST_DIALECTS)('identity resolution and profile merge (%s)', (dialect) => {
  let db: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = await openTestStore(db.url);
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it("adds a new identity to the profile that owns the patch's known identity", async () => {
    const first = applied(await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'x@example.com' }] })));
    const second = applied(
      await store.applyPatch(
        patch({
          identities: [
            { kind: 'email', value: 'X@example.com' },
            { kind: 'external', value: '003', system: 'salesforce' },
          ],
          at: at(5),
        }),
      ),
    );
    expect(second).toMatchObject({ profileId: first.profileId, created: false, version: 2, mergedProfileIds: [] });
    expect(await store.findProfileIdByExternalId('salesforce', '003')).toBe(first.profileId);
    expect(await db.count('profiles')).toBe(1);
  });

  it('merges two profiles linked by one patch into the older one and re-points everything', async () => {
    const older = applied(
      await store.applyPatch(
        patch({
          identities: [{ kind: 'email', value: 'ada@work.example' }],
          attributes: { firstName: 'Ada', company: 'Analytical' },
          consents: { marketing: { email: { status: 'granted' } } },
        }),
        { observed: { connector: 'hubspot', externalId: 'hs-1', values: { firstname: 'Ada' } } },
      ),
    );
    const newer = applied(
      await store.applyPatch(
        patch({
          source: 'salesforce',
          at: at(10),
          identities: [{ kind: 'phone', value: '+44 20 7946 0958' }],
          attributes: { firstName: 'Augusta' },
          consents: { marketing: { sms: { status: 'denied' } } },
        }),
        { observed: { connector: 'salesforce', externalId: '003A', values: { FirstName: 'Augusta' } } },
      ),
    );
    await store.updateShadow(newer.profileId, 'hubspot', { externalId: 'hs-2', values: { firstname: 'Augusta' } });
    await store.createDsr({
      id: 'dsr-newer',
      kind: 'export',
      status: 'received',
      profileId: newer.profileId,
      identityHashes: [],
      receivedAt: at(0),
      dueAt: at(86_400),
      extendedTo: null,
      subjectToldAt: null,
      completedAt: null,
      detail: {},
      systems: [],
    });
    expect(newer.profileId > older.profileId).toBe(true);

    const link = applied(
      await store.applyPatch(
        patch({
          source: 'segment',
          at: at(20),
          identities: [
            { kind: 'email', value: 'ada@work.example' },
            { kind: 'phone', value: '+442079460958' },
          ],
          attributes: { lastName: 'Lovelace' },
        }),
      ),
    );
    expect(link).toMatchObject({ profileId: older.profileId, mergedProfileIds: [newer.profileId], created: false });
    expect(link.version).toBe(2);
    expect(link.outbox).toEqual([...TARGETS]);

    const merged = await store.getProfile(older.profileId);
    expect(merged).toMatchObject({
      id: older.profileId,
      version: 2,
      attributes: {
        firstName: { value: 'Augusta', source: 'salesforce' },
        company: { value: 'Analytical' },
        lastName: { value: 'Lovelace' },
      },
      consents: { marketing: { email: { value: 'granted' }, sms: { value: 'denied' } } },
    });
    expect(merged?.identities).toHaveLength(2);
    expect(await store.getProfile(newer.profileId)).toEqual(merged);
    expect(await db.count('profiles')).toBe(1);
    expect(await store.findProfileIdByExternalId('salesforce', '003A')).toBe(older.profileId);
    expect((await store.findProfile({ kind: 'phone', value: '+442079460958' }))?.id).toBe(older.profileId);

    // Identities, ledger, history, shadows, outbox and DSRs all point at the survivor.
    for (const table of ['identities', 'consent_ledger', 'profile_history', 'shadows', 'outbox']) {
      const rows = await db.query<{ profile_id: string }>(`select distinct profile_id from ${table}`);
      expect(rows.map((r) => r.profile_id)).toEqual([older.profileId]);
    }
    expect((await store.getDsr('dsr-newer'))?.profileId).toBe(older.profileId);
    expect((await store.consentHistory(older.profileId)).map((e) => `${e.purpose}.${e.channel}`).sort()).toEqual([
      'marketing.email',
      'marketing.sms',
    ]);
    // The history of both profiles is the survivor's: the absorbed one's first name is there too.
    const names = (await store.profileHistory(newer.profileId)).filter((e) => e.path === 'firstName').map((e) => e.offered.value);
    expect(names.length).toBeGreaterThanOrEqual(2);
    // The survivor's shadow wins for a connector both had; the other connector's shadow moved over.
    expect((await store.getShadow(older.profileId, 'hubspot'))?.externalId).toBe('hs-1');
    expect((await store.getShadow(older.profileId, 'salesforce'))?.externalId).toBe('003A');
    expect(await db.count('outbox')).toBe(TARGETS.length);
    const versions = await db.query<{ profile_version: number }>('select profile_version from outbox');
    expect(versions.every((r) => Number(r.profile_version) === 2)).toBe(true);

    const audit = await store.listAudit({ profileId: older.profileId });
    const mergeRow = audit.find((e) => e.action === 'profile.merged');
    expect(mergeRow?.detail).toMatchObject({ mergedFrom: newer.profileId, source: 'segment' });
  });

  it('merges three profiles at once, and follows chains of merges', async () => {
    const a = applied(await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'a@x.example' }] })));
    const b = applied(await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'b@x.example' }] })));
    const c = applied(await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'c@x.example' }] })));
    // b absorbs nothing yet; link b and c first, then a with b.
    const bc = applied(
      await store.applyPatch(
        patch({
          identities: [
            { kind: 'email', value: 'b@x.example' },
            { kind: 'email', value: 'c@x.example' },
          ],
          at: at(1),
        }),
      ),
    );
    expect(bc).toMatchObject({ profileId: b.profileId, mergedProfileIds: [c.profileId] });
    const all = applied(
      await store.applyPatch(
        patch({
          identities: [
            { kind: 'email', value: 'c@x.example' },
            { kind: 'email', value: 'a@x.example' },
            { kind: 'phone', value: '+14155550132' },
          ],
          at: at(2),
        }),
      ),
    );
    expect(all).toMatchObject({ profileId: a.profileId, mergedProfileIds: [b.profileId] });
    expect((await store.getProfile(c.profileId))?.id).toBe(a.profileId);
    expect((await store.getProfile(b.profileId))?.id).toBe(a.profileId);
    expect((await store.getProfile(a.profileId))?.identities).toHaveLength(4);
    expect(await db.count('profiles')).toBe(1);
    expect(await db.count('identities')).toBe(4);
  });
});

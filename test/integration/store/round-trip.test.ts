import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import type { Store } from '../../../src/store/index.js';
import { at, HASH_KEY, openTestStore, patch, TARGETS } from './fixtures.js';

describe.each(TEST_DIALECTS)('store round trips (%s)', (dialect) => {
  let db: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = await openTestStore(db.url, { defaultPhoneCountry: 'GB' });
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it('migrates once, forward only', async () => {
    expect(store.dialect).toBe(dialect);
    expect(await store.migrate()).toEqual([]);
    const rows = await db.query<{ version: string }>('select version from concord_migrations');
    expect(rows.map((r) => r.version)).toEqual([
      '0001_initial',
      '0002_push_log',
      '0003_outbox_relayed',
      '0004_webhooks_out',
      '0005_requester_verifications',
      '0006_sync_runs',
      '0007_profile_history',
      '0008_shadow_values_at',
      '0009_lookup_indexes',
      '0010_outbox_lease_index',
    ]);
  });

  it('refuses a database migrated by a newer version', async () => {
    await store.close();
    const { default: BetterSqlite3 } = await import('better-sqlite3');
    const pg = await import('pg');
    const sqlText = `insert into concord_migrations (version, applied_at) values ('9999_future', '2030-01-01T00:00:00.000Z')`;
    if (dialect === 'sqlite') {
      const raw = new BetterSqlite3(db.url.slice('sqlite:'.length));
      raw.prepare(sqlText).run();
      raw.close();
    } else {
      const client = new pg.default.Client({ connectionString: db.url });
      await client.connect();
      await client.query(sqlText);
      await client.end();
    }
    await expect(openTestStore(db.url)).rejects.toMatchObject({ code: 'schema_too_new' });
    store = await openTestStore(db.url, { autoMigrate: false });
  });

  it('creates a profile and finds it by every identity, whatever the spelling', async () => {
    const result = await store.applyPatch(
      patch({
        identities: [
          { kind: 'email', value: ' Ada.Lovelace+news@Example.com' },
          { kind: 'phone', value: '020 7946 0958' },
          { kind: 'external', value: 'hs-1' },
        ],
        attributes: { firstName: 'Ada', lastName: 'Lovelace' },
        subscriptions: { newsletter: true },
        rights: { objections: { profiling: true } },
      }),
    );
    expect(result).toMatchObject({ status: 'applied', version: 1, created: true, mergedProfileIds: [] });
    if (result.status !== 'applied') throw new Error('not applied');
    expect(result.outbox).toEqual([...TARGETS]);
    expect(result.profileId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

    const byEmail = await store.findProfile({ kind: 'email', value: 'ADA.LOVELACE+NEWS@example.com' });
    const byPhone = await store.findProfile({ kind: 'phone', value: '+44 20 7946 0958' });
    const byExternal = await store.findProfile({ kind: 'external', value: 'hs-1', system: 'hubspot' });
    expect(byEmail?.id).toBe(result.profileId);
    expect(byPhone?.id).toBe(result.profileId);
    expect(byExternal?.id).toBe(result.profileId);
    expect(await store.findProfile({ kind: 'email', value: 'ada.lovelace@example.com' })).toBeNull();
    expect(await store.findProfile({ kind: 'external', value: 'hs-1', system: 'salesforce' })).toBeNull();
    expect(await store.findProfileIdByExternalId('hubspot', 'hs-1')).toBe(result.profileId);

    const profile = await store.getProfile(result.profileId);
    expect(profile).toMatchObject({
      id: result.profileId,
      version: 1,
      attributes: {
        firstName: { value: 'Ada', source: 'hubspot', at: '2026-01-01T10:00:00.000Z' },
        lastName: { value: 'Lovelace' },
      },
      subscriptions: { newsletter: { value: true } },
      rights: { objections: { profiling: { value: true } } },
    });
    expect(profile?.identities).toEqual(
      expect.arrayContaining([
        { kind: 'email', value: 'ada.lovelace+news@example.com', at: at(0), source: 'hubspot' },
        { kind: 'phone', value: '+442079460958', at: at(0), source: 'hubspot' },
        { kind: 'external', value: 'hs-1', system: 'hubspot', at: at(0), source: 'hubspot' },
      ]),
    );
    expect(await db.count('identities')).toBe(3);
  });

  it('reports a patch that changes nothing as unchanged, without a version bump or outbox row', async () => {
    const first = patch({ identities: [{ kind: 'email', value: 'a@example.com' }], attributes: { firstName: 'A' } });
    const applied = await store.applyPatch(first);
    if (applied.status !== 'applied') throw new Error('not applied');
    const claimed = await store.claimOutbox(10);
    await store.ackOutbox(claimed.map((row) => row.id));

    expect(await store.applyPatch(first)).toEqual({
      status: 'unchanged',
      profileId: applied.profileId,
      version: 1,
      ignored: [],
      created: false,
    });
    const stale = patch({ identities: [{ kind: 'email', value: 'a@example.com' }], attributes: { firstName: 'Old' }, at: at(-60) });
    expect(await store.applyPatch(stale)).toMatchObject({ status: 'unchanged', version: 1 });
    expect(await db.count('outbox')).toBe(0);
    expect((await store.getProfile(applied.profileId))?.attributes.firstName?.value).toBe('A');
  });

  it('returns no_identity for a patch without a usable identity and writes nothing', async () => {
    expect(await store.applyPatch(patch({ identities: [], attributes: { a: 1 } }))).toEqual({ status: 'no_identity' });
    expect(await store.applyPatch(patch({ identities: [{ kind: 'phone', value: 'n/a' }] }))).toEqual({
      status: 'no_identity',
    });
    expect(await db.count('profiles')).toBe(0);
    expect(await db.count('audit_log')).toBe(0);
  });

  it('appends consent changes to the ledger with evidence, and non-authority reports as not accepted', async () => {
    const email = { kind: 'email' as const, value: 'c@example.com' };
    const granted = await store.applyPatch(
      patch({
        identities: [email],
        consents: { marketing: { email: { status: 'granted', evidence: { method: 'form', noticeVersion: 'v3' } } } },
      }),
    );
    if (granted.status !== 'applied') throw new Error('not applied');
    await store.applyPatch(
      patch({ identities: [email], source: 'salesforce', at: at(60), consents: { marketing: { email: { status: 'denied' } } } }),
    );
    // segment is not an authority for marketing: recorded, not applied, and only once per patch.
    // (It names the e-mail as a lookup key: naming it as set at(120) would be a change.)
    const foreign = patch({
      identities: [{ ...email, lookup: true }],
      source: 'segment',
      at: at(120),
      consents: { marketing: { email: { status: 'granted' } } },
    });
    const ignoredResult = await store.applyPatch(foreign);
    expect(ignoredResult).toMatchObject({
      status: 'unchanged',
      ignored: [{ kind: 'consent', path: 'marketing.email', reason: 'not_authority', source: 'segment' }],
    });
    await store.applyPatch(foreign);

    const history = await store.consentHistory(granted.profileId);
    expect(history.map((e) => [e.purpose, e.channel, e.state.value, e.previous, e.accepted, e.state.source])).toEqual([
      ['marketing', 'email', 'granted', null, true, 'hubspot'],
      ['marketing', 'email', 'denied', 'granted', true, 'salesforce'],
      ['marketing', 'email', 'granted', null, false, 'segment'],
    ]);
    expect(history[0]?.state.evidence).toEqual({ method: 'form', noticeVersion: 'v3' });
    expect(history[0]?.state.legalBasis).toBe('consent');
    expect(history[2]?.patchId).toBe(foreign.id);
    const profile = await store.getProfile(granted.profileId);
    expect(profile?.consents.marketing?.email?.value).toBe('denied');
  });

  it('records shadows from the patch and from updateShadow, merging values', async () => {
    const result = await store.applyPatch(
      patch({ identities: [{ kind: 'email', value: 's@example.com' }], attributes: { firstName: 'S' } }),
      { observed: { connector: 'hubspot', externalId: 'hs-9', values: { firstname: 'S', email: 's@example.com' } } },
    );
    if (result.status !== 'applied') throw new Error('not applied');
    const id = result.profileId;
    expect(await store.getShadow(id, 'hubspot')).toMatchObject({
      profileId: id,
      connector: 'hubspot',
      externalId: 'hs-9',
      values: { firstname: 'S', email: 's@example.com' },
      lastPushedAt: null,
    });
    await store.updateShadow(id, 'hubspot', { values: { firstname: 'Sam' }, pushedAt: '2026-02-01T00:00:00.000Z' });
    await store.updateShadow(id, 'salesforce', { externalId: '003X', values: { FirstName: 'Sam' } });
    expect(await store.getShadow(id, 'hubspot')).toMatchObject({
      externalId: 'hs-9',
      values: { firstname: 'Sam', email: 's@example.com' },
      lastPushedAt: '2026-02-01T00:00:00.000Z',
    });
    // A field whose value in the system the hub no longer knows is forgotten.
    await store.updateShadow(id, 'salesforce', { values: { LastName: 'S' }, forget: ['FirstName'] });
    expect((await store.getShadow(id, 'salesforce'))?.values).toEqual({ LastName: 'S' });
    expect((await store.shadowsByProfile(id)).map((s) => s.connector)).toEqual(['hubspot', 'salesforce']);
    expect(await store.findProfileIdByExternalId('salesforce', '003X')).toBe(id);
    expect(await store.findProfileIdByExternalId('salesforce', 'hs-9')).toBeNull();

    const other = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 't@example.com' }] }));
    if (other.status !== 'applied') throw new Error('not applied');
    await store.updateShadow(other.profileId, 'hubspot', { externalId: 'hs-10', values: {} });
    const page1 = await store.shadowsByConnector('hubspot', { limit: 1 });
    const page2 = await store.shadowsByConnector('hubspot', { limit: 1, after: page1[0]?.profileId });
    expect([...page1, ...page2].map((s) => s.externalId).sort()).toEqual(['hs-10', 'hs-9']);
    expect(await store.shadowsByConnector('hubspot', { after: page2[0]?.profileId })).toEqual([]);
    // The records a full pull should read about: shadows with an external id only.
    await store.updateShadow(other.profileId, 'mailchimp', { values: { email: 't@example.com' } });
    expect([await store.countKnownRecords('hubspot'), await store.countKnownRecords('mailchimp')]).toEqual([2, 0]);
    expect(await store.getShadow(id, 'mailchimp')).toBeNull();
    // A patch's observed values forget what the hub no longer knows, atomically with the merge.
    const raced = await store.applyPatch(
      patch({ identities: [{ kind: 'external', system: 'hubspot', value: 'hs-9' }], attributes: { firstName: 'Sa' } }),
      { observed: { connector: 'hubspot', externalId: 'hs-9', values: { email: 's@example.com' }, forget: ['firstname'] } },
    );
    expect(raced.status).toBe('applied');
    expect((await store.getShadow(id, 'hubspot'))?.values).toEqual({ email: 's@example.com' });
  });

  it('records accepted pushes in one go: shadows merged, external ids set, and a push log oldest first', async () => {
    const a = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'pa@example.com' }] }), {
      observed: { connector: 'hubspot', externalId: null, values: { email: 'pa@example.com' } },
    });
    const b = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'pb@example.com' }] }));
    if (a.status !== 'applied' || b.status !== 'applied') throw new Error('not applied');
    await store.recordPushes([
      {
        profileId: a.profileId,
        connector: 'hubspot',
        externalId: 'hs-1',
        values: { firstname: 'Ann' },
        pushedAt: '2026-03-01T00:00:00.000Z',
      },
      {
        profileId: b.profileId,
        connector: 'hubspot',
        externalId: 'hs-2',
        values: { firstname: 'Bo' },
        pushedAt: '2026-03-01T00:00:00.000Z',
      },
      {
        profileId: a.profileId,
        connector: 'salesforce',
        externalId: '003A',
        values: { FirstName: 'Ann' },
        pushedAt: '2026-03-01T00:00:01.000Z',
      },
    ]);
    await store.recordPushes([
      {
        profileId: a.profileId,
        connector: 'hubspot',
        externalId: 'hs-1',
        values: { lastname: 'Lee' },
        pushedAt: '2026-03-02T00:00:00.000Z',
      },
    ]);
    expect(await store.getShadow(a.profileId, 'hubspot')).toMatchObject({
      externalId: 'hs-1',
      values: { email: 'pa@example.com', firstname: 'Ann', lastname: 'Lee' },
      lastPushedAt: '2026-03-02T00:00:00.000Z',
    });
    expect(await store.findProfileIdByExternalId('hubspot', 'hs-2')).toBe(b.profileId);
    expect(await store.pushHistory(a.profileId)).toEqual([
      {
        profileId: a.profileId,
        connector: 'hubspot',
        externalId: 'hs-1',
        values: { firstname: 'Ann' },
        pushedAt: '2026-03-01T00:00:00.000Z',
      },
      {
        profileId: a.profileId,
        connector: 'salesforce',
        externalId: '003A',
        values: { FirstName: 'Ann' },
        pushedAt: '2026-03-01T00:00:01.000Z',
      },
      {
        profileId: a.profileId,
        connector: 'hubspot',
        externalId: 'hs-1',
        values: { lastname: 'Lee' },
        pushedAt: '2026-03-02T00:00:00.000Z',
      },
    ]);
    expect(await store.pushHistory(b.profileId)).toHaveLength(1);
    await store.deleteProfileData(a.profileId);
    expect(await store.pushHistory(a.profileId)).toEqual([]);
    expect(await db.count('push_log')).toBe(1);
  });

  it('keeps one pending outbox row per profile and connector, and claims it again after a newer change', async () => {
    const email = { kind: 'email' as const, value: 'o@example.com' };
    const first = await store.applyPatch(patch({ identities: [email], attributes: { n: 1 } }));
    if (first.status !== 'applied') throw new Error('not applied');
    await store.applyPatch(patch({ identities: [email], attributes: { n: 2 }, at: at(1) }));
    expect(await db.count('outbox')).toBe(TARGETS.length);

    const claimed = await store.claimOutbox(10, 60_000);
    expect(claimed.map((row) => [row.connector, row.profileVersion]).sort()).toEqual(
      [...TARGETS].sort().map((connector) => [connector, 2]),
    );
    expect(claimed.every((row) => row.profileId === first.profileId)).toBe(true);
    // Leased rows are hidden from other relays.
    expect(await store.claimOutbox(10)).toEqual([]);

    // A change while claimed: acking the old claim must not lose it.
    await store.applyPatch(patch({ identities: [email], attributes: { n: 3 }, at: at(2) }));
    await store.ackOutbox(claimed.map((row) => row.id));
    const again = await store.claimOutbox(10);
    expect(again.map((row) => row.profileVersion)).toEqual([3, 3, 3]);
    await store.ackOutbox(again.map((row) => row.id));
    expect(await db.count('outbox')).toBe(0);

    // An expired lease makes the row claimable again.
    await store.applyPatch(patch({ identities: [email], attributes: { n: 4 }, at: at(3) }));
    const short = await store.claimOutbox(1, 1);
    expect(short).toHaveLength(1);
    await sleep(20);
    const reclaimed = await store.claimOutbox(10);
    expect(reclaimed.map((row) => row.id)).toContain(short[0]?.id);
  });

  it('keeps relayed rows until a push settles them up to its version, and hands them back after a Redis loss', async () => {
    const email = { kind: 'email' as const, value: 'settle@example.com' };
    const first = await store.applyPatch(patch({ identities: [email], attributes: { n: 1 } }));
    if (first.status !== 'applied') throw new Error('not applied');
    const claimed = await store.claimOutbox(10, 60_000);
    await store.markRelayed(
      claimed.map((row) => row.id),
      claimed[0]?.leasedUntil ?? '',
    );
    // Relayed rows are neither claimed again nor gone.
    expect(await store.claimOutbox(10)).toEqual([]);
    expect(await db.count('outbox')).toBe(TARGETS.length);

    // A change after the push read version 1: settling version 1 keeps the newer row.
    await store.applyPatch(patch({ identities: [email], attributes: { n: 2 }, at: at(1) }));
    const [target, other] = TARGETS;
    if (!target || !other) throw new Error('two targets expected');
    await store.settleOutbox(target, [{ profileId: first.profileId, version: 1 }]);
    expect(await db.count('outbox')).toBe(TARGETS.length);
    const newer = await store.claimOutbox(10, 60_000);
    expect(newer.map((row) => row.profileVersion)).toEqual(TARGETS.map(() => 2));
    await store.markRelayed(
      newer.map((row) => row.id),
      newer[0]?.leasedUntil ?? '',
    );
    await store.settleOutbox(target, [{ profileId: first.profileId, version: 2 }]);
    expect(await db.count('outbox')).toBe(TARGETS.length - 1);

    // Redis lost the dirty sets: every relayed row is claimable again.
    expect(await store.redriveOutbox()).toBe(TARGETS.length - 1);
    const again = await store.claimOutbox(10);
    expect(again.map((row) => row.connector).sort()).toEqual(TARGETS.filter((t) => t !== target).sort());
    // A profile that is gone settles every version.
    await store.settleOutbox(other, [{ profileId: first.profileId, version: null }]);
    expect(await db.count('outbox')).toBe(TARGETS.length - 2);

    // Rows handed back while a relay held them (its dirty marks may have gone to the lost
    // Redis) are not marked relayed by that relay: they are claimed again.
    expect(await store.redriveOutbox()).toBe(1);
    const held = await store.claimOutbox(10, 60_000);
    expect(held).toHaveLength(1);
    expect(await store.redriveOutbox()).toBe(1);
    await store.markRelayed(
      held.map((row) => row.id),
      held[0]?.leasedUntil ?? '',
    );
    expect((await store.claimOutbox(10)).map((row) => row.id)).toEqual(held.map((row) => row.id));
  });

  it('lets several relays claim at once without handing out a row twice', async () => {
    await store.applyPatches(
      Array.from({ length: 20 }, (_, i) => ({ patch: patch({ identities: [{ kind: 'email', value: `relay${i}@example.com` }] }) })),
    );
    // PostgreSQL: three relays with their own pools. SQLite: one store per process is the
    // rule (its writer lock is per file), so the concurrent claims share one store.
    const extra = dialect === 'postgres' ? [await openTestStore(db.url), await openTestStore(db.url)] : [];
    const relays = [store, ...extra, ...(dialect === 'postgres' ? [] : [store, store])];
    try {
      const seen: string[] = [];
      for (;;) {
        const round = await Promise.all(relays.flatMap((relay) => [relay.claimOutbox(4), relay.claimOutbox(4)]));
        const ids = round.flat().map((row) => row.id);
        if (ids.length === 0) break;
        seen.push(...ids);
      }
      expect(seen).toHaveLength(20 * TARGETS.length);
      expect(new Set(seen).size).toBe(seen.length);
      await store.ackOutbox(seen);
      expect(await db.count('outbox')).toBe(0);
    } finally {
      await Promise.all(extra.map((relay) => relay.close()));
    }
  });

  it('stores cursors', async () => {
    expect(await store.getCursor('hubspot')).toBeNull();
    await store.setCursor('hubspot', { after: '2026-01-01T00:00:00.000Z', page: 2 });
    await store.setCursor('hubspot', { after: '2026-01-02T00:00:00.000Z', page: null });
    await store.setCursor('segment', 17);
    expect(await store.getCursor('hubspot')).toEqual({ after: '2026-01-02T00:00:00.000Z', page: null });
    expect(await store.getCursor('segment')).toBe(17);
  });

  it('stores suppression hashes keyed with hashKey over normalized identities', async () => {
    const hash = store.hashIdentity({ kind: 'email', value: ' Gone@Example.com' });
    expect(hash).toBe(store.hashIdentity({ kind: 'email', value: 'gone@example.com' }));
    expect(hash).not.toContain('gone');
    expect(await store.isSuppressed([hash])).toBe(false);
    await store.suppress([hash, hash], 'erasure');
    await store.suppress([hash], 'erasure');
    expect(await store.isSuppressed(['unrelated', hash])).toBe(true);
    expect(await store.isSuppressed([])).toBe(false);
    const rows = await db.query<{ hash: string; reason: string }>('select hash, reason from suppression');
    expect(rows).toEqual([{ hash, reason: 'erasure' }]);
    expect(HASH_KEY).not.toBe('');
  });

  it('stores data-subject requests with a status per system', async () => {
    const base = {
      kind: 'erase' as const,
      status: 'received' as const,
      profileId: null,
      identityHashes: ['h1'],
      receivedAt: '2026-01-01T00:00:00.000Z',
      extendedTo: null,
      subjectToldAt: null,
      completedAt: null,
      detail: { channel: 'email' },
    };
    const created = await store.createDsr({ ...base, id: 'dsr-1', dueAt: '2026-01-31T00:00:00.000Z', systems: ['hubspot', 'mailchimp'] });
    expect(created.systems.map((s) => [s.connector, s.status, s.attempts])).toEqual([
      ['hubspot', 'pending', 0],
      ['mailchimp', 'pending', 0],
    ]);
    await store.createDsr({ ...base, id: 'dsr-2', kind: 'export', dueAt: '2026-03-01T00:00:00.000Z', systems: [] });
    await store.createDsr({
      ...base,
      id: 'dsr-3',
      dueAt: '2026-01-10T00:00:00.000Z',
      extendedTo: '2026-03-10T00:00:00.000Z',
      systems: [],
    });

    await store.updateDsr('dsr-1', { status: 'in_progress', subjectToldAt: '2026-01-02T00:00:00.000Z', detail: { note: 'x' } });
    await store.updateDsrSystem('dsr-1', 'hubspot', { status: 'failed', attempts: 1, error: 'timeout' });
    await store.updateDsrSystem('dsr-1', 'hubspot', { status: 'completed', attempts: 2, error: null });
    await store.updateDsrSystem('dsr-1', 'salesforce', { status: 'not_applicable' });
    const dsr = await store.getDsr('dsr-1');
    expect(dsr).toMatchObject({
      id: 'dsr-1',
      kind: 'erase',
      status: 'in_progress',
      identityHashes: ['h1'],
      subjectToldAt: '2026-01-02T00:00:00.000Z',
      detail: { note: 'x' },
    });
    expect(dsr?.systems.map((s) => [s.connector, s.status, s.attempts, s.error])).toEqual([
      ['hubspot', 'completed', 2, null],
      ['mailchimp', 'pending', 0, null],
      ['salesforce', 'not_applicable', 0, null],
    ]);
    expect(await store.getDsr('nope')).toBeNull();
    await expect(store.updateDsr('nope', { status: 'failed' })).rejects.toMatchObject({ code: 'dsr_not_found' });

    expect((await store.listDsr()).map((d) => d.id)).toEqual(['dsr-1', 'dsr-2', 'dsr-3']);
    expect((await store.listDsr({ status: 'received' })).map((d) => d.id)).toEqual(['dsr-2', 'dsr-3']);
    // dsr-3 was extended past the date, dsr-2 is not due yet.
    expect((await store.listDsr({ overdueAt: '2026-02-15T00:00:00.000Z' })).map((d) => d.id)).toEqual(['dsr-1']);
    await store.updateDsr('dsr-1', { status: 'completed', completedAt: '2026-01-20T00:00:00.000Z' });
    expect(await store.listDsr({ overdueAt: '2026-02-15T00:00:00.000Z' })).toEqual([]);
  });

  it('writes an audit row per change, without e-mail addresses or phone numbers', async () => {
    const result = await store.applyPatch(
      patch({
        identities: [
          { kind: 'email', value: 'secret.person@example.com' },
          { kind: 'phone', value: '+44 20 7946 0958' },
        ],
        attributes: { firstName: 'Secret' },
        reason: 'rectification',
      }),
      { actor: 'admin:alice' },
    );
    if (result.status !== 'applied') throw new Error('not applied');
    await store.appendAudit({ actor: 'api', action: 'profile.exported', profileId: result.profileId, detail: { format: 'json' } });
    await store.appendAudit({ actor: 'system', action: 'startup', profileId: null, detail: {}, at: '2020-01-01T00:00:00.000Z' });

    const entries = await store.listAudit({ profileId: result.profileId });
    expect(entries.map((e) => e.action)).toEqual(['profile.exported', 'profile.created']);
    const created = entries[1];
    expect(created).toMatchObject({ actor: 'admin:alice', profileId: result.profileId });
    expect(created?.detail).toMatchObject({
      source: 'hubspot',
      reason: 'rectification',
      version: 1,
      changes: ['attribute:firstName'],
      identitiesAdded: 2,
      identityHashes: [
        store.hashIdentity({ kind: 'email', value: 'secret.person@example.com' }),
        store.hashIdentity({ kind: 'phone', value: '+442079460958' }),
      ],
    });
    const raw = JSON.stringify(await db.query('select * from audit_log'));
    expect(raw).not.toContain('secret.person');
    expect(raw).not.toContain('7946');
    expect((await store.listAudit()).map((e) => e.action)).toEqual(['profile.exported', 'profile.created', 'startup']);
    expect(await store.listAudit({ limit: 1 })).toHaveLength(1);
  });

  it("deletes a profile's personal data", async () => {
    const email = { kind: 'email' as const, value: 'erase@example.com' };
    const result = await store.applyPatch(
      patch({ identities: [email], attributes: { firstName: 'E' }, consents: { marketing: { email: { status: 'granted' } } } }),
      { observed: { connector: 'hubspot', externalId: 'hs-e', values: { firstname: 'E' } } },
    );
    if (result.status !== 'applied') throw new Error('not applied');
    await store.deleteProfileData(result.profileId);
    expect(await store.getProfile(result.profileId)).toBeNull();
    expect(await store.findProfile(email)).toBeNull();
    for (const table of ['profiles', 'identities', 'consent_ledger', 'shadows', 'outbox']) {
      expect(await db.count(table)).toBe(0);
    }
    expect((await store.listAudit({ profileId: result.profileId })).map((e) => e.action)).toEqual(['profile.deleted', 'profile.created']);
  });

  it('purges history entries recorded before a time, and only those', async () => {
    const email = { kind: 'email' as const, value: 'h@example.com' };
    const first = await store.applyPatch(patch({ identities: [email], attributes: { firstName: 'Old' } }));
    if (first.status !== 'applied') throw new Error('not applied');
    const before = (await store.profileHistory(first.profileId)).length;
    expect(before).toBeGreaterThan(0);
    const cut = new Date(Date.now() + 2).toISOString();
    await sleep(10);
    await store.applyPatch(patch({ identities: [email], attributes: { firstName: 'New' }, at: at(1) }));
    const all = await store.profileHistory(first.profileId);
    expect(await store.purgeProfileHistory('2000-01-01T00:00:00.000Z')).toBe(0);
    expect(await store.purgeProfileHistory(cut)).toBe(before);
    const left = await store.profileHistory(first.profileId);
    expect(left).toEqual(all.slice(before));
    expect(left.map((e) => e.offered.value)).toEqual(['New']);
  });

  it("removes an erased profile's row errors from sync runs (by profile id, or by a record id of it), keeping others'", async () => {
    const email = { kind: 'email' as const, value: 'gone@example.com' };
    const result = await store.applyPatch(patch({ identities: [email], attributes: { firstName: 'G' } }), {
      observed: { connector: 'hubspot', externalId: 'hs-gone', values: { firstname: 'G' } },
    });
    if (result.status !== 'applied') throw new Error('not applied');
    const run = await store.startRun({ connector: 'segment', kind: 'pull', trigger: 'manual', requestId: 'r1', leasedUntil: at(60) });
    const other = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'other@example.org' }] }));
    if (other.status !== 'applied') throw new Error('not applied');
    const kept = { ref: 'other@example.org', profileId: other.profileId, code: 'mapping_failed', message: 'kept' };
    const errors = [
      { ref: 'gone@example.com', profileId: result.profileId, code: 'mapping_failed', message: 'bad' },
      { ref: 'hs-gone', profileId: null, code: 'rejected', message: 'refused' },
      { ref: 'gone@example.com', profileId: null, code: 'rejected', message: 'refused' },
      kept,
    ];
    await store.finishRun(run.id, {
      status: 'partial',
      counts: { read: 4, changed: 0, written: 0, skipped: 0, failed: 4 },
      errors,
      errorCount: 4,
      failure: null,
    });
    await store.deleteProfileData(result.profileId);
    const raw = JSON.stringify(await db.query('select * from sync_runs'));
    expect(raw).not.toContain('gone@');
    expect(raw).not.toContain('hs-gone');
    expect(raw).not.toContain(result.profileId);
    expect((await store.getRun(run.id))?.errors).toEqual([kept]);
  });
});

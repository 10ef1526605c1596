/**
 * Identity stamps in the store: each identity is stored with the source and time that set it,
 * profiles written before identities had stamps still load (as unstamped) and take stamps on
 * their next write, and a source naming an identity as a lookup key moves nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { primaryIdentity } from '../../../src/profile/identities.js';
import { UNSTAMPED } from '../../../src/profile/schema.js';
import type { Store } from '../../../src/store/index.js';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { at, openTestStore, patch, POLICY } from './fixtures.js';

/** Runs one write statement on the database outside the store (the store is closed meanwhile). */
async function write(db: TestDatabase, sqlText: string, parameters: unknown[]): Promise<void> {
  if (db.dialect === 'sqlite') {
    const { default: BetterSqlite3 } = await import('better-sqlite3');
    const raw = new BetterSqlite3(db.url.slice('sqlite:'.length));
    raw.prepare(sqlText).run(...parameters);
    raw.close();
  } else {
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      sqlText.replace(
        /\?/g,
        (
          (n) => () =>
            `$${++n}`
        )(0),
      ),
      parameters,
    );
    await client.end();
  }
}

describe.each(TEST_DIALECTS)('identity stamps in the store (%s)', (dialect) => {
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

  it('stores each identity with its stamp; a later address becomes primary and the old one still finds the person', async () => {
    const first = await store.applyPatch(
      patch({ source: 'hubspot', at: at(0), identities: [{ kind: 'email', value: 'ada@example.com' }] }),
    );
    if (first.status !== 'applied') throw new Error('not applied');
    const second = await store.applyPatch(
      patch({
        source: 'salesforce',
        at: at(60),
        receivedAt: at(61),
        identities: [
          { kind: 'email', value: 'ada@example.com', lookup: true },
          { kind: 'email', value: 'Zed@Example.com' },
        ],
      }),
    );
    expect(second).toMatchObject({ status: 'applied', profileId: first.profileId });
    const profile = await store.getProfile(first.profileId);
    expect(profile?.identities).toEqual([
      { kind: 'email', value: 'ada@example.com', at: at(0), source: 'hubspot' },
      { kind: 'email', value: 'zed@example.com', at: at(60), source: 'salesforce' },
    ]);
    expect(primaryIdentity(profile?.identities ?? [], { kind: 'email' }, POLICY)?.value).toBe('zed@example.com');
    expect((await store.findProfile({ kind: 'email', value: 'ada@example.com' }))?.id).toBe(first.profileId);

    // Naming both again as lookup keys changes nothing.
    const again = await store.applyPatch(
      patch({
        source: 'hubspot',
        at: at(120),
        receivedAt: at(121),
        identities: [
          { kind: 'email', value: 'ada@example.com', lookup: true },
          { kind: 'email', value: 'zed@example.com', lookup: true },
        ],
      }),
    );
    expect(again.status).toBe('unchanged');
  });

  it('loads a profile stored before identities had stamps, and stores the stamps on its next write', async () => {
    const created = await store.applyPatch(
      patch({
        identities: [
          { kind: 'email', value: 'ada@example.com' },
          { kind: 'phone', value: '+442079460958' },
        ],
        attributes: { firstName: 'Ada' },
      }),
    );
    if (created.status !== 'applied') throw new Error('not applied');
    await store.close();
    const legacy = {
      id: created.profileId,
      identities: [
        { kind: 'email', value: 'ada@example.com' },
        { kind: 'phone', value: '+442079460958' },
      ],
      attributes: { firstName: { value: 'Ada', at: at(0), source: 'hubspot' } },
      consents: {},
      subscriptions: {},
      rights: { objections: {} },
      version: 1,
    };
    await write(db, 'update "profiles" set "data" = ? where "id" = ?', [JSON.stringify(legacy), created.profileId]);
    store = await openTestStore(db.url);

    const loaded = await store.getProfile(created.profileId);
    expect(loaded?.identities).toEqual([
      { kind: 'email', value: 'ada@example.com', ...UNSTAMPED },
      { kind: 'phone', value: '+442079460958', ...UNSTAMPED },
    ]);
    const next = await store.applyPatch(
      patch({
        source: 'salesforce',
        at: at(30),
        receivedAt: at(31),
        identities: [
          { kind: 'email', value: 'ada@example.com', lookup: true },
          { kind: 'phone', value: '+442079460000' },
        ],
      }),
    );
    expect(next).toMatchObject({ status: 'applied', profileId: created.profileId });
    const rows = await db.query<{ data: string }>(`select data from profiles where id = '${created.profileId}'`);
    expect(JSON.parse(rows[0]?.data ?? '{}').identities).toEqual([
      { kind: 'email', value: 'ada@example.com', ...UNSTAMPED },
      { kind: 'phone', value: '+442079460000', at: at(30), source: 'salesforce' },
      { kind: 'phone', value: '+442079460958', ...UNSTAMPED },
    ]);
  });
});

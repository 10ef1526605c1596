/** The store's `listDsr` filters the privacy module relies on (by profile and kind), on both dialects. */
import { afterEach, describe, expect, it } from 'vitest';
import { MergePolicy } from '../../../src/profile/schema.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../harness/db.js';

describe.each(TEST_DIALECTS)('listDsr filters (%s)', (dialect) => {
  let db: TestDatabase | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    await db?.drop();
    store = undefined;
    db = undefined;
  });

  it('lists the requests of one profile, of one kind, oldest first', async () => {
    db = await createTestDatabase(dialect);
    store = await openStore({ url: db.url, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'k'.repeat(32) });
    const base = {
      status: 'received' as const,
      identityHashes: [],
      dueAt: '2026-02-01T00:00:00.000Z',
      extendedTo: null,
      subjectToldAt: null,
      completedAt: null,
      detail: {},
      systems: [],
    };
    await store.createDsr({ ...base, id: 'a', kind: 'erase', profileId: 'p1', receivedAt: '2026-01-01T00:00:00.000Z' });
    await store.createDsr({ ...base, id: 'b', kind: 'export', profileId: 'p1', receivedAt: '2026-01-02T00:00:00.000Z' });
    await store.createDsr({ ...base, id: 'c', kind: 'erase', profileId: 'p2', receivedAt: '2026-01-03T00:00:00.000Z' });
    await store.createDsr({
      ...base,
      id: 'd',
      kind: 'erase',
      profileId: 'p1',
      receivedAt: '2026-01-04T00:00:00.000Z',
      status: 'completed',
    });
    expect((await store.listDsr({ profileId: 'p1' })).map((r) => r.id)).toEqual(['a', 'b', 'd']);
    expect((await store.listDsr({ profileId: 'p1', kind: 'erase' })).map((r) => r.id)).toEqual(['a', 'd']);
    expect((await store.listDsr({ profileId: 'p1', kind: 'erase', status: 'received' })).map((r) => r.id)).toEqual(['a']);
    expect((await store.listDsr({ kind: 'export' })).map((r) => r.id)).toEqual(['b']);
    expect(await store.listDsr({ profileId: 'nobody' })).toEqual([]);
  });
});

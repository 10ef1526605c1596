/** `databaseStatus`, read-only, on both dialects: a fresh database lacks every migration, a migrated one none. */
import { describe, expect, it } from 'vitest';
import { MergePolicy } from '../../../src/profile/schema.js';
import { databaseStatus, MIGRATIONS, openStore } from '../../../src/store/index.js';
import { createTestDatabase, TEST_DIALECTS } from '../../helpers/db.js';

describe.each(TEST_DIALECTS)('databaseStatus (%s)', (dialect) => {
  it('lists every migration as pending on a fresh database, none once migrated', async () => {
    const db = await createTestDatabase(dialect);
    try {
      const before = await databaseStatus(db.url);
      expect(before.pending).toEqual(MIGRATIONS.map((m) => m.version).sort());
      expect(before.unknown).toEqual([]);
      const store = await openStore({ url: db.url, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'unused' });
      await store.close();
      expect(await databaseStatus(db.url)).toEqual({ dialect, exists: true, pending: [], unknown: [] });
    } finally {
      await db.drop();
    }
  });
});

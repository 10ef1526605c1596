/**
 * A push records its outcome (`recordPushes`) while ingest creates the same shadow: the
 * system's first record of a person, ingested unheld, commits its shadow between the push's
 * read of the shadows (no row yet) and its upsert. On PostgreSQL the upsert then met the new
 * row and replaced its values with the push's alone: the hub forgot what the system had told
 * it (e.g. its last name), so the system's next record counted that old value as a change,
 * stamped with the record's newer time, and an older edit won everywhere (the convergence
 * test's flake under load, issue 14 item 4). The push's values must be merged over the row.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/index.js';
import { createTestDatabase } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { openTestStore, patch } from './fixtures.js';

describe('recordPushes racing with the first shadow of a record (postgres)', () => {
  let db: TestDatabase | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    await db?.drop();
    store = undefined;
    db = undefined;
  });

  it('keeps the values ingest committed meanwhile and adds the pushed ones', async () => {
    db = await createTestDatabase('postgres');
    store = await openTestStore(db.url);
    const created = await store.applyPatch(
      patch({ identities: [{ kind: 'email', value: 'ada@example.com' }], attributes: { firstName: 'Ada' } }),
    );
    if (created.status !== 'applied') throw new Error('profile not created');
    const profileId = created.profileId;

    // Ingest's transaction inserts the first shadow for salesforce and has not committed yet.
    const ingest = new pg.Client({ connectionString: db.url });
    await ingest.connect();
    try {
      await ingest.query('begin');
      await ingest.query(
        `insert into shadows (profile_id, connector, external_id, "values", updated_at) values ($1, 'salesforce', '003A', $2, $3)`,
        [profileId, JSON.stringify({ LastName: 'Lovelace', Email: 'ada@example.com' }), new Date().toISOString()],
      );
      // The push records its outcome: its read finds no row, its upsert waits for ingest's.
      const pushed = store.recordPushes([
        {
          profileId,
          connector: 'salesforce',
          externalId: '003A',
          values: { HasOptedOutOfEmail: true },
          pushedAt: new Date().toISOString(),
        },
      ]);
      await sleep(300);
      await ingest.query('commit');
      await pushed;
    } finally {
      await ingest.end();
    }

    const shadow = (await store.getShadows('salesforce', [profileId])).get(profileId);
    expect(shadow?.values).toEqual({ LastName: 'Lovelace', Email: 'ada@example.com', HasOptedOutOfEmail: true });
    expect(shadow?.externalId).toBe('003A');
  });
});

import { describe, expect, it } from 'vitest';
import { MergePolicy, ProfilePatch } from '../profile/schema.js';
import { openStore } from './index.js';

describe('openStore on sqlite::memory:', () => {
  it('migrates and serves patches without touching the disk', async () => {
    const store = await openStore({ url: 'sqlite::memory:', policy: MergePolicy.parse({}), outboxTargets: ['crm'], hashKey: 'k' });
    try {
      expect(store.dialect).toBe('sqlite');
      expect(await store.migrate()).toEqual([]);
      const result = await store.applyPatch(
        ProfilePatch.parse({
          id: 'p1',
          source: 'crm',
          at: '2026-01-01T00:00:00.000Z',
          receivedAt: '2026-01-01T00:00:00.000Z',
          identities: [{ kind: 'email', value: 'm@example.com' }],
          attributes: { firstName: 'M' },
        }),
      );
      expect(result).toMatchObject({ status: 'applied', version: 1, outbox: ['crm'] });
      expect((await store.findProfile({ kind: 'email', value: 'M@example.com' }))?.attributes.firstName?.value).toBe('M');
    } finally {
      await store.close();
    }
  });
});

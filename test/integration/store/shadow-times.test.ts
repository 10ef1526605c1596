/**
 * A shadow knows when each field's value was last written or observed (`Shadow.valuesAt`), not
 * only when the row last changed (`updatedAt`): a HubSpot push's pre-read judged a status by the
 * row's time, so a status chosen in HubSpot after the hub last wrote it, but before another
 * field refreshed the row, was taken for one the hub knew, and written over (issue 14).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { patch, storeEachTest } from './fixtures.js';

describe.each(TEST_DIALECTS)('shadow field times (%s)', (dialect) => {
  const t = storeEachTest(dialect);

  async function profile(): Promise<string> {
    const result = await t
      .store()
      .applyPatch(patch({ identities: [{ kind: 'email', value: 'times@example.com' }], attributes: { firstName: 'T' } }), {
        observed: { connector: 'hubspot', externalId: 'hs-1', values: { firstname: 'T', 'subscription:101': 'UNSUBSCRIBED' } },
      });
    if (result.status !== 'applied') throw new Error('not applied');
    return result.profileId;
  }

  it('keeps each field its own time: a field refreshed later does not make the others newer', async () => {
    const store = t.store();
    const id = await profile();
    const first = await store.getShadow(id, 'hubspot');
    expect(first?.valuesAt).toEqual({ firstname: first?.updatedAt, 'subscription:101': first?.updatedAt });
    await sleep(5);
    await store.updateShadow(id, 'hubspot', { values: { firstname: 'Tom' } });
    const second = await store.getShadow(id, 'hubspot');
    expect(second?.updatedAt).not.toBe(first?.updatedAt);
    expect(second?.valuesAt).toEqual({ firstname: second?.updatedAt, 'subscription:101': first?.updatedAt });
    await sleep(5);
    // A push's outcome stamps the fields it sent, and only those.
    await store.recordPushes([
      { profileId: id, connector: 'hubspot', externalId: 'hs-1', values: { lastname: 'L' }, pushedAt: new Date().toISOString() },
    ]);
    const third = await store.getShadow(id, 'hubspot');
    expect(third?.valuesAt).toEqual({ firstname: second?.updatedAt, 'subscription:101': first?.updatedAt, lastname: third?.updatedAt });
    // A forgotten field has no time either.
    await store.updateShadow(id, 'hubspot', { values: {}, forget: ['subscription:101'] });
    expect(Object.keys((await store.getShadow(id, 'hubspot'))?.valuesAt ?? {}).sort()).toEqual(['firstname', 'lastname']);
  });

  it("a row written before field times: its fields count as known as of the row's time, also once another field moves on", async () => {
    const store = t.store();
    const id = await profile();
    const legacyAt = '2026-01-01T00:00:00.000Z';
    await t.db().exec(`update shadows set values_at = null, updated_at = '${legacyAt}'`);
    expect((await store.getShadow(id, 'hubspot'))?.valuesAt).toEqual({ firstname: legacyAt, 'subscription:101': legacyAt });
    await store.updateShadow(id, 'hubspot', { values: { firstname: 'Tom' } });
    const after = await store.getShadow(id, 'hubspot');
    expect(after?.valuesAt).toEqual({ firstname: after?.updatedAt, 'subscription:101': legacyAt });
    await t.db().exec(`update shadows set values_at = null, updated_at = '${legacyAt}'`);
    await store.recordPushes([
      { profileId: id, connector: 'hubspot', externalId: 'hs-1', values: { firstname: 'Tim' }, pushedAt: legacyAt },
    ]);
    const pushed = await store.getShadow(id, 'hubspot');
    expect(pushed?.valuesAt).toEqual({ firstname: pushed?.updatedAt, 'subscription:101': legacyAt });
  });
});

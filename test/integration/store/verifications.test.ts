/**
 * The requester-verification repository on both dialects: a link is consumed once (of many
 * confirmations at once, exactly one wins), not after it expires, counted per address and per
 * client, and purged once expired unless it led to a request.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../../harness/db.js';
import type { NewRequesterVerification } from '../../../src/store/index.js';
import { storeEachTest } from './fixtures.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function row(n: number, over: Partial<NewRequesterVerification> = {}): NewRequesterVerification {
  return {
    id: `v${n}`,
    tokenHash: `hash-${n}`,
    addressHash: 'address-a',
    clientHash: 'client-a',
    kind: 'export',
    locale: 'ja',
    sealedAddress: 'sealed',
    createdAt: iso(T0 + n),
    expiresAt: iso(T0 + 3_600_000),
    ...over,
  };
}

describe.each(TEST_DIALECTS)('requester verifications (%s)', (dialect) => {
  const current = storeEachTest(dialect);

  it('consumes a link exactly once, even when confirmed many times at once, and never after it expired', async () => {
    const store = current.store();
    await store.createVerification(row(1));
    await store.createVerification(row(2, { expiresAt: iso(T0 + 1_000) }));
    const results = await Promise.all(Array.from({ length: 8 }, () => store.consumeVerification('hash-1', iso(T0 + 10))));
    expect(results.filter((r) => r.status === 'consumed')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'used')).toHaveLength(7);
    const consumed = results.find((r) => r.status === 'consumed');
    expect(consumed).toMatchObject({ verification: { id: 'v1', kind: 'export', locale: 'ja', consumedAt: iso(T0 + 10), dsrId: null } });

    expect(await store.consumeVerification('hash-2', iso(T0 + 1_000))).toEqual({ status: 'expired' });
    expect(await store.consumeVerification('hash-9', iso(T0))).toEqual({ status: 'unknown' });
    expect((await store.findVerification('hash-2'))?.consumedAt).toBeNull();
  });

  it('counts per address and per client within a window, and purges expired links that led to no request', async () => {
    const store = current.store();
    await store.createVerification(row(1));
    await store.createVerification(row(2, { clientHash: 'client-b' }));
    await store.createVerification(row(3, { addressHash: 'address-b', expiresAt: iso(T0 + 1_000) }));
    await store.createVerification(row(4, { addressHash: 'address-c', expiresAt: iso(T0 + 1_000) }));
    expect(await store.countVerifications({ addressHash: 'address-a', since: iso(T0) })).toBe(2);
    expect(await store.countVerifications({ addressHash: 'address-a', since: iso(T0 + 2) })).toBe(1);
    expect(await store.countVerifications({ clientHash: 'client-a', since: iso(T0) })).toBe(3);

    await store.attachVerificationDsr('v4', 'dsr-4');
    await store.consumeVerification('hash-4', iso(T0 + 500));
    expect(await store.purgeVerifications(iso(T0 + 2_000), iso(T0 + 500))).toBe(1);
    expect(await store.getVerification('v3')).toBeNull();
    expect(await store.getVerification('v4')).toMatchObject({ dsrId: 'dsr-4' });
    // A request confirmed before the second cutoff that never completed: its row goes too.
    await store.createVerification(row(5, { addressHash: 'address-d', clientHash: 'client-d' }));
    await store.consumeVerification('hash-5', iso(T0 + 600));
    await store.attachVerificationDsr('v5', 'dsr-5');
    expect(await store.purgeVerifications(iso(T0), iso(T0 + 601))).toBe(2);
    expect(await store.getVerification('v5')).toBeNull();
    await store.createVerification(row(4, { addressHash: 'address-c', expiresAt: iso(T0 + 1_000) }));
    await store.attachVerificationDsr('v4', 'dsr-4');
    await store.deleteVerification('v4');
    expect(await store.getVerification('v4')).toBeNull();
    expect(await store.countVerifications({ clientHash: 'client-a', since: iso(T0) })).toBe(1);
  });
});

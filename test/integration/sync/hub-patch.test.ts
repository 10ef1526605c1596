/**
 * Hub-internal sources (preference center, admin API) ingest canonical patches: one store
 * transaction like any other source's change, then every connected system receives it.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { HubPatchIngest, NotAHubSourceError } from '../../../src/sync/inbound/hub-patch.js';
import { createSyncMetrics } from '../../../src/sync/metrics.js';
import type { ProfilePatch } from '../../../src/profile/schema.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { REDIS_URL, startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

function denyMarketingEmail(email: string, source: string): ProfilePatch {
  const at = new Date().toISOString();
  return {
    id: `${source}:test-${Math.random().toString(36).slice(2)}`,
    source,
    at,
    receivedAt: at,
    identities: [{ kind: 'email', value: email }],
    attributes: {},
    consents: {
      marketing: { email: { status: 'denied', evidence: { method: 'preference_center', noticeVersion: '2025-01', ip: '127.0.0.1' } } },
    },
    subscriptions: { newsletter: false },
    rights: { objections: {} },
  };
}

describe.each(TEST_DIALECTS)('hub patches (%s)', (dialect) => {
  let hub: Hub | undefined;
  let redis: Redis | undefined;
  let ingest: HubPatchIngest | undefined;
  afterEach(async () => {
    await ingest?.close();
    redis?.disconnect();
    await hub?.close();
    hub = undefined;
    ingest = undefined;
    redis = undefined;
  });

  it('a preference-center change is merged with its evidence and reaches every system', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }] });
    const { a, b } = hub.systems as Record<'a' | 'b', NonNullable<Hub['systems'][string]>>;
    a.change({ email: 'ada@example.com', first_name: 'Ada', email_opt_out: false, newsletter: true });
    await hub.settle();
    expect(b.get({ email: 'ada@example.com' })?.fields['email_opt_out']).toBe(false);

    redis = new Redis(REDIS_URL);
    const metrics = createSyncMetrics(new Registry());
    ingest = new HubPatchIngest({ store: hub.store, redis, prefix: hub.prefix, metrics, relayDelayMs: 5 });
    const patch = denyMarketingEmail('ada@example.com', 'preference_center');
    const result = await ingest.ingest(patch, { actor: 'preference_center' });
    expect(result.status).toBe('applied');
    if (result.status !== 'applied') return;
    expect(result.outbox.sort()).toEqual(['a', 'b']);
    await hub.settle();

    for (const system of [a, b]) {
      expect(system.get({ email: 'ada@example.com' })?.fields).toMatchObject({ email_opt_out: true, newsletter: false });
    }
    const profile = await hub.store.getProfile(result.profileId);
    expect(profile?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'preference_center',
      evidence: { method: 'preference_center', noticeVersion: '2025-01', ip: '127.0.0.1' },
    });
    const ledger = await hub.store.consentHistory(result.profileId);
    expect(ledger.at(-1)).toMatchObject({ purpose: 'marketing', channel: 'email', accepted: true, previous: 'granted' });
    const audit = await hub.store.listAudit({ profileId: result.profileId });
    expect(audit.some((e) => e.actor === 'preference_center')).toBe(true);
    expect((await metrics.changesIngested.get()).values).toEqual([
      expect.objectContaining({ labels: { connector: 'preference_center' }, value: 1 }),
    ]);

    // The same patch again (a retried request) changes nothing and delivers nothing.
    const upserts = [a, b].map((s) => s.getStats().calls.upsert);
    const again = await ingest.ingest(patch);
    expect(again.status).toBe('unchanged');
    await hub.settle();
    expect([a, b].map((s) => s.getStats().calls.upsert)).toEqual(upserts);
  });

  it('refuses a connector as the source, and leaves a suppressed person alone', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }] });
    redis = new Redis(REDIS_URL);
    ingest = new HubPatchIngest({ store: hub.store, redis, prefix: hub.prefix });
    await expect(ingest.ingest(denyMarketingEmail('x@example.com', 'a'))).rejects.toBeInstanceOf(NotAHubSourceError);

    await hub.store.suppress([hub.store.hashIdentity({ kind: 'email', value: 'gone@example.com' })], 'erased');
    const result = await ingest.ingest(denyMarketingEmail('gone@example.com', 'admin'));
    expect(result).toEqual({ status: 'suppressed', reason: 'suppressed_identity' });
    expect(await hub.store.findProfile({ kind: 'email', value: 'gone@example.com' })).toBeNull();
  });
});

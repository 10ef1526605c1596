/**
 * Erasure under HubSpot's rate limits, through the whole hub: the emulator enforces a tight
 * rolling limit that the connector paces under, and a proxy in front of it answers chosen calls
 * with 429s (TEN_SECONDLY_ROLLING in the middle of a batch of deletes, DAILY while reading back).
 * A 429 parks the erase queue for its window without spending an attempt; the erasures complete
 * with their true outcome; no rolling window carries more calls than the limit allows; and a
 * DAILY limit without Retry-After parks the queue until the account's midnight.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { msUntilMidnight } from '../../../connectors/hubspot/api.js';
import { privacyQueues } from '../../../src/privacy/index.js';
import { queuePrefix } from '../../../src/queue/keys.js';
import type { DsrView } from '../../../src/privacy/index.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import type { ProxiedRequest } from '../../../harness/fault-proxy.js';
import { startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

/** HubSpot's limit in this test: calls per rolling 10 s, enforced by the emulator and paced by the connector. */
const LIMIT = 8;
const WINDOW_MS = 10_000;

const emailOf = (i: number): string => `person${i}@example.com`;

/** People created in HubSpot and carried to Salesforce by the hub. */
async function seed(hub: PrivacyHub, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    hub.hubspot.sideDoor.createContact({ email: emailOf(i), firstname: `P${i}`, lastname: 'Tester' });
  }
  await hub.settle(60_000);
  for (let i = 0; i < count; i++) expect(hub.salesforce.sideDoor.findByEmail(emailOf(i))).toBeDefined();
}

/**
 * The most calls seen in any rolling window. The proxy sees a call some time after the pacer
 * let it through (a fraction of a second under load), so the window is taken a little short.
 */
function busiestWindow(log: readonly ProxiedRequest[], windowMs: number): number {
  let most = 0;
  for (let i = 0; i < log.length; i++) {
    const start = log[i]?.at ?? 0;
    most = Math.max(most, log.filter((r) => r.at >= start && r.at < start + windowMs).length);
  }
  return most;
}

describe('erasure under HubSpot rate limits', () => {
  let hub: PrivacyHub | undefined;
  let redis: Redis | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    redis?.disconnect();
    redis = undefined;
  });

  it('completes with the true outcome, counts no attempt for a 429, parks through each Retry-After, and stays within the limit in every window', async () => {
    hub = await startPrivacyHub({
      dialect: 'sqlite',
      hubspotEmulator: { rateLimit: { max: LIMIT, intervalMs: WINDOW_MS } },
      hubspotRequestsPer10Seconds: LIMIT,
      // One batch for every request, so a 429 lands between two deletes of the same call.
      privacy: { tuning: { eraseBatchWaitMs: 400 } },
    });
    const h = hub;
    const people = 5;
    await seed(h, people);

    // The second delete is refused (rolling limit, 1 s); then the read-back by id of the next run (DAILY, reset in 2 s).
    // Contact batch reads before it: the search (by id, by address), then each erase run's check of the addresses.
    h.hubspotProxy.rateLimit({ pattern: /gdpr-delete/, nth: 2, policyName: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 1 });
    h.hubspotProxy.rateLimit({ pattern: /contacts\/batch\/read/, nth: 5, policyName: 'DAILY', retryAfterSeconds: 2 });
    const ids: string[] = [];
    for (let i = 0; i < people; i++) {
      const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: emailOf(i) } }, { origin: 'api', actor: 'test' });
      if (!submitted.ok) throw submitted.error;
      ids.push(submitted.value.id);
    }
    const done: DsrView[] = [];
    for (const id of ids) done.push(await h.waitFor(id, (v) => v.status === 'completed', 90_000));

    const log = h.hubspotProxy.log();
    const refused = log.filter((r) => r.injected);
    expect(refused.map((r) => r.line)).toEqual(['POST /crm/v3/objects/contacts/gdpr-delete', 'POST /crm/v3/objects/contacts/batch/read']);
    // HubSpot may refuse a call of its own when the machine is loaded (a request arrives later
    // than the slot it took); each such 429 must be handled like the injected ones.
    const refusedByHubSpot = log.filter((r) => r.status === 429 && !r.injected).length;
    for (const view of done) {
      const hubspot = view.systems.find((s) => s.connector === 'hubspot');
      // One attempt: the 429s were not counted. The outcome is the true one (erased, one record,
      // verified), although the run that erased some of them was interrupted twice.
      expect(hubspot).toMatchObject({
        status: 'completed',
        attempts: 1,
        error: null,
        outcome: expect.objectContaining({ outcome: 'erased', records: 1, verified: 'yes' }),
      });
      expect(view.systems.find((s) => s.connector === 'salesforce')).toMatchObject({
        status: 'completed',
        outcome: expect.objectContaining({ outcome: 'erased' }),
      });
    }
    for (let i = 0; i < people; i++) expect(h.hubspot.sideDoor.findByEmail(emailOf(i))).toBeUndefined();
    // Each person deleted once: the deletes done before the first 429 were not sent again.
    expect(log.filter((r) => r.line.endsWith('/gdpr-delete') && r.status !== 429)).toHaveLength(people);
    const retries = (await h.store.listAudit({ limit: 1000 })).filter((a) => a.action === 'dsr.erase.retry');
    expect(retries).toEqual([]);

    // Parked: nothing was sent to HubSpot before each Retry-After had passed.
    const [first, second] = refused;
    const after = (r: ProxiedRequest | undefined) => log.find((x) => r !== undefined && x.at > r.at);
    expect((after(first)?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1_000 - 5);
    expect((after(second)?.at ?? 0) - (second?.at ?? 0)).toBeGreaterThanOrEqual(2_000 - 5);
    // No rolling window, seeding included, carried more calls than the limit (429s included).
    expect(busiestWindow(log, WINDOW_MS - 300), `HubSpot refused ${refusedByHubSpot} call(s) itself`).toBeLessThanOrEqual(LIMIT);
  }, 150_000);

  it('a DAILY limit without Retry-After parks the erase queue until the account’s midnight, spending no attempt', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    await seed(h, 1);
    h.hubspotProxy.rateLimit({ pattern: /gdpr-delete/, nth: 1, policyName: 'DAILY' });
    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: emailOf(0) } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    // Salesforce is not held up by HubSpot's limit.
    await h.waitFor(submitted.value.id, (v) => v.systems.find((s) => s.connector === 'salesforce')?.status === 'completed');
    const deadline = Date.now() + 20_000;
    while (!h.hubspotProxy.log().some((r) => r.status === 429)) {
      if (Date.now() > deadline) throw new Error('the DAILY 429 was never answered');
      await sleep(50);
    }
    const refusedAt = h.hubspotProxy.log().find((r) => r.status === 429)?.at ?? 0;
    redis = new Redis(REDIS_URL);
    // Parked, not spinning: no erase job of HubSpot's is taken while the limit holds.
    const eventsConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const events = new QueueEvents(privacyQueues.erase('hubspot'), {
      connection: eventsConnection,
      prefix: queuePrefix(h.engine.prefix, privacyQueues.erase('hubspot')),
      autorun: false,
    });
    let taken = 0;
    events.on('active', () => taken++);
    void events.run();
    await events.waitUntilReady();
    await sleep(2_000);
    await events.close();
    eventsConnection.disconnect();
    expect(taken).toBe(0);

    const queue = new Queue(privacyQueues.erase('hubspot'), {
      connection: redis,
      prefix: queuePrefix(h.engine.prefix, privacyQueues.erase('hubspot')),
    });
    const ttl = await queue.getRateLimitTtl(1);
    await queue.close();
    // Parked until the reset (UTC midnight, the account's default time zone), give or take the time since.
    const untilMidnight = msUntilMidnight(Date.now(), 'UTC');
    expect(ttl).toBeGreaterThan(untilMidnight - 60_000);
    expect(ttl).toBeLessThanOrEqual(untilMidnight + 5_000);
    // Nothing more was sent to HubSpot, and the refused call spent no attempt.
    expect(h.hubspotProxy.log().filter((r) => r.at > refusedAt)).toEqual([]);
    const view = await h.privacy.get(submitted.value.id);
    if (!view.ok) throw view.error;
    expect(view.value.status).toBe('in_progress');
    expect(view.value.systems.find((s) => s.connector === 'hubspot')).toMatchObject({ attempts: 0 });
    expect(h.hubspot.sideDoor.findByEmail(emailOf(0))).toBeDefined();
  }, 60_000);
});

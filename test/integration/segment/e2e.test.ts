/**
 * Segment end to end with HubSpot and Salesforce, through the whole hub (emulators -> HTTP
 * webhooks -> engine -> store -> the other systems -> the privacy service): a withdrawal in the
 * preference center reaches Segment as an identify with the consent category false (and the
 * consent trait false); a trait a downstream tool sets in Segment reaches HubSpot through the
 * Webhooks destination; an erasure creates one regulation, the request shows its progress while
 * Segment carries it out, and completes, verified, once the profile is gone. The hub's own
 * identifies come back through the Webhooks destination and change nothing (no echo).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../../connectors/index.js';
import { freePort } from '../../../src/app/free-port.js';
import { parseConfig } from '../../../src/config/load.js';
import { toMergePolicy } from '../../../src/config/policy.js';
import { openStore } from '../../../src/store/index.js';
import { createEngine } from '../../../src/sync/engine.js';
import { connectorsFromConfig } from '../../../src/sync/from-config.js';
import { HubPatchIngest } from '../../../src/sync/inbound/hub-patch.js';
import type { EngineTuningInput } from '../../../src/sync/options.js';
import { createTestDatabase } from '../../../harness/db.js';
import { startFaultProxy, type ProxiedRequest } from '../../../harness/fault-proxy.js';
import { hubYaml } from '../../../harness/hub-config.js';
import { deletePrefix, REDIS_URL, waitFor } from '../../../harness/sync-hub.js';
import { HubProcess } from '../../chaos/harness/hub-process.js';
import { savePreferences } from '../../../harness/preference-center.js';
import {
  SEGMENT_CONSENT_TRAIT,
  SEGMENT_EMAIL_CATEGORY,
  SEGMENT_WRITE_KEY,
  SIGNING_SECRET,
  startPrivacyHub,
  type PrivacyHub,
} from '../../../harness/privacy-hub.js';
import { startSegmentEmulator, type AcceptedEvent, type RunningSegmentEmulator } from '../../../connectors/segment/emulator/index.js';

const HOUR_MS = 3_600_000;

function seg(hub: PrivacyHub): RunningSegmentEmulator {
  if (!hub.segment) throw new Error('the hub runs without Segment');
  return hub.segment;
}

/** The identifies the hub sent to Segment about one user id (its write key), oldest first. */
function hubIdentifies(hub: PrivacyHub, userId: string): AcceptedEvent['message'][] {
  return seg(hub)
    .sideDoor.events()
    .filter((e) => e.writeKey === SEGMENT_WRITE_KEY && e.message.type === 'identify' && e.message.userId === userId)
    .map((e) => e.message);
}

/** A person created and subscribed by a marketer in HubSpot, carried to Salesforce and Segment; her hub profile id (Segment's user id). */
async function seed(hub: PrivacyHub, email: string): Promise<string> {
  hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(email, 101);
  await hub.settle();
  const profileId = (await hub.profileByEmail(email))?.id;
  if (!profileId) throw new Error(`${email} has no profile`);
  expect(seg(hub).sideDoor.profile(profileId)?.traits).toMatchObject({
    email: { value: email },
    firstName: { value: 'Ada' },
    lastName: { value: 'Lovelace' },
    [SEGMENT_CONSENT_TRAIT]: { value: true },
  });
  return profileId;
}

describe('Segment with HubSpot and Salesforce, end to end', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a withdrawal in the preference center reaches Segment as an identify with the consent category false', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', segment: true });
    const h = hub;
    const userId = await seed(h, 'ada@example.com');
    // The grant went out as the category true.
    const before = hubIdentifies(h, userId);
    expect(before.at(-1)?.['context']).toMatchObject({ consent: { categoryPreferences: { [SEGMENT_EMAIL_CATEGORY]: true } } });

    // The person unticks marketing e-mail in the preference center (a real form post, CSRF and all).
    await savePreferences(h, SIGNING_SECRET, userId, []);
    await h.settle();

    const after = hubIdentifies(h, userId);
    // Exactly one more identify: the withdrawal, in the category and the trait; nothing else echoed.
    expect(after).toHaveLength(before.length + 1);
    const withdrawal = after.at(-1);
    expect(withdrawal?.['context']).toMatchObject({ consent: { categoryPreferences: { [SEGMENT_EMAIL_CATEGORY]: false } } });
    expect((withdrawal?.['context'] as { consent: { categoryPreferences: Record<string, unknown> } }).consent.categoryPreferences).toEqual({
      [SEGMENT_EMAIL_CATEGORY]: false,
    });
    expect(withdrawal?.traits?.[SEGMENT_CONSENT_TRAIT]).toBe(false);
    expect(withdrawal?.messageId).toMatch(/^concord-/);
    expect(seg(h).sideDoor.profile(userId)?.traits[SEGMENT_CONSENT_TRAIT]?.value).toBe(false);
    // The other systems have it too.
    expect(h.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ HasOptedOutOfEmail: true });
    // The withdrawal came back through the Webhooks destination and left the consent as it was.
    expect(seg(h).sideDoor.webhookDeliveries().length).toBeGreaterThanOrEqual(after.length);
    expect((await h.profileByEmail('ada@example.com'))?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'preference_center',
    });
    await new Promise((r) => setTimeout(r, 300));
    await h.settle();
    expect(hubIdentifies(h, userId)).toHaveLength(after.length);
  });

  it('a trait a downstream tool sets in Segment reaches HubSpot and Salesforce through the Webhooks destination', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', segment: true });
    const h = hub;
    const userId = await seed(h, 'ada@example.com');
    const sent = hubIdentifies(h, userId).length;

    seg(h).sideDoor.downstreamIdentify(userId, { firstName: 'Augusta' });
    await h.settle();

    expect((await h.profileByEmail('ada@example.com'))?.attributes['firstName']).toMatchObject({ value: 'Augusta', source: 'segment' });
    expect(h.hubspot.sideDoor.findByEmail('ada@example.com')?.properties['firstname']).toBe('Augusta');
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ FirstName: 'Augusta' });
    // Segment already has it: the hub does not send it back.
    expect(hubIdentifies(h, userId)).toHaveLength(sent);
    expect(seg(h).sideDoor.profile(userId)?.traits['firstName']?.value).toBe('Augusta');
  });

  it('an erasure creates one regulation, shows its progress while it runs, and completes once the profile is gone', async () => {
    // Segment's clock is held: the regulation stays INITIALIZED until the test moves it on.
    const clock = { offsetMs: 0 };
    hub = await startPrivacyHub({
      dialect: 'sqlite',
      segment: true,
      segmentEmulator: { regulationStepMs: HOUR_MS },
      segmentEmulatorRuntime: { now: () => Date.now() + clock.offsetMs },
      privacy: { tuning: { erasePollMinMs: 20 } },
    });
    const h = hub;
    const userId = await seed(h, 'ada@example.com');

    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: 'ada@example.com' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    expect(submitted.value.systems.map((s) => s.connector).sort()).toEqual(['hubspot', 'salesforce', 'segment']);
    const id = submitted.value.id;

    const waiting = await h.waitFor(
      id,
      (v) =>
        v.systems.find((s) => s.connector === 'segment')?.progress !== null &&
        v.systems.every((s) => s.connector === 'segment' || s.status === 'completed'),
    );
    const regulations = seg(h).sideDoor.regulations();
    expect(regulations).toHaveLength(1);
    const regulation = regulations[0] as { id: string; overallStatus: string };
    expect(regulation.overallStatus).toBe('INITIALIZED');
    expect(waiting.status).toBe('in_progress');
    expect(waiting.systems.find((s) => s.connector === 'segment')).toMatchObject({
      status: 'in_progress',
      attempts: 0,
      error: null,
      progress: { text: `regulation ${regulation.id} INITIALIZED`, tickets: [regulation.id] },
    });
    // The other systems are erased already; Segment still holds the profile.
    expect(h.hubspot.sideDoor.findByEmail('ada@example.com')).toBeUndefined();
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toBeUndefined();
    expect(seg(h).sideDoor.profile(userId)).toBeDefined();

    // One step on: RUNNING, shown as such.
    clock.offsetMs = HOUR_MS;
    await h.waitFor(id, (v) => v.systems.find((s) => s.connector === 'segment')?.progress?.text === `regulation ${regulation.id} RUNNING`);
    expect(seg(h).sideDoor.profile(userId)).toBeDefined();

    // Two steps on: FINISHED, the profile is gone, the request completes, verified.
    clock.offsetMs = 2 * HOUR_MS;
    const done = await h.waitFor(id, (v) => v.status === 'completed');
    expect(done.systems.find((s) => s.connector === 'segment')).toMatchObject({
      status: 'completed',
      progress: null,
      outcome: expect.objectContaining({ outcome: 'erased', verified: 'yes', tickets: [regulation.id] }),
    });
    expect(done.systems.map((s) => [s.connector, s.status]).sort()).toEqual([
      ['hubspot', 'completed'],
      ['salesforce', 'completed'],
      ['segment', 'completed'],
    ]);
    expect(seg(h).sideDoor.profile(userId)).toBeUndefined();
    expect(seg(h).sideDoor.suppressed()).toEqual([userId]);
    // Still one regulation: asking how it went created none.
    expect(seg(h).sideDoor.regulations()).toHaveLength(1);
    expect(await h.profileByEmail('ada@example.com')).toBeNull();
  });
});

/** The secrets the process's config reads from its environment. */
const PROCESS_ENV: Record<string, string> = {
  T_SIGNING: 'segment-e2e-signing-secret-0123456789abcdef0123',
  T_HASH: 's'.repeat(32),
  T_SEG_WRITE_KEY: 'segment-e2e-write-key',
  T_SEG_SECRET: 'segment-e2e-webhook-secret-0123456789',
};
/** Engine timings of the hub process: leases and sweeps of seconds, so a stop is recovered from quickly. */
const PROCESS_TUNING: EngineTuningInput = {
  flushDelayMs: 50,
  sweepEveryMs: 1_000,
  outboxLeaseMs: 3_000,
  inflightLeaseMs: 4_000,
  callRetryMinMs: 50,
  backoff: { baseMs: 100, maxMs: 1_000, jitter: 0.5 },
};
const BURST = 200;
/** Records per /v1/batch call: the burst goes out in many calls, several in flight at once. */
const BATCH = 10;
/** How long a push waits for Segment's answer before it is answered retryable (the connector's `flushTimeoutMs`). */
const FLUSH_TIMEOUT_MS = 1_000;

/** Segment alone, on the emulator behind a proxy, its Webhooks destination pointed at the hub. */
function processYaml(o: { databaseUrl: string; prefix: string; port: number; segment: string }): string {
  return `${hubYaml({ redisUrl: REDIS_URL, databaseUrl: o.databaseUrl, prefix: o.prefix, port: o.port })}connectors:
  segment:
    type: segment
    writeKey: \${env:T_SEG_WRITE_KEY}
    baseUrl: ${o.segment}
    webhookSecret: \${env:T_SEG_SECRET}
    consentCategories: [{ category: ${SEGMENT_EMAIL_CATEGORY}, consent: marketing.email }]
    consentAuthority: [marketing]
    flushTimeoutMs: ${FLUSH_TIMEOUT_MS}
    limits: { maxBatch: ${BATCH} }
`;
}

describe('Segment behind a hub process stopped with SIGTERM during a burst', { timeout: 180_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  });

  it('loses nothing and doubles nothing: every change in Segment once, with its values', async () => {
    const emulator = await startSegmentEmulator({
      secret: PROCESS_ENV['T_SEG_SECRET'] ?? '',
      // Segment retries a destination for hours: here long enough to outlive the restart.
      webhookMaxAttempts: 12,
      webhookRetryBaseMs: 100,
    });
    cleanup.push(() => emulator.close());
    // The emulator's answers to /v1/batch are held a while: calls are in flight when the signal comes.
    const proxy = await startFaultProxy(emulator.url);
    cleanup.push(() => proxy.close());
    proxy.delayAnswers(150, /^POST \/v1\/batch$/);
    const db = await createTestDatabase('sqlite');
    cleanup.push(() => db.drop());
    const prefix = `{seg-e2e-${randomBytes(4).toString('hex')}}`;
    cleanup.push(() => deletePrefix(prefix));
    const dir = await mkdtemp(join(tmpdir(), 'concord-segment-e2e-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const configFile = join(dir, 'concord.yaml');
    const yaml = processYaml({ databaseUrl: db.url, prefix, port, segment: proxy.url });
    await writeFile(configFile, yaml);
    const loaded = parseConfig(yaml, configFile, { connectors: builtinConnectors, env: PROCESS_ENV });
    if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
    const config = loaded.config;
    emulator.sideDoor.setWebhookUrl(`http://127.0.0.1:${port}/webhooks/segment`);

    const hub = new HubProcess(
      { name: 'hub', roles: 'all', api: true, push: true },
      { configFile, env: { ...PROCESS_ENV, CONCORD_ENGINE_TUNING: JSON.stringify(PROCESS_TUNING) } },
    );
    cleanup.push(() => hub.kill());
    await hub.start();

    // This process changes profiles as the hub's own source (admin) on the same database and
    // Redis, and watches the hub's queues with an engine that never starts a worker.
    const policy = toMergePolicy(config);
    const connectors = connectorsFromConfig(config, builtinConnectors);
    const logger = pino({ level: 'silent' });
    const store = await openStore({ url: db.url, policy, outboxTargets: ['segment'], hashKey: config.hub.secrets.hashKey, logger });
    cleanup.push(() => store.close());
    const observer = createEngine({ redis: REDIS_URL, prefix: config.hub.keyPrefix, store, connectors, policy, logger });
    cleanup.push(() => observer.close());
    const redis = new Redis(REDIS_URL);
    cleanup.push(async () => redis.disconnect());
    const ingest = new HubPatchIngest({ store, redis, prefix: observer.prefix, relayDelayMs: 5 });
    cleanup.push(() => ingest.close());

    const fromHub = (): AcceptedEvent['message'][] =>
      emulator.sideDoor
        .events()
        .filter((e) => e.writeKey === PROCESS_ENV['T_SEG_WRITE_KEY'] && e.message.type === 'identify')
        .map((e) => e.message);
    const inFlight = (): ProxiedRequest[] => proxy.log().filter((r) => r.line === 'POST /v1/batch' && r.status === 0);

    // The burst: 200 people, each one change (a name and an address), one after the other.
    const people = Array.from({ length: BURST }, (_, i) => ({
      email: `p${i}@example.com`,
      firstName: `First${i}`,
      lastName: `Last${i}`,
    }));
    const burst = (async () => {
      for (const p of people) {
        const at = new Date().toISOString();
        await ingest.ingest({
          id: `admin:${at}:${p.email}`,
          source: 'admin',
          at,
          receivedAt: at,
          identities: [{ kind: 'email', value: p.email }],
          attributes: { firstName: p.firstName, lastName: p.lastName },
          consents: {},
          subscriptions: {},
          rights: { objections: {} },
        });
      }
    })();

    // SIGTERM once Segment has some of the burst and calls are in flight.
    await waitFor(() => fromHub().length >= 4 * BATCH && inFlight().length > 0, 60_000, 'pushes in flight');
    const held = inFlight();
    const atSignal = fromHub().length;
    // From now on Segment takes each call at once but its answer is lost past the push's
    // deadline: those events are in Segment and the stopping hub does not know it.
    proxy.delayAnswers(3 * FLUSH_TIMEOUT_MS, /^POST \/v1\/batch$/);
    const signalledAt = Date.now();
    await hub.terminate();
    // A stopping hub finishes the pushes it runs and starts no new one: at most one call per
    // push worker slot (the connector's concurrency, 4) can have been on its way at the signal.
    const startedAfterSignal = proxy.log().filter((r) => r.line === 'POST /v1/batch' && r.at >= signalledAt).length;
    expect(startedAfterSignal).toBeLessThanOrEqual(4);
    proxy.delayAnswers(0);
    const atExit = fromHub().length;
    // The calls in flight at the signal whose answers came back before the process went.
    const answeredAfterSignal = held.filter((r) => r.status === 200).length;
    await burst;
    const leftInOutbox = await db.count('outbox');

    // The same hub again, on the same database and Redis.
    await hub.start();
    await waitFor(() => fromHub().length >= BURST, 60_000, 'the whole burst in Segment');
    const deadline = Date.now() + 60_000;
    for (let quiet = 0; quiet < 3;) {
      if (Date.now() > deadline) throw new Error(`the hub did not settle:\n${hub.output()}`);
      await emulator.sideDoor.flushWebhooks();
      quiet = (await observer.idle()) && (await db.count('outbox')) === 0 ? quiet + 1 : 0;
      await sleep(150);
    }

    const events = fromHub();
    const perUser = new Map<string, number>();
    for (const e of events) perUser.set(e.userId ?? '', (perUser.get(e.userId ?? '') ?? 0) + 1);
    let inSegment = 0;
    for (const p of people) {
      const profile = await store.findProfile({ kind: 'email', value: p.email });
      expect(profile?.attributes['lastName']?.value).toBe(p.lastName);
      const userId = profile?.id ?? '';
      // Once each: a change sent again after the restart carried the same messageId and was dropped as a repeat.
      expect(perUser.get(userId)).toBe(1);
      const traits = emulator.sideDoor.profile(userId)?.traits;
      expect({ email: traits?.['email']?.value, firstName: traits?.['firstName']?.value, lastName: traits?.['lastName']?.value }).toEqual(
        p,
      );
      inSegment++;
    }
    expect(events).toHaveLength(BURST);
    expect(new Set(events.map((e) => e.messageId)).size).toBe(BURST);
    expect(emulator.sideDoor.dropped()).toEqual([]);
    console.log(
      `segment SIGTERM mid-burst: changes ${BURST}, accepted at SIGTERM ${atSignal}, batch calls in flight ${held.length} (answered ${answeredAfterSignal}), accepted at exit ${atExit}, outbox rows at restart ${leftInOutbox}, accepted after restart ${events.length - atExit}, accepted in all ${events.length}, repeats dropped by messageId ${emulator.sideDoor.duplicates()}, profiles with their final values ${inSegment}/${BURST}, batch calls ${proxy.log().filter((r) => r.line === 'POST /v1/batch').length}`,
    );
  });
});

/**
 * HubSpot connector benchmark (prints figures; asserts nothing). Needs Redis and the test
 * database setup (`bash scripts/services.sh`). Run: `npx tsx scripts/bench-hubspot.ts`.
 *
 * 1. API calls per synced contact at batch size 100, through the whole engine: contacts are
 *    created in an in-memory CRM, ingested, and pushed to the HubSpot emulator; HubSpot's
 *    echo webhooks come back to the engine. Calls are counted per endpoint by the emulator.
 * 2. Contacts per second against the emulator limited to 100 requests per 10 seconds
 *    (HubSpot Free/Starter), as a percentage of the ceiling that limit allows:
 *    100 requests / 10 s x 100 contacts per request = 1,000 contacts/s. Pushes run back to
 *    back through the connector, as many at once as it declares (`limits.concurrency`, as the
 *    engine runs them); the steady state is what completes in an interval of whole windows
 *    after the first one (the rolling window starts empty, so the first 100 requests are a
 *    free burst).
 *
 * 3. Intake: BENCH_INTAKE contacts created in the emulator (limited to 100 requests per 10 s) as a
 *    user would, each announced by webhooks (creation + property changes), read back by the hub:
 *    API calls per changed contact and the time until every one is a profile, against the
 *    ceiling time. The ceiling is what the limit allows when one call carries 100 contacts:
 *    N / (100 requests / 10 s x 100 contacts per request) = N / 1,000 s (10 s for 10,000).
 *    A contact just created is read without property history, 100 per call, and each 100
 *    contacts' statuses cost one more call: 2N/100 calls, of which at most 100 go in any 10 s,
 *    so the last 100 go no sooner than 10 s after the first (a floor of the ceiling time
 *    itself, plus the time to read and ingest them). The same contacts are then created and
 *    ingested without a limit (emulator and connector): the hub's own time for them.
 *
 * 4. Edits (steady state): BENCH_EDITS contacts the hub already knows, each edited once in HubSpot
 *    (names; every 1/BENCH_EMAIL_SHARE-th also its e-mail), under the same limit: read calls per
 *    changed contact and the time until every edit is in the store, against the same ceiling time.
 *    A signed propertyChange of a plain property carries its value: only e-mail changes are read.
 *
 * Options: BENCH_CONTACTS (part 1, default 2000), BENCH_WINDOWS (part 2: 10-second windows
 * measured after the burst, default 3), BENCH_INTAKE (part 3, default 10000; 0 skips it),
 * BENCH_EDITS (part 4, default 10000), BENCH_EMAIL_SHARE (part 4, default 0.1),
 * BENCH_PARTS (comma-separated: calls,throughput,intake,edits; default all), BENCH_JSON (a file
 * to write the calls per record to, `vendorCalls` of `npm run bench:charts`: the push against
 * one call per 100 contacts, intake against the 0.02 goal).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../src/log/logger.js';
import type { PushRecord } from '../src/connector/define.js';
import { RateLimitedError } from '../src/connector/errors.js';
import type { CallCounts } from '../src/connector/emulator-kit/index.js';
import hubspot, { createHubSpotInstance } from '../connectors/hubspot/connector.js';
import { HubSpotConfig } from '../connectors/hubspot/config.js';
import { startHubSpotEmulator } from '../connectors/hubspot/emulator/index.js';
import { SUBSCRIPTIONS, startHubSpotHub } from '../harness/hubspot-hub.js';
import { machineInfo, type VendorCallsJson } from './bench/results.js';
import { writeVendorCalls } from './bench/vendor-calls.js';

const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 2000);
const JSON_OUT = process.env.BENCH_JSON;
/** Intake's goal (issue 22): at most 0.02 calls per changed contact (a contacts read and a statuses read per 100). */
const INTAKE_GOAL = 0.02;
/** What each part measured, for `BENCH_JSON` (the calls-per-record chart of `npm run bench:charts`). */
const vendorCalls: VendorCallsJson[] = [];
const STEADY_WINDOWS = Number(process.env.BENCH_WINDOWS ?? 3);
const LIMIT = { max: 100, intervalMs: 10_000 };
const CEILING_CONTACTS_PER_S = (LIMIT.max / (LIMIT.intervalMs / 1000)) * 100;

function fmt(n: number, digits = 3): string {
  return n.toFixed(digits);
}

async function callsPerContact(label: string, withConsent: boolean): Promise<void> {
  // A partial batch waits up to 3 s for more profiles, so pushes go out at the full batch size of 100.
  const hub = await startHubSpotHub({
    dialect: 'sqlite',
    echoMarker: true,
    emulator: { rateLimit: { max: 100_000, daily: 10_000_000 } },
    tuning: { flushDelayMs: 3_000 },
  });
  try {
    const started = Date.now();
    for (let i = 0; i < CONTACTS; i++) {
      hub.crm.change({
        email: `bench-${i}@example.com`,
        first_name: `First${i}`,
        last_name: `Last${i}`,
        ...(withConsent ? { email_opt_out: i % 2 === 0, newsletter: i % 3 === 0 } : {}),
      });
    }
    await hub.settle(600_000);
    const seconds = (Date.now() - started) / 1000;
    const calls = hub.hubspot.sideDoor.calls();
    const synced = hub.hubspot.sideDoor.contacts().length;
    const upserts = calls.byEndpoint['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0;
    console.log(`\n[calls per contact] ${label}: ${synced} contacts synced in ${fmt(seconds, 1)} s`);
    for (const [endpoint, n] of Object.entries(calls.byEndpoint).sort()) console.log(`  ${endpoint}: ${n}`);
    console.log(`  average batch: ${fmt(synced / Math.max(1, upserts), 1)} contacts per upsert`);
    console.log(
      `  API calls per synced contact: ${fmt(calls.total / synced, 4)} (${calls.total} calls, ${calls.rateLimited} answered 429)`,
    );
    // Names only: one batch/upsert of 100 is HubSpot's best.
    if (!withConsent) vendorCalls.push({ vendor: 'HubSpot push', callsPerRecord: calls.total / synced, ceilingPerRecord: 1 / 100 });
  } finally {
    await hub.close();
  }
}

async function throughput(label: string, withStatuses: boolean): Promise<void> {
  const emulator = await startHubSpotEmulator({ clientSecret: 'bench', rateLimit: { ...LIMIT, daily: 10_000_000 } });
  try {
    const config = HubSpotConfig.parse({
      accessToken: 'pat',
      webhookSecret: 'bench',
      baseUrl: emulator.url,
      requestsPer10Seconds: LIMIT.max,
      subscriptions: SUBSCRIPTIONS,
    });
    const instance = await createHubSpotInstance({ instanceId: 'hubspot', config, logger: createLogger({ level: 'warn' }) });
    const signal = new AbortController().signal;
    const callsPerBatch = withStatuses ? 3 : 1;
    // The rolling window starts empty, so the first window is a free burst. The steady state is
    // what completes in an interval of exactly STEADY_WINDOWS windows after it.
    const steadyFrom = LIMIT.intervalMs + 50;
    const steadyTo = steadyFrom + STEADY_WINDOWS * LIMIT.intervalMs;
    const completed: { at: number; contacts: number }[] = [];
    const started = Date.now();
    let next = 0;
    // As the engine does: up to `limits.concurrency` pushes in flight at once.
    const worker = async (): Promise<void> => {
      while (Date.now() - started < steadyTo) {
        const b = next++;
        const batch: PushRecord[] = Array.from({ length: 100 }, (_, k) => {
          const i = b * 100 + k;
          return {
            profileId: `p${i}`,
            fields: {
              email: `t${i}@example.com`,
              firstname: `F${i}`,
              ...(withStatuses
                ? { 'subscription:101': i % 2 === 0 ? 'SUBSCRIBED' : 'UNSUBSCRIBED', 'subscription:103': 'UNSUBSCRIBED' }
                : {}),
            },
          };
        });
        let outcomes;
        for (;;) {
          try {
            outcomes = await instance.push?.(batch, signal);
            break;
          } catch (err) {
            // No room in the window for the whole push: the engine parks the queue until then.
            if (!(err instanceof RateLimitedError) || err.retryAfterMs === undefined) throw err;
            await sleep(err.retryAfterMs);
          }
        }
        completed.push({ at: Date.now() - started, contacts: outcomes?.filter((o) => o.status === 'ok').length ?? 0 });
      }
    };
    await Promise.all(Array.from({ length: hubspot.limits.concurrency }, worker));
    const total = completed.reduce((sum, c) => sum + c.contacts, 0);
    const seconds = (Date.now() - started) / 1000;
    const steadyContacts = completed.filter((c) => c.at >= steadyFrom && c.at < steadyTo).reduce((sum, c) => sum + c.contacts, 0);
    const steadyRate = steadyContacts / ((steadyTo - steadyFrom) / 1000);
    const calls = emulator.sideDoor.calls();
    console.log(`\n[throughput, limit ${LIMIT.max} requests / ${LIMIT.intervalMs / 1000} s] ${label}`);
    console.log(
      `  ${total} contacts in ${fmt(seconds, 1)} s, ${calls.total} requests (${hubspot.limits.concurrency} pushes in flight), ${calls.rateLimited} answered 429`,
    );
    console.log(`  steady state over the ${STEADY_WINDOWS} windows after the first one's burst: ${fmt(steadyRate, 1)} contacts/s`);
    console.log(
      `  ceiling for 100-contact requests: ${CEILING_CONTACTS_PER_S} contacts/s -> ${fmt((100 * steadyRate) / CEILING_CONTACTS_PER_S, 1)} % of it`,
    );
    if (callsPerBatch > 1) {
      const own = CEILING_CONTACTS_PER_S / callsPerBatch;
      console.log(
        `  (${callsPerBatch} requests per 100 contacts: this workload's own ceiling is ${fmt(own, 1)} contacts/s -> ${fmt((100 * steadyRate) / own, 1)} %)`,
      );
    }
  } finally {
    await emulator.close();
  }
}

const INTAKE = Number(process.env.BENCH_INTAKE ?? 10_000);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'calls,throughput,intake,edits').split(','));

async function intake(n: number): Promise<void> {
  const limited = await timeIntake(n, LIMIT.max);
  const unlimited = await timeIntake(n, 1_000_000);
  const { calls, reads, seconds } = limited;
  const ceiling = n / CEILING_CONTACTS_PER_S;
  console.log(`\n[intake, limit ${LIMIT.max} requests / ${LIMIT.intervalMs / 1000} s] ${n} contacts created in HubSpot`);
  for (const [endpoint, k] of Object.entries(calls.byEndpoint).sort()) console.log(`  ${endpoint}: ${k}`);
  console.log(
    `  read calls per changed contact: ${fmt(reads / n, 4)} (${reads} reads; all calls ${calls.total}, ${calls.rateLimited} answered 429)`,
  );
  console.log(`  all ${n} ingested in ${fmt(seconds, 1)} s (${limited.missing} missing after settling)`);
  vendorCalls.push({ vendor: 'HubSpot intake, creations', callsPerRecord: reads / n, ceilingPerRecord: INTAKE_GOAL });
  console.log(
    `  the emulator announced them in ${limited.events} events, ${limited.deliveries} requests, the last answered after ${fmt(limited.announcedAfter, 1)} s`,
  );
  console.log(`  ceiling time N / ${CEILING_CONTACTS_PER_S} contacts/s = ${fmt(ceiling, 1)} s -> ${fmt(seconds / ceiling, 2)}x of it`);
  console.log(
    `  without a limit: ${fmt(unlimited.seconds, 1)} s (${fmt(unlimited.seconds / ceiling, 2)}x the ceiling time; the emulator's announcing included), ${unlimited.reads} reads, ${unlimited.missing} missing`,
  );
}

/** Creates N contacts in the emulator at the given limit (emulator and connector) and times their intake. */
async function timeIntake(
  n: number,
  limit: number,
): Promise<{
  seconds: number;
  reads: number;
  missing: number;
  events: number;
  deliveries: number;
  announcedAfter: number;
  calls: CallCounts;
}> {
  const hub = await startHubSpotHub({
    dialect: 'sqlite',
    echoMarker: true,
    emulator: { rateLimit: { ...LIMIT, max: limit, daily: 10_000_000 } },
    requestsPer10Seconds: limit,
  });
  try {
    const started = Date.now();
    for (let i = 0; i < n; i++) hub.hubspot.sideDoor.createContact({ email: `in-${i}@example.com`, firstname: `In${i}` });
    // Every contact is a profile once the last one is: created in order, read (about) in order.
    let last = 0;
    while (!(await hub.profileByEmail(`in-${n - 1}@example.com`)) || !(await hub.profileByEmail(`in-0@example.com`))) {
      await hub.hubspot.sideDoor.flushWebhooks();
      await sleep(100);
      if (Date.now() - last > 10_000) {
        last = Date.now();
        console.log(`  ... ${((Date.now() - started) / 1000).toFixed(0)} s, ${hub.hubspot.sideDoor.calls().total} calls`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const deliveries = hub.hubspot.sideDoor.webhookDeliveries();
    const lastDelivered = Math.max(...deliveries.map((d) => d.at));
    const events = deliveries.reduce((sum, d) => sum + d.eventIds.length, 0);
    await hub.settle(600_000);
    const missing = (await Promise.all(Array.from({ length: n }, (_, i) => hub.profileByEmail(`in-${i}@example.com`)))).filter(
      (p) => !p,
    ).length;
    const calls = hub.hubspot.sideDoor.calls();
    const reads =
      (calls.byEndpoint['POST /crm/v3/objects/contacts/batch/read'] ?? 0) +
      (calls.byEndpoint['POST /communication-preferences/v4/statuses/batch/read'] ?? 0);
    return { seconds, reads, missing, events, deliveries: deliveries.length, announcedAfter: (lastDelivered - started) / 1000, calls };
  } finally {
    await hub.close();
  }
}

const EDITS = Number(process.env.BENCH_EDITS ?? 10_000);
const EMAIL_SHARE = Number(process.env.BENCH_EMAIL_SHARE ?? 0.1);

/**
 * Steady state: N contacts the hub already knows, each edited once in HubSpot as a marketer
 * would (first and last name; a share of them also get a new e-mail address), under the
 * 100-requests-per-10-s limit. A signed propertyChange of a plain property carries its value,
 * so a known contact's edit needs no read; an e-mail change is read (with statuses).
 */
async function edits(n: number): Promise<void> {
  const hub = await startHubSpotHub({
    dialect: 'sqlite',
    echoMarker: true,
    emulator: { rateLimit: { max: 100_000, daily: 10_000_000 } },
  });
  try {
    const door = hub.hubspot.sideDoor;
    const contacts = Array.from({ length: n }, (_, i) => door.createContact({ email: `ed-${i}@example.com`, firstname: `Ed${i}` }));
    await hub.settle(600_000);
    // The limit applies from here on, over an empty window.
    door.setRateLimit({ ...LIMIT, daily: 10_000_000 });
    await sleep(LIMIT.intervalMs + 100);
    const before = door.calls();
    const changesEmail = (i: number): boolean => EMAIL_SHARE > 0 && i % Math.round(1 / EMAIL_SHARE) === 0;
    const emailOf = (i: number): string => (changesEmail(i) ? `ed-${i}-new@example.com` : `ed-${i}@example.com`);
    const started = Date.now();
    contacts.forEach((c, i) =>
      door.editContact(c.id, { firstname: `New${i}`, lastname: `Last${i}`, ...(changesEmail(i) ? { email: emailOf(i) } : {}) }),
    );
    const done = async (i: number): Promise<boolean> => (await hub.profileByEmail(emailOf(i)))?.attributes.lastName?.value === `Last${i}`;
    let last = 0;
    while (!(await done(n - 1)) || !(await done(0))) {
      await door.flushWebhooks();
      await sleep(50);
      if (Date.now() - last > 10_000) {
        last = Date.now();
        console.log(`  ... ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    await hub.settle(600_000);
    const missing = (await Promise.all(Array.from({ length: n }, (_, i) => done(i)))).filter((ok) => !ok).length;
    const after = door.calls();
    const delta = (endpoint: string): number => (after.byEndpoint[endpoint] ?? 0) - (before.byEndpoint[endpoint] ?? 0);
    const reads = delta('POST /crm/v3/objects/contacts/batch/read') + delta('POST /communication-preferences/v4/statuses/batch/read');
    const emailChanges = Array.from({ length: n }, (_, i) => i).filter(changesEmail).length;
    const ceiling = n / CEILING_CONTACTS_PER_S;
    console.log(
      `\n[edits, limit ${LIMIT.max} requests / ${LIMIT.intervalMs / 1000} s] ${n} known contacts edited in HubSpot (${emailChanges} with a new e-mail)`,
    );
    for (const [endpoint, k] of Object.entries(after.byEndpoint).sort()) {
      const d = k - (before.byEndpoint[endpoint] ?? 0);
      if (d > 0) console.log(`  ${endpoint}: ${d}`);
    }
    console.log(
      `  read calls per changed contact: ${fmt(reads / n, 4)} (${reads} reads; all calls ${after.total - before.total}, ${after.rateLimited - before.rateLimited} answered 429)`,
    );
    console.log(`  all ${n} edits in the store in ${fmt(seconds, 1)} s (${missing} missing after settling)`);
    vendorCalls.push({ vendor: 'HubSpot intake, edits', callsPerRecord: reads / n, ceilingPerRecord: INTAKE_GOAL });
    console.log(`  ceiling time N / ${CEILING_CONTACTS_PER_S} contacts/s = ${fmt(ceiling, 1)} s -> ${fmt(seconds / ceiling, 2)}x of it`);
  } finally {
    await hub.close();
  }
}

const machine = machineInfo();
if (PARTS.has('calls')) {
  await callsPerContact('names only (one batch/upsert per 100)', false);
  await callsPerContact('names + marketing consent + newsletter (upsert + v4 status writes)', true);
}
if (PARTS.has('throughput')) {
  await throughput('contacts only', false);
  await throughput('contacts + 2 subscription statuses each', true);
}
if (PARTS.has('intake') && INTAKE > 0) await intake(INTAKE);
if (PARTS.has('edits') && EDITS > 0) await edits(EDITS);
if (JSON_OUT)
  writeVendorCalls(
    JSON_OUT,
    machine,
    { parts: [...PARTS], contacts: CONTACTS, intake: INTAKE, edits: EDITS, emailShare: EMAIL_SHARE },
    vendorCalls,
  );
process.exit(0);

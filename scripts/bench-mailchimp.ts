/**
 * Mailchimp connector benchmark (prints figures; asserts nothing). Needs nothing else: the
 * Mailchimp emulator runs in this process and the connector instance is driven directly, as the
 * engine would call it. Run: `npx tsx scripts/bench-mailchimp.ts`.
 *
 * Every API call waits BENCH_LATENCY_MS in the emulator before it is handled (its
 * `setRequestDelayMs`), so connections stay open as long as a real round trip and the number in
 * flight matters. Calls are counted per endpoint by the emulator; its `peakInFlight` is the most
 * requests in flight at once for the API key, against Mailchimp's ceiling of 10 simultaneous
 * connections (the emulator answers 429 beyond it). Pushes run as many at once as the connector
 * declares (`limits.concurrency`, as the engine runs them).
 *
 * 1. Initial load: BENCH_MEMBERS new members (merge fields FNAME and LNAME, one interest, a
 *    third with the e-mail consent granted, a third denied, a third unknown) pushed in batches of
 *    `limits.maxBatch` (batch subscribe, `POST /lists/{id}`): calls by endpoint, calls per member,
 *    members per second, peak in flight, and the emulator's member count against the input.
 * 2. Steady-state updates of BENCH_UPDATES known members (by external id):
 *    a. attribute-only (a merge field), in push batches of BENCH_TRICKLE records (a trickle: one
 *       PATCH per member);
 *    b. the same in push batches of `limits.maxBatch`, above `batchOperationsAbove`, so through
 *       `POST /batches`: the start, the status polls (every `batchPollMs`) and the `.tar.gz`
 *       result download (the emulator lists it per endpoint but not as an API call) per member;
 *    c. consent changes (`status`) of BENCH_UPDATES members, half of them subscribed ones that
 *       unsubscribe, half unknown ones that subscribe with a granted consent, in BENCH_TRICKLE
 *       batches: a GET and a PATCH each.
 * 3. Full pull of the audience (`GET /lists/{id}/members`, 1,000 a page): calls, members per
 *    second, calls per member, and the distinct members read against the audience's size.
 * 4. The peak in flight over the whole run, and a line "ceiling respected: yes/no" (no when the
 *    peak exceeded 10 or any call was answered 429).
 *
 * The emulator does its work (members, sorting, tar.gz) on the same CPU as the connector, so
 * members per second are a floor for the connector, not Mailchimp's speed. The emulator finishes
 * a batch operation in ~50 ms; real Mailchimp takes minutes, so 2b's duration is the connector's
 * poll interval here, not a forecast. Node's process warnings are counted by kind and summarised at
 * the end rather than printed as they come.
 *
 * Options: BENCH_MEMBERS (default 50000), BENCH_UPDATES (default 2000), BENCH_TRICKLE (records
 * per steady-state push, default 20), BENCH_LATENCY_MS (per request, default 20),
 * BENCH_POLL_MS (the connector's `batchPollMs`, default the connector's own, 2000), BENCH_JSON (a
 * file to write the calls per record to, `vendorCalls` of `npm run bench:charts`): phase 1 as
 * "Mailchimp batch subscribe", API calls per member against a ceiling of 1/500 (batch subscribe
 * takes at most 500 members a call), and phase 3 as "Mailchimp pull" against 1/1000 (`count` is
 * at most 1,000 members a page). The updates are left out: 2a and 2c are trickles (a push carries
 * BENCH_TRICKLE records), and 2b's status polls depend on the emulator finishing a batch in ~50 ms.
 */
import { pushConcurrently } from './bench/push-concurrently.js';
import { machineInfo, type VendorCallsJson } from './bench/results.js';
import { writeVendorCalls } from './bench/vendor-calls.js';
import type { PushOutcome, PushRecord } from '../src/connector/define.js';
import { createLogger } from '../src/log/logger.js';
import { emptyProfile } from '../src/profile/merge.js';
import type { Profile } from '../src/profile/schema.js';
import { MailchimpConfig } from '../connectors/mailchimp/config.js';
import mailchimp, { createMailchimpInstance } from '../connectors/mailchimp/connector.js';
import { interestField } from '../connectors/mailchimp/mapping.js';
import {
  DEFAULT_INTEREST_IDS,
  DEFAULT_LIST_ID,
  startMailchimpEmulator,
  type RunningMailchimpEmulator,
} from '../connectors/mailchimp/emulator/index.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 50_000);
const UPDATES = Math.min(MEMBERS, Number(process.env.BENCH_UPDATES ?? 2_000));
const TRICKLE = Number(process.env.BENCH_TRICKLE ?? 20);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 20);
const POLL_MS = process.env.BENCH_POLL_MS === undefined ? undefined : Number(process.env.BENCH_POLL_MS);
const JSON_OUT = process.env.BENCH_JSON;
/** Batch subscribe (`POST /lists/{id}`): at most 500 members a call. */
const BATCH_SUBSCRIBE_MAX = 500;
/** `GET /lists/{id}/members`: `count` at most 1,000 members a page. */
const PAGE_MAX = 1000;
const CEILING = 10;
const API_KEY = 'bench-mailchimp-key-us1';
const NEWSLETTER = DEFAULT_INTEREST_IDS.newsletter;
const { maxBatch, concurrency } = mailchimp.limits;

// Node's process warnings are counted by kind and summarised at the end instead of printed one by one.
const warnings = new Map<string, { count: number; message: string }>();
process.removeAllListeners('warning');
process.on('warning', (w) => {
  const seen = warnings.get(w.name);
  if (seen) seen.count += 1;
  else warnings.set(w.name, { count: 1, message: w.message });
});

function fmt(n: number, digits = 3): string {
  return n.toFixed(digits);
}

type Consent = 'granted' | 'denied' | 'unknown';
const consentOf = (i: number): Consent => (['granted', 'denied', 'unknown'] as const)[i % 3] ?? 'unknown';

/** A profile holding the e-mail marketing consent in `value`, with the evidence of a form. */
function profileWith(id: string, value: 'granted' | 'denied'): Profile {
  const profile = emptyProfile(id);
  profile.consents.marketing = {
    email: {
      value,
      at: new Date().toISOString(),
      source: 'preference_center',
      legalBasis: 'consent',
      evidence: { method: 'form', ip: '198.51.100.7' },
    },
  };
  return profile;
}

function newMember(i: number): PushRecord {
  const profileId = `p${i}`;
  const consent = consentOf(i);
  const fields: PushRecord['fields'] = {
    email_address: `bench-${i}@example.com`,
    'merge:FNAME': `First${i}`,
    'merge:LNAME': `Last${i}`,
    [interestField(NEWSLETTER)]: i % 2 === 0,
  };
  if (consent === 'unknown') return { profileId, fields };
  fields.status = consent === 'granted' ? 'subscribed' : 'unsubscribed';
  return { profileId, fields, profile: profileWith(profileId, consent) };
}

function batchesOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface PhaseResult {
  label: string;
  members: number;
  calls: number;
  requests: number;
  seconds: number;
  peak: number;
  rateLimited: number;
}

/** Runs one phase from a clean call count and peak, and prints what the emulator saw. */
async function phase(
  emulator: RunningMailchimpEmulator,
  label: string,
  members: number,
  run: () => Promise<string[]>,
): Promise<PhaseResult> {
  const door = emulator.sideDoor;
  door.resetCalls();
  door.resetPeakInFlight();
  const started = Date.now();
  const notes = await run();
  const seconds = (Date.now() - started) / 1000;
  const calls = door.calls();
  const peak = door.peakInFlight();
  const requests = Object.values(calls.byEndpoint).reduce((sum, n) => sum + n, 0);
  console.log(`\n[${label}] ${members} members in ${fmt(seconds, 2)} s: ${fmt(members / seconds, 0)} members/s`);
  for (const [endpoint, n] of Object.entries(calls.byEndpoint).sort()) console.log(`  ${endpoint}: ${n}`);
  console.log(`  API calls: ${calls.total}, ${fmt(calls.total / members, 4)} per member (${calls.rateLimited} answered 429)`);
  if (requests !== calls.total) console.log(`  requests incl. result downloads: ${requests}, ${fmt(requests / members, 4)} per member`);
  console.log(`  peak in flight: ${peak} (ceiling ${CEILING})`);
  for (const note of notes) console.log(`  ${note}`);
  return { label, members, calls: calls.total, requests, seconds, peak, rateLimited: calls.rateLimited };
}

function outcomeSummary(outcomes: readonly PushOutcome[]): string {
  const by = new Map<string, number>();
  for (const o of outcomes) {
    const key = o.status === 'rejected' ? `rejected ${o.code}` : o.status;
    by.set(key, (by.get(key) ?? 0) + 1);
  }
  return `outcomes: ${[...by.entries()].map(([k, n]) => `${n} ${k}`).join(', ')}`;
}

/** The audience's counts as `GET /lists/{id}` answers them (one API call, made outside any phase's count). */
async function audienceStats(emulator: RunningMailchimpEmulator): Promise<Record<string, number>> {
  const res = await fetch(`${emulator.apiUrl}/lists/${DEFAULT_LIST_ID}`, {
    headers: { authorization: `Basic ${Buffer.from(`bench:${API_KEY}`).toString('base64')}` },
  });
  const body = (await res.json()) as { stats?: Record<string, number> };
  return body.stats ?? {};
}

const machine = machineInfo();
/** What phases 1 and 3 measured, for `BENCH_JSON` (the calls-per-record chart of `npm run bench:charts`). */
const vendorCalls: VendorCallsJson[] = [];
const emulator = await startMailchimpEmulator({ apiKey: API_KEY, validateWebhookUrl: false });
try {
  emulator.sideDoor.setRequestDelayMs(LATENCY_MS);
  const config = MailchimpConfig.parse({
    baseUrl: emulator.apiUrl,
    apiKey: API_KEY,
    listId: DEFAULT_LIST_ID,
    webhookSecret: 'bench-webhook-url-secret-0123456789abcdef',
    interests: [{ id: NEWSLETTER, topic: 'newsletter' }],
    ...(POLL_MS === undefined ? {} : { batchPollMs: POLL_MS }),
  });
  const instance = createMailchimpInstance({ instanceId: 'mailchimp', config, logger: createLogger({ level: 'warn' }) });
  console.log(
    `Mailchimp bench: ${MEMBERS} members, ${UPDATES} updates, latency ${LATENCY_MS} ms per request, ` +
      `limits.maxBatch ${maxBatch}, limits.concurrency ${concurrency}, maxInFlight ${config.maxInFlight}, ` +
      `batchOperationsAbove ${config.batchOperationsAbove}, batchPollMs ${config.batchPollMs}`,
  );
  const results: PhaseResult[] = [];
  const externalIds: string[] = [];

  // 1. Initial load.
  const load = await phase(emulator, '1 initial load (batch subscribe)', MEMBERS, async () => {
    const records = Array.from({ length: MEMBERS }, (_, i) => newMember(i));
    const outcomes = await pushConcurrently(instance, batchesOf(records, maxBatch), concurrency);
    outcomes.forEach((o, i) => {
      if (o.status === 'ok') externalIds[i] = o.externalId;
    });
    return [outcomeSummary(outcomes)];
  });
  results.push(load);
  vendorCalls.push({
    vendor: 'Mailchimp batch subscribe',
    callsPerRecord: load.calls / load.members,
    ceilingPerRecord: 1 / BATCH_SUBSCRIBE_MAX,
  });
  const stats = await audienceStats(emulator);
  const held = stats.total_contacts ?? 0;
  console.log(
    `  emulator holds ${held} members for ${MEMBERS} pushed: ${held === MEMBERS ? 'equal' : 'NOT EQUAL'} ` +
      `(subscribed ${stats.member_count ?? 0}, unsubscribed ${stats.unsubscribe_count ?? 0}, ` +
      `other ${held - (stats.member_count ?? 0) - (stats.unsubscribe_count ?? 0) - (stats.cleaned_count ?? 0)}; ` +
      `expected ${Math.ceil(MEMBERS / 3)} / ${Math.ceil((MEMBERS - 1) / 3)} / ${Math.floor(MEMBERS / 3)})`,
  );

  const known = Array.from({ length: UPDATES }, (_, i) => i).filter((i) => externalIds[i] !== undefined);
  const rename = (suffix: string) => (i: number) => ({
    profileId: `p${i}`,
    externalId: externalIds[i] ?? '',
    fields: { 'merge:FNAME': `First${i}-${suffix}` },
  });

  // 2a. Attribute-only updates, a trickle.
  results.push(
    await phase(emulator, `2a attribute updates, ${TRICKLE} per push`, known.length, async () => {
      const outcomes = await pushConcurrently(instance, batchesOf(known.map(rename('a')), TRICKLE), concurrency);
      return [outcomeSummary(outcomes)];
    }),
  );

  // 2b. The same through /batches.
  results.push(
    await phase(emulator, `2b attribute updates, ${maxBatch} per push (/batches)`, known.length, async () => {
      const outcomes = await pushConcurrently(instance, batchesOf(known.map(rename('b')), maxBatch), concurrency);
      return [outcomeSummary(outcomes)];
    }),
  );

  // 2c. Consent changes: UPDATES members, half of them subscribed ones that withdraw, half unknown ones that grant.
  const indices = Array.from({ length: MEMBERS }, (_, i) => i).filter((i) => externalIds[i] !== undefined);
  const subscribed = indices.filter((i) => consentOf(i) === 'granted');
  const unknown = indices.filter((i) => consentOf(i) === 'unknown');
  const changes: PushRecord[] = [
    ...subscribed.slice(0, Math.ceil(UPDATES / 2)).map((i) => ({
      profileId: `p${i}`,
      externalId: externalIds[i] ?? '',
      fields: { status: 'unsubscribed' },
      profile: profileWith(`p${i}`, 'denied'),
    })),
    ...unknown.slice(0, Math.floor(UPDATES / 2)).map((i) => ({
      profileId: `p${i}`,
      externalId: externalIds[i] ?? '',
      fields: { status: 'subscribed' },
      profile: profileWith(`p${i}`, 'granted'),
    })),
  ];
  results.push(
    await phase(emulator, `2c consent changes (status), ${TRICKLE} per push`, changes.length, async () => {
      const outcomes = await pushConcurrently(instance, batchesOf(changes, TRICKLE), concurrency);
      return [outcomeSummary(outcomes)];
    }),
  );

  // 3. Full pull.
  const pull = await phase(emulator, '3 full pull', MEMBERS, async () => {
    let records = 0;
    let pages = 0;
    const distinct = new Set<string>();
    for await (const page of instance.pull?.(undefined, new AbortController().signal) ?? []) {
      records += page.records.length;
      pages += 1;
      for (const r of page.records) distinct.add(r.externalId);
    }
    return [
      `${records} records in ${pages} pages (at least ${Math.floor(MEMBERS / config.pageSize) + 1} needed), ` +
        `${distinct.size} distinct members (audience ${MEMBERS}), ${records - distinct.size} records read again`,
    ];
  });
  results.push(pull);
  vendorCalls.push({ vendor: 'Mailchimp pull', callsPerRecord: pull.calls / pull.members, ceilingPerRecord: 1 / PAGE_MAX });

  // 4. The whole run.
  const peak = Math.max(...results.map((r) => r.peak));
  const rateLimited = results.reduce((sum, r) => sum + r.rateLimited, 0);
  console.log('\n[summary]');
  console.log('  phase | members | API calls | calls/member | requests/member | members/s | peak in flight');
  for (const r of results) {
    console.log(
      `  ${r.label} | ${r.members} | ${r.calls} | ${fmt(r.calls / r.members, 4)} | ${fmt(r.requests / r.members, 4)} | ` +
        `${fmt(r.members / r.seconds, 0)} | ${r.peak}`,
    );
  }
  console.log(
    `  peak in flight over the run: ${peak} at the emulator (connector's own gate: ${instance.api.gate.peak}), ceiling ${CEILING}; ${rateLimited} answered 429`,
  );
  console.log(`  ceiling respected: ${peak <= CEILING && rateLimited === 0 ? 'yes' : 'no'}`);
  for (const [name, w] of warnings) console.log(`  process warnings: ${w.count} ${name} (${w.message})`);
} finally {
  await emulator.close();
}
if (JSON_OUT)
  writeVendorCalls(
    JSON_OUT,
    machine,
    { members: MEMBERS, updates: UPDATES, trickle: TRICKLE, latencyMs: LATENCY_MS, pollMs: POLL_MS ?? null },
    vendorCalls,
  );
process.exit(0);

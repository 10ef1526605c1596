/**
 * Segment connector benchmark (issue 18, "Measure"; prints figures, asserts nothing). Needs
 * nothing else: the Segment emulator runs in this process on loopback and the connector instance
 * is driven directly, as the engine and the privacy eraser would call it.
 * Run: `npx tsx scripts/bench-segment.ts`.
 *
 * 1. Push: BENCH_PROFILES new profiles (e-mail, first and last name, a subscription trait, a
 *    consent trait, a consent category) in batches of `limits.maxBatch`, `limits.concurrency`
 *    pushes at once (as the engine runs them): events per second acknowledged by the pushes (the
 *    push answers only once the client says each event was delivered), request body bytes per
 *    event (every `/v1/batch` body the client sent, counted on its fetch), API calls per profile.
 * 2. Retry: the same batches pushed again (same changes, so the same messageIds): events the
 *    emulator accepted anew (should be 0) and the duplicates it counted.
 * 3. Pull: scheduled pull runs (`profilesPerPull` each, resuming from the cursor) until the walk
 *    over the profiles the hub knows (`ctx.knownRecords`, the pushed user ids) ends: profiles read
 *    per second, Profile API calls per profile, the most requests arriving at the emulator's server
 *    within any 1,000 ms (all, and those not refused; Node's `http.server.*` diagnostics channels)
 *    against Segment's 100 per second per space, and the calls answered 429 (should be 0: the
 *    connector paces itself). A run stopped by a 429 is parked for its Retry-After (real time) and
 *    the next run resumes from the last cursor a page saved, as the engine does.
 * 4. Erase: BENCH_ERASURES erasures by user id through `erase`, in batches as the privacy eraser
 *    sends them, then `eraseProgress` (the distinct tickets of each eraser batch, once the
 *    outcome's `checkAfterMs` has passed, within the eraser's 1 s .. 1 h bounds) until all are
 *    done. Three variants: the eraser's default batch (`eraseBatchSize`, 100), batches of 5,000
 *    (one regulation's most subjects), and one erasure per call (requests trickling in one by
 *    one). Each prints the regulations created, subjects per regulation, the share of Segment's
 *    600 creations a minute the whole job needs, the erasures a minute the 600/min ceiling allows
 *    at that batch size, the minutes the creations took, the Public API calls and 429s.
 *
 * Time: Segment's creation limit is per minute and the connector paces itself to it (a rolling
 * 600 a minute, hard-coded), so past 600 creations the connector's pacer refuses and the eraser
 * parks the queue for the wait it names. Instead of sleeping those minutes, the bench moves a
 * shared virtual clock (the connector's and the emulator's `now`) forward by each park's wait:
 * creation minutes are minutes of that clock ("virtual"). Lowering the emulator's
 * `regulationCreatesPerMinute` would not scale the run down, since the connector's own pacer
 * stays at 600 a minute. The clock also moves by one minute before each erase variant (a fresh
 * quota window), and by `checkAfterMs` before regulations are asked about.
 *
 * The emulator does its work on the same CPU as the connector, so the rates are a floor for the
 * connector, not Segment's speed. Options: BENCH_PROFILES (default 10000), BENCH_ERASURES
 * (default 10000), BENCH_PULL (profiles the pull walk covers, default BENCH_PROFILES; at 100
 * requests a second 10,000 take 100 s), BENCH_SKIP_SINGLES=1 (skip the one-per-call erase
 * variant), BENCH_JSON (a file to write the calls per record to, `vendorCalls` of
 * `npm run bench:charts`): part 1 as "Segment push", API calls per profile, against the fewest
 * `/v1/batch` calls Segment's limits allow for events of the size measured: a batch holds at most
 * 500 KB and 2,500 events, so the ceiling is 1 / min(2,500, 500 KB / bytes per event). The
 * connector sends one call per push of `limits.maxBatch` (500), so with events of under ~1 KB the
 * bar stands above that ceiling. The pull (one Profile API call per profile by design) and the
 * erasures (regulations, not records per call) are left out.
 */
import { pushConcurrently } from './bench/push-concurrently.js';
import { machineInfo, type VendorCallsJson } from './bench/results.js';
import { writeVendorCalls } from './bench/vendor-calls.js';
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EraseOutcome, EraseRef, ErasureProgress, KnownRecord, PushRecord } from '../src/connector/define.js';
import { RateLimitedError } from '../src/connector/errors.js';
import { chunks } from '../src/connector/kit/index.js';
import { createLogger } from '../src/log/logger.js';
import { PrivacyTuning } from '../src/privacy/options.js';
import { SegmentConfig } from '../connectors/segment/config.js';
import segment, { createSegmentInstance } from '../connectors/segment/connector.js';
import { MAX_SUBJECTS_PER_REGULATION, REGULATIONS_PER_MINUTE } from '../connectors/segment/api.js';
import {
  DEFAULT_SPACE_ID,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  startSegmentEmulator,
  type RunningSegmentEmulator,
} from '../connectors/segment/emulator/index.js';

const PROFILES = Number(process.env.BENCH_PROFILES ?? 10_000);
const ERASURES = Number(process.env.BENCH_ERASURES ?? 10_000);
const PULL = Math.min(PROFILES, Number(process.env.BENCH_PULL ?? PROFILES));
const SKIP_SINGLES = process.env.BENCH_SKIP_SINGLES === '1';
const JSON_OUT = process.env.BENCH_JSON;
const PROFILE_CEILING = 100;
const { maxBatch, concurrency } = segment.limits;
const tuning = PrivacyTuning.parse({});
const ERASE_BATCH = tuning.eraseBatchSize;

// Node's process warnings are counted by kind and summarised at the end instead of printed one by one.
const warnings = new Map<string, { count: number; message: string }>();
process.removeAllListeners('warning');
process.on('warning', (w) => {
  const seen = warnings.get(w.name);
  if (seen) seen.count += 1;
  else warnings.set(w.name, { count: 1, message: w.message });
});

const fmt = (n: number, digits = 3): string => n.toFixed(digits);
const pct = (n: number): string => `${(n * 100).toFixed(1)}%`;

/** The shared clock of the connector and the emulator: real time plus the parks skipped. */
let offsetMs = 0;
const clock = (): number => Date.now() + offsetMs;
const advance = (ms: number): void => {
  offsetMs += ms;
};

/** Bytes of the request bodies the Segment client sent to `/v1/batch` (counted on its fetch). */
const sent = { requests: 0, bytes: 0 };
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (url.endsWith('/v1/batch') && typeof init?.body === 'string') {
    sent.requests += 1;
    sent.bytes += Buffer.byteLength(init.body);
  }
  return realFetch(input, init);
};

const userId = (i: number): string => `p${String(i).padStart(6, '0')}`;
const CHOSEN_AT = '2026-01-05T10:00:00.000Z';

/** A new profile's identify: what the engine sends for a person first seen (the fields' values and when each was chosen). */
function newProfile(i: number): PushRecord {
  const fields: PushRecord['fields'] = {
    email: `bench-${i}@example.com`,
    firstName: `First${i}`,
    lastName: `Last${i}`,
    newsletter_subscribed: i % 2 === 0,
    email_marketing_consent: i % 3 !== 0,
    'consent:Advertising': i % 4 === 0,
  };
  return { profileId: userId(i), fields, valuesAt: Object.fromEntries(Object.keys(fields).map((f) => [f, CHOSEN_AT])) };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): string {
  const by = new Map<string, number>();
  for (const item of items) by.set(key(item), (by.get(key(item)) ?? 0) + 1);
  return [...by.entries()].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}

function printCalls(emulator: RunningSegmentEmulator, per: number, unit: string): { total: number; rateLimited: number } {
  const calls = emulator.sideDoor.calls();
  for (const [endpoint, n] of Object.entries(calls.byEndpoint).sort()) console.log(`  ${endpoint}: ${n}`);
  console.log(`  API calls: ${calls.total}, ${fmt(calls.total / per, 4)} per ${unit} (${calls.rateLimited} answered 429)`);
  return calls;
}

/**
 * Profile API requests as the emulator's server received them (Node's `http.server.*`
 * diagnostics channels: the arrival time and the status answered), for the most in any second.
 */
class ProfileArrivals {
  private readonly arrivedAt = new WeakMap<object, number>();
  readonly answered: { at: number; status: number }[] = [];
  private recording = false;

  constructor() {
    subscribe('http.server.request.start', (message) => {
      const { request } = message as { request: IncomingMessage };
      if (this.recording && request.url?.includes('/v1/spaces/') === true) this.arrivedAt.set(request, performance.now());
    });
    subscribe('http.server.response.finish', (message) => {
      const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
      const at = this.arrivedAt.get(request);
      if (at !== undefined) this.answered.push({ at, status: response.statusCode });
    });
  }

  start(): void {
    this.recording = true;
  }

  stop(): void {
    this.recording = false;
  }

  /** The most requests that arrived within any 1,000 ms (all of them, or only those not answered 429). */
  peak(admittedOnly: boolean): number {
    const times = this.answered
      .filter((a) => !admittedOnly || a.status !== 429)
      .map((a) => a.at)
      .sort((a, b) => a - b);
    return peakWithin(times, 1_000);
  }
}

/** The most of these times (ms, sorted) within any `windowMs`. */
function peakWithin(sorted: readonly number[], windowMs: number): number {
  let peak = 0;
  let from = 0;
  sorted.forEach((t, i) => {
    while ((sorted[from] ?? t) <= t - windowMs) from += 1;
    peak = Math.max(peak, i - from + 1);
  });
  return peak;
}

/** Calls `call` until it is not refused for a rate limit, parking (moving the clock) for each refusal's wait. */
async function parked<T>(call: () => Promise<T>, parks: { count: number; ms: number }): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      parks.count += 1;
      parks.ms += err.retryAfterMs;
      advance(err.retryAfterMs);
    }
  }
}

interface EraseResult {
  label: string;
  batch: number;
  regulations: number;
  peakMinute: number;
  creationMinutes: number;
  creates: number;
  reads: number;
  rateLimited: number;
}

/** One erase variant: ERASURES erasures by user id in batches of `batch`, then followed until done. */
async function eraseVariant(
  emulator: RunningSegmentEmulator,
  instance: ReturnType<typeof createSegmentInstance>,
  label: string,
  batch: number,
): Promise<EraseResult> {
  const door = emulator.sideDoor;
  const signal = new AbortController().signal;
  advance(61_000); // a fresh quota window (and the pacer's slots of the last variant expired)
  door.resetCalls();
  const regulationsBefore = door.regulations().length;
  const refs: EraseRef[] = Array.from({ length: ERASURES }, (_, i) => ({ externalId: userId(i) }));
  const parks = { count: 0, ms: 0 };
  const startedReal = performance.now();
  const startedAt = clock();
  const outcomes: EraseOutcome[] = [];
  for (const part of chunks(refs, batch))
    outcomes.push(...(await parked(() => instance.erase?.(part, signal) ?? Promise.resolve([]), parks)));
  const createdAt = clock();
  const createSeconds = (performance.now() - startedReal) / 1000;
  const creationMinutes = (createdAt - startedAt) / 60_000;
  const tickets = new Map<string, number>();
  for (const o of outcomes) if (o.status === 'pending') tickets.set(o.ticket, (tickets.get(o.ticket) ?? 0) + 1);
  const regulations = door.regulations().length - regulationsBefore;
  const subjects = [...tickets.values()];
  const creates = door.calls().byEndpoint['POST /regulations'] ?? 0;
  const perRegulation = Math.min(batch, MAX_SUBJECTS_PER_REGULATION);

  console.log(`\n[${label}] ${ERASURES} erasures in batches of ${batch}`);
  console.log(`  outcomes: ${countBy(outcomes, (o) => o.status)}`);
  console.log(
    `  regulations created: ${regulations} (POST /regulations ${creates}), subjects per regulation: ` +
      `${fmt(ERASURES / Math.max(1, regulations), 1)} (min ${Math.min(...subjects)}, max ${Math.max(...subjects)})`,
  );
  console.log(
    `  creations took ${fmt(createSeconds, 2)} s real, ${fmt(creationMinutes, 2)} min virtual ` +
      `(${parks.count} parks: the connector's pacer refusing or a 429, ${fmt(parks.ms / 1000, 1)} s skipped)`,
  );
  console.log(
    `  share of one minute's creation quota the job needs: ${regulations} / ${REGULATIONS_PER_MINUTE} = ${pct(regulations / REGULATIONS_PER_MINUTE)}`,
  );
  // The quota is counted per minute: creations made within less than a minute used one window.
  const windowMinutes = Math.max(creationMinutes, 1);
  const createdTimes = door
    .regulations()
    .slice(regulationsBefore)
    .map((r) => Date.parse(String(r['createdAt'])))
    .sort((a, b) => a - b);
  const peakMinute = peakWithin(createdTimes, 60_000);
  console.log(
    `  creations per minute used: at most ${peakMinute} in any 60 s (virtual) = ${pct(peakMinute / REGULATIONS_PER_MINUTE)} of ${REGULATIONS_PER_MINUTE}/min; ` +
      `on average ${fmt(regulations / windowMinutes, 1)} a minute over ${fmt(windowMinutes, 2)} min`,
  );
  console.log(
    `  erasures per minute achievable at the ceiling: ${REGULATIONS_PER_MINUTE} x ${perRegulation} = ${REGULATIONS_PER_MINUTE * perRegulation}; ` +
      `this run: ${fmt(ERASURES / windowMinutes, 0)} erasures in ${fmt(windowMinutes, 2)} min`,
  );

  // Followed as the eraser follows them: after each outcome's checkAfterMs (within its bounds),
  // one eraseProgress per eraser batch with that batch's distinct tickets, until every one is done.
  const pollStarted = performance.now();
  const parksBefore = { ...parks };
  const statuses: ErasureProgress['status'][] = [];
  let rounds = 0;
  let open = chunks(outcomes, ERASE_BATCH).map((group) => [...new Set(group.flatMap((o) => (o.status === 'pending' ? [o.ticket] : [])))]);
  const waitMs = Math.min(
    tuning.erasePollMaxMs,
    Math.max(tuning.erasePollMinMs, outcomes.find((o) => o.status === 'pending')?.checkAfterMs ?? 0),
  );
  while (open.some((t) => t.length > 0) && rounds < 5) {
    advance(waitMs);
    rounds += 1;
    const still: string[][] = [];
    for (const group of open) {
      if (group.length === 0) continue;
      const answers = await parked(() => instance.eraseProgress?.(group, signal) ?? Promise.resolve([]), parks);
      statuses.push(...answers.map((a) => a.status));
      still.push(answers.filter((a) => a.status === 'pending').map((a) => a.ticket));
    }
    open = still;
  }
  const pollVirtualMs = rounds * waitMs + (parks.ms - parksBefore.ms);
  const calls = door.calls();
  const reads = calls.byEndpoint['GET /regulations/:regulateId'] ?? 0;
  console.log(
    `  progress: ${rounds} round(s) ${fmt(waitMs / 60_000, 0)} min apart, last answers ${countBy(statuses.slice(-tickets.size), (s) => s)}; ` +
      `GET /regulations/:id ${reads} (${fmt(reads / Math.max(1, regulations), 2)} per regulation) in ${fmt((performance.now() - pollStarted) / 1000, 2)} s real; ${parks.count - parksBefore.count} parks while asking, ${fmt((pollVirtualMs - rounds * waitMs) / 60_000, 2)} min virtual beyond the wait`,
  );
  console.log(
    `  Public API calls: ${calls.total} (${calls.rateLimited} answered 429); parks in all: ${parks.count}; ` +
      `regulations at the emulator: ${countBy(door.regulations().slice(regulationsBefore), (r) => String(r['overallStatus']))}`,
  );
  return { label, batch, regulations, peakMinute, creationMinutes, creates, reads, rateLimited: calls.rateLimited };
}

const machine = machineInfo();
/** What part 1 measured, for `BENCH_JSON` (the calls-per-record chart of `npm run bench:charts`). */
const vendorCalls: VendorCallsJson[] = [];
const arrivals = new ProfileArrivals();
const emulator = await startSegmentEmulator({ secret: 'bench-segment-webhook-secret' }, { now: clock });
try {
  const door = emulator.sideDoor;
  const pushed = Array.from({ length: PROFILES }, (_, i) => userId(i)).sort();
  const known = async (page: { after?: string; limit: number }): Promise<KnownRecord[]> => {
    const from = page.after === undefined ? 0 : pushed.findIndex((id) => id > (page.after ?? ''));
    return (from < 0 ? [] : pushed.slice(from, Math.min(from + page.limit, PULL))).map((id) => ({ key: id, externalId: id }));
  };
  const config = SegmentConfig.parse({
    writeKey: 'bench-segment-write-key',
    baseUrl: emulator.url,
    spaceId: DEFAULT_SPACE_ID,
    profileToken: 'bench-segment-profile-token',
    publicApiToken: 'bench-segment-public-api-token',
    subscriptionTraits: [{ trait: 'newsletter_subscribed', topic: 'newsletter' }],
    consentTraits: [{ trait: 'email_marketing_consent', consent: 'marketing.email' }],
    consentCategories: [{ category: 'Advertising', consent: 'advertising.web' }],
  });
  const instance = createSegmentInstance(
    { instanceId: 'segment', config, logger: createLogger({ level: 'warn' }), knownRecords: known },
    { now: clock },
  );
  console.log(
    `Segment bench: ${PROFILES} profiles, ${ERASURES} erasures, pull over ${PULL}; limits.maxBatch ${maxBatch}, ` +
      `limits.concurrency ${concurrency}, profileRequestsPerSecond ${config.profileRequestsPerSecond}, profilesPerPull ${config.profilesPerPull}, ` +
      `eraser eraseBatchSize ${ERASE_BATCH}, regulationPollMs ${config.regulationPollMs}; emulator on loopback, no added latency`,
  );
  console.log(
    `Time: parks for Segment's 600 creations a minute are not slept; the connector's and the emulator's shared clock moves ahead by ` +
      `each park's wait ("virtual" minutes; the connector's pacer is fixed at ${REGULATIONS_PER_MINUTE}/min, so a lower emulator limit would only answer 429)`,
  );
  const batches = chunks(
    Array.from({ length: PROFILES }, (_, i) => newProfile(i)),
    maxBatch,
  );

  // 1. Push.
  door.resetCalls();
  let started = performance.now();
  const outcomes = await pushConcurrently(instance, batches, concurrency);
  let seconds = (performance.now() - started) / 1000;
  const delivered = outcomes.filter((o) => o.status === 'ok').length;
  const accepted = door.events().length;
  const storedBytes = door.events().reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e.message)), 0);
  console.log(`\n[1 push] ${PROFILES} identifies in ${batches.length} pushes of up to ${maxBatch} in ${fmt(seconds, 2)} s`);
  console.log(`  outcomes: ${countBy(outcomes, (o) => o.status)}`);
  console.log(`  events/s acknowledged: ${fmt(delivered / seconds, 0)}; emulator accepted ${accepted}, dropped ${door.dropped().length}`);
  console.log(
    `  /v1/batch request bodies: ${sent.requests}, ${sent.bytes} bytes, ${fmt(sent.bytes / Math.max(1, delivered), 1)} bytes per event ` +
      `(${fmt(sent.bytes / Math.max(1, sent.requests) / 1024, 1)} KB per request; an event as the emulator stores it: ${fmt(storedBytes / Math.max(1, accepted), 1)} bytes)`,
  );
  const pushCalls = printCalls(emulator, PROFILES, 'profile');
  const bytesPerEvent = sent.bytes / Math.max(1, delivered);
  // Segment's best for events of this size: as many as 500 KB holds, at most 2,500 a batch.
  const bestPerCall = Math.max(1, Math.min(MAX_BATCH_EVENTS, Math.floor(MAX_BATCH_BYTES / Math.max(1, bytesPerEvent))));
  console.log(
    `  Segment's limits allow ${bestPerCall} such events a /v1/batch call (500 KB, at most ${MAX_BATCH_EVENTS}): ceiling ${fmt(1 / bestPerCall, 4)} calls per profile`,
  );
  vendorCalls.push({ vendor: 'Segment push', callsPerRecord: pushCalls.total / PROFILES, ceilingPerRecord: 1 / bestPerCall });

  // 2. Retry of the same changes.
  door.resetCalls();
  const duplicatesBefore = door.duplicates();
  started = performance.now();
  const again = await pushConcurrently(instance, batches, concurrency);
  seconds = (performance.now() - started) / 1000;
  console.log(`\n[2 retry] the same ${batches.length} pushes again in ${fmt(seconds, 2)} s`);
  console.log(`  outcomes: ${countBy(again, (o) => o.status)}`);
  console.log(
    `  new events accepted: ${door.events().length - accepted}, duplicates counted: ${door.duplicates() - duplicatesBefore} ` +
      `(messageId dedupe), dropped in all: ${door.dropped().length}`,
  );
  printCalls(emulator, PROFILES, 'profile');

  // 3. Pull: scheduled runs until the walk over the known profiles ends.
  door.resetCalls();
  arrivals.start();
  started = performance.now();
  let cursor: { after?: string } | undefined;
  let runs = 0;
  let records = 0;
  const distinct = new Set<string>();
  const pullParks = { count: 0, ms: 0 };
  do {
    runs += 1;
    try {
      for await (const page of instance.pull?.(cursor, new AbortController().signal) ?? []) {
        records += page.records.length;
        for (const r of page.records) distinct.add(r.externalId);
        cursor = page.cursor as { after?: string };
      }
    } catch (err) {
      // As the engine does: the run stops, the queue parks for the wait, the next run resumes from the last saved cursor.
      if (!(err instanceof RateLimitedError)) throw err;
      pullParks.count += 1;
      pullParks.ms += err.retryAfterMs;
      await sleep(err.retryAfterMs);
      if (cursor === undefined) cursor = {};
    }
  } while (cursor?.after !== undefined && runs < 10_000);
  seconds = (performance.now() - started) / 1000;
  arrivals.stop();
  const pullSeconds = seconds;
  const peakPerSecond = arrivals.peak(true);
  const peakTried = arrivals.peak(false);
  console.log(`\n[3 pull] ${PULL} known profiles in ${runs} pull runs in ${fmt(seconds, 2)} s: ${fmt(PULL / seconds, 1)} profiles/s`);
  console.log(
    `  records ${records} (a run stopped by a 429 reads its last page again), distinct ${distinct.size}; ` +
      `runs stopped by a 429 and parked: ${pullParks.count} (${fmt(pullParks.ms / 1000, 1)} s parked)`,
  );
  const pullCalls = printCalls(emulator, PULL, 'profile');
  console.log(
    `  peak Profile API requests arriving in any 1,000 ms: ${peakTried}, of them not refused: ${peakPerSecond} (ceiling ${PROFILE_CEILING}/s per space); ` +
      `429: ${pullCalls.rateLimited}; ceiling respected: ${peakPerSecond <= PROFILE_CEILING && pullCalls.rateLimited === 0 ? 'yes' : 'no'}`,
  );

  // 4. Erase.
  const results: EraseResult[] = [];
  results.push(await eraseVariant(emulator, instance, `4a erase, the eraser's batch (eraseBatchSize ${ERASE_BATCH})`, ERASE_BATCH));
  results.push(await eraseVariant(emulator, instance, `4b erase, batches of ${MAX_SUBJECTS_PER_REGULATION}`, MAX_SUBJECTS_PER_REGULATION));
  if (!SKIP_SINGLES) results.push(await eraseVariant(emulator, instance, '4c erase, one per call', 1));

  console.log('\n[summary]');
  console.log(
    `  push: ${fmt(pushCalls.total / PROFILES, 4)} calls per profile, ${fmt(bytesPerEvent, 1)} bytes per event; ` +
      `pull: ${fmt(PULL / pullSeconds, 1)} profiles/s, ${fmt(pullCalls.total / PULL, 4)} calls per profile, ` +
      `peak ${peakTried}/s arriving (${peakPerSecond}/s not refused), ${pullCalls.rateLimited} answered 429`,
  );
  console.log(
    '  erase batch | regulations | subjects/regulation | job / one minute of quota | most creations in a minute / 600 | creation min (virtual) | GETs | 429',
  );
  for (const r of results) {
    console.log(
      `  ${r.batch} | ${r.regulations} | ${fmt(ERASURES / Math.max(1, r.regulations), 1)} | ${pct(r.regulations / REGULATIONS_PER_MINUTE)} | ` +
        `${pct(r.peakMinute / REGULATIONS_PER_MINUTE)} | ` +
        `${fmt(r.creationMinutes, 2)} | ${r.reads} | ${r.rateLimited}`,
    );
  }
  for (const [name, w] of warnings) console.log(`  process warnings: ${w.count} ${name} (${w.message})`);
} finally {
  await emulator.close();
}
if (JSON_OUT)
  writeVendorCalls(JSON_OUT, machine, { profiles: PROFILES, erasures: ERASURES, pull: PULL, skipSingles: SKIP_SINGLES }, vendorCalls);
process.exit(0);

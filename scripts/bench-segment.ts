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
 *    per second, Profile API calls per profile, the peak requests in any one second (the calls
 *    the emulator counted, sampled every SAMPLE_MS) against Segment's 100 per second per space, and
 *    the calls answered 429 (should be 0: the connector paces itself).
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
 * variant).
 */
import { performance } from 'node:perf_hooks';
import type { EraseOutcome, EraseRef, ErasureProgress, KnownRecord, PushOutcome, PushRecord } from '../src/connector/define.js';
import { RateLimitedError } from '../src/connector/errors.js';
import { chunks } from '../src/connector/kit/index.js';
import { createLogger } from '../src/log/logger.js';
import { PrivacyTuning } from '../src/privacy/options.js';
import { SegmentConfig } from '../connectors/segment/config.js';
import segment, { createSegmentInstance } from '../connectors/segment/connector.js';
import { MAX_SUBJECTS_PER_REGULATION, REGULATIONS_PER_MINUTE } from '../connectors/segment/api.js';
import { DEFAULT_SPACE_ID, startSegmentEmulator, type RunningSegmentEmulator } from '../connectors/segment/emulator/index.js';

const PROFILES = Number(process.env.BENCH_PROFILES ?? 10_000);
const ERASURES = Number(process.env.BENCH_ERASURES ?? 10_000);
const PULL = Math.min(PROFILES, Number(process.env.BENCH_PULL ?? PROFILES));
const SKIP_SINGLES = process.env.BENCH_SKIP_SINGLES === '1';
const PROFILE_CEILING = 100;
const SAMPLE_MS = 20;
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

/** Pushes the batches, `concurrency` at once (as the engine runs them, one job each); the outcomes in input order. */
async function pushAll(instance: ReturnType<typeof createSegmentInstance>, batches: readonly PushRecord[][]): Promise<PushOutcome[]> {
  const results: PushOutcome[][] = new Array<PushOutcome[]>(batches.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let b = next++; b < batches.length; b = next++)
      results[b] = (await instance.push?.(batches[b] ?? [], new AbortController().signal)) ?? [];
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results.flat();
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

/** The most Profile API calls the emulator counted in any one second, from samples every SAMPLE_MS. */
class PeakPerSecond {
  private readonly samples: { at: number; calls: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly count: () => number) {
    this.timer = setInterval(() => this.samples.push({ at: performance.now(), calls: this.count() }), SAMPLE_MS);
  }

  stop(): number {
    clearInterval(this.timer);
    this.samples.push({ at: performance.now(), calls: this.count() });
    let peak = 0;
    let from = 0;
    for (const s of this.samples) {
      while ((this.samples[from]?.at ?? s.at) < s.at - 1000) from += 1;
      // The sample just before the window counts the calls made before it began.
      const base = this.samples[Math.max(0, from - 1)]?.calls ?? 0;
      peak = Math.max(peak, s.calls - base);
    }
    return peak;
  }
}

const profileCalls = (emulator: RunningSegmentEmulator): number =>
  Object.entries(emulator.sideDoor.calls().byEndpoint)
    .filter(([endpoint]) => endpoint.includes('/v1/spaces/'))
    .reduce((sum, [, n]) => sum + n, 0);

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
  for (const part of chunks(refs, batch)) outcomes.push(...(await parked(() => instance.erase?.(part, signal) ?? Promise.resolve([]), parks)));
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
      `(${parks.count} parks on the connector's pacer, ${fmt(parks.ms / 1000, 1)} s skipped)`,
  );
  console.log(
    `  share of one minute's creation quota the job needs: ${regulations} / ${REGULATIONS_PER_MINUTE} = ${pct(regulations / REGULATIONS_PER_MINUTE)}`,
  );
  // The quota is counted per minute: creations made within less than a minute used one window.
  const windowMinutes = Math.max(creationMinutes, 1);
  console.log(
    `  creations per minute used: ${fmt(regulations / windowMinutes, 1)} / ${REGULATIONS_PER_MINUTE} = ` +
      `${pct(regulations / windowMinutes / REGULATIONS_PER_MINUTE)} of the ceiling (over ${fmt(windowMinutes, 2)} min)`,
  );
  console.log(
    `  erasures per minute achievable at the ceiling: ${REGULATIONS_PER_MINUTE} x ${perRegulation} = ${REGULATIONS_PER_MINUTE * perRegulation}; ` +
      `this run: ${fmt(ERASURES / windowMinutes, 0)} erasures in ${fmt(windowMinutes, 2)} min`,
  );

  // Followed as the eraser follows them: after each outcome's checkAfterMs (within its bounds),
  // one eraseProgress per eraser batch with that batch's distinct tickets, until every one is done.
  const pollStarted = performance.now();
  const statuses: ErasureProgress['status'][] = [];
  let rounds = 0;
  let open = chunks(outcomes, ERASE_BATCH).map((group) => [
    ...new Set(group.flatMap((o) => (o.status === 'pending' ? [o.ticket] : []))),
  ]);
  const waitMs = Math.min(tuning.erasePollMaxMs, Math.max(tuning.erasePollMinMs, outcomes.find((o) => o.status === 'pending')?.checkAfterMs ?? 0));
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
  const calls = door.calls();
  const reads = calls.byEndpoint['GET /regulations/:regulateId'] ?? 0;
  console.log(
    `  progress: ${rounds} round(s) ${fmt(waitMs / 60_000, 0)} min apart, last answers ${countBy(statuses.slice(-tickets.size), (s) => s)}; ` +
      `GET /regulations/:id ${reads} (${fmt(reads / Math.max(1, regulations), 2)} per regulation) in ${fmt((performance.now() - pollStarted) / 1000, 2)} s real`,
  );
  console.log(
    `  Public API calls: ${calls.total} (${calls.rateLimited} answered 429); parks in all: ${parks.count}; ` +
      `regulations at the emulator: ${countBy(door.regulations().slice(regulationsBefore), (r) => String(r['overallStatus']))}`,
  );
  return { label, batch, regulations, creationMinutes, creates, reads, rateLimited: calls.rateLimited };
}

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
  const batches = chunks(
    Array.from({ length: PROFILES }, (_, i) => newProfile(i)),
    maxBatch,
  );

  // 1. Push.
  door.resetCalls();
  let started = performance.now();
  const outcomes = await pushAll(instance, batches);
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

  // 2. Retry of the same changes.
  door.resetCalls();
  const duplicatesBefore = door.duplicates();
  started = performance.now();
  const again = await pushAll(instance, batches);
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
  const peak = new PeakPerSecond(() => profileCalls(emulator));
  started = performance.now();
  let cursor: { after?: string } | undefined;
  let runs = 0;
  let records = 0;
  const distinct = new Set<string>();
  do {
    runs += 1;
    for await (const page of instance.pull?.(cursor, new AbortController().signal) ?? []) {
      records += page.records.length;
      for (const r of page.records) distinct.add(r.externalId);
      cursor = page.cursor as { after?: string };
    }
  } while (cursor?.after !== undefined && runs < 1_000);
  seconds = (performance.now() - started) / 1000;
  const peakPerSecond = peak.stop();
  console.log(`\n[3 pull] ${PULL} known profiles in ${runs} pull runs in ${fmt(seconds, 2)} s: ${fmt(PULL / seconds, 1)} profiles/s`);
  console.log(`  records ${records}, distinct ${distinct.size}`);
  const pullCalls = printCalls(emulator, PULL, 'profile');
  console.log(
    `  peak Profile API calls in one second: ${peakPerSecond} (sampled every ${SAMPLE_MS} ms; ceiling ${PROFILE_CEILING}/s per space); ` +
      `429: ${pullCalls.rateLimited}; ceiling respected: ${peakPerSecond <= PROFILE_CEILING && pullCalls.rateLimited === 0 ? 'yes' : 'no'}`,
  );

  // 4. Erase.
  const results: EraseResult[] = [];
  results.push(await eraseVariant(emulator, instance, `4a erase, the eraser's batch (eraseBatchSize ${ERASE_BATCH})`, ERASE_BATCH));
  results.push(
    await eraseVariant(emulator, instance, `4b erase, batches of ${MAX_SUBJECTS_PER_REGULATION}`, MAX_SUBJECTS_PER_REGULATION),
  );
  if (!SKIP_SINGLES) results.push(await eraseVariant(emulator, instance, '4c erase, one per call', 1));

  console.log('\n[summary]');
  console.log(
    `  push: ${fmt(pushCalls.total / PROFILES, 4)} calls per profile, ${fmt(sent.bytes / Math.max(1, delivered), 1)} bytes per event; ` +
      `pull: ${fmt(pullCalls.total / PULL, 4)} calls per profile, peak ${peakPerSecond}/s, ${pullCalls.rateLimited} answered 429`,
  );
  console.log('  erase batch | regulations | subjects/regulation | share of 600/min quota | creation min (virtual) | GETs | 429');
  for (const r of results) {
    console.log(
      `  ${r.batch} | ${r.regulations} | ${fmt(ERASURES / Math.max(1, r.regulations), 1)} | ${pct(r.regulations / REGULATIONS_PER_MINUTE)} | ` +
        `${fmt(r.creationMinutes, 2)} | ${r.reads} | ${r.rateLimited}`,
    );
  }
  for (const [name, w] of warnings) console.log(`  process warnings: ${w.count} ${name} (${w.message})`);
} finally {
  await emulator.close();
}
process.exit(0);

/**
 * Sync engine benchmark (issue 4, "Measure"). Prints figures and checks the floor; asserts
 * nothing else. Needs Redis on 127.0.0.1:6379 (`bash scripts/services.sh`).
 *
 *   npm run bench [-- --profiles 2500 --changes 6000 --paced-seconds 10 --load 0.5 --raw-jobs 20000 --processes api,push/ingest,relay,pull]
 *   node --cpu-prof --import tsx scripts/bench.ts     # where the CPU goes (open the .cpuprofile in DevTools)
 *
 * `--processes` is the hub's deployment: the roles of each hub process (`concord start
 * --role ...`), separated by `/`. The first is this process, which must have `api`: it takes
 * the webhooks. The others are child processes (`bench-hub-worker.ts`) on the same Redis prefix
 * and SQLite file; they reach the systems over a loopback HTTP bridge. The default,
 * `api,push/ingest,relay,pull`, is the documented 2-core deployment (`concord start --role
 * api,push` and `--role ingest,relay,pull,privacy`; the bench has no data-subject requests):
 * one Node process per core. `all` is one process (`concord start`), which uses one core.
 * CPU figures add up every hub process. In every layout
 * the hub runs as `concord start` would: the engine with
 * its production tuning (`EngineTuning` defaults: partial batches wait up to 1 s), a fresh
 * SQLite file in a temporary directory, and a unique Redis prefix that is deleted at the end.
 * Four in-memory systems (`connectors/memory`) are connected through the `memory`
 * connector, all with the same fields (e-mail, first and last name, e-mail marketing consent
 * as an opt-out flag, newsletter):
 *
 * - `src`, where people change their data: every change is sent to the engine as a signed
 *   webhook by the system's own webhook sink (`engine.receiveWebhook`, as the HTTP route
 *   does). It takes no pushes, so every change fans out to exactly three systems.
 * - `a`, `b`, `c`: bidirectional targets (push, pull, webhooks) without rate limits worth
 *   the name and without call latency. Every push they take comes back to the engine as a
 *   webhook (the echo, without origin marker), which ingest must recognise and drop.
 *
 * Every change gives the person a new first name that encodes (profile, change number); a
 * wrapper around each target's API sees the values land, so a change counts as delivered when
 * all three targets hold it or a later change of the same person (coalescing).
 *
 * Phases:
 * 0. Raw BullMQ: `--raw-jobs` no-op jobs added in bulk on their own prefix of the same Redis,
 *    one worker with the engine's ingest concurrency; completed jobs per second. The same with
 *    the engine's ingest worker loop (`OrderedWorker`), to tell its own ceiling from the hub's.
 * 1. Seed: `--profiles` new people created in `src` as fast as the hub accepts webhooks
 *    (at most `--window` webhooks in flight, like a sender's connection pool), until all exist
 *    in the three targets.
 * 2. Throughput: `--changes` changes to random people, offered as fast as accepted. Changes per
 *    second end to end = changes / (last change delivered to all three targets - first webhook).
 * 3. Latency: changes paced at `--load` x the throughput of phase 2 for `--paced-seconds`,
 *    each to a person not changed earlier in the phase; webhook-to-delivered (all three
 *    targets) percentiles.
 * API calls per record = upsert calls / records upserted, per target (every call the target
 * counted, including reads and pulls, is printed beside it). Each phase also prints what it
 * cost per change: CPU of this process, event-loop utilisation and delay, and the commands
 * and CPU of the Redis server (shared with whatever else runs on it). The hub is one Node
 * process, so its CPU per change bounds its throughput on one core.
 *
 * Floor (checked on phase 2, SQLite): at least 1,000 changes per second fanned out to the three
 * systems, and API calls per record at most 1.05 / maxBatch in every target. The exit code is 1
 * when the floor fails or a phase does not finish.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { formatRoles, parseRoles, toEngineRoles } from '../src/app/roles.js';
import type { RoleSet } from '../src/app/roles.js';
import type { Json } from '../src/profile/schema.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/index.js';
import { createEngine } from '../src/sync/engine.js';
import type { Engine } from '../src/sync/engine.js';
import { EngineTuning } from '../src/sync/options.js';
import { OrderedWorker } from '../src/sync/inbound/ordered-worker.js';
import { benchConnectors, benchPolicy, HASH_KEY, SOURCE, TARGETS, WEBHOOK_SECRET } from './bench-setup.js';
import type { HubWorkerSpec } from './bench-setup.js';
import {
  createMemorySystem,
  registerMemorySystem,
  unregisterMemorySystem,
} from '../connectors/memory/index.js';
import { serveMemorySystems } from '../connectors/memory/remote.js';
import type {
  ChangesPage,
  EraseResult,
  MemoryRecord,
  MemoryRef,
  MemoryStats,
  MemorySystem,
  MemorySystemApi,
  UpsertInput,
  UpsertResult,
} from '../connectors/memory/index.js';
import { REDIS_URL, deletePrefix } from '../harness/sync-hub.js';

const { values: args } = parseArgs({
  options: {
    profiles: { type: 'string', default: '2500' },
    changes: { type: 'string', default: '6000' },
    'paced-seconds': { type: 'string', default: '10' },
    load: { type: 'string', default: '0.5' },
    'raw-jobs': { type: 'string', default: '20000' },
    'max-batch': { type: 'string', default: '100' },
    window: { type: 'string', default: '256' },
    seed: { type: 'string', default: '42' },
    'phase-timeout': { type: 'string', default: '90' },
    processes: { type: 'string', default: 'api,push/ingest,relay,pull' },
  },
});
const PROFILES = Number(args.profiles);
const CHANGES = Number(args.changes);
const PACED_SECONDS = Number(args['paced-seconds']);
const LOAD = Number(args.load);
const RAW_JOBS = Number(args['raw-jobs']);
const MAX_BATCH = Number(args['max-batch']);
const WINDOW = Number(args.window);
const PHASE_TIMEOUT_MS = Number(args['phase-timeout']) * 1000;
/** `--processes`: the roles of this process (which takes the webhooks) and of the others. */
function parseLayout(text: string): { self: RoleSet; children: RoleSet[] } {
  const sets = text.split('/').map((part, i) => {
    const parsed = parseRoles(part);
    if (!parsed.ok) throw new Error(`--processes, process ${i + 1}: ${parsed.message}`);
    return parsed.roles;
  });
  const covered = new Set(sets.flatMap((roles) => [...roles]));
  const missing = (['api', 'ingest', 'relay', 'push'] as const).filter((role) => !covered.has(role));
  if (missing.length > 0) throw new Error(`--processes: no process runs ${missing.join(', ')}`);
  const [self, ...children] = sets;
  if (!self?.has('api')) throw new Error('--processes: the first process (this one) takes the webhooks, so it needs api');
  return { self, children };
}
const { self: SELF_ROLES, children: CHILD_ROLES } = parseLayout(args.processes);
/** Every hub process's roles, this one first (the order of the per-process figures). */
const LAYOUT: RoleSet[] = [SELF_ROLES, ...CHILD_ROLES];
const LAYOUT_TEXT = LAYOUT.map(formatRoles).join(' / ');

const FLOOR_CHANGES_PER_S = 1000;
const FLOOR_CALLS_PER_RECORD = 1.05 / MAX_BATCH;
const TUNING = EngineTuning.parse({});

// ------------------------------------------------------------------ small helpers

/** mulberry32: a seeded generator, so runs offer the same change stream. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Peak resident set size, sampled (the process-wide peak comes from `resourceUsage().maxRSS`). */
class RssSampler {
  peak = 0;
  private readonly timer = setInterval(() => this.sample(), 100);
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  reset(): void {
    this.peak = 0;
    this.sample();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

// ------------------------------------------------------------------ delivery tracking

/** The first name of change `seq` of profile `p`: what the targets receive tells us both. */
const nameOf = (p: number, seq: number): string => `P${p}.${seq}`;
const NAME = /^P(\d+)\.(\d+)$/;

interface Phase {
  name: string;
  issued: number;
  completed: number;
  firstSentAt: number;
  lastSentAt: number;
  lastDeliveredAt: number;
  /** Webhook-to-delivered (all targets), ms, per completed change. */
  latencies: number[];
}

function newPhase(name: string): Phase {
  return { name, issued: 0, completed: 0, firstSentAt: Number.NaN, lastSentAt: Number.NaN, lastDeliveredAt: Number.NaN, latencies: [] };
}

/**
 * Follows every change until the three targets hold it. Per target and profile it keeps the
 * highest change number the target holds; a change is delivered once every target holds it or
 * a later one of the same profile (a later value that coalesced it).
 */
class DeliveryTracker {
  private readonly held: Int32Array[];
  private readonly pending = new Map<number, { seq: number; sentAt: number; phase: Phase }[]>();
  phase: Phase = newPhase('none');
  /** Records a target received with a value it already held (a push sent twice). */
  duplicates = 0;
  /** Records that set an older value over a newer one (must stay 0). */
  regressions = 0;
  /** Pushed records without a first name of ours (must stay 0: every change sets one). */
  untracked = 0;

  constructor(profiles: number, targets: number) {
    this.held = Array.from({ length: targets }, () => new Int32Array(profiles).fill(-1));
  }

  issue(p: number, seq: number, sentAt: number): void {
    const list = this.pending.get(p) ?? [];
    list.push({ seq, sentAt, phase: this.phase });
    this.pending.set(p, list);
    this.phase.issued++;
    if (Number.isNaN(this.phase.firstSentAt)) this.phase.firstSentAt = sentAt;
    this.phase.lastSentAt = sentAt;
  }

  delivered(target: number, fields: Record<string, Json>, now: number): void {
    const name = fields['first_name'];
    const m = typeof name === 'string' ? NAME.exec(name) : null;
    const held = this.held[target];
    if (!m || !held) {
      this.untracked++;
      return;
    }
    const p = Number(m[1]);
    const seq = Number(m[2]);
    const before = held[p] ?? -1;
    if (seq === before) this.duplicates++;
    if (seq < before) this.regressions++;
    if (seq <= before) return;
    held[p] = seq;
    const list = this.pending.get(p);
    if (!list) return;
    let min = Number.POSITIVE_INFINITY;
    for (const h of this.held) min = Math.min(min, h[p] ?? -1);
    let done = 0;
    while (done < list.length && (list[done]?.seq ?? Number.POSITIVE_INFINITY) <= min) {
      const change = list[done];
      if (change) {
        change.phase.completed++;
        change.phase.latencies.push(now - change.sentAt);
        change.phase.lastDeliveredAt = now;
      }
      done++;
    }
    if (done === list.length) this.pending.delete(p);
    else if (done > 0) list.splice(0, done);
  }
}

/** A target's API as the connector sees it, reporting what each successful upsert wrote. */
class TrackedApi implements MemorySystemApi {
  /** Upsert calls carrying fewer than `maxBatch` records (since the last reset). */
  partial = 0;

  constructor(
    private readonly system: MemorySystem,
    private readonly onWritten: (fields: Record<string, Json>, now: number) => void,
  ) {}

  async upsert(inputs: UpsertInput[]): Promise<UpsertResult[]> {
    if (inputs.length < MAX_BATCH) this.partial++;
    const results = await this.system.upsert(inputs);
    const now = performance.now();
    results.forEach((r, i) => {
      const input = inputs[i];
      if (r.status === 'ok' && input) this.onWritten(input.fields, now);
    });
    return results;
  }
  changes(query: { since: number; limit: number }): Promise<ChangesPage> {
    return this.system.changes(query);
  }
  read(ids: string[]): Promise<MemoryRecord[]> {
    return this.system.read(ids);
  }
  find(refs: MemoryRef[]): Promise<(MemoryRecord | null)[]> {
    return this.system.find(refs);
  }
  erase(refs: MemoryRef[]): Promise<EraseResult[]> {
    return this.system.erase(refs);
  }
}

// ------------------------------------------------------------------ the hub under load

interface Bench {
  engine: Engine;
  /** The hub's other processes, whose CPU counts with this process's. */
  workerPids: number[];
  store: Store;
  source: MemorySystem;
  targets: MemorySystem[];
  /** The targets' APIs as the connectors use them. */
  apis: TrackedApi[];
  tracker: DeliveryTracker;
  /** Source webhooks emitted and not yet answered by the hub. */
  outstanding: number;
  refused: string[];
  names: string[];
  /** Resolves when `outstanding` drops. */
  drained(): Promise<void>;
  close(): Promise<void>;
}

async function startBench(prefix: string, dbUrl: string): Promise<Bench> {
  const policy = benchPolicy();
  const store = await openStore({ url: dbUrl, policy, outboxTargets: [...TARGETS], hashKey: HASH_KEY });
  const tracker = new DeliveryTracker(PROFILES, TARGETS.length);
  const names = [SOURCE, ...TARGETS].map((id) => `${prefix}-${id}`);
  const source = createMemorySystem(`${prefix}-${SOURCE}`, { webhookSecret: WEBHOOK_SECRET });
  const apis: TrackedApi[] = [];
  /** What the other hub processes reach over the bridge, by registry name. */
  const served = new Map<string, MemorySystemApi>([[`${prefix}-${SOURCE}`, source]]);
  const targets = TARGETS.map((id, t) => {
    const name = `${prefix}-${id}`;
    const system = createMemorySystem(name, { webhookSecret: WEBHOOK_SECRET, maxBatch: MAX_BATCH });
    // The connector finds its system by name: give it the tracked API instead.
    const api = new TrackedApi(system, (fields, now) => tracker.delivered(t, fields, now));
    registerMemorySystem(name, api);
    served.set(name, api);
    apis.push(api);
    return system;
  });
  const connectors = benchConnectors(prefix, MAX_BATCH);
  const engine = createEngine({
    redis: REDIS_URL,
    prefix,
    store,
    connectors,
    policy,
    logger: pino({ level: process.env.CONCORD_BENCH_LOG ?? 'warn' }, process.stderr),
  });

  const refused: string[] = [];
  let wake: (() => void) | null = null;
  const bench: Bench = {
    engine,
    store,
    source,
    targets,
    apis,
    tracker,
    outstanding: 0,
    refused,
    names,
    drained: () => new Promise<void>((resolve) => (wake = resolve)),
    workerPids: [],
    async close() {
      for (const s of [source, ...targets]) s.onWebhook(undefined);
      for (const worker of workers) await worker.stop();
      await bridge?.close();
      await engine.close();
      await store.close();
      for (const name of names) unregisterMemorySystem(name);
    },
  };
  const receive = async (id: string, body: Buffer, headers: Record<string, string>): Promise<void> => {
    const result = await engine.receiveWebhook(id, {
      method: 'POST',
      url: `http://127.0.0.1/webhooks/${id}`,
      headers,
      body,
      receivedAt: new Date().toISOString(),
    });
    if (!result.ok) refused.push(`${id}: ${result.reason}`);
  };
  source.onWebhook(async (delivery) => {
    try {
      await receive(SOURCE, delivery.body, delivery.headers);
    } finally {
      bench.outstanding--;
      const w = wake;
      wake = null;
      w?.();
    }
  });
  TARGETS.forEach((id, t) => targets[t]?.onWebhook((delivery) => receive(id, delivery.body, delivery.headers)));
  // The other hub processes reach the systems over HTTP, as a hub reaches real ones.
  const bridge = CHILD_ROLES.length > 0 ? await serveMemorySystems(served) : null;
  const workers: ChildWorker[] = [];
  for (const roles of CHILD_ROLES) {
    workers.push(
      await startHubWorker({ redisUrl: REDIS_URL, prefix, dbUrl, maxBatch: MAX_BATCH, roles: formatRoles(roles), systemsUrl: bridge?.url ?? '' }),
    );
  }
  bench.workerPids = workers.map((w) => w.pid);
  await engine.start(toEngineRoles(SELF_ROLES));
  return bench;
}

interface ChildWorker {
  pid: number;
  stop(): Promise<void>;
}

/** Starts a hub process (`bench-hub-worker.ts`) and waits for its `ready`. */
function startHubWorker(spec: HubWorkerSpec): Promise<ChildWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bench-hub-worker.ts', import.meta.url))], {
    env: { ...process.env, CONCORD_BENCH_WORKER: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub process (${spec.roles}) did not start`)), 30_000);
    child.once('exit', (code) => reject(new Error(`hub process (${spec.roles}) exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('ready')) return;
      clearTimeout(timer);
      resolve({
        pid: child.pid ?? 0,
        async stop() {
          child.stdin?.end();
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

/** A process's peak resident set size so far (bytes), from /proc (Linux; 0 if unknown). */
function peakRssOf(pid: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** A person in `src`: the values the next change toggles. */
interface Person {
  optOut: boolean;
  newsletter: boolean;
}

class ChangeStream {
  private seq = 0;
  private readonly people: Person[] = [];
  private readonly rand: () => number;
  private readonly tag = randomBytes(3).toString('hex');

  constructor(
    private readonly bench: Bench,
    seed: number,
  ) {
    this.rand = random(seed);
  }

  pick(): number {
    return Math.floor(this.rand() * PROFILES);
  }

  /** Waits until fewer than `window` source webhooks are in flight. */
  async room(): Promise<void> {
    while (this.bench.outstanding >= WINDOW) await this.bench.drained();
  }

  /** One change made by a person in `src` (a new person for `create`); its webhook follows. */
  change(p: number, create = false): void {
    const seq = this.seq++;
    const fields: Record<string, Json> = { email: `person${p}@${this.tag}.bench.example`, first_name: nameOf(p, seq) };
    let person = this.people[p];
    if (create || !person) {
      person = { optOut: false, newsletter: false };
      this.people[p] = person;
      fields['last_name'] = `Family${p % 97}`;
      fields['email_opt_out'] = person.optOut;
      fields['newsletter'] = person.newsletter;
    } else {
      // About a third of the changes are a consent change, a quarter a newsletter change.
      if (this.rand() < 0.35) fields['email_opt_out'] = person.optOut = !person.optOut;
      if (this.rand() < 0.25) fields['newsletter'] = person.newsletter = !person.newsletter;
      if (this.rand() < 0.1) fields['last_name'] = `Family${Math.floor(this.rand() * 97)}`;
    }
    this.bench.outstanding++;
    this.bench.tracker.issue(p, seq, performance.now());
    this.bench.source.change(fields);
  }
}

async function waitDelivered(phase: Phase): Promise<boolean> {
  const deadline = performance.now() + PHASE_TIMEOUT_MS;
  while (phase.completed < phase.issued) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/** Waits until webhooks are answered and the engine has nothing left to do, twice in a row. */
async function settle(bench: Bench, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2) {
    if (Date.now() > deadline) return false;
    await Promise.all([bench.source, ...bench.targets].map((s) => s.flushWebhooks()));
    quiet = (await bench.engine.idle()) ? quiet + 1 : 0;
    await sleep(50);
  }
  return true;
}

interface CallFigures {
  target: string;
  upserts: number;
  calls: number;
  records: number;
  /** Upserts with fewer than maxBatch records. */
  partial: number;
  perRecord: number;
  allPerRecord: number;
  echoes: number;
}

function callFigures(stats: MemoryStats[], apis: readonly TrackedApi[]): CallFigures[] {
  return stats.map((s, t) => ({
    target: TARGETS[t] ?? String(t),
    upserts: s.calls.upsert,
    calls: s.calls.total,
    records: s.recordsUpserted,
    partial: apis[t]?.partial ?? 0,
    perRecord: s.calls.upsert / Math.max(1, s.recordsUpserted),
    allPerRecord: s.calls.total / Math.max(1, s.recordsUpserted),
    echoes: s.webhooksSent,
  }));
}

interface PhaseReport {
  phase: Phase;
  finished: boolean;
  seconds: number;
  perSecond: number;
  offeredPerSecond: number;
  calls: CallFigures[];
  peakRss: number;
  p50: number;
  p99: number;
  max: number;
  usage: Usage;
}

async function runPhase(
  bench: Bench,
  rss: RssSampler,
  meter: UsageMeter,
  name: string,
  produce: (phase: Phase) => Promise<void>,
): Promise<PhaseReport> {
  for (const t of bench.targets) t.resetStats();
  for (const api of bench.apis) api.partial = 0;
  rss.reset();
  const phase = newPhase(name);
  bench.tracker.phase = phase;
  await meter.start();
  await produce(phase);
  const finished = await waitDelivered(phase);
  const usage = await meter.stop();
  const seconds = (phase.lastDeliveredAt - phase.firstSentAt) / 1000;
  // The echoes of the last pushes and any late push belong to this phase's counts.
  const settled = finished && (await settle(bench));
  const calls = callFigures(
    bench.targets.map((t) => t.getStats()),
    bench.apis,
  );
  const sorted = [...phase.latencies].sort((a, b) => a - b);
  return {
    phase,
    finished: finished && settled,
    seconds,
    perSecond: phase.completed / seconds,
    offeredPerSecond: phase.issued / ((phase.lastSentAt - phase.firstSentAt) / 1000),
    calls,
    peakRss: rss.peak,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    usage,
  };
}

function printPhase(title: string, r: PhaseReport, unit: string): void {
  console.log(`\n[${title}]${r.finished ? '' : '  DID NOT FINISH'}`);
  console.log(`  ${r.phase.completed}/${r.phase.issued} ${unit} delivered to all 3 targets in ${fmt(r.seconds, 2)} s (first webhook to last delivery)`);
  console.log(`  end to end:              ${fmt(r.perSecond)} ${unit}/s  (offered ${fmt(r.offeredPerSecond)}/s)`);
  console.log(`  webhook-to-delivered:    p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, max ${fmt(r.max)} ms`);
  for (const c of r.calls) {
    console.log(
      `  target ${c.target}: ${c.records} records in ${c.upserts} upserts = ${fmt(c.perRecord, 4)} API calls per record` +
        ` (avg batch ${fmt(c.records / Math.max(1, c.upserts), 1)}, ${c.partial} partial; all calls ${c.calls} = ${fmt(c.allPerRecord, 4)}/record; ${c.echoes} echo webhooks)`,
    );
  }
  const u = r.usage;
  // Nothing delivered: per-change figures are n/a (fmt prints non-finite numbers so).
  const per = r.phase.completed;
  console.log(
    `  cost per ${unit.replace(/s$/, '')}:         ${fmt(u.cpuMs / per, 2)} ms CPU in the hub${LAYOUT.length > 1 ? ` (its ${LAYOUT.length} processes; event loop of this one` : ' process (event loop'} ${fmt(100 * u.elu)} % busy, ` +
      `delay p99 ${fmt(u.loopDelayP99Ms)} ms); Redis ${fmt(u.redisCommands / per, 1)} commands, ${fmt(u.redisCpuMs / per, 2)} ms CPU (shared server)`,
  );
  if (LAYOUT.length > 1) {
    const seconds = r.seconds;
    const parts = LAYOUT.map((roles, i) => {
      const ms = u.cpuMsByProcess[i] ?? 0;
      return `${formatRoles(roles)} ${fmt(ms / per, 2)} ms (${fmt(ms / 10 / seconds)} % of a core)`;
    });
    console.log(`  CPU per ${unit.replace(/s$/, '')} by process:  ${parts.join('; ')}`);
  }
  console.log(`  peak RSS in the phase:   ${mb(r.peakRss)}`);
}

// ------------------------------------------------------------------ raw BullMQ baseline

/**
 * No-op jobs through BullMQ on their own prefix: added in bulk, then worked off by a plain
 * `Worker` with the engine's ingest concurrency (`worker`), or by the engine's own ingest
 * worker loop, which starts jobs strictly in queue order (`ordered`).
 */
async function rawBullmq(kind: 'worker' | 'ordered', jobs: number, concurrency: number): Promise<{ perSecond: number; seconds: number }> {
  const prefix = `{bench-raw-${randomBytes(4).toString('hex')}}`;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix });
  let close: () => Promise<void> = async () => undefined;
  try {
    for (let i = 0; i < jobs; i += 1000) {
      const n = Math.min(1000, jobs - i);
      await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true } })));
    }
    let completed = 0;
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    const noop = async (): Promise<void> => {
      if (++completed === jobs) resolveAll();
    };
    const started = performance.now();
    if (kind === 'worker') {
      const worker = new Worker('noop', noop, { connection, prefix, concurrency });
      close = () => worker.close();
    } else {
      const worker = new OrderedWorker('noop', noop, { connection, prefix, maxInFlight: concurrency, lockDuration: TUNING.lockDurationMs }, pino({ enabled: false }));
      await worker.start();
      close = () => worker.close();
    }
    await Promise.race([all, sleep(PHASE_TIMEOUT_MS)]);
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: completed / seconds, seconds };
  } finally {
    await close();
    await queue.close();
    await connection.quit().catch(() => connection.disconnect());
    await deletePrefix(prefix);
  }
}

// ------------------------------------------------------------------ what a phase costs

/** This process's CPU and event loop, and the (shared) Redis server's CPU and commands. */
interface Usage {
  cpuMs: number;
  /** CPU of each hub process (this one first), in `--processes` order. */
  cpuMsByProcess: number[];
  /** Event loop utilisation, 0..1. */
  elu: number;
  loopDelayP99Ms: number;
  redisCpuMs: number;
  redisCommands: number;
}

class UsageMeter {
  private cpu = process.cpuUsage();
  /** The hub's other processes, whose CPU counts too (see `--processes`). */
  pids: number[] = [];
  private workersCpuMs: number[] = [];
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private redisBase = { cpuMs: 0, commands: 0 };

  constructor(private readonly redis: Redis) {
    this.loop.enable();
  }

  private async redisNow(): Promise<{ cpuMs: number; commands: number }> {
    const info = await this.redis.info();
    const num = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return { cpuMs: (num('used_cpu_user') + num('used_cpu_sys')) * 1000, commands: num('total_commands_processed') };
  }

  async start(): Promise<void> {
    this.redisBase = await this.redisNow();
    this.cpu = process.cpuUsage();
    this.workersCpuMs = this.pids.map(processCpuMs);
    this.elu = performance.eventLoopUtilization();
    this.loop.reset();
  }

  async stop(): Promise<Usage> {
    const cpu = process.cpuUsage(this.cpu);
    const elu = performance.eventLoopUtilization(this.elu);
    const loopDelayP99Ms = this.loop.percentile(99) / 1e6;
    const redis = await this.redisNow();
    const cpuMsByProcess = [(cpu.user + cpu.system) / 1000, ...this.pids.map((pid, i) => processCpuMs(pid) - (this.workersCpuMs[i] ?? 0))];
    return {
      cpuMs: cpuMsByProcess.reduce((sum, ms) => sum + ms, 0),
      cpuMsByProcess,
      elu: elu.utilization,
      loopDelayP99Ms,
      redisCpuMs: redis.cpuMs - this.redisBase.cpuMs,
      redisCommands: redis.commands - this.redisBase.commands,
    };
  }

  close(): void {
    this.loop.disable();
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const rss = new RssSampler();
  const infoRedis = new Redis(REDIS_URL);
  const meter = new UsageMeter(infoRedis);
  const dir = mkdtempSync(join(tmpdir(), 'concord-bench-'));
  const prefix = `{bench-${randomBytes(5).toString('hex')}}`;
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  let bench: Bench | null = null;
  try {
    console.log(
      `Concord sync engine benchmark: ${PROFILES} profiles, ${CHANGES} changes by webhook, fan-out to 3 targets, SQLite, ` +
        `maxBatch ${MAX_BATCH}, at most ${WINDOW} webhooks in flight; ${process.platform} ${process.arch}, Node ${process.version}`,
    );
    console.log(
      `engine tuning: production defaults (ingestConcurrency ${TUNING.ingestConcurrency}, ingestBatchSize ${TUNING.ingestBatchSize}, ` +
        `flushDelayMs ${TUNING.flushDelayMs}, relayDelayMs ${TUNING.relayDelayMs}); push concurrency 4 per target`,
    );
    console.log(
      `hub processes (--processes): ${LAYOUT_TEXT}` +
        (LAYOUT.length > 1 ? ' (the first is this process, with the systems; the others reach them over loopback HTTP)' : ' (one process, as concord start --role all)'),
    );
    console.log(`machine load average at start (1, 5, 15 min): ${load()} (the machine is shared: figures move with it)`);

    const raw = await rawBullmq('worker', RAW_JOBS, TUNING.ingestConcurrency);
    console.log(
      `\n[0. raw BullMQ] ${RAW_JOBS} no-op jobs, one Worker, concurrency ${TUNING.ingestConcurrency}: ${fmt(raw.perSecond)} jobs/s (${fmt(raw.seconds, 2)} s)`,
    );
    const ordered = await rawBullmq('ordered', RAW_JOBS, TUNING.ingestConcurrency);
    console.log(
      `  the engine's ingest worker loop (OrderedWorker, in queue order, ${TUNING.ingestConcurrency} in flight), no-op jobs: ` +
        `${fmt(ordered.perSecond)} jobs/s (${fmt(ordered.seconds, 2)} s)`,
    );

    bench = await startBench(prefix, `sqlite:${join(dir, 'bench.db')}`);
    const b = bench;
    meter.pids = b.workerPids;
    const idleRss = process.memoryUsage.rss();
    const stream = new ChangeStream(b, Number(args.seed));

    const seed = await runPhase(b, rss, meter, 'seed', async () => {
      for (let p = 0; p < PROFILES; p++) {
        await stream.room();
        stream.change(p, true);
      }
    });
    printPhase(`1. seed: ${PROFILES} new people created in src`, seed, 'creates');
    if (!seed.finished) return 1;

    const throughput = await runPhase(b, rss, meter, 'throughput', async () => {
      for (let i = 0; i < CHANGES; i++) {
        await stream.room();
        stream.change(stream.pick());
      }
    });
    printPhase(`2. throughput: ${CHANGES} changes to random people, offered as fast as accepted`, throughput, 'changes');

    const rate = Math.max(1, LOAD * throughput.perSecond);
    const pacedTotal = Math.max(1, Math.round(rate * PACED_SECONDS));
    let next = 0;
    const paced = throughput.finished
      ? await runPhase(b, rss, meter, 'paced', async () => {
          const started = performance.now();
          let sent = 0;
          while (sent < pacedTotal) {
            const due = Math.min(pacedTotal, Math.floor((rate * (performance.now() - started)) / 1000) + 1);
            while (sent < due) {
              await stream.room();
              // Round robin: nobody changes twice in the phase unless it offers more changes than there are people.
              stream.change(next);
              next = (next + 1) % PROFILES;
              sent++;
            }
            await sleep(2);
          }
        })
      : null;
    if (paced) {
      printPhase(`3. latency: ${pacedTotal} changes paced at ${fmt(LOAD * 100)} % of phase 2 (${fmt(rate)}/s for ${PACED_SECONDS} s)`, paced, 'changes');
    }

    const t = b.tracker;
    console.log(`\n[checks] refused webhooks ${b.refused.length}, duplicate records pushed ${t.duplicates}, older-over-newer ${t.regressions}, untracked records ${t.untracked}`);
    if (b.refused.length > 0) console.log(`  first refusal: ${b.refused[0]}`);

    const ratio = throughput.perSecond / raw.perSecond;
    const maxRss = process.resourceUsage().maxRSS * 1024;
    const callsList = throughput.calls.map((c) => `${c.target} ${fmt(c.perRecord, 4)}`).join(', ');
    console.log('\n[summary]');
    console.log(`  changes per second end to end (phase 2):   ${fmt(throughput.perSecond)} (${fmt(throughput.usage.cpuMs / throughput.phase.completed, 2)} ms CPU per change)`);
    if (paced) {
      console.log(`  webhook-to-delivered at ${fmt(paced.offeredPerSecond)}/s offered:   p50 ${fmt(paced.p50)} ms, p99 ${fmt(paced.p99)} ms`);
    }
    console.log(`  API calls per record (phase 2):            ${callsList}`);
    console.log(`  peak RSS (process):                        ${mb(maxRss)} (hub started and idle: ${mb(idleRss)}; includes the 4 in-memory systems)`);
    b.workerPids.forEach((pid, i) => {
      const roles = CHILD_ROLES[i];
      console.log(`  peak RSS of the ${roles ? formatRoles(roles) : 'other'} process:  ${mb(peakRssOf(pid))}`);
    });
    console.log(`  raw BullMQ no-op jobs per second:          ${fmt(raw.perSecond)}`);
    console.log(`  hub/raw:                                   ${fmt(ratio, 3)} (changes/s over no-op jobs/s)`);
    console.log(`  machine load average at the end:           ${load()}`);

    const rateOk = throughput.finished && throughput.perSecond >= FLOOR_CHANGES_PER_S;
    const callsOk = throughput.finished && throughput.calls.every((c) => c.perRecord <= FLOOR_CALLS_PER_RECORD);
    const cleanOk = b.refused.length === 0 && t.regressions === 0 && (paced?.finished ?? false);
    console.log(`\n[floor, SQLite, phase 2, hub processes ${LAYOUT_TEXT}]`);
    console.log(`  >= ${FLOOR_CHANGES_PER_S} changes/s fanned out to 3 systems: ${fmt(throughput.perSecond)} -> ${rateOk ? 'PASS' : 'FAIL'}`);
    console.log(`  API calls per record <= 1.05 / ${MAX_BATCH} = ${fmt(FLOOR_CALLS_PER_RECORD, 4)}: ${callsList} -> ${callsOk ? 'PASS' : 'FAIL'}`);
    // A batch goes out full, or partial once its oldest profile has waited flushDelayMs: when a
    // full batch takes about that long to gather, partial batches are expected.
    const fillMs = (MAX_BATCH / throughput.perSecond) * 1000;
    console.log(
      `  (at ${fmt(throughput.perSecond)} changes/s a ${MAX_BATCH}-record batch gathers in ${fmt(fillMs)} ms against flushDelayMs ${TUNING.flushDelayMs}: ` +
        `${fillMs < TUNING.flushDelayMs / 2 ? 'batches fill before the timer' : 'the timer sends partial batches'}; ${throughput.calls.map((c) => `${c.target} ${c.partial}`).join(', ')} partial)`,
    );
    console.log(`  FLOOR: ${rateOk && callsOk ? 'PASS' : 'FAIL'}${cleanOk ? '' : ' (and the run was not clean: see above)'}`);
    return rateOk && callsOk && cleanOk ? 0 : 1;
  } finally {
    rss.stop();
    meter.close();
    await bench?.close();
    await deletePrefix(prefix);
    await infoRedis.quit().catch(() => infoRedis.disconnect());
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();

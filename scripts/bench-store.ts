/**
 * Store benchmark: patches per second and latency percentiles on SQLite and PostgreSQL,
 * one patch per transaction and 100 patches per transaction (`applyPatches`).
 *
 *   npm run bench:store [-- --seconds 6 --batch 100 --dialect both --profiles 200 --pg postgres://postgres@127.0.0.1:5432/test]
 *
 * `--callers N`: N transactions in flight at once (default 1), each caller starting its next as its
 * last one ends, each with people of its own (the hub's ingest keeps one record's changes in one
 * lane; `ingestBatchConcurrency`, 4, batches at once), so `--callers 4` approximates the ingest's
 * concurrency (the relay's and the pushes' transactions are not here). SQLite takes one writer at
 * a time (in one process the callers queue for the store's one connection); PostgreSQL runs them
 * side by side, so one caller's planning overlaps another's statements. A transaction's latency
 * includes that queueing. `retried` counts the attempts the store began again after losing a race
 * (its `store transaction retried` line; SQLite's checkpointer holding the write lock counts too).
 * `--profiles N`: the store holds at least N people before the measured runs (the warm-up's,
 * then new ones in batches of 500), so that updates land in a table of that size: a statement whose
 * cost grows with its table shows here, not at the default 200.
 * The patch mix: 30% create a new profile, 70% update an existing one; about a third carry
 * a consent change, a quarter a subscription change, half a shadow observation; every
 * applied patch writes outbox rows for 3 target connectors. Each dialect runs on a fresh
 * database (a temporary SQLite file, a throw-away PostgreSQL database) that is dropped after.
 * `stmts/patch` counts the statements sent per patch (BEGIN and COMMIT included): on
 * PostgreSQL each is a network round trip, on SQLite a call into the library.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { countStatements } from '../harness/statement-count.js';
import { retryCountingLogger } from './bench/waits.js';
import type { StatementCounter } from '../harness/statement-count.js';
import { MergePolicy, ProfilePatch } from '../src/profile/schema.js';
import { openStore } from '../src/store/index.js';
import type { ApplyOptions, Store } from '../src/store/index.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    batch: { type: 'string', default: '100' },
    dialect: { type: 'string', default: 'both' },
    profiles: { type: 'string', default: '200' },
    callers: { type: 'string', default: '1' },
    pg: { type: 'string', default: process.env.CONCORD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const SECONDS = Number(args.seconds);
const BATCH = Number(args.batch);
const PROFILES = Number(args.profiles);
const CALLERS = Number(args.callers);
if (!/^[1-9]\d*$/.test(args.callers) || !Number.isSafeInteger(CALLERS)) throw new Error('--callers is a whole number, 1 or more');
if (!/^\d+$/.test(args.profiles) || !Number.isSafeInteger(PROFILES)) throw new Error('--profiles is a whole number');
const DIALECTS = args.dialect === 'both' ? ['sqlite', 'postgres'] : [args.dialect];
if (!DIALECTS.every((d) => d === 'sqlite' || d === 'postgres')) throw new Error('--dialect is sqlite, postgres or both');

const POLICY = MergePolicy.parse({
  priorities: { salesforce: 20, hubspot: 10, segment: 5 },
  purposes: {
    marketing: { authorities: ['hubspot', 'salesforce', 'preference_center'] },
    analytics: { policy: 'most-restrictive' },
  },
});
const TARGETS = ['hubspot', 'salesforce', 'mailchimp'];
const SOURCES = ['hubspot', 'salesforce', 'segment', 'preference_center'];

/** Generates the realistic mix; remembers the e-mails it has created so far. */
class PatchMix {
  #known: string[] = [];
  #n = 0;
  #clock = Date.parse('2026-01-01T00:00:00.000Z');
  readonly #tag = randomBytes(3).toString('hex');

  /** People created so far. */
  get known(): number {
    return this.#known.length;
  }

  /** The next patch of the mix; `create`: a new person. */
  next(create = false): { patch: ProfilePatch; options?: ApplyOptions } {
    this.#n += 1;
    this.#clock += 1000;
    const existing = !create && this.#known.length > 0 && Math.random() < 0.7;
    const email = existing
      ? (this.#known[Math.floor(Math.random() * this.#known.length)] ?? '')
      : `person${this.#n}.${this.#tag}@bench.example`;
    if (!existing) this.#known.push(email);
    const source = SOURCES[this.#n % SOURCES.length] ?? 'hubspot';
    const at = new Date(this.#clock).toISOString();
    const identities: ProfilePatch['identities'] = [{ kind: 'email', value: email }];
    if (!existing && Math.random() < 0.5) identities.push({ kind: 'external', value: `ext-${this.#tag}-${this.#n}`, system: source });
    const patch = ProfilePatch.parse({
      id: `bench-${this.#tag}-${this.#n}`,
      source,
      at,
      receivedAt: at,
      identities,
      attributes: { firstName: `Name${this.#n % 97}`, lastName: `Family${this.#n % 89}`, score: this.#n % 100 },
      consents:
        Math.random() < 0.35
          ? { marketing: { email: { status: Math.random() < 0.5 ? 'granted' : 'denied', evidence: { method: 'form' } } } }
          : {},
      subscriptions: Math.random() < 0.25 ? { newsletter: Math.random() < 0.5 } : {},
    });
    const options: ApplyOptions | undefined =
      Math.random() < 0.5
        ? { observed: { connector: source, externalId: `ext-${email}`, values: { firstname: patch.attributes.firstName ?? null } } }
        : undefined;
    return options ? { patch, options } : { patch };
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Row {
  dialect: string;
  mode: string;
  patches: number;
  perSecond: number;
  p50: number;
  p99: number;
  statementsPerPatch: number;
  retried: number;
}

async function measure(
  label: { dialect: string; mode: string },
  size: number,
  step: (items: { patch: ProfilePatch; options?: ApplyOptions }[]) => Promise<unknown>,
  mixes: readonly PatchMix[],
  counter: StatementCounter,
  retries: { retries: number },
): Promise<Row> {
  const latencies: number[] = [];
  counter.reset();
  retries.retries = 0;
  let patches = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  let failed = false;
  const caller = async (mix: PatchMix): Promise<void> => {
    while (!failed && performance.now() < deadline) {
      const items = Array.from({ length: size }, () => mix.next());
      const t0 = performance.now();
      try {
        await step(items);
      } catch (error) {
        failed = true;
        throw error;
      }
      latencies.push(performance.now() - t0);
      patches += size;
    }
  };
  // Every caller ends before the store may close: one's failure stops the others' next step.
  const ended = await Promise.allSettled(mixes.map(caller));
  const failure = ended.find((e) => e.status === 'rejected');
  if (failure) throw failure.reason;
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const statementsPerPatch = counter.count / patches;
  return {
    ...label,
    patches,
    perSecond: patches / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statementsPerPatch,
    retried: retries.retries,
  };
}

async function bench(dialect: 'sqlite' | 'postgres', url: string): Promise<Row[]> {
  const retries = { retries: 0 };
  const store: Store = await openStore({
    url,
    policy: POLICY,
    outboxTargets: TARGETS,
    hashKey: 'bench-hash-key',
    logger: retryCountingLogger(retries),
  });
  const counter = countStatements();
  try {
    const mixes = Array.from({ length: CALLERS }, () => new PatchMix());
    const known = (): number => mixes.reduce((sum, mix) => sum + mix.known, 0);
    // Warm up (JIT, statement caches, some existing profiles for the update share).
    for (let i = 0; i < 200; i++) {
      const item = mixes[i % CALLERS]?.next();
      if (item) await store.applyPatch(item.patch, item.options);
    }
    const seeding = performance.now();
    for (let i = 0; known() < PROFILES; i++) {
      const mix = mixes[i % CALLERS];
      const size = Math.min(500, PROFILES - known());
      if (mix) await store.applyPatches(Array.from({ length: size }, () => mix.next(true)));
    }
    console.log(
      `${dialect}: ${known()} people stored before the runs (${((performance.now() - seeding) / 1000).toFixed(1)} s to store them)`,
    );
    const single = await measure(
      { dialect, mode: 'single (1 patch/tx)' },
      1,
      async ([item]) => {
        if (item) await store.applyPatch(item.patch, item.options);
      },
      mixes,
      counter,
      retries,
    );
    const batched = await measure(
      { dialect, mode: `batched (${BATCH} patches/tx)` },
      BATCH,
      (items) => store.applyPatches(items),
      mixes,
      counter,
      retries,
    );
    return [single, batched];
  } finally {
    counter.stop();
    await store.close();
  }
}

async function withPgDatabase<T>(adminUrl: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `concord_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return await fn(url.toString());
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  if (DIALECTS.includes('sqlite')) {
    const dir = mkdtempSync(join(tmpdir(), 'concord-bench-'));
    try {
      rows.push(...(await bench('sqlite', `sqlite:${join(dir, 'bench.db')}`)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (DIALECTS.includes('postgres')) rows.push(...(await withPgDatabase(args.pg, (url) => bench('postgres', url))));

  console.log(
    `\nConcord store benchmark (${SECONDS}s per run, ${CALLERS} caller${CALLERS === 1 ? '' : 's'}, at least ${PROFILES} people stored first, mix: 30% new profiles, ~35% consent changes, 3 outbox targets)`,
  );
  console.log(
    `latency = one transaction (a single patch, or a whole batch)${CALLERS > 1 ? ', its wait for a connection included' : ''}; retried = attempts begun again\n`,
  );
  const header = ['dialect', 'mode', 'patches', 'patches/s', 'p50 ms', 'p99 ms', 'stmts/patch', 'retried'];
  const table = rows.map((r) => [
    r.dialect,
    r.mode,
    String(r.patches),
    r.perSecond.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.statementsPerPatch.toFixed(2),
    String(r.retried),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of table) console.log(line(row));
}

await main();

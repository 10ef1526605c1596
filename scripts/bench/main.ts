/**
 * Sync engine benchmark (issues 4 and 22, "Measure"). Prints figures and checks the floor;
 * asserts nothing else. Needs Redis on 127.0.0.1:6379 and, for PostgreSQL, the server on
 * 127.0.0.1:5432 (`bash scripts/services.sh`; CONCORD_TEST_PG_URL overrides
 * postgres://postgres@127.0.0.1:5432/test, where each run creates its own database).
 *
 *   npm run bench [-- --dialect both --profiles 2500 --changes 6000 --paced-seconds 10 --load 0.5 --isolated 20 --raw-jobs 20000
 *                     --processes api,push/ingest,relay,pull | --workers 1,2,4  --json bench.json  --waits]
 *   node --cpu-prof --import tsx scripts/bench/main.ts   # where the CPU goes (open the .cpuprofile in DevTools)
 *
 * A bench is one run per layout (`--processes`, or each of `--workers`) and dialect
 * (`--dialect sqlite|postgres|both`, default both): the same phases on each, SQLite then
 * PostgreSQL back to back for each layout, each run with its own raw BullMQ baseline, fresh
 * database (harness/db.ts: a SQLite file in a temporary directory, or a PostgreSQL database
 * `concord_t_<random>`, dropped at the end) and Redis prefix. The runs' figures close the output
 * side by side in one table (`table.ts`); `--json <file>` writes them all with the machine
 * (`results.ts`), which `npm run bench:charts` draws (`charts.ts`).
 *
 * `--workers N` (or a list, `1,2,4`) deploys an api-only process (this one) and N processes
 * with every other engine role (`ingest,relay,push,pull`), all on the same Redis prefix and
 * database: the scale-out layout. Duplicate pushes (a target receiving a (profile, change)
 * value it had already received), records that changed nothing at the target, and the warnings
 * and errors every hub process logged (`log-tally.ts`) are counted in every run and printed.
 *
 * `--processes` is the hub's deployment: the roles of each hub process (`concord start
 * --role ...`), separated by `/`. The first is this process, which must have `api`: it takes
 * the webhooks. The others are child processes (`hub-worker.ts`) on the same Redis prefix
 * and database; they reach the systems over a loopback HTTP bridge. The default,
 * `api,push/ingest,relay,pull`, is the documented 2-core deployment (`concord start --role
 * api,push` and `--role ingest,relay,pull,privacy`; the bench has no data-subject requests):
 * one Node process per core. `all` is one process (`concord start`), which uses one core.
 * CPU figures add up every hub process. In every layout
 * the hub runs as `concord start` would: the engine with
 * its production tuning (`EngineTuning` defaults: partial batches wait up to 1 s while busy, the
 * first change of an idle stage goes at once), a fresh
 * database, and a unique Redis prefix that is deleted at the end.
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
 *    targets) percentiles. One such phase per value of `--load` (a list: `0.25,0.5,0.75`).
 * 4. Isolated changes (`--isolated`, `isolated.ts`): single changes, each once the previous one
 *    was delivered and `--isolated-gap-ms` passed; webhook-to-delivered percentiles of a change
 *    that meets an idle hub (the first change of an idle stage goes at once).
 * API calls per record = upsert calls / records upserted, per target (every call the target
 * counted, including reads and pulls, is printed beside it). Each phase also prints what it
 * cost per change: CPU of this process, event-loop utilisation and delay, and the commands
 * and CPU of the Redis server (shared with whatever else runs on it), and the machine's busy
 * cores with the hub's, the local PostgreSQL server's and Redis's share of them (`measure.ts`). With `--waits`, also the
 * time every hub process spent waiting on Redis, the store and the vendors per change, the
 * calls made, and the store transactions retried (`waits.ts`; it wraps those boundaries, so it
 * is off by default). The hub is one Node
 * process, so its CPU per change bounds its throughput on one core.
 *
 * Floor (checked on phase 2 of every SQLite run, not on PostgreSQL): at least 1,000 changes per
 * second fanned out to the three systems, and API calls per record at most 1.05 / maxBatch in
 * every target. The exit code is 1 when the floor fails or a run is not clean (a phase does not
 * finish, a webhook is refused, an older value lands over a newer one), 2 on a bad option.
 *
 * The parts: `args.ts` and `options.ts` (the command line), `setup.ts` (systems, policy, connectors every hub
 * process shares), `deployment.ts` (the hub's processes and the systems), `hub-worker.ts` (a
 * child hub process), `workload.ts` (the change stream, the raw BullMQ baseline), `delivery.ts`
 * (when a change has reached every target), `measure.ts` (a phase's figures and what it cost),
 * `report.ts` (what is printed, the floor), `table.ts` (the runs side by side), `results.ts` (the JSON).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createTestDatabase } from '../../harness/db.js';
import type { TestDatabase } from '../../harness/db.js';
import { deletePrefix, REDIS_URL } from '../../harness/sync-hub.js';
import type { Dialect, Layout } from './args.js';
import { startBench } from './deployment.js';
import type { Bench } from './deployment.js';
import { peakRssOf, RssSampler, runPhase, UsageMeter } from './measure.js';
import type { PhaseReport } from './measure.js';
import { offerIsolated } from './isolated.js';
import { ARGS, CHANGES, ISOLATED, LOADS, PACED_SECONDS, PROFILES, RAW_JOBS, SEED, TUNING } from './options.js';
import { fmt, printChecks, printFloor, printHeader, printOrdered, printPhase, printRaw, printRunHeader, printSummary } from './report.js';
import { BENCH_FORMAT, figure, machineInfo, phaseJson } from './results.js';
import type { BenchFile, RunJson } from './results.js';
import { comparisonTable } from './table.js';
import { ChangeStream, rawBullmq } from './workload.js';

/** The phases on a started hub: seed, throughput, one latency phase per `--load`. */
async function phases(
  b: Bench,
  rss: RssSampler,
  meter: UsageMeter,
): Promise<{
  seed: PhaseReport;
  throughput: PhaseReport | null;
  paced: { load: number; report: PhaseReport }[];
  isolated: PhaseReport | null;
}> {
  const stream = new ChangeStream(b, SEED);
  const seed = await runPhase(b, rss, meter, 'seed', async () => {
    for (let p = 0; p < PROFILES; p++) {
      await stream.room();
      stream.change(p, true);
    }
  });
  printPhase(b.layout, `1. seed: ${PROFILES} new people created in src`, seed, 'creates');
  if (!seed.finished) return { seed, throughput: null, paced: [], isolated: null };

  const throughput = await runPhase(b, rss, meter, 'throughput', async () => {
    for (let i = 0; i < CHANGES; i++) {
      await stream.room();
      stream.change(stream.pick());
    }
  });
  printPhase(b.layout, `2. throughput: ${CHANGES} changes to random people, offered as fast as accepted`, throughput, 'changes');

  const paced: { load: number; report: PhaseReport }[] = [];
  let next = 0;
  for (const load of throughput.finished ? LOADS : []) {
    const rate = Math.max(1, load * throughput.perSecond);
    const pacedTotal = Math.max(1, Math.round(rate * PACED_SECONDS));
    const report = await runPhase(b, rss, meter, `paced ${load}`, async () => {
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
    });
    printPhase(
      b.layout,
      `3. latency: ${pacedTotal} changes paced at ${fmt(load * 100)} % of phase 2 (${fmt(rate)}/s for ${PACED_SECONDS} s)`,
      report,
      'changes',
    );
    paced.push({ load, report });
    if (!report.finished) break;
  }
  const pacedDone = throughput.finished && paced.every((p) => p.report.finished);
  const isolated = pacedDone && ISOLATED > 0 ? await runPhase(b, rss, meter, 'isolated', (phase) => offerIsolated(stream, phase)) : null;
  if (isolated) printPhase(b.layout, `4. isolated: ${ISOLATED} single changes, each to an idle hub`, isolated, 'changes');
  return { seed, throughput, paced, isolated };
}

/** One run: the raw baseline, then the hub on a fresh database and Redis prefix, deployed as `layout`. */
async function run(dialect: Dialect, layout: Layout, rss: RssSampler, meter: UsageMeter): Promise<RunJson> {
  printRunHeader(dialect, layout);
  const raw = await rawBullmq('worker', RAW_JOBS, TUNING.ingestConcurrency);
  printRaw(raw);
  const ordered = await rawBullmq('ordered', RAW_JOBS, TUNING.ingestConcurrency);
  printOrdered(ordered);

  const prefix = `{bench-${randomBytes(5).toString('hex')}}`;
  let db: TestDatabase | null = null;
  let bench: Bench | null = null;
  try {
    db = await createTestDatabase(dialect).catch((err: unknown) => {
      const hint = dialect === 'postgres' ? ' (is PostgreSQL up? bash scripts/services.sh; or --dialect sqlite)' : '';
      throw new Error(`no ${dialect} database for the run${hint}: ${err instanceof Error ? err.message : String(err)}`);
    });
    bench = await startBench(prefix, db.url, layout, ARGS.waits);
    const b = bench;
    meter.pids = b.workerPids;
    meter.waits = () => b.waits();
    const stats = db;
    meter.deadlocks =
      dialect === 'postgres'
        ? async () =>
            Number(
              (await stats.query<{ n: string }>('select deadlocks as n from pg_stat_database where datname = current_database()'))[0]?.n ??
                Number.NaN,
            )
        : null;
    const idleRss = process.memoryUsage.rss();
    const { seed, throughput, paced, isolated } = await phases(b, rss, meter);
    const firstPaced = paced[0]?.report ?? null;

    printChecks(b);
    if (throughput) printSummary(b, { throughput, paced: firstPaced, raw, idleRss });
    const clean =
      b.refused.length === 0 &&
      b.tracker.regressions === 0 &&
      seed.finished &&
      (throughput?.finished ?? false) &&
      paced.length === LOADS.length &&
      paced.every((p) => p.report.finished) &&
      (ISOLATED === 0 || (isolated?.finished ?? false));
    const floor = dialect === 'sqlite' && throughput ? printFloor(layout, throughput, clean) : null;
    const reports = [seed, throughput, ...paced.map((p) => p.report), isolated].filter((r): r is PhaseReport => r !== null);
    return {
      dialect,
      workers: layout.workers,
      processes: 1 + layout.children.length,
      layout: layout.text,
      raw: { perSecond: figure(raw.perSecond), seconds: figure(raw.seconds) },
      ordered: { perSecond: figure(ordered.perSecond), seconds: figure(ordered.seconds) },
      seed: phaseJson(seed, null),
      throughput: throughput ? phaseJson(throughput, null) : null,
      paced: paced.map((p) => phaseJson(p.report, p.load)),
      isolated: isolated ? phaseJson(isolated, null) : null,
      checks: {
        refused: b.refused.length,
        duplicates: b.tracker.duplicates,
        unchanged: b.tracker.unchanged,
        regressions: b.tracker.regressions,
        untracked: b.tracker.untracked,
        logged: Object.fromEntries(b.logs.byKind),
      },
      summary: {
        changesPerSecond: figure(throughput?.perSecond ?? Number.NaN),
        hubRaw: figure((throughput?.perSecond ?? Number.NaN) / raw.perSecond),
        cpuMsPerChange: figure(throughput ? throughput.usage.cpuMs / throughput.phase.completed : Number.NaN),
        callsPerRecordMax: figure(Math.max(...(throughput?.calls.map((c) => c.perRecord) ?? [Number.NaN]))),
        p50: figure(firstPaced?.p50 ?? Number.NaN),
        p99: figure(firstPaced?.p99 ?? Number.NaN),
      },
      peakRssBytes: {
        api: figure(Math.max(...reports.map((r) => r.peakRss))),
        children: b.workerPids.map((pid) => figure(peakRssOf(pid))),
      },
      floor,
      clean,
    };
  } finally {
    meter.waits = null;
    meter.deadlocks = null;
    await bench?.close();
    await deletePrefix(prefix);
    await db?.drop();
  }
}

async function main(): Promise<number> {
  const machine = machineInfo();
  const rss = new RssSampler();
  const infoRedis = new Redis(REDIS_URL);
  const meter = new UsageMeter(infoRedis);
  const runs: RunJson[] = [];
  try {
    printHeader();
    for (const layout of ARGS.layouts) {
      for (const dialect of ARGS.dialects) runs.push(await run(dialect, layout, rss, meter));
    }
    console.log('\n[side by side]');
    for (const line of comparisonTable(runs)) console.log(line);
    return runs.every((r) => r.clean && (r.floor?.pass ?? true)) ? 0 : 1;
  } finally {
    if (ARGS.json !== null) {
      const file: BenchFile = {
        format: BENCH_FORMAT,
        machine: { ...machine, loadAverageEnd: loadavg() },
        options: {
          ...ARGS,
          layouts: ARGS.layouts.map((l) => l.text),
          workers: ARGS.layouts.map((l) => l.workers),
        },
        runs,
      };
      writeFileSync(ARGS.json, `${JSON.stringify(file, null, 2)}\n`);
      console.log(`\nfigures written to ${ARGS.json}`);
    }
    rss.stop();
    meter.close();
    await infoRedis.quit().catch(() => infoRedis.disconnect());
  }
}

process.exitCode = await main();

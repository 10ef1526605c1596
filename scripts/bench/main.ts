/**
 * Sync engine benchmark (issue 4, "Measure"). Prints figures and checks the floor; asserts
 * nothing else. Needs Redis on 127.0.0.1:6379 (`bash scripts/services.sh`).
 *
 *   npm run bench [-- --profiles 2500 --changes 6000 --paced-seconds 10 --load 0.5 --isolated 20 --raw-jobs 20000 --processes api,push/ingest,relay,pull]
 *   node --cpu-prof --import tsx scripts/bench/main.ts   # where the CPU goes (open the .cpuprofile in DevTools)
 *
 * `--processes` is the hub's deployment: the roles of each hub process (`concord start
 * --role ...`), separated by `/`. The first is this process, which must have `api`: it takes
 * the webhooks. The others are child processes (`hub-worker.ts`) on the same Redis prefix
 * and SQLite file; they reach the systems over a loopback HTTP bridge. The default,
 * `api,push/ingest,relay,pull`, is the documented 2-core deployment (`concord start --role
 * api,push` and `--role ingest,relay,pull,privacy`; the bench has no data-subject requests):
 * one Node process per core. `all` is one process (`concord start`), which uses one core.
 * CPU figures add up every hub process. In every layout
 * the hub runs as `concord start` would: the engine with
 * its production tuning (`EngineTuning` defaults: partial batches wait up to 1 s while busy, the first change of an idle stage goes at once), a fresh
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
 * 4. Isolated changes (`--isolated`, `isolated.ts`): single changes, each once the previous one
 *    was delivered and `--isolated-gap-ms` passed; webhook-to-delivered percentiles of a change
 *    that meets an idle hub.
 * API calls per record = upsert calls / records upserted, per target (every call the target
 * counted, including reads and pulls, is printed beside it). Each phase also prints what it
 * cost per change: CPU of this process, event-loop utilisation and delay, and the commands
 * and CPU of the Redis server (shared with whatever else runs on it). The hub is one Node
 * process, so its CPU per change bounds its throughput on one core.
 *
 * Floor (checked on phase 2, SQLite): at least 1,000 changes per second fanned out to the three
 * systems, and API calls per record at most 1.05 / maxBatch in every target. The exit code is 1
 * when the floor fails or a phase does not finish.
 *
 * The parts: `options.ts` (the command line), `setup.ts` (systems, policy, connectors every hub
 * process shares), `deployment.ts` (the hub's processes and the systems), `hub-worker.ts` (a
 * child hub process), `workload.ts` (the change stream, the raw BullMQ baseline), `delivery.ts`
 * (when a change has reached every target), `measure.ts` (a phase's figures and what it cost),
 * `report.ts` (what is printed, the floor).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { deletePrefix, REDIS_URL } from '../../harness/sync-hub.js';
import { startBench } from './deployment.js';
import type { Bench } from './deployment.js';
import { RssSampler, runPhase, UsageMeter } from './measure.js';
import { offerIsolated } from './isolated.js';
import { CHANGES, ISOLATED, LOAD, PACED_SECONDS, PROFILES, RAW_JOBS, SEED, TUNING } from './options.js';
import { fmt, printChecks, printFloor, printHeader, printOrdered, printPhase, printRaw, printSummary } from './report.js';
import { ChangeStream, rawBullmq } from './workload.js';

async function main(): Promise<number> {
  const rss = new RssSampler();
  const infoRedis = new Redis(REDIS_URL);
  const meter = new UsageMeter(infoRedis);
  const dir = mkdtempSync(join(tmpdir(), 'concord-bench-'));
  const prefix = `{bench-${randomBytes(5).toString('hex')}}`;
  let bench: Bench | null = null;
  try {
    printHeader();

    const raw = await rawBullmq('worker', RAW_JOBS, TUNING.ingestConcurrency);
    printRaw(raw);
    const ordered = await rawBullmq('ordered', RAW_JOBS, TUNING.ingestConcurrency);
    printOrdered(ordered);

    bench = await startBench(prefix, `sqlite:${join(dir, 'bench.db')}`);
    const b = bench;
    meter.pids = b.workerPids;
    const idleRss = process.memoryUsage.rss();
    const stream = new ChangeStream(b, SEED);

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
      printPhase(
        `3. latency: ${pacedTotal} changes paced at ${fmt(LOAD * 100)} % of phase 2 (${fmt(rate)}/s for ${PACED_SECONDS} s)`,
        paced,
        'changes',
      );
    }

    const isolated =
      paced?.finished && ISOLATED > 0 ? await runPhase(b, rss, meter, 'isolated', (phase) => offerIsolated(stream, phase)) : null;
    if (isolated) printPhase(`4. isolated: ${ISOLATED} single changes, each to an idle hub`, isolated, 'changes');

    printChecks(b);
    printSummary(b, { throughput, paced, raw, idleRss });
    const cleanOk =
      b.refused.length === 0 &&
      b.tracker.regressions === 0 &&
      (paced?.finished ?? false) &&
      (ISOLATED === 0 || (isolated?.finished ?? false));
    return printFloor(throughput, cleanOk) ? 0 : 1;
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

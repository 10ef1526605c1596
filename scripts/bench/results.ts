/**
 * The benchmark's JSON output (`npm run bench -- --json <file>`), which `charts.ts` draws:
 * the machine, the options, and every figure of each run (one per dialect and layout).
 * Measured figures that could not be computed (nothing delivered, no phase) are `null`.
 *
 * Two optional sections are for other benches to fill, and the charts draw them when present:
 * `backfills` (RSS sampled over a backfill) and `vendorCalls` (API calls per record per vendor
 * against the vendor's ceiling).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { z } from 'zod';
import { Dialect } from './args.js';
import type { PhaseReport } from './measure.js';
import { WaitTotals } from './waits.js';
import { RedisCommandStat } from './redis-commands.js';

/** A measured number; `null` when it could not be measured (JSON has no NaN). */
const Figure = z.number().nullable();

export const CallsJson = z.object({
  target: z.string(),
  upserts: z.number(),
  calls: z.number(),
  records: z.number(),
  partial: z.number(),
  perRecord: Figure,
  allPerRecord: Figure,
  echoes: z.number(),
});

export const UsageJson = z.object({
  cpuMs: Figure,
  cpuMsByProcess: z.array(Figure),
  elu: Figure,
  loopDelayP99Ms: Figure,
  redisCpuMs: Figure,
  redisCommands: Figure,
  /** `--waits`: the hub processes' calls to Redis, the store and the vendors, added up (absent without it, and from older files). */
  waits: WaitTotals.nullable().optional(),
  /** The same by process, this one first. */
  waitsByProcess: z.array(WaitTotals).nullable().optional(),
  /** PostgreSQL: deadlocks in the run's database during the phase; null on SQLite (absent from older files). */
  deadlocks: Figure.optional(),
  /** Busy CPU of the whole machine in the phase, every process (absent from older files). */
  machineCpuMs: Figure.optional(),
  /** Of it, CPU the hypervisor gave other guests (steal; absent from older files). */
  stolenCpuMs: Figure.optional(),
  /** CPU of the PostgreSQL server's processes on this machine in the phase (absent from older files). */
  postgresCpuMs: Figure.optional(),
  /** Redis's commands by name in the phase, busiest first (`INFO commandstats`; absent from older files). */
  redisByCommand: z.array(RedisCommandStat).optional(),
});

export const PhaseJson = z.object({
  name: z.string(),
  finished: z.boolean(),
  issued: z.number(),
  completed: z.number(),
  seconds: Figure,
  perSecond: Figure,
  offeredPerSecond: Figure,
  /** A latency phase's offered rate as a share of the throughput phase's (`--load`); null for the others. */
  load: Figure,
  p50: Figure,
  p90: Figure,
  p99: Figure,
  max: Figure,
  duplicates: z.number(),
  /** Records that changed nothing at the target (duplicates included); absent from files written before it was counted. */
  unchanged: z.number().optional(),
  cpuMsPerChange: Figure,
  peakRssBytes: Figure,
  calls: z.array(CallsJson),
  usage: UsageJson,
});
export type PhaseJson = z.infer<typeof PhaseJson>;

export const RawJson = z.object({ perSecond: Figure, seconds: Figure });

export const RunJson = z.object({
  dialect: Dialect,
  /** `--workers N`, or null for a `--processes` layout. */
  workers: z.number().int().positive().nullable(),
  /** Hub processes in all (the api process and its children). */
  processes: z.number().int().positive(),
  layout: z.string(),
  raw: RawJson,
  ordered: RawJson,
  seed: PhaseJson.nullable(),
  throughput: PhaseJson.nullable(),
  paced: z.array(PhaseJson),
  /** Phase 4: single changes, each to an idle hub (null without `--isolated`). */
  isolated: PhaseJson.nullable().default(null),
  checks: z.object({
    refused: z.number(),
    duplicates: z.number(),
    /** Records that changed nothing at the target (duplicates included); absent from files written before it was counted. */
    unchanged: z.number().optional(),
    regressions: z.number(),
    untracked: z.number(),
    /** Warnings and errors the hub processes logged, by `message (error code)`; absent from older files. */
    logged: z.record(z.string(), z.number()).optional(),
  }),
  /** Phase 2 figures and phase 3's latency (first load). */
  summary: z.object({
    changesPerSecond: Figure,
    hubRaw: Figure,
    cpuMsPerChange: Figure,
    callsPerRecordMax: Figure,
    p50: Figure,
    p99: Figure,
  }),
  peakRssBytes: z.object({ api: Figure, children: z.array(Figure) }),
  /** The floor (SQLite runs only; null on PostgreSQL). */
  floor: z.object({ rateOk: z.boolean(), callsOk: z.boolean(), pass: z.boolean() }).nullable(),
  /** The run finished every phase, with no refused webhook and no older-over-newer value. */
  clean: z.boolean(),
});
export type RunJson = z.infer<typeof RunJson>;

export const MachineJson = z.object({
  cpus: z.number(),
  cpuModel: z.string(),
  node: z.string(),
  platform: z.string(),
  arch: z.string(),
  totalMemoryBytes: z.number(),
  /** ISO date of the start of the run. */
  date: z.string(),
  loadAverageStart: z.array(z.number()),
  loadAverageEnd: z.array(z.number()),
  /** `NODE_OPTIONS` of the run (hub processes inherit it: V8's heap flags, docs/DEPLOY.md "Memory"); absent in files written before it was added (session24-default.json included; written by hand into backfill-1m-sqlite-heap256-semi32.json). */
  nodeOptions: z.string().optional(),
});
export type MachineJson = z.infer<typeof MachineJson>;

/** RSS sampled over a backfill (for another bench to fill; charted when present). */
export const BackfillJson = z.object({
  label: z.string(),
  dialect: Dialect.optional(),
  /** The hub's V8 old space limit (`--max-old-space-size`, MB) when the bench set one (`--heap-mb`). */
  heapMb: z.number().int().positive().optional(),
  samples: z.array(
    z.object({
      seconds: z.number(),
      rssBytes: z.number(),
      /** Records stored by then (`npm run bench:backfill`). */
      records: z.number().optional(),
      /** The V8 heap in use, as the hub last reported it (`npm run bench:backfill`). */
      heapUsedBytes: z.number().optional(),
    }),
  ),
  /** The backfill's figures (`npm run bench:backfill`; `backfill/figures.ts`). */
  figures: z
    .object({
      profiles: z.number(),
      seconds: Figure,
      profilesPerSecond: Figure,
      peakRssBytes: Figure,
      /** RSS when 25, 50, 75 and 100 % of the records were stored. */
      rssAtBytes: z.array(Figure),
      /** RSS growth over the second half of the records, MB per 100,000 (least squares): flat is about 0. */
      slopeMbPer100k: Figure,
      /** Records of the system the hub links to a profile at the end. */
      linked: z.number(),
      finished: z.boolean(),
    })
    .optional(),
});
export type BackfillJson = z.infer<typeof BackfillJson>;

/** API calls per record of one vendor against its ceiling (for the connector benches to fill; charted when present). */
export const VendorCallsJson = z.object({
  vendor: z.string(),
  callsPerRecord: z.number(),
  ceilingPerRecord: z.number(),
});
export type VendorCallsJson = z.infer<typeof VendorCallsJson>;

export const BENCH_FORMAT = 'concord-bench/1';

export const BenchFile = z.object({
  format: z.literal(BENCH_FORMAT),
  machine: MachineJson,
  /** The command line, as given (`--processes`/`--workers` as layout texts). */
  options: z.record(z.string(), z.unknown()),
  runs: z.array(RunJson).default([]),
  backfills: z.array(BackfillJson).optional(),
  vendorCalls: z.array(VendorCallsJson).optional(),
});
export type BenchFile = z.infer<typeof BenchFile>;
export type BenchFileInput = z.input<typeof BenchFile>;

/** The machine the run is on (the load average at the end is filled in when the file is written). */
export function machineInfo(date = new Date()): MachineJson {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    totalMemoryBytes: totalmem(),
    date: date.toISOString(),
    loadAverageStart: loadavg(),
    loadAverageEnd: [],
    nodeOptions: process.env['NODE_OPTIONS'] ?? '',
  };
}

/**
 * The semi-space (MB) a `NODE_OPTIONS` value gives V8: the last such flag, as V8 takes it, in
 * either spelling (`--max-semi-space-size=32`, `--max_semi_space_size=32`); none when it sets none.
 */
export function semiSpaceMbOf(nodeOptions: string): number | undefined {
  const last = [...nodeOptions.matchAll(/(?:^|\s)["']?--max[-_]semi[-_]space[-_]size=(\d+)/g)].at(-1)?.[1];
  return last === undefined ? undefined : Number(last);
}

/** A number as JSON holds it: non-finite becomes null. */
export const figure = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** A phase's figures as JSON (`load`: a latency phase's share of the throughput, else null). */
export function phaseJson(r: PhaseReport, load: number | null): PhaseJson {
  const u = r.usage;
  return {
    name: r.phase.name,
    finished: r.finished,
    issued: r.phase.issued,
    completed: r.phase.completed,
    seconds: figure(r.seconds),
    perSecond: figure(r.perSecond),
    offeredPerSecond: figure(r.offeredPerSecond),
    load,
    p50: figure(r.p50),
    p90: figure(r.p90),
    p99: figure(r.p99),
    max: figure(r.max),
    duplicates: r.phase.duplicates,
    unchanged: r.phase.unchanged,
    cpuMsPerChange: figure(u.cpuMs / r.phase.completed),
    peakRssBytes: figure(r.peakRss),
    calls: r.calls.map((c) => ({ ...c, perRecord: figure(c.perRecord), allPerRecord: figure(c.allPerRecord) })),
    usage: {
      cpuMs: figure(u.cpuMs),
      cpuMsByProcess: u.cpuMsByProcess.map(figure),
      elu: figure(u.elu),
      loopDelayP99Ms: figure(u.loopDelayP99Ms),
      redisCpuMs: figure(u.redisCpuMs),
      redisCommands: figure(u.redisCommands),
      waits: u.waits,
      waitsByProcess: u.waitsByProcess,
      deadlocks: u.deadlocks,
      machineCpuMs: figure(u.machineCpuMs),
      stolenCpuMs: figure(u.stolenCpuMs),
      postgresCpuMs: figure(u.postgresCpuMs),
      redisByCommand: u.redisByCommand,
    },
  };
}

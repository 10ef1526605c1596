/**
 * What a phase measures: changes delivered and their latency, API calls per record per target,
 * CPU of every hub process, event-loop utilisation and delay, peak RSS, and the (shared) Redis
 * server's commands and CPU.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { MemoryStats } from '../../connectors/memory/index.js';
import { newPhase } from './delivery.js';
import type { Phase, TrackedApi } from './delivery.js';
import { settle } from './deployment.js';
import type { Bench } from './deployment.js';
import { PHASE_TIMEOUT_MS } from './options.js';
import { TARGETS } from './setup.js';
import { sumWaits, waitsBetween } from './waits.js';
import type { WaitTotals } from './waits.js';
import { commandsBetween, parseCommandStats } from './redis-commands.js';
import type { CommandCounts, RedisCommandStat } from './redis-commands.js';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** Peak resident set size, sampled (the process-wide peak comes from `resourceUsage().maxRSS`). */
export class RssSampler {
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

/** A process's peak resident set size so far (bytes), from /proc (Linux; 0 if unknown). */
export function peakRssOf(pid: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * The whole machine's busy CPU so far (ms, every core; /proc/stat: all but idle and iowait, in
 * clock ticks of 10 ms), or NaN off Linux.
 */
export function machineCpuMs(): number {
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpuTicks();
  return (user + nice + system + irq + softirq + steal) * 10;
}

/**
 * CPU the hypervisor gave other guests while this machine's cores wanted it, so far (ms, every
 * core; /proc/stat `steal`), or NaN off Linux: on a shared virtual machine, the part of "busy"
 * that no process here used.
 */
export function stolenCpuMs(): number {
  return (cpuTicks()[7] ?? Number.NaN) * 10;
}

/** /proc/stat's first line: user, nice, system, idle, iowait, irq, softirq, steal, ... (NaN each off Linux). */
function cpuTicks(): number[] {
  try {
    return (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return Array.from({ length: 8 }, () => Number.NaN);
  }
}

/** CPU so far (ms) of each PostgreSQL server process running on this machine, by pid (none when the server is elsewhere). */
export function postgresCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      out.set(Number(pid), processCpuMs(Number(pid)));
    } catch {
      continue;
    }
  }
  return out;
}

async function waitDelivered(phase: Phase): Promise<boolean> {
  const deadline = performance.now() + PHASE_TIMEOUT_MS;
  while (phase.completed < phase.issued) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

export interface CallFigures {
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

export interface PhaseReport {
  phase: Phase;
  finished: boolean;
  seconds: number;
  perSecond: number;
  offeredPerSecond: number;
  calls: CallFigures[];
  peakRss: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  usage: Usage;
}

export async function runPhase(
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
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    usage,
  };
}

/** This process's CPU and event loop, and the (shared) Redis server's CPU and commands. */
export interface Usage {
  cpuMs: number;
  /** CPU of each hub process (this one first), in `--processes` order. */
  cpuMsByProcess: number[];
  /** Event loop utilisation, 0..1. */
  elu: number;
  loopDelayP99Ms: number;
  redisCpuMs: number;
  redisCommands: number;
  /** Redis's commands by name in the phase (`INFO commandstats`: calls, and the server's microseconds in them), busiest first. */
  redisByCommand: RedisCommandStat[];
  /** With `--waits`: the hub processes' waits on Redis, the store and the vendors, added up, and by process. */
  waits: WaitTotals | null;
  waitsByProcess: WaitTotals[] | null;
  /** PostgreSQL: deadlocks the server broke in the run's database (its statistics lag up to a second); null on SQLite. */
  deadlocks: number | null;
  /** Busy CPU of the whole machine in the phase (every process, every core; NaN off Linux). */
  machineCpuMs: number;
  /** Of it, CPU the hypervisor gave other guests (steal; NaN off Linux). */
  stolenCpuMs: number;
  /** CPU of the PostgreSQL server's processes on this machine in the phase (every database: shared like Redis; 0 on SQLite and for a server elsewhere). */
  postgresCpuMs: number;
}

export class UsageMeter {
  private cpu = process.cpuUsage();
  /** The hub's other processes, whose CPU counts too (see `--processes`). */
  pids: number[] = [];
  private workersCpuMs: number[] = [];
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private redisBase: { cpuMs: number; commands: number; byCommand: CommandCounts } = { cpuMs: 0, commands: 0, byCommand: new Map() };
  /** With `--waits`: every hub process's waits so far (see `Bench.waits`). */
  waits: (() => Promise<WaitTotals[] | null>) | null = null;
  private waitsBase: WaitTotals[] | null = null;
  /** PostgreSQL: the run database's deadlock count so far (`pg_stat_database`). */
  deadlocks: (() => Promise<number>) | null = null;
  private deadlocksBase = 0;
  private machineBase = 0;
  private stolenBase = 0;
  private postgresBase = new Map<number, number>();

  constructor(private readonly redis: Redis) {
    this.loop.enable();
  }

  private async redisNow(): Promise<{ cpuMs: number; commands: number; byCommand: CommandCounts }> {
    const info = await this.redis.info('everything');
    const num = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return {
      cpuMs: (num('used_cpu_user') + num('used_cpu_sys')) * 1000,
      commands: num('total_commands_processed'),
      byCommand: parseCommandStats(info),
    };
  }

  async start(): Promise<void> {
    this.redisBase = await this.redisNow();
    this.waitsBase = (await this.waits?.()) ?? null;
    this.deadlocksBase = (await this.deadlocks?.()) ?? 0;
    this.postgresBase = postgresCpuMs();
    this.machineBase = machineCpuMs();
    this.stolenBase = stolenCpuMs();
    this.cpu = process.cpuUsage();
    this.workersCpuMs = this.pids.map(processCpuMs);
    this.elu = performance.eventLoopUtilization();
    this.loop.reset();
  }

  async stop(): Promise<Usage> {
    const cpu = process.cpuUsage(this.cpu);
    const machineMs = machineCpuMs() - this.machineBase;
    const stolenMs = stolenCpuMs() - this.stolenBase;
    // A server process that ended in the phase is missed; one that began counts from its start.
    let postgresMs = 0;
    for (const [pid, ms] of postgresCpuMs()) postgresMs += ms - (this.postgresBase.get(pid) ?? 0);
    const elu = performance.eventLoopUtilization(this.elu);
    const loopDelayP99Ms = this.loop.percentile(99) / 1e6;
    const redis = await this.redisNow();
    const waitsNow = (await this.waits?.()) ?? null;
    const deadlocksNow = (await this.deadlocks?.()) ?? null;
    const base = this.waitsBase;
    const waitsByProcess = waitsNow && base ? waitsNow.map((w, i) => (base[i] ? waitsBetween(base[i], w) : w)) : null;
    const cpuMsByProcess = [(cpu.user + cpu.system) / 1000, ...this.pids.map((pid, i) => processCpuMs(pid) - (this.workersCpuMs[i] ?? 0))];
    return {
      cpuMs: cpuMsByProcess.reduce((sum, ms) => sum + ms, 0),
      cpuMsByProcess,
      elu: elu.utilization,
      loopDelayP99Ms,
      redisCpuMs: redis.cpuMs - this.redisBase.cpuMs,
      redisCommands: redis.commands - this.redisBase.commands,
      redisByCommand: commandsBetween(this.redisBase.byCommand, redis.byCommand),
      waits: waitsByProcess ? sumWaits(waitsByProcess) : null,
      waitsByProcess,
      deadlocks: deadlocksNow === null ? null : deadlocksNow - this.deadlocksBase,
      machineCpuMs: machineMs,
      stolenCpuMs: stolenMs,
      postgresCpuMs: postgresMs,
    };
  }

  close(): void {
    this.loop.disable();
  }
}

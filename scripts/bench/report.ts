/** What the benchmark prints: the run's setting, each phase's figures, the checks, the summary and the floor. */
import { availableParallelism, loadavg } from 'node:os';
import { formatRoles } from '../../src/app/roles.js';
import type { Bench } from './deployment.js';
import { peakRssOf } from './measure.js';
import type { PhaseReport } from './measure.js';
import type { Dialect, Layout } from './args.js';
import { ARGS, CHANGES, FLOOR_CALLS_PER_RECORD, FLOOR_CHANGES_PER_S, MAX_BATCH, PROFILES, RAW_JOBS, TUNING, WINDOW } from './options.js';

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** API calls per record of each target, as `a 0.0101, b 0.0100, c 0.0102`. */
const callsPerRecord = (r: PhaseReport): string => r.calls.map((c) => `${c.target} ${fmt(c.perRecord, 4)}`).join(', ');

/** The machine's load average (1, 5, 15 min). */
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const DIALECT_NAMES: Record<Dialect, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** The bench's setting: workload, engine tuning, dialects and hub processes, machine load. */
export function printHeader(): void {
  console.log(
    `Concord sync engine benchmark: ${PROFILES} profiles, ${CHANGES} changes by webhook, fan-out to 3 targets, ` +
      `${ARGS.dialects.map((d) => DIALECT_NAMES[d]).join(' and ')}, ` +
      `maxBatch ${MAX_BATCH}, at most ${WINDOW} webhooks in flight; ${process.platform} ${process.arch}, Node ${process.version}`,
  );
  console.log(
    `engine tuning: production defaults (ingestConcurrency ${TUNING.ingestConcurrency}, ingestBatchSize ${TUNING.ingestBatchSize}, ` +
      `flushDelayMs ${TUNING.flushDelayMs}, relayDelayMs ${TUNING.relayDelayMs}); push concurrency 4 per target`,
  );
  console.log(`machine load average at start (1, 5, 15 min): ${load()} (the machine is shared: figures move with it)`);
  // V8's heap flags move the figures (docs/DEPLOY.md, "Memory"); every hub process inherits them.
  console.log(`NODE_OPTIONS: ${process.env['NODE_OPTIONS'] || "none (Node's defaults; the compose file sets --max-semi-space-size=32)"}`);
}

/** A run's title: its dialect and hub processes. */
export function runTitle(dialect: Dialect, layout: Layout): string {
  return `${DIALECT_NAMES[dialect]}, ${layout.workers === null ? '' : `${layout.workers} worker${layout.workers === 1 ? '' : 's'}, `}hub processes ${layout.text}`;
}

/** Where a run starts: its dialect and hub processes. */
export function printRunHeader(dialect: Dialect, layout: Layout): void {
  console.log(`\n===== ${runTitle(dialect, layout)} =====`);
  console.log(
    layout.children.length > 0
      ? '(the first process is this one, with the systems; the others reach them over loopback HTTP)'
      : '(one process, as concord start --role all)',
  );
}

/** Phase 0: no-op jobs through a plain BullMQ Worker. */
export function printRaw(raw: { perSecond: number; seconds: number }): void {
  console.log(
    `\n[0. raw BullMQ] ${RAW_JOBS} no-op jobs, one Worker, concurrency ${TUNING.ingestConcurrency}: ${fmt(raw.perSecond)} jobs/s (${fmt(raw.seconds, 2)} s)`,
  );
}

/** Phase 0: the same through the engine's ingest worker loop. */
export function printOrdered(ordered: { perSecond: number; seconds: number }): void {
  console.log(
    `  the engine's ingest worker loop (OrderedWorker, in queue order, ${TUNING.ingestConcurrency} in flight), no-op jobs: ` +
      `${fmt(ordered.perSecond)} jobs/s (${fmt(ordered.seconds, 2)} s)`,
  );
}

export function printPhase(layout: Layout, title: string, r: PhaseReport, unit: string): void {
  const processes = [layout.self, ...layout.children];
  console.log(`\n[${title}]${r.finished ? '' : '  DID NOT FINISH'}`);
  console.log(
    `  ${r.phase.completed}/${r.phase.issued} ${unit} delivered to all 3 targets in ${fmt(r.seconds, 2)} s (first webhook to last delivery)`,
  );
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
    `  cost per ${unit.replace(/s$/, '')}:         ${fmt(u.cpuMs / per, 2)} ms CPU in the hub${processes.length > 1 ? ` (its ${processes.length} processes; event loop of this one` : ' process (event loop'} ${fmt(100 * u.elu)} % busy, ` +
      `delay p99 ${fmt(u.loopDelayP99Ms)} ms); Redis ${fmt(u.redisCommands / per, 1)} commands, ${fmt(u.redisCpuMs / per, 2)} ms CPU (shared server)`,
  );
  if (u.redisByCommand.length > 0) {
    const top = u.redisByCommand
      .slice(0, 8)
      .map((c) => `${c.command} ${fmt(c.calls / per, 2)} (${fmt(c.usec / per)} us)`)
      .join(', ');
    console.log(`  Redis per ${unit.replace(/s$/, '')}:         ${top} (busiest first; a script's commands count under their names too)`);
  }
  if (u.waits) {
    const w = u.waits;
    const each = (kind: 'redis' | 'store' | 'vendor', calls: string): string =>
      `${fmt(w[kind].busyMs / per, 2)} ms (${fmt(w[kind].calls / per, 2)} ${calls})`;
    console.log(
      `  waiting per ${unit.replace(/s$/, '')}:       Redis ${each('redis', 'commands')}, store ${each('store', 'calls')}, ` +
        `vendors ${each('vendor', 'calls')}; ${w.retries} store transactions retried (time with a call in flight, all processes)`,
    );
  }
  if (Number.isFinite(u.machineCpuMs)) {
    const cores = (ms: number): string => fmt(ms / 1000 / r.seconds, 2);
    const stolen = Number.isFinite(u.stolenCpuMs) ? u.stolenCpuMs : 0;
    const rest = Math.max(0, u.machineCpuMs - u.cpuMs - u.postgresCpuMs - u.redisCpuMs - stolen);
    console.log(
      `  machine:                 ${fmt((100 * u.machineCpuMs) / 1000 / r.seconds / availableParallelism())} % of its ${availableParallelism()} cores busy, in cores: ` +
        `hub ${cores(u.cpuMs)}, PostgreSQL server ${cores(u.postgresCpuMs)}, Redis ${cores(u.redisCpuMs)}, ` +
        `taken by the host for other guests (steal) ${cores(stolen)}, the rest ${cores(rest)}`,
    );
  }
  if (u.deadlocks !== null && u.deadlocks > 0)
    console.log(`  PostgreSQL deadlocks:    ${u.deadlocks} (each held its locks for deadlock_timeout, 1 s by default)`);
  if (processes.length > 1) {
    const seconds = r.seconds;
    const parts = processes.map((roles, i) => {
      const ms = u.cpuMsByProcess[i] ?? 0;
      return `${formatRoles(roles)} ${fmt(ms / per, 2)} ms (${fmt(ms / 10 / seconds)} % of a core)`;
    });
    console.log(`  CPU per ${unit.replace(/s$/, '')} by process:  ${parts.join('; ')}`);
  }
  if (r.phase.duplicates + r.phase.unchanged > 0) {
    console.log(`  duplicate pushes:        ${r.phase.duplicates} (records that changed nothing at the target: ${r.phase.unchanged})`);
  }
  console.log(`  peak RSS in the phase:   ${mb(r.peakRss)}`);
}

/** Refused webhooks, pushes sent twice, older values over newer ones, records not ours. */
export function printChecks(b: Bench): void {
  const t = b.tracker;
  console.log(
    `\n[checks] refused webhooks ${b.refused.length}, duplicate records pushed ${t.duplicates}, records that changed nothing at the target ${t.unchanged}, ` +
      `older-over-newer ${t.regressions}, untracked records ${t.untracked}`,
  );
  if (b.refused.length > 0) console.log(`  first refusal: ${b.refused[0]}`);
  console.log(`  hub warnings and errors logged: ${b.logs.total}${b.logs.total > 0 ? ` (${b.logs.summary()})` : ''}`);
  if (t.untrackedFields) console.log(`  first untracked record's fields: ${t.untrackedFields.join(', ') || '(none)'}`);
}

/** The run in a few lines: phase 2's throughput and calls, phase 3's latency, memory, the baseline. */
export function printSummary(
  b: Bench,
  figures: { throughput: PhaseReport; paced: PhaseReport | null; raw: { perSecond: number }; idleRss: number },
): void {
  const { throughput, paced, raw, idleRss } = figures;
  const ratio = throughput.perSecond / raw.perSecond;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const callsList = callsPerRecord(throughput);
  console.log('\n[summary]');
  console.log(
    `  changes per second end to end (phase 2):   ${fmt(throughput.perSecond)} (${fmt(throughput.usage.cpuMs / throughput.phase.completed, 2)} ms CPU per change)`,
  );
  if (paced) {
    console.log(`  webhook-to-delivered at ${fmt(paced.offeredPerSecond)}/s offered:   p50 ${fmt(paced.p50)} ms, p99 ${fmt(paced.p99)} ms`);
  }
  console.log(`  API calls per record (phase 2):            ${callsList}`);
  console.log(
    `  peak RSS (process):                        ${mb(maxRss)} (hub started and idle: ${mb(idleRss)}; includes the 4 in-memory systems)`,
  );
  b.workerPids.forEach((pid, i) => {
    const roles = b.layout.children[i];
    console.log(`  peak RSS of the ${roles ? formatRoles(roles) : 'other'} process:  ${mb(peakRssOf(pid))}`);
  });
  console.log(`  raw BullMQ no-op jobs per second:          ${fmt(raw.perSecond)}`);
  console.log(`  hub/raw:                                   ${fmt(ratio, 3)} (changes/s over no-op jobs/s)`);
  console.log(`  machine load average at the end:           ${load()}`);
}

/** The floor (phase 2, SQLite): prints it and returns what passed. */
export function printFloor(
  layout: Layout,
  throughput: PhaseReport,
  cleanOk: boolean,
): { rateOk: boolean; callsOk: boolean; pass: boolean } {
  const callsList = callsPerRecord(throughput);
  const rateOk = throughput.finished && throughput.perSecond >= FLOOR_CHANGES_PER_S;
  const callsOk = throughput.finished && throughput.calls.every((c) => c.perRecord <= FLOOR_CALLS_PER_RECORD);
  console.log(`\n[floor, SQLite, phase 2, hub processes ${layout.text}]`);
  console.log(`  >= ${FLOOR_CHANGES_PER_S} changes/s fanned out to 3 systems: ${fmt(throughput.perSecond)} -> ${rateOk ? 'PASS' : 'FAIL'}`);
  console.log(
    `  API calls per record <= 1.05 / ${MAX_BATCH} = ${fmt(FLOOR_CALLS_PER_RECORD, 4)}: ${callsList} -> ${callsOk ? 'PASS' : 'FAIL'}`,
  );
  // A batch goes out full, or partial once its oldest profile has waited flushDelayMs: when a
  // full batch takes about that long to gather, partial batches are expected.
  const fillMs = (MAX_BATCH / throughput.perSecond) * 1000;
  console.log(
    `  (at ${fmt(throughput.perSecond)} changes/s a ${MAX_BATCH}-record batch gathers in ${fmt(fillMs)} ms against flushDelayMs ${TUNING.flushDelayMs}: ` +
      `${fillMs < TUNING.flushDelayMs / 2 ? 'batches fill before the timer' : 'the timer sends partial batches'}; ${throughput.calls.map((c) => `${c.target} ${c.partial}`).join(', ')} partial)`,
  );
  console.log(`  FLOOR: ${rateOk && callsOk ? 'PASS' : 'FAIL'}${cleanOk ? '' : ' (and the run was not clean: see above)'}`);
  return { rateOk, callsOk, pass: rateOk && callsOk && cleanOk };
}

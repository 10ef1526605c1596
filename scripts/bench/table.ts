/**
 * The runs of one bench side by side: one column per run (dialect and hub processes), one row
 * per figure, as a Markdown table that reads in a terminal and pastes into docs/PERFORMANCE.md.
 */
import type { RunJson } from './results.js';
import { WAIT_KINDS } from './waits.js';
import type { WaitTotals } from './waits.js';

const num = (n: number | null | undefined, digits = 0): string => (n === null || n === undefined ? 'n/a' : n.toFixed(digits));

/** A run's column title: `SQLite, 2 workers` or `PostgreSQL, 2 processes`. */
export function runLabel(run: RunJson): string {
  const dialect = run.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  if (run.workers !== null) return `${dialect}, ${run.workers} worker${run.workers === 1 ? '' : 's'}`;
  return `${dialect}, ${run.processes} process${run.processes === 1 ? '' : 'es'}`;
}

/** A cell from phase 2's waits (`--waits`), per change; n/a without them. */
function waitsCell(run: RunJson, f: (waits: WaitTotals, changes: number) => string): string {
  const phase = run.throughput;
  return phase?.usage.waits && phase.completed > 0 ? f(phase.usage.waits, phase.completed) : 'n/a';
}

/** Phase 2's waits (`--waits`), when a run has them. */
function waitRows(runs: readonly RunJson[]): [string, ...string[]][] {
  if (!runs.some((r) => r.throughput?.usage.waits)) return [];
  const cell = (f: (waits: WaitTotals, changes: number) => string): string[] => runs.map((r) => waitsCell(r, f));
  return [
    ['ms waiting per change: Redis / store / vendors', ...cell((w, n) => WAIT_KINDS.map((k) => num(w[k].busyMs / n, 2)).join(' / '))],
    ['calls per change: Redis / store / vendors', ...cell((w, n) => WAIT_KINDS.map((k) => num(w[k].calls / n, 2)).join(' / '))],
    ['store transactions retried (phase 2)', ...cell((w) => String(w.retries))],
  ];
}

/** The rows of the table: a title and one cell per run. */
function rows(runs: readonly RunJson[]): [string, ...string[]][] {
  const loads = [...new Set(runs.flatMap((run) => run.paced.map((p) => p.load ?? Number.NaN)))];
  const cell = (f: (run: RunJson) => string): string[] => runs.map(f);
  return [
    ['changes/s end to end (phase 2)', ...cell((r) => num(r.summary.changesPerSecond))],
    ['raw BullMQ no-op jobs/s (same run)', ...cell((r) => num(r.raw.perSecond))],
    ['hub/raw', ...cell((r) => num(r.summary.hubRaw, 3))],
    ['API calls per record (worst target)', ...cell((r) => num(r.summary.callsPerRecordMax, 4))],
    ...loads.map((load): [string, ...string[]] => [
      `latency p50 / p99 ms at ${num(load * 100)} % load`,
      ...cell((r) => {
        const p = r.paced.find((phase) => phase.load === load);
        return p ? `${num(p.p50)} / ${num(p.p99)} (${num(p.offeredPerSecond)}/s)` : 'n/a';
      }),
    ]),
    ['CPU ms per change (all hub processes)', ...cell((r) => num(r.summary.cpuMsPerChange, 2))],
    ...(runs.some((r) => typeof r.throughput?.usage.machineCpuMs === 'number')
      ? [
          [
            'cores busy in phase 2: machine (hub, PostgreSQL, Redis, steal)',
            ...cell((r) => {
              const u = r.throughput?.usage;
              const seconds = r.throughput?.seconds;
              if (!u || typeof u.machineCpuMs !== 'number' || !seconds) return 'n/a';
              const cores = (ms: number | null | undefined): string => (typeof ms === 'number' ? num(ms / 1000 / seconds, 2) : 'n/a');
              return `${cores(u.machineCpuMs)} (${cores(u.cpuMs)}, ${cores(u.postgresCpuMs)}, ${cores(u.redisCpuMs)}, ${cores(u.stolenCpuMs)})`;
            }),
          ] satisfies [string, ...string[]],
        ]
      : []),
    ...waitRows(runs),
    ...(runs.some((r) => typeof r.throughput?.usage.deadlocks === 'number')
      ? [['PostgreSQL deadlocks (phase 2)', ...cell((r) => num(r.throughput?.usage.deadlocks))] satisfies [string, ...string[]]]
      : []),
    ['duplicate pushes (records changing nothing)', ...cell((r) => `${r.checks.duplicates} (${r.checks.unchanged ?? 'n/a'})`)],
    [
      'hub warnings and errors logged',
      ...cell((r) => (r.checks.logged ? String(Object.values(r.checks.logged).reduce((a, b) => a + b, 0)) : 'n/a')),
    ],
    ['older-over-newer, refused webhooks', ...cell((r) => `${r.checks.regressions}, ${r.checks.refused}`)],
    ['floor (SQLite)', ...cell((r) => (r.floor === null ? '-' : r.floor.pass ? 'PASS' : 'FAIL'))],
  ];
}

/** The table as Markdown lines, columns padded to their widest cell. */
export function comparisonTable(runs: readonly RunJson[]): string[] {
  const header = ['', ...runs.map(runLabel)];
  const body = rows(runs);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `-${'-'.repeat(w)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)];
}

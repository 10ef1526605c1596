/**
 * Which charts the bench's JSON files (`results.ts`) give, as SVG (`svg.ts`); `charts.ts` writes
 * them. A chart whose figures no file holds is left out:
 *
 * - `throughput-vs-workers.svg`: changes/s end to end against `--workers`, a line per dialect
 *   (runs at the same dialect and worker count, from several files, are averaged);
 * - `latency-vs-load.svg`: webhook-to-delivered p50 / p90 / p99 against the offered rate of the
 *   latency phases, per dialect and worker count;
 * - `rss-backfill.svg`: RSS sampled over a backfill (`backfills`), against the 400 MB goal, over
 *   the profiles stored when the samples count them (`npm run bench:backfill`), else over time;
 * - `calls-per-record.svg`: API calls per record per vendor against its ceiling (`vendorCalls`).
 */
import { interpolated } from './backfill/figures.js';
import type { BenchFile, RunJson } from './results.js';
import { barChart, lineChart } from './svg.js';
import type { Point, Series } from './svg.js';

export interface Chart {
  /** File name in the output folder. */
  file: string;
  svg: string;
}

/** The backfill's memory goal (issue 22). */
export const RSS_GOAL_MB = 400;

const DIALECT_NAMES: Record<RunJson['dialect'], string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** The mean y of points at the same x. */
function averaged(points: readonly Point[]): Point[] {
  const byX = new Map<number, number[]>();
  for (const p of points) byX.set(p.x, [...(byX.get(p.x) ?? []), p.y]);
  return [...byX].map(([x, ys]) => ({ x, y: ys.reduce((a, b) => a + b, 0) / ys.length }));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function throughputVsWorkers(runs: readonly RunJson[]): Chart | null {
  const measured = runs.filter((r) => r.workers !== null && r.summary.changesPerSecond !== null);
  if (measured.length === 0) return null;
  const series: Series[] = [...groupBy(measured, (r) => r.dialect)].map(([dialect, list]) => ({
    name: DIALECT_NAMES[list[0]?.dialect ?? 'sqlite'] ?? dialect,
    points: averaged(list.map((r) => ({ x: r.workers ?? 0, y: r.summary.changesPerSecond ?? Number.NaN }))),
  }));
  return {
    file: 'throughput-vs-workers.svg',
    svg: lineChart({
      title: 'Changes per second end to end vs worker processes',
      xLabel: 'worker processes (--workers), besides the api process',
      yLabel: 'changes/s fanned out to 3 systems',
      series,
      integerX: true,
    }),
  };
}

function latencyVsLoad(runs: readonly RunJson[]): Chart | null {
  const withPaced = runs.filter((r) => r.paced.some((p) => p.offeredPerSecond !== null && p.p50 !== null));
  if (withPaced.length === 0) return null;
  const series: Series[] = [];
  for (const [, list] of groupBy(withPaced, (r) => `${r.dialect} ${r.workers ?? `p${r.processes}`}`)) {
    const first = list[0];
    if (!first) continue;
    const name = `${DIALECT_NAMES[first.dialect]}, ${first.workers === null ? `${first.processes} proc.` : `${first.workers}w`}`;
    const phases = list.flatMap((r) => r.paced);
    for (const [pct, dash] of [
      ['p50', 'solid'],
      ['p90', 'dashed'],
      ['p99', 'dotted'],
    ] as const) {
      series.push({
        name: `${name} ${pct}`,
        group: name,
        dash,
        points: averaged(phases.map((p) => ({ x: p.offeredPerSecond ?? Number.NaN, y: p[pct] ?? Number.NaN }))),
      });
    }
  }
  return {
    file: 'latency-vs-load.svg',
    svg: lineChart({
      title: 'Webhook-to-delivered latency vs offered load',
      xLabel: 'changes/s offered (latency phases, --load)',
      yLabel: 'ms until all 3 systems hold the change',
      series,
    }),
  };
}

function rssOverBackfill(files: readonly BenchFile[]): Chart | null {
  const backfills = files.flatMap((f) => f.backfills ?? []).filter((b) => b.samples.length > 0);
  if (backfills.length === 0) return null;
  // Against the records stored when every backfill counts them (`npm run bench:backfill`), so that
  // runs of different rates line up; else against time.
  const byRecords = backfills.every((b) => b.samples.every((s) => s.records !== undefined));
  return {
    file: 'rss-backfill.svg',
    svg: lineChart({
      title: 'RSS over a backfill',
      xLabel: byRecords ? 'profiles stored, thousands' : 'seconds since the backfill started',
      yLabel: 'resident set size, MB',
      series: backfills.map((b) => ({
        name: b.dialect ? `${b.label} (${DIALECT_NAMES[b.dialect]})` : b.label,
        markers: false,
        points: byRecords
          ? interpolated(b.samples.map((s) => ({ ...s, records: s.records ?? 0 }))).map((s) => ({
              x: s.records / 1000,
              y: s.rssBytes / 1024 / 1024,
            }))
          : b.samples.map((s) => ({ x: s.seconds, y: s.rssBytes / 1024 / 1024 })),
      })),
      references: [{ y: RSS_GOAL_MB, label: `goal ${RSS_GOAL_MB} MB` }],
    }),
  };
}

function callsPerRecord(files: readonly BenchFile[]): Chart | null {
  const vendors = files.flatMap((f) => f.vendorCalls ?? []);
  if (vendors.length === 0) return null;
  return {
    file: 'calls-per-record.svg',
    svg: barChart({
      title: 'API calls per record per vendor vs ceiling',
      yLabel: 'API calls per record',
      bars: vendors.map((v) => ({ label: v.vendor, value: v.callsPerRecord, ceiling: v.ceilingPerRecord })),
    }),
  };
}

/** Every chart the files give figures for. */
export function chartsFrom(files: readonly BenchFile[]): Chart[] {
  const runs = files.flatMap((f) => f.runs);
  return [throughputVsWorkers(runs), latencyVsLoad(runs), rssOverBackfill(files), callsPerRecord(files)].filter(
    (c): c is Chart => c !== null,
  );
}

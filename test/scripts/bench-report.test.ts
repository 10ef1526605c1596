/**
 * The sync benchmark's non-measuring logic: its command line (`scripts/bench/args.ts`), the
 * side-by-side table (`table.ts`), the JSON schema (`results.ts`), the connector benches' file of
 * vendor calls (`vendor-calls.ts`) and the SVG charts drawn from it (`plots.ts`, `svg.ts`). No bench
 * is run here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it, vi } from 'vitest';
import { BenchArgsError, DEFAULT_PROCESSES, MAX_WORKERS, parseBenchArgs } from '../../scripts/bench/args.js';
import { DeliveryTracker, nameOf, newPhase } from '../../scripts/bench/delivery.js';
import { LogTally } from '../../scripts/bench/log-tally.js';
import { parseCommandStats } from '../../scripts/bench/redis-commands.js';
import { backfillFigures, interpolated } from '../../scripts/bench/backfill/figures.js';
import { chartsFrom } from '../../scripts/bench/plots.js';
import { BENCH_FORMAT, BenchFile, machineInfo, semiSpaceMbOf } from '../../scripts/bench/results.js';
import { writeVendorCalls } from '../../scripts/bench/vendor-calls.js';
import type { BenchFileInput, PhaseJson, RunJson } from '../../scripts/bench/results.js';
import { barChart, escapeXml, lineChart, niceTicks } from '../../scripts/bench/svg.js';
import { sumWaits, WaitClock, waitsBetween } from '../../scripts/bench/waits.js';
import { comparisonTable } from '../../scripts/bench/table.js';

describe('bench command line', () => {
  it('defaults: both dialects, the documented 2-core layout, no JSON file', () => {
    const args = parseBenchArgs([]);
    expect(args.dialects).toEqual(['sqlite', 'postgres']);
    expect(args.layouts).toHaveLength(1);
    expect(args.layouts[0]?.text).toBe('api,push / ingest,relay,pull');
    expect(args.layouts[0]?.workers).toBeNull();
    expect(args.json).toBeNull();
    expect(args.waits).toBe(false);
    expect(parseBenchArgs(['--waits']).waits).toBe(true);
    expect(args).toMatchObject({ profiles: 2500, changes: 6000, pacedSeconds: 10, loads: [0.5], phaseTimeoutMs: 90_000 });
    expect(parseBenchArgs(['--processes', DEFAULT_PROCESSES]).layouts[0]?.text).toBe(args.layouts[0]?.text);
  });

  it('--dialect takes sqlite, postgres or both', () => {
    expect(parseBenchArgs(['--dialect', 'sqlite']).dialects).toEqual(['sqlite']);
    expect(parseBenchArgs(['--dialect', 'postgres']).dialects).toEqual(['postgres']);
    expect(parseBenchArgs(['--dialect', 'both']).dialects).toEqual(['sqlite', 'postgres']);
    expect(() => parseBenchArgs(['--dialect', 'mysql'])).toThrow(/--dialect: "mysql" is not sqlite, postgres or both/);
  });

  it('--workers N is an api-only process and N processes with every other engine role; a list gives a run each', () => {
    const [one, two, four] = parseBenchArgs(['--workers', '1,2, 4']).layouts;
    expect(one?.workers).toBe(1);
    expect([...(one?.self ?? [])]).toEqual(['api']);
    expect(one?.children.map((roles) => [...roles])).toEqual([['ingest', 'relay', 'push', 'pull']]);
    expect(two?.children).toHaveLength(2);
    expect(four?.text).toBe('api / ingest,relay,push,pull / ingest,relay,push,pull / ingest,relay,push,pull / ingest,relay,push,pull');
    for (const bad of ['0', '-1', '1.5', 'two', '', '1,,2', String(MAX_WORKERS + 1)]) {
      expect(() => parseBenchArgs(['--workers', bad]), bad).toThrow(BenchArgsError);
    }
  });

  it('--workers and --processes exclude each other; --processes is checked as before', () => {
    expect(() => parseBenchArgs(['--workers', '2', '--processes', 'all'])).toThrow(/give one of them/);
    expect(parseBenchArgs(['--processes', 'all']).layouts[0]?.children).toEqual([]);
    expect(() => parseBenchArgs(['--processes', 'push/ingest,relay,api'])).toThrow(/first process .* needs api/);
    expect(() => parseBenchArgs(['--processes', 'api/ingest'])).toThrow(/no process runs relay, push/);
    expect(() => parseBenchArgs(['--processes', 'api,pusj'])).toThrow(/process 1: unknown role "pusj"/);
  });

  it('numbers, a --load list, --json; unknown options and bad values are refused with the option named', () => {
    const args = parseBenchArgs(['--profiles', '100', '--load', '0.25,0.5,1', '--phase-timeout', '2.5', '--json', 'out.json']);
    expect(args).toMatchObject({ profiles: 100, loads: [0.25, 0.5, 1], phaseTimeoutMs: 2500, json: 'out.json' });
    expect(() => parseBenchArgs(['--profiles', '1,2'])).toThrow(/--profiles: one value/);
    expect(() => parseBenchArgs(['--changes', '0'])).toThrow(/--changes: "0" is not a positive whole number/);
    expect(() => parseBenchArgs(['--load', '0.5,-1'])).toThrow(/--load: "-1"/);
    expect(() => parseBenchArgs(['--json', ''])).toThrow(/--json: give a file name/);
    expect(() => parseBenchArgs(['--dialects', 'both'])).toThrow(BenchArgsError);
  });
});

describe('delivery tracker', () => {
  const at = (p: number, seq: number): Record<string, string> => ({ first_name: nameOf(p, seq) });

  it('a change is delivered once every target holds it or a later one; coalescing is no duplicate', () => {
    const tracker = new DeliveryTracker(2, 2);
    tracker.phase = newPhase('t');
    tracker.issue(0, 0, 0);
    tracker.issue(0, 1, 5);
    tracker.issue(1, 2, 5);
    // Target 0 gets change 0 then 1; target 1 gets only change 1 (0 coalesced into it).
    tracker.delivered(0, at(0, 0), 10);
    tracker.delivered(0, at(0, 1), 20);
    expect(tracker.phase.completed).toBe(0);
    tracker.delivered(1, at(0, 1), 30);
    expect(tracker.phase.completed).toBe(2);
    expect(tracker.phase.latencies).toEqual([30, 25]);
    expect([tracker.duplicates, tracker.regressions, tracker.unchanged]).toEqual([0, 0, 0]);
  });

  it('counts a (profile, change) value a target receives twice, the latest or an older one, in the phase too', () => {
    const tracker = new DeliveryTracker(1, 1);
    tracker.phase = newPhase('t');
    tracker.delivered(0, at(0, 3), 1);
    tracker.delivered(0, at(0, 3), 2, false); // the same value again: changes nothing
    tracker.delivered(0, at(0, 4), 3);
    tracker.delivered(0, at(0, 3), 4); // an older value again, over a newer one
    tracker.delivered(0, at(0, 2), 5); // an older value never received: not a duplicate
    expect(tracker.duplicates).toBe(2);
    expect(tracker.phase.duplicates).toBe(2);
    expect(tracker.regressions).toBe(2);
    expect(tracker.unchanged).toBe(1);
  });

  it('records without a change of ours are untracked; those that change nothing count as unchanged', () => {
    const tracker = new DeliveryTracker(1, 1);
    tracker.phase = newPhase('t');
    tracker.delivered(0, { newsletter: true }, 1, false);
    tracker.delivered(0, { email_opt_out: false }, 2, true);
    expect(tracker.untracked).toBe(2);
    expect(tracker.untrackedFields).toEqual(['newsletter']);
    expect(tracker.unchanged).toBe(1);
    expect(tracker.phase.unchanged).toBe(1);
    expect(tracker.duplicates).toBe(0);
  });
});

describe('log tally', () => {
  it('counts the lines at warn or above by message and error code, lines split over chunks included', () => {
    const tally = new LogTally();
    const conflict = JSON.stringify({ level: 40, msg: 'job failed', err: { code: 'write_conflict', message: 'x' } });
    tally.add(`${JSON.stringify({ level: 30, msg: 'started' })}\n${conflict.slice(0, 20)}`);
    tally.add(`${conflict.slice(20)}\nnot json\n{broken\n`);
    tally.add(`${JSON.stringify({ level: 50, msg: 'boom' })}\n${conflict}\n`);
    expect(Object.fromEntries(tally.byKind)).toEqual({ 'job failed (write_conflict)': 2, boom: 1 });
    expect(tally.total).toBe(3);
    expect(tally.summary()).toBe('job failed (write_conflict) x2; boom x1');
  });

  it('as a pino destination it passes every line on', () => {
    const tally = new LogTally();
    const out = new PassThrough({ encoding: 'utf8' });
    const destination = tally.destination(out);
    const line = `${JSON.stringify({ level: 40, msg: 'slow' })}\n`;
    destination.write(line);
    expect(out.read()).toBe(line);
    expect(tally.total).toBe(1);
  });
});

function phase(name: string, over: Partial<PhaseJson> = {}): PhaseJson {
  return {
    name,
    finished: true,
    issued: 100,
    completed: 100,
    seconds: 1,
    perSecond: 100,
    offeredPerSecond: 200,
    load: null,
    p50: 10,
    p90: 20,
    p99: 30,
    max: 40,
    duplicates: 0,
    unchanged: 0,
    cpuMsPerChange: 1.5,
    peakRssBytes: 100 * 1024 * 1024,
    calls: [{ target: 'a', upserts: 1, calls: 2, records: 100, partial: 0, perRecord: 0.01, allPerRecord: 0.02, echoes: 1 }],
    usage: { cpuMs: 150, cpuMsByProcess: [100, 50], elu: 0.5, loopDelayP99Ms: 12, redisCpuMs: 30, redisCommands: 1000 },
    ...over,
  };
}

function run(dialect: RunJson['dialect'], workers: number | null, changesPerSecond: number): RunJson {
  return {
    dialect,
    workers,
    processes: 1 + (workers ?? 1),
    layout: 'api / ingest,relay,push,pull',
    raw: { perSecond: 10_000, seconds: 2 },
    ordered: { perSecond: 8_000, seconds: 2.5 },
    seed: phase('seed'),
    throughput: phase('throughput', { perSecond: changesPerSecond }),
    paced: [
      phase('paced 0.25', { load: 0.25, offeredPerSecond: changesPerSecond / 4, p50: 300, p90: 500, p99: 900 }),
      phase('paced 0.5', { load: 0.5, offeredPerSecond: changesPerSecond / 2, p50: 400, p90: 700, p99: null }),
    ],
    isolated: phase('isolated', { p50: 110, p90: 150, p99: 260 }),
    checks: { refused: 0, duplicates: workers ?? 0, unchanged: 2 * (workers ?? 0), regressions: 0, untracked: 0 },
    summary: { changesPerSecond, hubRaw: changesPerSecond / 10_000, cpuMsPerChange: 1.5, callsPerRecordMax: 0.0101, p50: 300, p99: 900 },
    peakRssBytes: { api: 1, children: [2] },
    floor: dialect === 'sqlite' ? { rateOk: changesPerSecond >= 1000, callsOk: true, pass: changesPerSecond >= 1000 } : null,
    clean: true,
  };
}

function file(runs: RunJson[], extra: Partial<BenchFileInput> = {}): BenchFile {
  return BenchFile.parse({
    format: BENCH_FORMAT,
    machine: {
      cpus: 2,
      cpuModel: 'test',
      node: 'v20.0.0',
      platform: 'linux',
      arch: 'x64',
      totalMemoryBytes: 1,
      date: '2026-12-06T00:00:00.000Z',
      loadAverageStart: [1, 1, 1],
      loadAverageEnd: [2, 2, 2],
    },
    options: {},
    runs,
    ...extra,
  });
}

/** The cells of a table row after its title. */
function cellsOf(lines: readonly string[], title: string): string[] {
  return (lines.find((l) => l.startsWith(`| ${title}`)) ?? '')
    .split('|')
    .slice(2, -1)
    .map((c) => c.trim());
}

describe('runs side by side', () => {
  it('one column per run, one row per figure, latency per load', () => {
    const logged = {
      ...run('postgres', 1, 450),
      checks: { ...run('postgres', 1, 450).checks, logged: { 'job failed (write_conflict)': 3, boom: 1 } },
    };
    const lines = comparisonTable([run('sqlite', 1, 1200), logged]);
    expect(lines[0]).toMatch(/^\| +\| +SQLite, 1 worker \| PostgreSQL, 1 worker \|$/);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|-+:\|$/);
    const row = (title: string): string[] => cellsOf(lines, title);
    expect(row('changes/s end to end')).toEqual(['1200', '450']);
    expect(row('hub/raw')).toEqual(['0.120', '0.045']);
    expect(row('latency p50 / p99 ms at 25 % load')).toEqual(['300 / 900 (300/s)', '300 / 900 (113/s)']);
    expect(row('latency p50 / p99 ms at 50 % load')).toEqual(['400 / n/a (600/s)', '400 / n/a (225/s)']);
    expect(row('duplicate pushes (records changing nothing)')).toEqual(['1 (2)', '1 (2)']);
    expect(row('hub warnings and errors logged')).toEqual(['n/a', '4']);
    expect(row('floor (SQLite)')).toEqual(['PASS', '-']);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines.some((l) => l.includes('waiting') || l.includes('deadlocks') || l.includes('cores busy'))).toBe(false);
  });

  it("phase 2's busy cores: the machine's, and the hub's, PostgreSQL's, Redis's and the host's steal among them (files before them: n/a)", () => {
    const measured = run('postgres', 1, 800);
    const usage = { ...phase('x').usage, cpuMs: 12_000, machineCpuMs: 17_000, postgresCpuMs: 4_000, redisCpuMs: 1_000 };
    const throughput = phase('throughput', { seconds: 10, usage: { ...usage, stolenCpuMs: 500 } });
    const noSteal = phase('throughput', { seconds: 10, usage });
    const lines = comparisonTable([run('sqlite', 1, 900), { ...measured, throughput }, { ...measured, throughput: noSteal }]);
    expect(cellsOf(lines, 'cores busy in phase 2')).toEqual(['n/a', '1.70 (1.20, 0.40, 0.10, 0.05)', '1.70 (1.20, 0.40, 0.10, n/a)']);
  });

  it('with --waits: phase 2 ms waiting and calls per change on Redis, the store and the vendors, and retries', () => {
    const figures = (calls: number, busyMs: number): { calls: number; callMs: number; busyMs: number } => ({
      calls,
      callMs: busyMs * 2,
      busyMs,
    });
    const waits = { redis: figures(600, 250), store: figures(300, 400), vendor: figures(3, 10), retries: 7 };
    const timed = run('postgres', 2, 300);
    const withWaits: RunJson = {
      ...timed,
      throughput: phase('throughput', { usage: { ...phase('x').usage, waits, waitsByProcess: [waits], deadlocks: 3 } }),
    };
    const lines = comparisonTable([run('sqlite', 2, 900), withWaits]);
    const row = (title: string): string[] => cellsOf(lines, title);
    expect(row('ms waiting per change: Redis / store / vendors')).toEqual(['n/a', '2.50 / 4.00 / 0.10']);
    expect(row('calls per change: Redis / store / vendors')).toEqual(['n/a', '6.00 / 3.00 / 0.03']);
    expect(row('store transactions retried (phase 2)')).toEqual(['n/a', '7']);
    expect(row('PostgreSQL deadlocks (phase 2)')).toEqual(['n/a', '3']);
  });
});

describe('Redis commands by name', () => {
  it("reads INFO commandstats' calls and microseconds per command, subcommands included, and nothing else", () => {
    const info = [
      '# Commandstats',
      'cmdstat_evalsha:calls=120,usec=4800,usec_per_call=40.00,rejected_calls=0,failed_calls=1',
      'cmdstat_client|setname:calls=3,usec=6,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
      'cmdstat_hset:calls=7,usec=14,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
      '# Keyspace',
      'db0:keys=12,expires=0,avg_ttl=0',
    ].join('\r\n');
    expect([...parseCommandStats(info)]).toEqual([
      ['evalsha', { calls: 120, usec: 4800 }],
      ['client|setname', { calls: 3, usec: 6 }],
      ['hset', { calls: 7, usec: 14 }],
    ]);
  });
});

describe('wait clock', () => {
  it('counts every call, adds their times, and counts overlapping calls of one kind once as waiting', async () => {
    const clock = new WaitClock();
    let release = (): void => undefined;
    const slow = clock.time('store', () => new Promise<void>((resolve) => (release = resolve)));
    const endRedis = clock.begin('redis');
    const quick = clock.time('store', () => Promise.resolve());
    await quick;
    release();
    await slow;
    endRedis();
    expect(clock.time('vendor', () => 42)).toBe(42);
    const w = clock.snapshot();
    expect(w.store.calls).toBe(2);
    expect(w.store.busyMs).toBeLessThanOrEqual(w.store.callMs);
    expect(w.redis.calls).toBe(1);
    expect(w.vendor).toMatchObject({ calls: 1 });
    const later = waitsBetween(w, { ...w, store: { ...w.store, calls: 5 }, retries: 3 });
    expect(later).toMatchObject({ store: { calls: 3, callMs: 0, busyMs: 0 }, retries: 3 });
    expect(sumWaits([w, w]).store.calls).toBe(4);
  });
});

/** The SVG parsed; fails the test when it is not well-formed XML. */
function parseSvg(svg: string): Record<string, unknown> {
  expect(XMLValidator.validate(svg)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg) as Record<string, unknown>;
  expect(doc['svg']).toMatchObject({ xmlns: 'http://www.w3.org/2000/svg' });
  return doc;
}

/** The names of the `data-series` groups of a chart, in order. */
const seriesOf = (svg: string): string[] => [...svg.matchAll(/<g data-series="([^"]*)">/g)].map((m) => m[1] ?? '');

describe('charts from bench JSON', () => {
  it('throughput vs workers: a line per dialect through the worker counts of every file, repeats averaged', () => {
    const files = [
      file([run('sqlite', 1, 1000), run('postgres', 1, 400)]),
      file([run('sqlite', 2, 1500), run('postgres', 2, 700), run('sqlite', null, 9999)]),
      file([run('sqlite', 2, 1700)]),
    ];
    const chart = chartsFrom(files).find((c) => c.file === 'throughput-vs-workers.svg');
    expect(chart).toBeDefined();
    const svg = chart?.svg ?? '';
    parseSvg(svg);
    expect(seriesOf(svg)).toEqual(['SQLite', 'PostgreSQL']);
    const sqlite = /<g data-series="SQLite">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    // Two points (1 and 2 workers; the --processes run is not on this chart), 1,600 the mean at 2.
    expect(sqlite.match(/<circle /g)).toHaveLength(2);
    expect(sqlite).toContain('SQLite: 2, 1600');
    expect(sqlite).toMatch(/<path d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
  });

  it('latency vs offered load: p50, p90 and p99 per dialect and worker count; missing percentiles leave points out', () => {
    const svg =
      chartsFrom([file([run('sqlite', 1, 1000), run('postgres', 1, 400)])]).find((c) => c.file === 'latency-vs-load.svg')?.svg ?? '';
    parseSvg(svg);
    expect(seriesOf(svg)).toEqual([
      'SQLite, 1w p50',
      'SQLite, 1w p90',
      'SQLite, 1w p99',
      'PostgreSQL, 1w p50',
      'PostgreSQL, 1w p90',
      'PostgreSQL, 1w p99',
    ]);
    const p99 = /<g data-series="SQLite, 1w p99">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect(p99.match(/<circle /g)).toHaveLength(1);
  });

  it('the RSS and calls-per-record charts appear only when the files hold backfills and vendor calls', () => {
    expect(chartsFrom([file([run('sqlite', 1, 1000)])]).map((c) => c.file)).toEqual(['throughput-vs-workers.svg', 'latency-vs-load.svg']);
    const hooks = file([], {
      backfills: [
        {
          label: '1M backfill',
          dialect: 'postgres',
          samples: [
            { seconds: 0, rssBytes: 100 * 1024 * 1024 },
            { seconds: 10, rssBytes: 180 * 1024 * 1024 },
          ],
        },
      ],
      vendorCalls: [
        { vendor: 'hubspot', callsPerRecord: 0.015, ceilingPerRecord: 0.02 },
        { vendor: 'salesforce', callsPerRecord: 0.03, ceilingPerRecord: 0.02 },
      ],
    });
    const charts = chartsFrom([hooks]);
    expect(charts.map((c) => c.file)).toEqual(['rss-backfill.svg', 'calls-per-record.svg']);
    const rss = charts[0]?.svg ?? '';
    parseSvg(rss);
    expect(seriesOf(rss)).toEqual(['1M backfill (PostgreSQL)']);
    expect(rss).toContain('data-reference="goal 400 MB"');
    const calls = charts[1]?.svg ?? '';
    parseSvg(calls);
    expect(seriesOf(calls)).toEqual(['hubspot', 'salesforce']);
    expect(calls.match(/data-ceiling="0.02"/g)).toHaveLength(2);
    // Over its ceiling: drawn in the warning colour.
    expect(/<g data-series="salesforce">\s*<rect [^>]*fill="#D55E00"/.test(calls)).toBe(true);
  });

  /** Each legend entry: its whole name (title) and its lines, where they are drawn. */
  function legendOf(svg: string): { name: string; lines: { x: number; y: number; text: string }[] }[] {
    return [
      ...svg.matchAll(/<g data-legend="[^"]*"><title>([^<]*)<\/title><line [^>]*\/><text x="[^"]*" y="([^"]*)">(.*?)<\/text><\/g>/g),
    ].map((m) => {
      let y = Number(m[2]);
      const lines = [...(m[3] ?? '').matchAll(/<tspan x="([^"]*)"(?: dy="([^"]*)")?>([^<]*)<\/tspan>/g)].map((t) => {
        y += Number(t[2] ?? 0);
        return { x: Number(t[1]), y, text: t[3] ?? '' };
      });
      return { name: m[1] ?? '', lines };
    });
  }
  const sizeOf = (svg: string): { width: number; height: number } => ({
    width: Number(/<svg [^>]*width="(\d+)"/.exec(svg)?.[1]),
    height: Number(/<svg [^>]*height="(\d+)"/.exec(svg)?.[1]),
  });
  /** Every line inside the chart (about 6 px a character, as the chart counts), each below the last. */
  function expectInside(svg: string): void {
    const { width, height } = sizeOf(svg);
    let below = 0;
    for (const line of legendOf(svg).flatMap((e) => e.lines)) {
      expect(line.x + line.text.length * 6, line.text).toBeLessThanOrEqual(width);
      expect(line.y, line.text).toBeLessThanOrEqual(height);
      expect(line.y, line.text).toBeGreaterThan(below);
      below = line.y;
    }
  }
  const rssOf = (labels: string[]): string =>
    chartsFrom([
      file([], {
        backfills: labels.map((label) => ({
          label,
          dialect: 'sqlite' as const,
          samples: [
            { seconds: 0, rssBytes: 100 * 1024 * 1024 },
            { seconds: 10, rssBytes: 180 * 1024 * 1024 },
          ],
        })),
      }),
    ])[0]?.svg ?? '';

  it('a legend name longer than its column is wrapped at spaces, every line inside the chart, none lost', () => {
    const label = '1,000,000 profiles, old space 256 MB, semi-space 32 MB';
    const svg = rssOf([label]);
    parseSvg(svg);
    const [entry] = legendOf(svg);
    expect(entry?.name).toBe(`${label} (SQLite)`);
    expect(entry?.lines.length).toBeGreaterThan(1);
    expect(entry?.lines.map((l) => l.text).join(' ')).toBe(`${label} (SQLite)`);
    expectInside(svg);
  });

  it('a word longer than the column is cut into pieces; names too many to wrap are cut to a line each, whole in their title', () => {
    const word = 'NODE_OPTIONS=--max-old-space-size=256';
    const one = rssOf([word]);
    const pieces = legendOf(one)[0]?.lines.map((l) => l.text) ?? [];
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe(`${word} (SQLite)`);
    expectInside(one);
    const labels = Array.from({ length: 9 }, (_, i) => `${(i + 1) * 100},000 profiles, ${word}, semi-space 32 MB`);
    const many = rssOf(labels);
    parseSvg(many);
    const legend = legendOf(many);
    expect(legend.map((e) => e.name)).toEqual(labels.map((l) => `${l} (SQLite)`));
    for (const entry of legend) {
      expect(entry.lines).toHaveLength(1);
      const shown = entry.lines[0]?.text ?? '';
      expect(shown.endsWith('…')).toBe(true);
      expect(entry.name.startsWith(shown.slice(0, -1))).toBe(true);
    }
    expectInside(many);
  });

  it('the semi-space a NODE_OPTIONS value sets: either spelling, the last one, none when absent', () => {
    expect(semiSpaceMbOf('--max-old-space-size=256 --max-semi-space-size=32')).toBe(32);
    expect(semiSpaceMbOf('--max_semi_space_size=64')).toBe(64);
    expect(semiSpaceMbOf('--max-semi-space-size=16 --max-semi-space-size=32')).toBe(32);
    expect(semiSpaceMbOf('--max-old-space-size=256')).toBeUndefined();
    expect(semiSpaceMbOf('')).toBeUndefined();
    expect(semiSpaceMbOf('--no-max-semi-space-size-x=3')).toBeUndefined();
  });

  it('the RSS chart is drawn over the profiles stored when the samples count them', () => {
    const samples = [
      { seconds: 0, rssBytes: 100 * 1024 * 1024, records: 0 },
      { seconds: 10, rssBytes: 180 * 1024 * 1024, records: 10_000 },
    ];
    const rss = chartsFrom([file([], { backfills: [{ label: '10k', samples }] })])[0]?.svg ?? '';
    parseSvg(rss);
    expect(rss).toContain('profiles stored, thousands');
  });

  it("a backfill's figures: records spread over each page's time, RSS at 25/50/75/100 %, the second half's slope", () => {
    const MB = 1024 * 1024;
    // The pull reports 10,000 records once a page is stored: at 10 s, then at 20 s.
    const samples = [0, 5, 10, 15, 20].map((seconds, i) => ({
      seconds,
      rssBytes: (100 + 10 * i) * MB,
      records: seconds < 10 ? 0 : seconds < 20 ? 10_000 : 20_000,
    }));
    expect(interpolated(samples).map((s) => s.records)).toEqual([0, 5_000, 10_000, 15_000, 20_000]);
    const figures = backfillFigures(samples, { profiles: 20_000, seconds: 20, linked: 20_000, finished: true });
    expect(figures.peakRssBytes).toBe(140 * MB);
    expect(figures.rssAtBytes).toEqual([110 * MB, 120 * MB, 130 * MB, 140 * MB]);
    expect(figures.profilesPerSecond).toBe(1_000);
    // 10 MB per 5,000 records over the second half.
    expect(figures.slopeMbPer100k).toBeCloseTo(200);
  });

  it('no figures, no chart; a file that is not a bench file is refused by the schema', () => {
    expect(chartsFrom([file([])])).toEqual([]);
    expect(BenchFile.safeParse({ format: 'other', runs: [] }).success).toBe(false);
  });

  it("a connector bench's BENCH_JSON file holds only its vendor calls, and draws the calls-per-record chart", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vendor-calls-'));
    try {
      const path = join(dir, 'calls.json');
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      writeVendorCalls(path, machineInfo(), { records: 2000 }, [
        { vendor: 'Salesforce push', callsPerRecord: 0.015, ceilingPerRecord: 1 / 200 },
      ]);
      log.mockRestore();
      const written = BenchFile.parse(JSON.parse(readFileSync(path, 'utf8')));
      expect(written).toMatchObject({ format: BENCH_FORMAT, options: { records: 2000 }, runs: [] });
      expect(written.machine.loadAverageEnd).toHaveLength(3);
      const charts = chartsFrom([written]);
      expect(charts.map((c) => c.file)).toEqual(['calls-per-record.svg']);
      expect(seriesOf(charts[0]?.svg ?? '')).toEqual(['Salesforce push']);
      // A figure the schema refuses (JSON has no NaN) is not written.
      expect(() => writeVendorCalls(path, machineInfo(), {}, [{ vendor: 'x', callsPerRecord: Number.NaN, ceilingPerRecord: 1 }])).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('svg', () => {
  it('escapes names, so a series name cannot break the document', () => {
    const svg = lineChart({
      title: 'a <b> & "c"',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ name: `<script>&'"`, points: [{ x: 1, y: 2 }] }],
    });
    parseSvg(svg);
    expect(svg).not.toContain('<script>');
    expect(escapeXml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&apos;');
    parseSvg(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }));
    parseSvg(barChart({ title: 'empty', yLabel: 'y', bars: [] }));
  });

  it('nice ticks cover the range in round steps', () => {
    expect(niceTicks(0, 1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0, 0.013)).toEqual([0, 0.005, 0.01, 0.015]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});

/**
 * Backfill benchmark (issue 22, "Memory"): the first full pull of a system holding N people
 * into an empty hub, with the hub's memory sampled all along. Prints figures; asserts nothing.
 * Needs Redis and, for PostgreSQL, the server (`bash scripts/services.sh`).
 *
 *   npm run bench:backfill -- --profiles 200000 --dialect both --json backfill.json
 *
 * Three processes: this one, the Salesforce emulator (`backfill/emulator.ts`, seeded with
 * `--profiles` contacts through its side door, shared by the runs of both dialects) and, per
 * dialect, the hub (`backfill/hub.ts`: every engine role, the Salesforce connector only, a
 * fresh database and Redis prefix, both removed at the end). The hub asks for the first full
 * pull, which goes through a Bulk API 2.0 query paged by `Sforce-Locator` (10,000 rows a page,
 * over the 10,000-record threshold); this process reads the hub's RSS from
 * `/proc/<pid>/status` (VmRSS) every `--sample-ms` (500), beside the records the pull has stored
 * (its progress, which the hub prints). `--heap-mb <MB>` runs the hub with
 * `--max-old-space-size=<MB>` (V8's old space capped, as docs/DEPLOY.md "Memory" advises for a
 * process that pulls), printed and written as `heapMb`. A `--max-semi-space-size` in `NODE_OPTIONS`
 * (the compose worker's young generation), which the hub inherits, is named in the label.
 *
 * Printed per dialect: profiles/s (records linked at the end over the pull's duration), peak
 * RSS, RSS at 25/50/75/100 % of the records, the slope of RSS over the records of the second
 * half (MB per 100,000: flat is about 0), the duration, and the records linked at the end
 * (all N when nothing was lost). `--json <file>` writes the samples and figures as
 * `backfills[]` of the bench format (`results.ts`), which `npm run bench:charts` draws as
 * `rss-backfill.svg`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestDatabase } from '../../harness/db.js';
import { deletePrefix, REDIS_URL } from '../../harness/sync-hub.js';
import { Dialect } from './args.js';
import { backfillFigures } from './backfill/figures.js';
import type { RssSample } from './backfill/figures.js';
import type { BackfillEnd, BackfillHubSpec, BackfillSample } from './backfill/spec.js';
import { BENCH_FORMAT, BenchFile, machineInfo, semiSpaceMbOf } from './results.js';
import type { BackfillJson, BenchFileInput } from './results.js';

const MB = 1024 * 1024;

function spawnScript(file: string, env: unknown, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(new URL(file, import.meta.url))], {
    env: { ...process.env, CONCORD_BENCH_BACKFILL: JSON.stringify(env) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return child;
}

/** The JSON lines a child prints on standard output. */
async function* linesOf(child: ChildProcess): AsyncGenerator<unknown> {
  if (!child.stdout) return;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.trim().startsWith('{')) yield JSON.parse(line) as unknown;
  }
}

function vmRss(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

async function backfill(
  dialect: Dialect,
  profiles: number,
  loginUrl: string,
  sampleMs: number,
  heapMb: number | undefined,
): Promise<BackfillJson> {
  const db = await createTestDatabase(dialect);
  const prefix = `{bf-${randomBytes(4).toString('hex')}}`;
  const spec: BackfillHubSpec = { redisUrl: REDIS_URL, prefix, dbUrl: db.url, loginUrl, sampleMs };
  const hub = spawnScript('./backfill/hub.ts', spec, heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`]);
  const samples: RssSample[] = [];
  let records = 0;
  let heapUsedBytes = 0;
  let startedAt: number | null = null;
  const sampler = setInterval(() => {
    const rss = hub.pid === undefined || startedAt === null ? null : vmRss(hub.pid);
    if (rss !== null && startedAt !== null)
      samples.push({ seconds: (performance.now() - startedAt) / 1000, rssBytes: rss, records, heapUsedBytes });
  }, sampleMs);
  let end: BackfillEnd | null = null;
  try {
    for await (const value of linesOf(hub)) {
      const line = value as Partial<BackfillSample & BackfillEnd>;
      startedAt ??= performance.now() - (line.seconds ?? 0) * 1000;
      if (line.done) {
        end = line as BackfillEnd;
        break;
      }
      records = line.records ?? records;
      heapUsedBytes = line.heapUsedBytes ?? heapUsedBytes;
    }
  } finally {
    clearInterval(sampler);
    await new Promise<void>((resolve) => (hub.exitCode === null ? hub.once('exit', () => resolve()) : resolve()));
    await deletePrefix(prefix);
    await db.drop();
  }
  const last = samples.at(-1);
  if (end && last) samples.push({ seconds: end.seconds, rssBytes: last.rssBytes, records: end.records });
  const figures = backfillFigures(samples, {
    profiles,
    seconds: end?.seconds ?? Number.NaN,
    linked: end?.linked ?? 0,
    finished: end?.state === 'completed',
  });
  if (end?.error) console.log(`  the pull failed: ${end.error}`);
  const semiSpaceMb = semiSpaceMbOf(process.env['NODE_OPTIONS'] ?? '');
  const label =
    `${profiles.toLocaleString('en')} profiles${heapMb === undefined ? '' : `, old space ${heapMb} MB`}` +
    (semiSpaceMb === undefined ? '' : `, semi-space ${semiSpaceMb} MB`);
  return { label, dialect, ...(heapMb === undefined ? {} : { heapMb }), samples, figures };
}

function report(b: BackfillJson): void {
  const f = b.figures;
  if (!f) return;
  const mb = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : `${(n / MB).toFixed(0)} MB`);
  console.log(`\n[backfill] ${b.label}, ${b.dialect ?? ''}${f.finished ? '' : ' (NOT FINISHED)'}`);
  if (b.heapMb !== undefined) console.log(`  hub run with --max-old-space-size=${b.heapMb}`);
  console.log(`  duration ${f.seconds?.toFixed(1) ?? '-'} s, ${f.profilesPerSecond?.toFixed(0) ?? '-'} profiles/s`);
  console.log(`  linked at the end: ${f.linked} of ${f.profiles}${f.linked === f.profiles ? '' : ' (MISSING SOME)'}`);
  console.log(`  peak RSS ${mb(f.peakRssBytes)}; at 25/50/75/100 %: ${f.rssAtBytes.map(mb).join(' / ')}`);
  console.log(`  slope (second half): ${f.slopeMbPer100k?.toFixed(1) ?? '-'} MB per 100k profiles`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      profiles: { type: 'string', default: '50000' },
      dialect: { type: 'string', default: 'both' },
      json: { type: 'string' },
      'sample-ms': { type: 'string', default: '500' },
      'heap-mb': { type: 'string' },
    },
  });
  const profiles = Number(values.profiles);
  const sampleMs = Number(values['sample-ms']);
  const heapMb = values['heap-mb'] === undefined ? undefined : Number(values['heap-mb']);
  const one = Dialect.safeParse(values.dialect).data;
  const dialects: Dialect[] | undefined = values.dialect === 'both' ? [...Dialect.options] : one && [one];
  const heapOk = heapMb === undefined || (Number.isInteger(heapMb) && heapMb > 0);
  if (!Number.isInteger(profiles) || profiles <= 0 || !dialects || !(sampleMs > 0) || !heapOk) {
    console.error(
      'npm run bench:backfill -- [--profiles N] [--dialect sqlite|postgres|both] [--sample-ms 500] [--heap-mb MB] [--json file]',
    );
    return 2;
  }
  const machine = machineInfo();
  const emulator = spawnScript('./backfill/emulator.ts', { profiles });
  const backfills: BackfillJson[] = [];
  try {
    const first = (await linesOf(emulator).next()).value as { url: string; seconds: number } | undefined;
    if (!first) throw new Error('the emulator did not start');
    console.log(`[emulator] ${profiles} contacts seeded in ${first.seconds.toFixed(1)} s at ${first.url}`);
    for (const dialect of dialects) {
      const b = await backfill(dialect, profiles, first.url, sampleMs, heapMb);
      report(b);
      backfills.push(b);
    }
  } finally {
    emulator.stdin?.end();
  }
  if (values.json) {
    const file: BenchFileInput = {
      format: BENCH_FORMAT,
      machine: { ...machine, loadAverageEnd: loadavg() },
      options: { profiles, dialect: values.dialect, sampleMs, ...(heapMb === undefined ? {} : { heapMb }) },
      runs: [],
      backfills,
    };
    writeFileSync(values.json, `${JSON.stringify(BenchFile.parse(file), null, 2)}\n`);
    console.log(`\nwrote ${values.json}`);
  }
  return backfills.every((b) => b.figures?.finished && b.figures.linked === profiles) ? 0 : 1;
}

process.exitCode = await main();

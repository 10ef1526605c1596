/**
 * SVG charts from the sync benchmark's JSON files, with no external service:
 *
 *   npm run bench:charts -- bench-1w.json bench-2w.json bench-4w.json --out docs/perf/
 *
 * Reads each file (`npm run bench -- --json <file>`, checked against `results.ts`), writes
 * every chart the files hold figures for (`plots.ts`) into `--out` (default `docs/perf/`),
 * and prints the files written. Exit code 2 on a file it cannot read or that is not a bench file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chartsFrom } from './plots.js';
import { BenchFile } from './results.js';

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string', default: 'docs/perf/' } },
  });
  if (positionals.length === 0) {
    console.error('npm run bench:charts -- <bench json files> [--out docs/perf/]');
    return 2;
  }
  const files: BenchFile[] = [];
  for (const path of positionals) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      console.error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
      return 2;
    }
    const parsed = BenchFile.safeParse(json);
    if (!parsed.success) {
      console.error(
        `${path}: not a bench file (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`,
      );
      return 2;
    }
    files.push(parsed.data);
  }
  const charts = chartsFrom(files);
  mkdirSync(values.out, { recursive: true });
  for (const chart of charts) {
    const path = join(values.out, chart.file);
    writeFileSync(path, chart.svg);
    console.log(`wrote ${path}`);
  }
  if (charts.length === 0) console.log('no chart: the files hold no figures to draw');
  return 0;
}

process.exitCode = main();

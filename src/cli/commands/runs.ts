/**
 * `concord runs <connector> [--json] [--limit N]`: a connector's recent sync runs (pulls, push
 * batches, backfills), newest first, as `GET /api/v1/connectors/{id}/runs` shows them: an aligned
 * table on a terminal, tab-separated lines otherwise (with a header), the API's JSON with `--json`.
 * It reads the hub's database alone.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { openConfiguredStore } from '../../app/store.js';
import { createHubLogger } from '../../app/logger.js';
import { runList } from '../../server/index.js';
import type { RunList } from '../../server/index.js';
import { withConfigOption } from '../config-path.js';
import { loadConnector } from '../connector-config.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

interface Options {
  config?: string;
  json?: boolean;
  limit: number;
}

const COLUMNS = ['STARTED', 'KIND', 'TRIGGER', 'STATUS', 'DURATION', 'READ', 'CHANGED', 'WRITTEN', 'SKIPPED', 'FAILED', 'ERROR', 'REQUEST'];

async function runs(io: CliIo, id: string, options: Options): Promise<number> {
  const loaded = await loadConnector(io, 'concord runs', id, options.config);
  if (!loaded) return 1;
  const logger = createHubLogger({ level: io.env['LOG_LEVEL'] ?? 'warn', ...(io.logs ? { destination: io.logs } : {}) });
  const store = await openConfiguredStore(loaded.config, loaded.connectors, logger);
  try {
    const list = runList(await store.listRuns({ connector: id, limit: options.limit }));
    printRuns(io, id, list, options.json === true);
    return 0;
  } finally {
    await store.close();
  }
}

/** Prints a page of runs: JSON, a table on a terminal, tab-separated lines otherwise. */
export function printRuns(io: CliIo, connector: string, list: RunList, json: boolean): void {
  if (json) {
    io.log(JSON.stringify(list));
    return;
  }
  if (list.runs.length === 0) {
    io.log(`${connector}: no runs recorded`);
    return;
  }
  const rows = list.runs.map((run) => {
    const firstError = run.failure?.code ?? run.errors[0]?.code;
    return [
      run.startedAt,
      run.kind,
      run.trigger,
      run.status,
      run.durationMs === null ? '-' : duration(run.durationMs),
      ...[run.counts.read, run.counts.changed, run.counts.written, run.counts.skipped, run.counts.failed].map(String),
      firstError === undefined ? '-' : run.errorCount > 1 ? `${firstError} (+${run.errorCount - 1})` : firstError,
      run.requestId,
    ];
  });
  if (!io.isTTY) {
    for (const row of [COLUMNS, ...rows]) io.log(row.join('\t'));
    return;
  }
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  // Counts read best right-aligned; the rest left.
  const numeric = new Set([4, 5, 6, 7, 8, 9]);
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  io.log(line(COLUMNS));
  for (const row of rows) io.log(line(row));
}

function duration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1_000)).padStart(2, '0')}s`;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500');
  return n;
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('runs <connector>'))
    .description("a connector's recent sync runs (pulls, push batches, backfills), newest first, with their counts")
    .option('--limit <n>', 'how many runs (1-500)', positiveInt, 20)
    .option('--json', 'print the runs as JSON (as the admin API answers)')
    .action(async (id: string, options: Options) => {
      try {
        io.exit(await runs(io, id, options));
      } catch (err) {
        io.error(`concord runs: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}

/**
 * `concord plan [connector] [--json]`: a dry run of the next sync (the first one before any).
 * Reads each system that pulls (or the one named) by read-only calls within its rate limits, runs
 * what the hub would do in memory, and prints per system written how many records would be
 * created, updated or left alone, which fields change how often, and a few examples (e-mail
 * addresses and phone numbers redacted). Nothing is written anywhere: the store is opened without
 * migrations and only read (a SQLite file that does not exist yet is not created: the plan starts
 * from an empty hub), Redis is not used, and the systems get only reads. Progress goes to stderr.
 * Exit 1 on an invalid config, an unknown connector or a failed read.
 */
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { openStoreForReading } from '../../app/store.js';
import { toMergePolicy } from '../../config/policy.js';
import { loadConfig } from '../../config/load.js';
import { silentLogger } from '../../log/logger.js';
import { connectorsFromConfig, planSync, PlanReport } from '../../sync/index.js';
import type { PlanSource, PlanTarget } from '../../sync/index.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { printErrors, printWarnings } from '../report.js';

/** At most one progress line per this many ms when stderr is not a terminal. */
const PLAIN_PROGRESS_MS = 2_000;

/** Progress lines on stderr: one line rewritten in place on a terminal, plain lines at most every 2 s otherwise. */
function progressPrinter(io: CliIo): { page(e: { connector: string; pages: number; records: number }): void; end(): void } {
  const tty = io === processIo && process.stderr.isTTY;
  let last = 0;
  let open = false;
  return {
    page({ connector, pages, records }) {
      const line = `plan: ${connector}: read ${records} records (${pages} pages)`;
      if (tty) {
        io.writeErr(`\r${line}\u001b[K`);
        open = true;
      } else if (Date.now() - last >= PLAIN_PROGRESS_MS) {
        last = Date.now();
        io.error(line);
      }
    },
    end() {
      if (open) io.writeErr('\n');
      open = false;
    },
  };
}

function sourceLine(s: PlanSource): string {
  const read = `${s.records} records in ${s.pages} pages, ${s.calls} calls, ${(s.ms / 1000).toFixed(1)} s`;
  const first = s.firstPull ? `first pull, initialSync ${s.initialSync}` : 'from its cursor';
  if (s.firstPull && s.initialSync === 'push-only') {
    return `reads ${s.connector} (${first}): ${read}; not ingested: ${s.linked} linked to known people, ${s.notLinked} left alone`;
  }
  const other = [
    s.suppressed > 0 ? `${s.suppressed} suppressed` : '',
    s.noIdentity > 0 ? `${s.noIdentity} without identity` : '',
    s.deleted > 0 ? `${s.deleted} deleted` : '',
    s.erasureRequests > 0 ? `${s.erasureRequests} erasure requests` : '',
  ].filter((x) => x !== '');
  return `reads ${s.connector} (${first}): ${read}; hub profiles: ${s.created} new, ${s.updated} changed, ${s.unchanged} unchanged${other.length > 0 ? `; ${other.join(', ')}` : ''}`;
}

function printTarget(io: CliIo, t: PlanTarget): void {
  const skipped = [t.restricted > 0 ? `${t.restricted} restricted` : '', t.suppressed > 0 ? `${t.suppressed} being erased` : ''].filter(
    (x) => x !== '',
  );
  io.log(
    `writes ${t.connector}: create ${t.create}, update ${t.update}, leave alone ${t.unchanged}${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}${
      t.waitsForFirstPull
        ? ` — held until ${t.connector}'s first pull finished (initialSync pull-only)`
        : t.createsWaitForFirstPull && t.create > 0
          ? ` — the creates held until ${t.connector}'s first pull finished (initialSync ${t.initialSync})`
          : ''
    }`,
  );
  const fields = Object.entries(t.fields);
  if (fields.length > 0) io.log(`  fields: ${fields.map(([f, n]) => `${f} ${n}`).join(', ')}`);
  for (const e of t.examples) {
    const changes = Object.entries(e.fields).map(([f, v]) => (v.from === undefined ? `${f}=${v.to}` : `${f}: ${v.from} -> ${v.to}`));
    io.log(`  e.g. ${e.action}${e.externalId === undefined ? '' : ` ${e.externalId}`}: ${changes.join(', ')}`);
  }
}

async function plan(io: CliIo, only: string | undefined, options: { config?: string; json?: boolean }): Promise<number> {
  const file = resolveConfigPath(options.config, io.env);
  const loaded = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
  if (!loaded.ok) {
    printErrors(io, loaded.errors);
    return 1;
  }
  printWarnings(io, loaded.warnings);
  const connectors = connectorsFromConfig(loaded.config, builtinConnectors);
  if (only !== undefined && !connectors.some((c) => c.id === only)) {
    io.error(`concord plan: no enabled connector "${only}" in ${file}`);
    return 1;
  }
  const { store, empty } = await openStoreForReading(loaded.config, connectors);
  const progress = progressPrinter(io);
  try {
    if (empty) io.error(`plan: the database does not exist yet: planning the first sync into an empty hub`);
    const report = await planSync({
      connectors,
      ...(only === undefined ? {} : { only }),
      store,
      policy: toMergePolicy(loaded.config),
      logger: silentLogger(),
      progress: (e) => progress.page(e),
    });
    progress.end();
    if (options.json === true) {
      io.log(JSON.stringify(PlanReport.parse(report), null, 2));
      return 0;
    }
    for (const source of report.sources) io.log(sourceLine(source));
    for (const target of report.targets) printTarget(io, target);
    io.log(`plan made in ${(report.ms / 1000).toFixed(1)} s; nothing was written (dry run).`);
    return 0;
  } finally {
    progress.end();
    await store.close();
  }
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('plan [connector]'))
    .description(
      'dry run of the next sync: read each system (or the one named) with read-only calls and print what would be created, updated or left alone in each; writes nothing',
    )
    .option('--json', 'print the plan as JSON (the PlanReport schema)')
    .action(async (connector: string | undefined, options: { config?: string; json?: boolean }) => {
      try {
        io.exit(await plan(io, connector, options));
      } catch (err) {
        io.error(`concord plan: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}

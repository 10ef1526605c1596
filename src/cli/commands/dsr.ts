/**
 * `concord dsr ...`: data-subject requests from the command line.
 *
 *   concord dsr erase|export|rectify|restrict|unrestrict|object|withdraw-objection <email>
 *   concord dsr status <id>        concord dsr list [--overdue]
 *   concord dsr extend <id> --to <date> --told <date> --reason <text>
 *   concord dsr retry <id>         concord dsr schema [--out file]
 *
 * The command records the request in the store and queues its work on the hub's Redis; the
 * workers of a running hub (`concord start` with the `privacy` role: all, worker or privacy)
 * carry it out. `--wait` follows it to the end; a request still open when `--timeout` runs out
 * exits 2 with why (no hub works on this database and Redis prefix, or the systems it waits on).
 * While `npm start` runs a demo of the same config file, the command works on the demo's data
 * (its `data/demo.json`); `--no-demo` keeps to the config's own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFile } from 'node:fs/promises';
import { Option } from 'commander';
import type { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { exportHtml } from '../../server/export-html.js';
import { EXPORT_SCHEMA_PATH, exportCsv, exportJsonSchemaText } from '../../privacy/index.js';
import type { DsrInputData, DsrView, Result } from '../../privacy/index.js';
import type { Json, ObjectionKind } from '../../profile/schema.js';
import { withPrivacySession, withSessionOptions } from '../privacy-session.js';
import type { Session, SessionOptions } from '../privacy-session.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

const OBJECTIONS: Record<string, ObjectionKind> = {
  'direct-marketing': 'directMarketing',
  profiling: 'profiling',
  'automated-decisions': 'automatedDecisions',
};

type Common = SessionOptions & {
  json?: boolean;
  wait?: boolean;
  timeout?: string;
};

/** Exit code of a request still open when `--wait` gave up. */
const EXIT_STILL_OPEN = 2;

/** The request as a few readable lines. */
export function describe(view: DsrView): string {
  const lines = [
    `${view.id}  ${view.kind}${view.objection ? ` (${view.objection})` : ''}  ${view.status}${view.overdue ? '  OVERDUE' : ''}`,
    `  received ${view.receivedAt}  due ${view.extendedTo ?? view.dueAt}${view.extendedTo ? ' (extended)' : ''}${view.completedAt ? `  completed ${view.completedAt}` : ''}  from ${view.origin}`,
  ];
  if (view.failure) lines.push(`  failure: ${view.failure}`);
  const width = Math.max(0, ...view.systems.map((s) => s.connector.length));
  for (const s of view.systems) {
    const outcome = s.outcome ? `  ${s.outcome.outcome}${s.outcome.verified ? ` (verified: ${s.outcome.verified})` : ''}` : '';
    lines.push(
      `  ${s.connector.padEnd(width)}  ${s.status.padEnd(14)} attempts ${s.attempts}${outcome}${s.error ? `  error: ${s.error}` : ''}`,
    );
    const evidence = s.outcome?.evidence;
    if (evidence) lines.push(...evidenceLines(evidence).map((line) => `  ${''.padEnd(width)}  ${line}`));
    // An erasure the system carries out later (e.g. a Segment regulation), while it is under way.
    if (s.progress)
      lines.push(
        `  ${''.padEnd(width)}  progress: ${s.progress.text} (since ${s.progress.since}, reported ${s.progress.reportedAt}; ${s.progress.tickets.join(', ')})`,
      );
  }
  if (view.export) lines.push(`  export: ${view.export.ready ? `ready until ${view.export.expiresAt}` : 'not ready'}`);
  return lines.join('\n');
}

type Evidence = NonNullable<NonNullable<DsrView['systems'][number]['outcome']>['evidence']>;

/** A system's evidence, one line each: the search, the read-back, the calls (hashes shortened). */
function evidenceLines(evidence: Evidence): string[] {
  const short = (hash: string): string => hash.slice(0, 12);
  const lines: string[] = [];
  const { searched, readBack } = evidence;
  if (searched) {
    const by = searched.identities.map((i) => `${i.kind} ${short(i.hash)}`).join(', ') || 'nothing to search by';
    const found = searched.found === 0 ? 'not found' : `${searched.found} record(s) ${searched.records.map(short).join(', ')}`;
    lines.push(`searched ${searched.at} by ${searched.via} (${by}): ${found}`);
  }
  // Identities the system cannot be searched by: not found by them is no claim.
  if (evidence.unsearchable && evidence.unsearchable.length > 0)
    lines.push(`not searchable here: ${evidence.unsearchable.map((i) => `${i.kind} ${short(i.hash)}`).join(', ')}`);
  if (readBack) {
    const left = readBack.found === 0 ? 'none left' : `${readBack.found} still found ${readBack.records.map(short).join(', ')}`;
    lines.push(`read back ${readBack.at} by ${readBack.via}: ${left}`);
  }
  const calls = Object.entries(evidence.calls).map(([op, c]) => `${op} ×${c.count} (${c.first}${c.count > 1 ? ` .. ${c.last}` : ''})`);
  if (calls.length > 0) lines.push(`calls: ${calls.join(', ')}`);
  return lines;
}

function print(io: CliIo, view: DsrView, json: boolean | undefined): void {
  io.log(json ? JSON.stringify(view, null, 2) : describe(view));
}

const isOpen = (view: DsrView): boolean => view.status === 'received' || view.status === 'in_progress';

/** Why a request is still open after `--wait`, and what to do. */
async function stillOpenHint(session: Session, view: DsrView, waited: string): Promise<string> {
  const head = `request ${view.id} is still ${view.status} after ${waited}`;
  const later = `follow it with: concord dsr status ${view.id} --wait`;
  if ((await session.privacy.workersConnected()) === 0)
    return `${head}: no hub works on this ${session.where}. Start one with the privacy role (concord start, or npm start for the demo) on the same database and Redis, then ${later}`;
  const waiting = view.systems.filter((s) => s.status !== 'completed' && s.status !== 'not_applicable');
  const detail = waiting.map((s) => `${s.connector} ${s.status}${s.error ? ` (${s.error})` : ''}`).join(', ');
  return `${head}; a hub is working on it${detail ? `, waiting on ${detail}` : ''}. ${later}`;
}

/** Follows a request with `--wait`; answers it and whether it is still open when the time ran out. */
async function follow(io: CliIo, session: Session, view: DsrView, options: Common): Promise<{ view: DsrView; timedOut: boolean }> {
  if (!options.wait) return { view, timedOut: false };
  const waited = options.timeout ?? '2m';
  const deadline = Date.now() + (parseDuration(waited) ?? 120_000);
  let current = view;
  while (isOpen(current)) {
    if (Date.now() > deadline) {
      io.error(await stillOpenHint(session, current, waited));
      return { view: current, timedOut: true };
    }
    await sleep(250);
    const next = await session.privacy.get(view.id);
    if (!next.ok) throw next.error;
    current = next.value;
  }
  return { view: current, timedOut: false };
}

function report(io: CliIo, result: Result<DsrView>): DsrView | null {
  if (result.ok) return result.value;
  io.error(`${result.error.code}: ${result.error.message}`);
  return null;
}

function submitCommand(
  io: CliIo,
  dsr: Command,
  name: string,
  description: string,
  input: (email: string, options: Common & Record<string, unknown>) => DsrInputData,
  extra: (command: Command) => Command = (c) => c,
): void {
  extra(
    withSessionOptions(dsr.command(`${name} <email>`))
      .description(description)
      .option('--wait', 'follow the request until it completes or fails')
      .option('--timeout <duration>', 'how long --wait waits (e.g. 90s, 5m)', '2m')
      .option('--json', 'print the request as JSON'),
  ).action(async (email: string, options: Common & Record<string, unknown>) => {
    await withPrivacySession(io, 'dsr', options, async (session) => {
      const created = report(io, await session.privacy.submit(input(email, options), { origin: 'cli', actor: 'cli' }));
      if (!created) return 1;
      const followed = await follow(io, session, created, {
        ...options,
        wait: options.wait === true || typeof options['out'] === 'string',
      });
      const { view } = followed;
      print(io, view, options.json);
      if (followed.timedOut) return EXIT_STILL_OPEN;
      if (name === 'export' && typeof options['out'] === 'string' && !isOpen(view)) {
        const doc = await session.privacy.exportDocument(view.id);
        if (!doc.ok) {
          io.error(`${doc.error.code}: ${doc.error.message}`);
          return 1;
        }
        const format = options['format'] === 'csv' || options['format'] === 'html' ? options['format'] : 'json';
        await session.privacy.recordDownload(view.id, 'cli', format);
        const text =
          format === 'csv' ? exportCsv(doc.value) : format === 'html' ? exportHtml(doc.value) : `${JSON.stringify(doc.value, null, 2)}\n`;
        await writeFile(options['out'], text);
        io.log(`wrote ${options['out']}`);
      }
      return view.status === 'failed' ? 1 : 0;
    });
  });
}

/** `key=value` pairs of `--set`: values are JSON when they parse, else text. */
function parseSet(value: string, previous: Record<string, Json> = {}): Record<string, Json> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--set expects attribute=value (got "${value}")`);
  const key = value.slice(0, eq);
  const text = value.slice(eq + 1);
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    parsed = text;
  }
  return { ...previous, [key]: parsed };
}

export function register(program: Command, io: CliIo = processIo): void {
  const dsr = program
    .command('dsr')
    .description('data-subject requests: erase, export, rectify, restrict, object; status and overdue lists');

  submitCommand(io, dsr, 'erase', 'erase the person in every system and the store, and keep them erased', (email) => ({
    kind: 'erase',
    subject: { email },
  }));
  submitCommand(
    io,
    dsr,
    'export',
    'export everything held on the person (JSON, or CSV or a readable HTML page with --format csv|html)',
    (email, o) => ({ kind: 'export', subject: { email }, includeLive: o['live'] !== false }),
    (c) =>
      c
        .option('--live', 'search every system and include the records each holds now (the default)')
        .option('--no-live', 'export only what the hub keeps, asking no system')
        .option('--out <file>', 'write the export here once ready (implies waiting with --wait)')
        .addOption(new Option('--format <format>', 'the file format of --out').choices(['json', 'csv', 'html']).default('json')),
  );
  submitCommand(
    io,
    dsr,
    'rectify',
    'correct attributes (wins over older values) and tell every system',
    (email, o) => ({ kind: 'rectify', subject: { email }, attributes: (o['set'] as Record<string, Json> | undefined) ?? {} }),
    (c) => c.requiredOption('--set <attribute=value>', 'an attribute to correct (repeatable; JSON values allowed)', parseSet),
  );
  submitCommand(io, dsr, 'restrict', 'restrict processing: systems get only the restriction markers', (email) => ({
    kind: 'restrict',
    subject: { email },
  }));
  submitCommand(io, dsr, 'unrestrict', 'lift a restriction of processing', (email) => ({ kind: 'unrestrict', subject: { email } }));
  const objection = (c: Command): Command =>
    c.addOption(new Option('--to <use>', 'what the person objects to').choices(Object.keys(OBJECTIONS)).default('direct-marketing'));
  submitCommand(
    io,
    dsr,
    'object',
    'record an objection (direct marketing, profiling, automated decisions)',
    (email, o) => ({ kind: 'object', subject: { email }, objection: OBJECTIONS[String(o['to'])] ?? 'directMarketing' }),
    objection,
  );
  submitCommand(
    io,
    dsr,
    'withdraw-objection',
    'withdraw an objection, at the person’s request',
    (email, o) => ({ kind: 'withdraw_objection', subject: { email }, objection: OBJECTIONS[String(o['to'])] ?? 'directMarketing' }),
    objection,
  );

  withSessionOptions(dsr.command('status <id>'))
    .description("a request's status per system")
    .option('--json', 'print as JSON')
    .option('--wait', 'follow the request until it completes or fails')
    .option('--timeout <duration>', 'how long --wait waits', '2m')
    .action(async (id: string, options: Common) => {
      await withPrivacySession(io, 'dsr', options, async (session) => {
        const found = report(io, await session.privacy.get(id));
        if (!found) return 1;
        const followed = await follow(io, session, found, options);
        print(io, followed.view, options.json);
        if (followed.timedOut) return EXIT_STILL_OPEN;
        return followed.view.status === 'failed' ? 1 : 0;
      });
    });

  withSessionOptions(dsr.command('list'))
    .description('requests, oldest first; --overdue: the open ones past their deadline')
    .option('--overdue', 'only open requests past their deadline')
    .addOption(new Option('--status <status>', 'only requests in this status').choices(['received', 'in_progress', 'completed', 'failed']))
    .option('--json', 'print as JSON')
    .action(async (options: Common & { overdue?: boolean; status?: 'received' | 'in_progress' | 'completed' | 'failed' }) => {
      await withPrivacySession(io, 'dsr', options, async (session) => {
        const views = await session.privacy.list({
          ...(options.overdue ? { overdue: true } : {}),
          ...(options.status ? { status: options.status } : {}),
        });
        if (options.json) io.log(JSON.stringify(views, null, 2));
        else if (views.length === 0) io.log(options.overdue ? 'no overdue requests' : 'no requests');
        else io.log(views.map(describe).join('\n'));
        return 0;
      });
    });

  withSessionOptions(dsr.command('extend <id>'))
    .description('extend the deadline by up to two months (Art. 12(3)), recording when the person was told and why')
    .requiredOption('--to <instant>', 'the new deadline (ISO-8601)')
    .requiredOption('--told <instant>', 'when the person was told (ISO-8601)')
    .requiredOption('--reason <text>', 'why the extension is needed')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: Common & { to: string; told: string; reason: string }) => {
      await withPrivacySession(io, 'dsr', options, async (session) => {
        const iso = (text: string): string => new Date(text).toISOString();
        const view = report(
          io,
          await session.privacy.extend(
            id,
            { extendedTo: iso(options.to), subjectToldAt: iso(options.told), reason: options.reason },
            'cli',
          ),
        );
        if (!view) return 1;
        print(io, view, options.json);
        return 0;
      });
    });

  withSessionOptions(dsr.command('retry <id>'))
    .description('try the failed systems of a request again')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: Common) => {
      await withPrivacySession(io, 'dsr', options, async (session) => {
        const view = report(io, await session.privacy.retry(id, 'cli'));
        if (!view) return 1;
        print(io, view, options.json);
        return 0;
      });
    });

  dsr
    .command('schema')
    .description(`write the export's JSON Schema (generated from its zod schema) to ${EXPORT_SCHEMA_PATH}, or print it`)
    .option('--out <file>', 'where to write it', EXPORT_SCHEMA_PATH)
    .option('--print', 'print it instead of writing it')
    .action(async (options: { out: string; print?: boolean }) => {
      if (options.print) io.writeOut(exportJsonSchemaText());
      else {
        await writeFile(options.out, exportJsonSchemaText());
        io.log(`wrote ${options.out}`);
      }
    });
}

/**
 * The sync benchmark's command line as a pure function (`parseBenchArgs`), so that it can be
 * tested; `options.ts` applies it to `process.argv`. Throws `BenchArgsError` with a message
 * for the user on a value it cannot use.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatRoles, parseRoles } from '../../src/app/roles.js';
import type { RoleSet } from '../../src/app/roles.js';

/** A database the hub's store runs on in a bench run. */
export const Dialect = z.enum(['sqlite', 'postgres']);
export type Dialect = z.infer<typeof Dialect>;

/** The hub's processes in one bench run. */
export interface Layout {
  /** This process's roles: it takes the webhooks, so it has `api`. */
  self: RoleSet;
  /** The roles of each child hub process (`hub-worker.ts`). */
  children: RoleSet[];
  /** `--workers N`: N worker processes besides an api-only process; null for a `--processes` layout. */
  workers: number | null;
  /** Every process's roles, as `api,push / ingest,relay,pull`. */
  text: string;
}

/** The bench's options, as read from the command line. */
export interface BenchArgs {
  /** `--profiles`: people created in the seed phase. @defaultValue 2500 */
  profiles: number;
  /** `--changes`: changes offered in the throughput phase. @defaultValue 6000 */
  changes: number;
  /** `--paced-seconds`: length of each latency phase. @defaultValue 10 */
  pacedSeconds: number;
  /** `--load`: offered rate of each latency phase, as a share of the throughput phase's (comma list). @defaultValue [0.5] */
  loads: number[];
  /** `--isolated`: single changes of phase 4, each offered to an idle hub (0: no phase 4). @defaultValue 20 */
  isolated: number;
  /** `--isolated-gap-ms`: the pause before each isolated change, after the previous one was delivered. @defaultValue 500 */
  isolatedGapMs: number;
  /** `--raw-jobs`: no-op jobs of the raw BullMQ baseline. @defaultValue 20000 */
  rawJobs: number;
  /** `--max-batch`: the targets' batch size. @defaultValue 100 */
  maxBatch: number;
  /** `--window`: source webhooks in flight at most. @defaultValue 256 */
  window: number;
  /** `--seed`: the change stream's seed. @defaultValue 42 */
  seed: number;
  /** `--phase-timeout` (seconds, here ms): how long a phase may take to be delivered. @defaultValue 90000 */
  phaseTimeoutMs: number;
  /** `--dialect sqlite|postgres|both`: the store of each run. @defaultValue ['sqlite', 'postgres'] */
  dialects: Dialect[];
  /** `--processes` or `--workers`: one layout per run of each dialect. */
  layouts: Layout[];
  /** `--json <file>`: where every figure of the run is written; null for none. @defaultValue null */
  json: string | null;
  /** `--waits`: time every call to Redis, the store and the vendors in every hub process (`waits.ts`). @defaultValue false */
  waits: boolean;
}

export class BenchArgsError extends Error {
  override readonly name = 'BenchArgsError';
}

/** The documented 2-core deployment: `concord start --role api,push` and `--role ingest,relay,pull`. */
export const DEFAULT_PROCESSES = 'api,push/ingest,relay,pull';
/** The roles of each `--workers` process: every engine role but `api` (the bench has no data-subject requests). */
export const WORKER_ROLES = 'ingest,relay,push,pull';
/** The most worker processes `--workers` takes. */
export const MAX_WORKERS = 16;

function layoutText(sets: readonly RoleSet[]): string {
  return sets.map(formatRoles).join(' / ');
}

/** `--processes`: the roles of this process (which takes the webhooks) and of the others, separated by `/`. */
export function parseLayout(text: string): Layout {
  const sets = text.split('/').map((part, i) => {
    const parsed = parseRoles(part);
    if (!parsed.ok) throw new BenchArgsError(`--processes, process ${i + 1}: ${parsed.message}`);
    return parsed.roles;
  });
  const covered = new Set(sets.flatMap((roles) => [...roles]));
  const missing = (['api', 'ingest', 'relay', 'push'] as const).filter((role) => !covered.has(role));
  if (missing.length > 0) throw new BenchArgsError(`--processes: no process runs ${missing.join(', ')}`);
  const [self, ...children] = sets;
  if (!self?.has('api')) throw new BenchArgsError('--processes: the first process (this one) takes the webhooks, so it needs api');
  return { self, children, workers: null, text: layoutText(sets) };
}

/** `--workers N`: an api-only process (this one) and N processes with every other engine role. */
export function workersLayout(n: number): Layout {
  const api = parseLayout(`api/${WORKER_ROLES}`);
  const worker = api.children[0];
  if (!worker) throw new BenchArgsError('--workers: no worker roles');
  const children = Array.from({ length: n }, () => worker);
  return { self: api.self, children, workers: n, text: layoutText([api.self, ...children]) };
}

/** A comma list of numbers, each checked by `valid`. */
function numbers(option: string, text: string, valid: (n: number) => boolean, what: string): number[] {
  const items = text.split(',').map((item) => item.trim());
  const values = items.map(Number);
  const bad = items.find((item, i) => item === '' || !valid(values[i] ?? Number.NaN));
  if (bad !== undefined) throw new BenchArgsError(`--${option}: ${JSON.stringify(bad)} is not ${what}`);
  return values;
}

function one(option: string, text: string, valid: (n: number) => boolean, what: string): number {
  if (text.includes(',')) throw new BenchArgsError(`--${option}: one value, not a list`);
  return numbers(option, text, valid, what)[0] ?? Number.NaN;
}

const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;
const nonNegativeInt = (n: number): boolean => Number.isInteger(n) && n >= 0;
const positive = (n: number): boolean => Number.isFinite(n) && n > 0;

export function parseDialects(text: string): Dialect[] {
  if (text === 'both') return ['sqlite', 'postgres'];
  const parsed = Dialect.safeParse(text);
  if (!parsed.success) throw new BenchArgsError(`--dialect: ${JSON.stringify(text)} is not sqlite, postgres or both`);
  return [parsed.data];
}

/** Reads the bench's options from `argv` (without the node and script paths). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        profiles: { type: 'string', default: '2500' },
        changes: { type: 'string', default: '6000' },
        'paced-seconds': { type: 'string', default: '10' },
        load: { type: 'string', default: '0.5' },
        isolated: { type: 'string', default: '20' },
        'isolated-gap-ms': { type: 'string', default: '500' },
        'raw-jobs': { type: 'string', default: '20000' },
        'max-batch': { type: 'string', default: '100' },
        window: { type: 'string', default: '256' },
        seed: { type: 'string', default: '42' },
        'phase-timeout': { type: 'string', default: '90' },
        processes: { type: 'string' },
        workers: { type: 'string' },
        dialect: { type: 'string', default: 'both' },
        json: { type: 'string' },
        waits: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new BenchArgsError(err instanceof Error ? err.message : String(err));
  }
  if (values.processes !== undefined && values.workers !== undefined) {
    throw new BenchArgsError('--processes and --workers: give one of them (--workers N is api / N x ' + WORKER_ROLES + ')');
  }
  const layouts =
    values.workers !== undefined
      ? numbers('workers', values.workers, (n) => positiveInt(n) && n <= MAX_WORKERS, `a number of processes from 1 to ${MAX_WORKERS}`).map(
          workersLayout,
        )
      : [parseLayout(values.processes ?? DEFAULT_PROCESSES)];
  if (values.json === '') throw new BenchArgsError('--json: give a file name');
  return {
    profiles: one('profiles', values.profiles, positiveInt, 'a positive whole number'),
    changes: one('changes', values.changes, positiveInt, 'a positive whole number'),
    pacedSeconds: one('paced-seconds', values['paced-seconds'], nonNegativeInt, 'a whole number of seconds'),
    loads: numbers('load', values.load, positive, 'a positive share of the throughput'),
    isolated: one('isolated', values.isolated, nonNegativeInt, 'a whole number'),
    isolatedGapMs: one('isolated-gap-ms', values['isolated-gap-ms'], nonNegativeInt, 'a whole number of milliseconds'),
    rawJobs: one('raw-jobs', values['raw-jobs'], positiveInt, 'a positive whole number'),
    maxBatch: one('max-batch', values['max-batch'], positiveInt, 'a positive whole number'),
    window: one('window', values.window, positiveInt, 'a positive whole number'),
    seed: one('seed', values.seed, nonNegativeInt, 'a whole number'),
    phaseTimeoutMs: one('phase-timeout', values['phase-timeout'], positive, 'a positive number of seconds') * 1000,
    dialects: parseDialects(values.dialect),
    layouts,
    json: values.json ?? null,
    waits: values.waits,
  };
}

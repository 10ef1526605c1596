/**
 * The benchmark's command line (`npm run bench -- --profiles 2500 ...`), read once, and what
 * follows from it: the hub's deployment (`--processes`), the floor, the engine's tuning.
 */
import { parseArgs } from 'node:util';
import { formatRoles, parseRoles } from '../../src/app/roles.js';
import type { RoleSet } from '../../src/app/roles.js';
import { EngineTuning } from '../../src/sync/options.js';

const { values: args } = parseArgs({
  options: {
    profiles: { type: 'string', default: '2500' },
    changes: { type: 'string', default: '6000' },
    'paced-seconds': { type: 'string', default: '10' },
    load: { type: 'string', default: '0.5' },
    'raw-jobs': { type: 'string', default: '20000' },
    'max-batch': { type: 'string', default: '100' },
    window: { type: 'string', default: '256' },
    seed: { type: 'string', default: '42' },
    'phase-timeout': { type: 'string', default: '90' },
    processes: { type: 'string', default: 'api,push/ingest,relay,pull' },
    isolated: { type: 'string', default: '20' },
    'isolated-gap-ms': { type: 'string', default: '500' },
  },
});
export const PROFILES = Number(args.profiles);
export const CHANGES = Number(args.changes);
export const PACED_SECONDS = Number(args['paced-seconds']);
export const LOAD = Number(args.load);
export const RAW_JOBS = Number(args['raw-jobs']);
export const MAX_BATCH = Number(args['max-batch']);
export const WINDOW = Number(args.window);
export const PHASE_TIMEOUT_MS = Number(args['phase-timeout']) * 1000;
/** `--isolated`: single changes of phase 4, each offered to an idle hub (0: no phase 4). */
export const ISOLATED = Number(args.isolated);
/** `--isolated-gap-ms`: the pause before each isolated change, after the previous one was delivered. */
export const ISOLATED_GAP_MS = Number(args['isolated-gap-ms']);
/** `--processes`: the roles of this process (which takes the webhooks) and of the others. */
function parseLayout(text: string): { self: RoleSet; children: RoleSet[] } {
  const sets = text.split('/').map((part, i) => {
    const parsed = parseRoles(part);
    if (!parsed.ok) throw new Error(`--processes, process ${i + 1}: ${parsed.message}`);
    return parsed.roles;
  });
  const covered = new Set(sets.flatMap((roles) => [...roles]));
  const missing = (['api', 'ingest', 'relay', 'push'] as const).filter((role) => !covered.has(role));
  if (missing.length > 0) throw new Error(`--processes: no process runs ${missing.join(', ')}`);
  const [self, ...children] = sets;
  if (!self?.has('api')) throw new Error('--processes: the first process (this one) takes the webhooks, so it needs api');
  return { self, children };
}
export const { self: SELF_ROLES, children: CHILD_ROLES } = parseLayout(args.processes);
/** Every hub process's roles, this one first (the order of the per-process figures). */
export const LAYOUT: RoleSet[] = [SELF_ROLES, ...CHILD_ROLES];
export const LAYOUT_TEXT = LAYOUT.map(formatRoles).join(' / ');

export const FLOOR_CHANGES_PER_S = 1000;
export const FLOOR_CALLS_PER_RECORD = 1.05 / MAX_BATCH;
export const TUNING = EngineTuning.parse({});
/** `--seed`: the change stream's seed. */
export const SEED = Number(args.seed);

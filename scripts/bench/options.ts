/**
 * The benchmark's command line (`npm run bench -- --profiles 2500 ...`), read once by
 * `parseBenchArgs` (args.ts), and what follows from it: the floor, the engine's tuning.
 * A value it cannot use ends the process with its message and exit code 2.
 */
import { BenchArgsError, parseBenchArgs } from './args.js';
import type { BenchArgs } from './args.js';
import { EngineTuning } from '../../src/sync/options.js';

function read(): BenchArgs {
  try {
    return parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof BenchArgsError)) throw err;
    console.error(`npm run bench: ${err.message}`);
    process.exit(2);
  }
}

export const ARGS = read();
export const PROFILES = ARGS.profiles;
export const CHANGES = ARGS.changes;
export const PACED_SECONDS = ARGS.pacedSeconds;
export const LOADS = ARGS.loads;
/** `--isolated`: single changes of phase 4, each offered to an idle hub (0: no phase 4). */
export const ISOLATED = ARGS.isolated;
/** `--isolated-gap-ms`: the pause before each isolated change, after the previous one was delivered. */
export const ISOLATED_GAP_MS = ARGS.isolatedGapMs;
export const RAW_JOBS = ARGS.rawJobs;
export const MAX_BATCH = ARGS.maxBatch;
export const WINDOW = ARGS.window;
export const PHASE_TIMEOUT_MS = ARGS.phaseTimeoutMs;

export const FLOOR_CHANGES_PER_S = 1000;
export const FLOOR_CALLS_PER_RECORD = 1.05 / MAX_BATCH;
export const TUNING = EngineTuning.parse({});
/** `--seed`: the change stream's seed. */
export const SEED = ARGS.seed;

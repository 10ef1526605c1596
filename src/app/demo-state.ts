/**
 * What a running demo (`npm start`) tells other commands on the same machine: where its data
 * lives (database, Redis prefix, and the private Redis it started, if any), which config it
 * runs, and its process id. `concord dsr …` uses it to reach the demo's data, and a second
 * `npm start` uses it to refuse before touching the running demo's database and keys.
 *
 * The configured Redis URL (which may carry a password) is not written, only a private loopback
 * Redis the demo started itself. `npm start` runs the demo on its SQLite file; a demo started
 * with a database URL that carries a password writes it, readable by its owner only (0600).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';

/** Where `npm start` keeps its state file, beside its database. */
export const DEMO_STATE_FILE = 'data/demo.json';

/** The state file: `CONCORD_DEMO_STATE`, else `data/demo.json` (relative to the working directory). */
export function demoStateFile(env: NodeJS.ProcessEnv): string {
  const set = env['CONCORD_DEMO_STATE'];
  return set !== undefined && set !== '' ? set : DEMO_STATE_FILE;
}

export const DemoState = z.object({
  pid: z.number().int().positive(),
  /** The config file the demo runs, as an absolute path. */
  config: z.string().optional(),
  databaseUrl: z.string(),
  keyPrefix: z.string(),
  /** A private redis-server the demo started (loopback, no password); absent: the config's `hub.redisUrl`. */
  privateRedisUrl: z.string().optional(),
  /** Where its server listens. */
  url: z.string().nullable(),
  startedAt: z.string(),
});
export type DemoState = z.infer<typeof DemoState>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

/** The demo running now, per the state file; `null` when none runs (a stale file from a killed demo counts as none). */
export function runningDemo(file: string): DemoState | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = DemoState.safeParse(json);
  if (!parsed.success || !alive(parsed.data.pid)) return null;
  return parsed.data;
}

/** Writes the state file (owner-only) and answers how to remove it when the demo stops. */
export function recordDemo(state: DemoState, file: string): () => void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return () => {
    // Only our own file: a newer demo may have replaced it.
    if (runningDemo(file)?.pid === state.pid) rmSync(file, { force: true });
  };
}

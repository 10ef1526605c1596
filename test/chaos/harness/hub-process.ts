/**
 * One hub process as an operator runs it: `concord start --config <file> --role <roles>` (the
 * real CLI, `src/cli/main.ts` through tsx's loader in ONE node process, so a SIGKILL kills the
 * hub itself and not a launcher in front of it). The harness can kill it (SIGKILL: no clean
 * up at all; SIGTERM: the CLI's orderly stop) and start it again with the same command line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForExit } from './os.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** When set, every line each hub process prints is also appended to `<dir>/<process name>.log` (with CONCORD_CHAOS_LOG_LEVEL=debug to trace a run). */
const LOG_DIR = process.env['CONCORD_CHAOS_LOG_DIR'];
if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });

export interface HubProcessSpec {
  /** A short name for reports and logs, e.g. `api` or `worker`. */
  name: string;
  /** The `--role` argument, e.g. `all`, `api,push`, `ingest,relay,pull,privacy`. */
  roles: string;
  /** Does it run the HTTP server (webhooks, admin API)? */
  api: boolean;
  /** Does it push to the systems (the process scenario (c) kills mid-batch)? */
  push: boolean;
}

export interface HubProcessOptions {
  configFile: string;
  /** Extra environment (secrets the config references, `CONCORD_ENGINE_TUNING`, `LOG_LEVEL`). */
  env: Record<string, string>;
  /** How long a start may take before it counts as failed. @defaultValue 60000 */
  startTimeoutMs?: number;
}

/** The lines a process printed (both streams), the last 400 kept. */
const KEEP_LINES = 400;

export class HubProcess {
  private child: ChildProcess | undefined;
  private readonly lines: string[] = [];
  /** How often it was started (1 after the first start). */
  starts = 0;

  constructor(
    readonly spec: HubProcessSpec,
    private readonly options: HubProcessOptions,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the process printed (last lines), for a failing scenario's message. */
  output(): string {
    return this.lines.join('\n');
  }

  /** Starts the process and waits until the CLI says `Hub running`. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`hub process ${this.spec.name} is already running`);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', this.options.configFile, '--role', this.spec.roles],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, LOG_LEVEL: process.env['CONCORD_CHAOS_LOG_LEVEL'] ?? 'warn', ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.starts++;
    let ready: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (ready = resolve));
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) continue;
        this.lines.push(`[${this.spec.name}#${this.starts}] ${line}`);
        if (LOG_DIR) appendFileSync(join(LOG_DIR, `${this.spec.name}.log`), `[#${this.starts}] ${line}\n`);
        if (line.startsWith('Hub running')) ready();
      }
      if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`hub process ${this.spec.name} exited during start (${signal ?? code}):\n${this.output()}`)),
      ),
    );
    exited.catch(() => undefined);
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`hub process ${this.spec.name} did not start within ${timeoutMs} ms:\n${this.output()}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([started, exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: the process dies where it stands (jobs active, leases held, requests in flight). */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: the CLI stops in order (workers finish their jobs, connections close). */
  async terminate(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Kills (SIGKILL by default) and starts the process again. */
  async restart(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await this.signal(signal);
    await this.start();
  }

  private async signal(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    await waitForExit(child, signal === 'SIGKILL' ? 5_000 : 30_000);
  }
}

/**
 * A private `redis-server` (no persistence) that a test may kill and start again empty on the
 * same port: the shared Redis on 6379 must never be killed. The Redis-loss tests and the chaos
 * harness use it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../src/app/free-port.js';
import { redisAnswers } from '../../src/app/redis.js';

export interface KillableRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** SIGKILL: everything in it is gone, as after a crash of a Redis without persistence. */
  kill(): Promise<void>;
  /** Starts an empty server on the same port and waits until it answers. */
  start(): Promise<void>;
}

export async function killableRedis(port?: number): Promise<KillableRedis> {
  const p = port ?? (await freePort());
  const url = `redis://127.0.0.1:${p}`;
  let child: ChildProcess | null = null;
  const isRunning = (): boolean => child !== null && child.exitCode === null && child.signalCode === null;
  const server: KillableRedis = {
    port: p,
    url,
    get running() {
      return isRunning();
    },
    async start() {
      if (isRunning()) throw new Error(`redis-server on port ${p} is already running`);
      child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      while (!(await redisAnswers(url, 200))) {
        if (!isRunning()) throw new Error(`redis-server on port ${p} exited at start`);
        if (Date.now() > deadline) throw new Error(`redis-server on port ${p} did not answer`);
        await sleep(50);
      }
    },
    async kill() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
  };
  await server.start();
  return server;
}

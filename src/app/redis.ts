/**
 * Finding a Redis for the quickstart: use the configured one when it answers; otherwise, when
 * `redis-server` is on PATH, start a private one (no persistence) on a free loopback port.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createRedisClient } from '../queue/redis-client.js';
import type { RedisTarget } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import { logRedisTrouble } from '../queue/redis-health.js';
import { redactUrlSecrets } from '../log/logger.js';
import { freePort } from './free-port.js';

/** True when a Redis (a Cluster: a node) answers PING at `target` within the timeout. */
export async function redisAnswers(target: RedisTarget, timeoutMs = 1_500): Promise<boolean> {
  const redis = createRedisClient(target, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** The path of an executable on PATH, if any. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free port; null when it is not installed. */
export async function startPrivateRedis(): Promise<PrivateRedis | null> {
  const binary = onPath('redis-server');
  if (!binary) return null;
  const port = await freePort();
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) {
      return {
        url,
        stop: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  return null;
}

/** Where Redis is, without credentials, for logs: a URL, a Cluster's seed nodes or a Sentinel group. */
export function redisUrlForLog(target: RedisTarget): string {
  const url = (u: string): string => (URL.canParse(u) ? redactUrlSecrets(u) : 'redis (unparsable URL)');
  if (typeof target === 'string') return url(target);
  if ('cluster' in target) return `cluster via ${target.cluster.nodes.map(url).join(', ')}`;
  if ('sentinel' in target)
    return `sentinel master ${target.sentinel.name} via ${target.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(', ')}`;
  return `${target.host ?? 'localhost'}:${target.port ?? 6379}`;
}

/** Says that Redis does not answer and what the process does meanwhile (at the bounded Redis log rate). */
export function reportRedisUnreachable(url: RedisTarget, logger: Logger, fields: Record<string, unknown> = {}): void {
  logRedisTrouble(
    logger,
    { redis: redisUrlForLog(url), ...fields },
    `redis unreachable at ${redisUrlForLog(url)}: retrying with backoff; workers wait for it, /healthz is up, /readyz answers 503`,
  );
}

/**
 * Waits until a Redis answers at `url`, trying again with backoff (`firstDelayMs` doubling up
 * to `maxDelayMs`). While it does not, says so clearly, at most one line per 10 s for the
 * whole process (together with the connections' own errors). Resolves at once when it answers.
 */
export async function waitForRedis(
  url: RedisTarget,
  logger: Logger,
  options: { firstDelayMs?: number; maxDelayMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const started = Date.now();
  let delay = options.firstDelayMs ?? 250;
  let attempts = 0;
  for (;;) {
    attempts++;
    if (await redisAnswers(url, 1_000)) {
      if (attempts > 1) logger.info({ redis: redisUrlForLog(url), attempts, waitedMs: Date.now() - started }, 'redis reachable: starting');
      return;
    }
    if (options.signal?.aborted) throw new Error('stopped while waiting for Redis');
    reportRedisUnreachable(url, logger, { attempts, waitingMs: Date.now() - started });
    await sleep(delay);
    delay = Math.min(delay * 2, options.maxDelayMs ?? 5_000);
  }
}

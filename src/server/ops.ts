/** Operations endpoints: liveness, readiness (Redis and the database answer) and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Store } from '../store/types.js';

const READY_TIMEOUT_MS = 2_000;

async function check(name: string, probe: () => Promise<unknown>): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      }),
    ]);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

export function registerOps(app: FastifyInstance, deps: { redis: Redis; redisReady: () => boolean; store: Store; metrics: Registry }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const checks = await Promise.all([
      check('redis', async () => {
        if (!deps.redisReady()) throw new Error('not connected');
        const pong = await deps.redis.ping();
        if (pong !== 'PONG') throw new Error(`unexpected answer ${pong}`);
      }),
      check('database', () => deps.store.getCursor('__readyz__')),
    ]);
    const ok = checks.every((c) => c.ok);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(text);
  });
}

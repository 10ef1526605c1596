/**
 * Operations endpoints: liveness, readiness (Redis and the database answer) and Prometheus
 * metrics, the latter optionally behind a bearer token and on a listener of its own
 * (`hub.metrics`).
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { assertClusterServes } from '../queue/redis-health.js';
import type { RedisClient } from '../queue/redis-health.js';
import type { Registry } from 'prom-client';
import type { Store } from '../store/types.js';
import { findApiKey, presentedKey, sha256 } from './api-keys.js';
import { ApiProblem, sendProblem } from './problem.js';

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

export function registerOps(
  app: FastifyInstance,
  deps: {
    redis: RedisClient;
    redisReady: () => boolean;
    store: Store;
    /** Keys in each hash tag the hub uses: in a Redis Cluster their slots must be served. */
    slotKeys?: readonly string[];
  },
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const checks = await Promise.all([
      check('redis', async () => {
        if (!deps.redisReady()) throw new Error('not connected');
        const pong = await deps.redis.ping();
        if (pong !== 'PONG') throw new Error(`unexpected answer ${pong}`);
        await assertClusterServes(deps.redis, deps.slotKeys ?? []);
      }),
      check('database', () => deps.store.getCursor('__readyz__')),
    ]);
    const ok = checks.every((c) => c.ok);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
  });
}

export interface MetricsRouteOptions {
  registry: Registry;
  /** The bearer token a scrape must send; none: anyone who reaches the route reads it. */
  token?: string | undefined;
}

/** `GET /metrics`: the Prometheus text exposition of the registry, behind the token when there is one. */
export function registerMetrics(app: FastifyInstance, options: MetricsRouteOptions): void {
  const tokens = options.token === undefined ? null : [{ id: 'metrics', sha256: sha256(options.token), scopes: [] }];
  app.get('/metrics', async (request, reply) => {
    if (tokens !== null) {
      const authorization = request.headers.authorization;
      // Only the Bearer form: a Basic header is not how the token is given.
      const presented = authorization?.toLowerCase().startsWith('bearer ') ? presentedKey(authorization) : undefined;
      if (presented === undefined || findApiKey(tokens, presented) === null) {
        reply.header('www-authenticate', 'Bearer realm="concord metrics"');
        return sendProblem(
          reply,
          new ApiProblem(401, 'unauthenticated', 'Unauthenticated', 'send Authorization: Bearer <hub.metrics.token>'),
        );
      }
    }
    const text = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(text);
  });
}

/** A server of its own for `/metrics` (`hub.metrics.listen`): nothing else is served there. */
export async function buildMetricsServer(options: MetricsRouteOptions & { logger: FastifyBaseLogger }): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'metrics-http' }),
    logController: new LogController({ disableRequestLogging: true }),
    // Request ids as on the main server: random, never the client's.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
  });
  registerMetrics(app, options);
  await app.ready();
  return app;
}

/**
 * Builds the hub's HTTP server (without listening): webhook ingress, the admin API with its
 * OpenAPI document, the preference center, health, readiness, metrics and the queue board.
 * Tests call `build(deps)` and `inject()`; `listen()` binds it.
 */
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { registerApi } from './api/routes.js';
import { apiOperations } from './api/operations.js';
import { dsrOperations } from './api/dsr-operations.js';
import { checkOperations } from './api/check-operation.js';
import { webhooksOutOperations } from './api/webhooks-out-operations.js';
import { historyOperations } from './api/history-operations.js';
import { runsOperations } from './api/runs-operations.js';
import { planOperations } from './api/plan-operations.js';
import { PlanRunner } from './plans.js';
import { registerDsrRoutes } from './dsr-routes.js';
import { DownloadLinks } from './preferences/downloads.js';
import { rightsSection } from './preferences/rights.js';
import { ServerOptions } from './deps.js';
import type { ServerDeps } from './deps.js';
import { registerJsonBodyParser } from './json-body.js';
import { httpMetrics, registerStateMetrics } from './metrics.js';
import { registerMetrics, registerOps } from './ops.js';
import { PreferenceLinks } from './preferences/links.js';
import { ApiProblem, RequestProblemError, sendProblem } from './problem.js';
import { registerPreferences } from './preferences/routes.js';
import { recipientsByPurpose } from './preferences/transparency.js';
import { brandOf } from './preferences/view.js';
import { QUEUE_BOARD_PATH, registerQueueBoard } from './queue-board.js';
import { registerAdminPage, runView } from './admin/routes.js';
import { registerRequests } from './requests/routes.js';
import { registerSecurityHeaders } from './security-headers.js';
import { registerWebhooks } from './webhooks.js';
import { redisReady as redisUp } from '../queue/redis-health.js';
import { engineHashTags, queuePrefix } from '../sync/index.js';
import { requestLogScope } from '../log/logger.js';
import type { RequestLogScope } from '../log/logger.js';

/** Seconds a client is asked to wait (Retry-After) while Redis is away. */
const REDIS_RETRY_AFTER_SEC = 5;

/** Paths that answer without Redis: the root, health, readiness, metrics and the API's documentation. */
const WITHOUT_REDIS = /^\/(?:$|\?|healthz|readyz|metrics|api\/v1\/(?:docs|openapi\.json))/;

function needsRedis(url: string): boolean {
  return !WITHOUT_REDIS.test(url);
}

/** A request URL fit for logs: preference-link tokens and webhook URL tokens are secrets. */
export function redactUrl(url: string): string {
  return url
    .replace(/^(\/preferences\/)[^/?#]+/, '$1[token]')
    .replace(/^(\/requests\/(?:confirm|download)\/)[^/?#]+/, '$1[token]')
    .replace(/^(\/webhooks\/[^/?#]+\/)[^/?#]+/, '$1[token]');
}

function requestLogFields(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: redactUrl(request.url), ip: request.ip };
}

export async function build(deps: ServerDeps): Promise<FastifyInstance> {
  const options = ServerOptions.parse(deps.options ?? {});
  const now = deps.now ?? Date.now;
  const logger: FastifyBaseLogger = deps.logger.child(
    { component: 'http' },
    { serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: redactUrl(req.url ?? '') }) } },
  );
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    // Every log line of a request carries its id (`reqId`); a random one, unique across
    // processes and restarts, never taken from the client (it would let one forge log lines'
    // ids). The answer names it (`X-Request-Id`) so an operator can find the request's lines.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Only these proxies' X-Forwarded-* are believed (client address for rate limits and consent evidence).
    trustProxy: deps.hub.trustProxy !== undefined && deps.hub.trustProxy.length > 0 ? [...deps.hub.trustProxy] : false,
    bodyLimit: options.bodyLimit,
    // Webhook senders and browsers keep connections open; do not let idle ones pile up.
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    // Preference-link tokens travel in the path.
    routerOptions: { maxParamLength: 1_000 },
  });
  // Every JSON body is checked for depth before it is parsed; the refusal is a problem on every
  // route (scopes with an error handler of their own answer it the same way).
  registerJsonBodyParser(app, { bodyLimit: options.bodyLimit });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // What serves a request (the engine, the privacy service, a connector) logs with its id too.
  // The body is read in the socket's own context: the scope is entered again once it is.
  const scopes = new WeakMap<FastifyRequest, RequestLogScope>();
  app.addHook('onRequest', (request, _reply, done) => {
    const scope = requestLogScope(request.id);
    scopes.set(request, scope);
    scope.run(done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const scope = scopes.get(request);
    if (scope) scope.run(done);
    else done();
  });
  const closeScope = (request: FastifyRequest, _reply: unknown, done: () => void): void => {
    scopes.get(request)?.close();
    done();
  };
  app.addHook('onResponse', closeScope);
  app.addHook('onRequestAbort', (request, done) => closeScope(request, undefined, done));
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof RequestProblemError) return sendProblem(reply, error.problem);
    throw error;
  });
  if (options.logRequests) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info({ ...requestLogFields(request), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    });
  }

  // Routes that need Redis refuse at once while it is away (the client retries), never wait.
  const redisReady = deps.redisReady ?? (() => redisUp(deps.redis));
  app.addHook('onRequest', async (request, reply) => {
    if (redisReady() || !needsRedis(request.url)) return;
    reply.header('retry-after', String(REDIS_RETRY_AFTER_SEC));
    return sendProblem(reply, new ApiProblem(503, 'redis_unavailable', 'Redis is unavailable; try again shortly'));
  });

  await registerSecurityHeaders(app, { publicUrl: deps.hub.publicUrl });
  await app.register(rateLimit, { global: false });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: options.bodyLimit });

  const metrics = httpMetrics(deps.metrics);
  registerStateMetrics(deps.metrics, { connectors: deps.connectors, engine: deps.engine, redisReady, now });
  const links = new PreferenceLinks(deps.hub.secrets.signing, deps.redis, deps.engine.prefix, now);

  // With a listener of its own (hub.metrics.listen), /metrics is not served here at all.
  const metricsHere = deps.hub.metrics?.listen === undefined;
  app.get('/', async () => ({
    name: 'Concord',
    links: {
      docs: '/api/v1/docs',
      openapi: '/api/v1/openapi.json',
      health: '/healthz',
      ready: '/readyz',
      ...(metricsHere ? { metrics: '/metrics' } : {}),
      queues: '/admin/queues',
      operations: '/admin',
    },
  }));
  // The deployment's hash tag, each queue's and each connector's (see `queuePrefix`): every slot the hub works in must be served.
  const tags = [...engineHashTags(deps.connectors), ...(deps.privacy?.queueNames() ?? [])];
  const slotKeys = [deps.engine.prefix, ...tags.map((tag) => queuePrefix(deps.engine.prefix, tag))].map((prefix) => `${prefix}:readyz`);
  registerOps(app, { redis: deps.redis, redisReady, store: deps.store, slotKeys });
  if (metricsHere) registerMetrics(app, { registry: deps.metrics, token: deps.hub.metrics?.token });
  await registerWebhooks(app, {
    engine: deps.engine,
    publicUrl: deps.hub.publicUrl,
    connectors: deps.connectors,
    bodyLimit: options.webhookBodyLimit,
    rateLimit: options.webhookRateLimit,
    metrics,
  });
  const plans = new PlanRunner({
    redis: deps.redis,
    prefix: deps.engine.prefix,
    connectors: deps.connectors,
    store: deps.store,
    policy: deps.policy,
    logger: deps.logger,
  });
  app.addHook('onClose', () => plans.close());
  await registerApi(app, {
    operations: [
      ...apiOperations({ deps, links, now }),
      ...webhooksOutOperations(deps.store, deps.connectors),
      ...historyOperations(deps.store),
      ...runsOperations(deps.store, deps.connectors),
      ...checkOperations(deps.connectors, deps.hub, deps.logger, {
        redis: deps.redis,
        prefix: deps.engine.prefix,
        blockedForMs: async (id) => (await deps.engine.connectorStatus(id)).budget.blockedForMs,
      }),
      ...planOperations(plans, deps.connectors),
      ...(deps.privacy ? dsrOperations(deps.privacy) : []),
    ],
    apiKeys: deps.apiKeys,
    publicUrl: deps.hub.publicUrl,
    rateLimit: options.apiRateLimit,
  });
  await registerPreferences(app, {
    links,
    store: deps.store,
    catalog: deps.catalog,
    recipients: recipientsByPurpose(deps.connectors, deps.connectorNames),
    policy: deps.policy,
    brand: brandOf(deps.hub.preferenceCenter),
    signingSecret: deps.hub.secrets.signing,
    secureCookies: deps.hub.publicUrl.startsWith('https:'),
    rateLimit: options.preferencesRateLimit,
    ingestPatch: (patch, o) => deps.ingestPatch(patch, o),
    metrics,
    now,
    ...(deps.privacy ? { rights: rightsSection() } : {}),
  });
  if (deps.privacy) {
    await registerDsrRoutes(app, {
      privacy: deps.privacy,
      store: deps.store,
      apiKeys: deps.apiKeys,
      apiRateLimit: options.apiRateLimit,
      links,
      downloads: new DownloadLinks(deps.hub.secrets.signing, deps.downloadLinkTtlMs ?? 15 * 60_000, now),
      brand: brandOf(deps.hub.preferenceCenter),
      signingSecret: deps.hub.secrets.signing,
      secureCookies: deps.hub.publicUrl.startsWith('https:'),
      preferencesRateLimit: options.preferencesRateLimit,
      languages: { locales: deps.catalog.locales, defaultLocale: deps.catalog.defaultLocale },
    });
  }
  if (deps.privacy && deps.requests) {
    await registerRequests(app, {
      verifications: deps.requests.verifications,
      privacy: deps.privacy,
      brand: brandOf(deps.hub.preferenceCenter),
      signingSecret: deps.hub.secrets.signing,
      secureCookies: deps.hub.publicUrl.startsWith('https:'),
      rateLimit: options.preferencesRateLimit,
      downloads: deps.requests.downloads,
      languages: { locales: deps.catalog.locales, defaultLocale: deps.catalog.defaultLocale },
      // The caught mails are shown only on a development hub.
      ...(deps.requests.catcher && deps.hub.mode === 'development' ? { catcher: deps.requests.catcher } : {}),
    });
  }
  if (options.queueBoard) {
    await registerQueueBoard(app, { redis: deps.redis, prefix: deps.engine.prefix, connectors: deps.connectors, apiKeys: deps.apiKeys });
  }
  registerAdminPage(app, {
    connectors: deps.connectors,
    connectorNames: deps.connectorNames,
    engine: deps.engine,
    apiKeys: deps.apiKeys,
    queueBoard: options.queueBoard ? QUEUE_BOARD_PATH : null,
    apiDocs: '/api/v1/docs',
    recentRuns: async (connector, limit) => (await deps.store.listRuns({ connector, limit })).runs.map(runView),
    now,
  });
  return app;
}

/** `http://<address>:<port>` of one bound socket, with IPv6 addresses in brackets (a pipe's path as it is). */
export function addressUrl(info: Pick<AddressInfo, 'address' | 'family' | 'port'> | string): string {
  if (typeof info === 'string') return info;
  return `http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`;
}

/**
 * The URL of every address a listening server is bound to: `localhost` may bind 127.0.0.1 and
 * ::1, and `0.0.0.0` is every IPv4 interface, which Fastify's own answer to `listen` hides
 * behind its first interface's address.
 */
export function boundUrls(app: FastifyInstance): string[] {
  return app.addresses().map(addressUrl);
}

/** Binds the server; returns the URL of the first address it is bound to (all: `boundUrls`). */
export async function listen(app: FastifyInstance, at: { host: string; port: number }): Promise<string> {
  await app.listen({ host: at.host, port: at.port });
  const [first = ''] = boundUrls(app);
  return first;
}

/**
 * The composition root: configuration -> store -> engine -> HTTP server. `concord start`
 * runs it with a set of roles (see `roles.ts`): `api` starts the HTTP server (webhooks are
 * enqueued, workers elsewhere process them), `ingest`, `relay`, `push` and `pull` start those
 * workers of the sync engine, `privacy` the data-subject-request workers; `worker` is all the
 * workers and `all` (the default) everything in one process.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { closeRedisClient, createRedisClient } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { builtinConnectors } from '../../connectors/index.js';
import type { Config } from '../config/schema.js';
import { toMergePolicy } from '../config/policy.js';
import { PrivacyService, privacyOptionsFromConfig } from '../privacy/index.js';
import { openMailer } from '../mail/index.js';
import type { MailCatcher, Mailer } from '../mail/index.js';
import { apiKeyRecords, boundUrls, build, buildMetricsServer, DownloadLinks, listen, RequesterVerifications } from '../server/index.js';
import { brandOf } from '../server/preferences/view.js';
import type { ServerOptionsInput } from '../server/index.js';
import { parseStoreUrl } from '../store/index.js';
import { openConfiguredStore } from './store.js';
import type { Store } from '../store/index.js';
import { engineFromConfig, HubPatchIngest, connectorsFromConfig } from '../sync/index.js';
import type { SyncConnector, Engine, EngineTuningInput } from '../sync/index.js';
import { formatRoles, runsEngineWorkers, toEngineRoles, toRoleSet } from './roles.js';
import { logRedisTrouble, redisReady } from '../queue/redis-health.js';
import { redisAnswers, redisUrlForLog, reportRedisUnreachable, waitForRedis } from './redis.js';
import type { Role, RoleSet } from './roles.js';
import { createHubLogger } from './logger.js';

export { ROLES } from './roles.js';

/** How long the download link in an export's completion notice works (24 hours). */
const NOTICE_DOWNLOAD_TTL_MS = 24 * 3_600_000;
export type { Role, RoleSet } from './roles.js';

export interface HubProcessOptions {
  /** What this process runs: one role name (`'all'`, `'api'`, `'worker'`...) or a set from `parseRoles`. */
  role: Role | RoleSet;
  logger?: Logger;
  /** Overrides of the config's hub section (the demo uses its own database and prefix). */
  overrides?: { redisUrl?: string; databaseUrl?: string; keyPrefix?: string; port?: number };
  server?: ServerOptionsInput;
  /** Engine tuning on top of the YAML's (`hub.sync`), e.g. tests' short timings. */
  tuning?: EngineTuningInput;
}

export interface HubProcess {
  config: Config;
  store: Store;
  engine: Engine;
  connectors: readonly SyncConnector[];
  /** Ingest of the hub's own changes (admin, preference center, demo seeding). */
  hubIngest: HubPatchIngest;
  /** The roles this process runs (aliases expanded). */
  roles: RoleSet;
  /** Data-subject requests (its workers run only with the `privacy` role). */
  privacy: PrivacyService;
  /** The server (only with the `api` role). */
  app: FastifyInstance | null;
  /** Where the server listens, e.g. `http://127.0.0.1:8080` (only with the `api` role): the first of `urls`. */
  url: string | null;
  /** Every address the server is bound to (empty without the `api` role). */
  urls: string[];
  /** Where /metrics has a listener of its own (`hub.metrics.listen`, with the `api` role). */
  metricsUrl: string | null;
  /** The embedded mail catcher (`hub.mail.transport: catcher`, development mode), if any. */
  mailCatcher: MailCatcher | null;
  close(): Promise<void>;
}

/** A SQLite file's directory must exist before the store opens it. */
function ensureSqliteDirectory(url: string): void {
  const location = parseStoreUrl(url);
  if (location.dialect === 'sqlite' && location.filename !== ':memory:')
    mkdirSync(dirname(resolve(location.filename)), { recursive: true });
}

/**
 * Starts one hub process: opens the store, builds the engine, the hub's own ingest and the
 * privacy service, then starts exactly what the roles ask for: the HTTP server with `api`
 * first, then (once Redis answers: until then it says so, at a bounded rate, and keeps trying
 * with backoff, while /healthz is up and /readyz answers 503) the engine's workers of the
 * roles `ingest`, `relay`, `push` and `pull` (none at all when the roles include none of them)
 * and the privacy workers with `privacy`. If anything fails to start, whatever was started is
 * closed again before the error is thrown.
 */
export async function startHubProcess(loaded: Config, options: HubProcessOptions): Promise<HubProcess> {
  const roles = toRoleSet(options.role);
  const roleText = formatRoles(roles);
  const o = options.overrides ?? {};
  const config: Config = {
    ...loaded,
    hub: {
      ...loaded.hub,
      ...(o.redisUrl ? { redisUrl: o.redisUrl } : {}),
      ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}),
      ...(o.keyPrefix ? { keyPrefix: o.keyPrefix } : {}),
      listen: { ...loaded.hub.listen, ...(o.port !== undefined ? { port: o.port } : {}) },
    },
  };
  const logger = options.logger ?? createHubLogger({ level: 'info' });
  logger.info({ roles: [...roles], role: roleText }, 'hub process starting');
  // Said first and plainly, before the connections made below start reporting their retries.
  if (!(await redisAnswers(config.hub.redisUrl, 1_000))) reportRedisUnreachable(config.hub.redisUrl, logger);
  const policy = toMergePolicy(config);
  const connectors = connectorsFromConfig(config, builtinConnectors);
  ensureSqliteDirectory(config.hub.databaseUrl);
  const store = await openConfiguredStore(config, connectors, logger.child({ component: 'store' }));
  const metrics = new Registry();
  const engine = engineFromConfig(config, {
    store,
    connectors,
    policy,
    logger: logger.child({ component: 'sync' }),
    metrics,
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  const redis = createRedisClient(config.hub.redisUrl, { maxRetriesPerRequest: 2 });
  redis.on('error', (err: Error) =>
    logRedisTrouble(logger, { err }, `redis at ${redisUrlForLog(config.hub.redisUrl)} unavailable: retrying with backoff`),
  );
  const hubIngest = new HubPatchIngest({ store, redis, prefix: engine.prefix, metrics: engine.metrics, logger });
  // Mail (hub.mail): the public request page's one-time links and the notices of completed requests.
  let mail: { mailer: Mailer; catcher: MailCatcher | null } | null = null;
  try {
    mail = config.hub.mail ? await openMailer(config.hub.mail) : null;
  } catch (err) {
    // E.g. the catcher's port is taken: nothing opened so far stays behind.
    await engine.close();
    await hubIngest.close();
    redis.disconnect();
    await store.close();
    throw err;
  }
  const noticeDownloads = new DownloadLinks(config.hub.secrets.signing, NOTICE_DOWNLOAD_TTL_MS);
  const verifications =
    mail && config.hub.mail
      ? new RequesterVerifications({
          store,
          mailer: mail.mailer,
          signingSecret: config.hub.secrets.signing,
          publicUrl: config.hub.publicUrl,
          brand: brandOf(config.hub.preferenceCenter),
          mailTexts: { ...(config.hub.mail.texts ? { texts: config.hub.mail.texts } : {}), defaultLocale: config.catalog.defaultLocale },
          ttlMs: config.hub.mail.verificationTtl,
          limits: {
            perAddress: config.hub.mail.limits.perAddress,
            perClient: config.hub.mail.limits.perClient,
            windowMs: config.hub.mail.limits.window,
          },
          downloads: noticeDownloads,
          logger: logger.child({ component: 'requests' }),
          now: Date.now,
        })
      : null;
  const privacy = new PrivacyService({
    store,
    redis: engine.connection,
    prefix: engine.prefix,
    connectors,
    policy,
    ingestPatch: (patch, apply) => hubIngest.ingest(patch, apply),
    metrics,
    logger,
    options: privacyOptionsFromConfig(config),
    ...(verifications ? { onSettled: (settled) => verifications.notify(settled) } : {}),
  });
  privacy.attachSources(engine);

  let app: FastifyInstance | null = null;
  let urls: string[] = [];
  let metricsApp: FastifyInstance | null = null;
  let metricsUrl: string | null = null;
  const closeAll = async (): Promise<void> => {
    await metricsApp?.close();
    await app?.close();
    // Before any worker closes: see `releaseRedisIfAway`.
    engine.releaseRedisIfAway();
    await privacy.close();
    await engine.close();
    await hubIngest.close();
    await closeRedisClient(redis);
    await store.close();
    mail?.mailer.close();
    await mail?.catcher?.close();
  };
  try {
    // The server comes first: /healthz answers while the process waits for Redis, and /readyz
    // and every route that needs Redis answer 503 until it is there.
    if (roles.has('api')) {
      app = await build({
        hub: config.hub,
        catalog: config.catalog,
        policy,
        store,
        engine,
        connectors,
        connectorNames: Object.fromEntries(Object.entries(config.connectors).map(([id, instance]) => [id, instance.displayName])),
        ingestPatch: (patch, apply) => hubIngest.ingest(patch, apply),
        redis,
        redisReady: () => redisReady(redis) && engine.redisReady(),
        metrics,
        apiKeys: apiKeyRecords(config.hub.apiKeys),
        logger,
        privacy,
        downloadLinkTtlMs: config.hub.privacy.downloadLinkTtl,
        ...(verifications
          ? { requests: { verifications, downloads: noticeDownloads, ...(mail?.catcher ? { catcher: mail.catcher } : {}) } }
          : {}),
        ...(options.server ? { options: options.server } : {}),
      });
      await listen(app, config.hub.listen);
      urls = boundUrls(app);
      logger.info({ urls, role: roleText }, 'http server listening');
      const metricsAt = config.hub.metrics.listen;
      if (metricsAt) {
        metricsApp = await buildMetricsServer({ registry: metrics, token: config.hub.metrics.token, logger });
        metricsUrl = await listen(metricsApp, metricsAt);
        logger.info({ url: metricsUrl }, 'metrics listening');
      }
    }
    await waitForRedis(config.hub.redisUrl, logger);
    if (roles.has('privacy')) engine.onRedisReset(() => privacy.restoreSchedulers(), privacy.queueNames());
    if (runsEngineWorkers(roles)) await engine.start(toEngineRoles(roles));
    else await engine.watchRedis();
    if (roles.has('privacy')) await privacy.start(engine);
  } catch (err) {
    // Nothing half-started stays behind (workers, connections) when, e.g., the port is taken.
    await closeAll().catch(() => undefined);
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    config,
    store,
    engine,
    connectors,
    hubIngest,
    roles,
    privacy,
    app,
    url: urls[0] ?? null,
    urls,
    metricsUrl,
    mailCatcher: mail?.catcher ?? null,
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}

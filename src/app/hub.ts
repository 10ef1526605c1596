/**
 * The composition root: configuration -> store -> engine -> HTTP server. `concord start`
 * runs it with a role: `all` (server and workers in one process), `api` (the server only:
 * webhooks are enqueued, workers elsewhere process them) or `worker` (the workers only).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { toMergePolicy } from '../config/policy.js';
import { PrivacyService, privacyOptionsFromConfig } from '../privacy/index.js';
import { apiKeyRecords, build, listen } from '../server/index.js';
import type { ServerOptionsInput } from '../server/index.js';
import { openStore, parseStoreUrl } from '../store/index.js';
import type { Store } from '../store/index.js';
import type { SyncConnector } from '../sync/bind.js';
import { createEngine } from '../sync/engine.js';
import type { Engine } from '../sync/engine.js';
import { HubPatchIngest } from '../sync/hub-patch.js';
import type { EngineTuningInput } from '../sync/options.js';
import { connectorsFromConfig } from '../sync/from-config.js';

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface HubProcessOptions {
  role: Role;
  logger?: Logger;
  /** Overrides of the config's hub section (the demo uses its own database and prefix). */
  overrides?: { redisUrl?: string; databaseUrl?: string; keyPrefix?: string; port?: number };
  server?: ServerOptionsInput;
  tuning?: EngineTuningInput;
}

export interface HubProcess {
  config: Config;
  store: Store;
  engine: Engine;
  connectors: readonly SyncConnector[];
  /** Ingest of the hub's own changes (admin, preference center, demo seeding). */
  hubIngest: HubPatchIngest;
  /** Data-subject requests (its workers run in roles all and worker). */
  privacy: PrivacyService;
  /** The server (roles all and api). */
  app: FastifyInstance | null;
  /** Where the server listens, e.g. `http://127.0.0.1:8080` (roles all and api). */
  url: string | null;
  close(): Promise<void>;
}

/** A SQLite file's directory must exist before the store opens it. */
function ensureSqliteDirectory(url: string): void {
  const location = parseStoreUrl(url);
  if (location.dialect === 'sqlite' && location.filename !== ':memory:') mkdirSync(dirname(resolve(location.filename)), { recursive: true });
}

export async function startHubProcess(loaded: Config, options: HubProcessOptions): Promise<HubProcess> {
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
  const logger = options.logger ?? pino({ level: 'info' });
  const policy = toMergePolicy(config);
  const connectors = connectorsFromConfig(config);
  ensureSqliteDirectory(config.hub.databaseUrl);
  const store = await openStore({
    url: config.hub.databaseUrl,
    policy,
    outboxTargets: connectors.filter((c) => c.capabilities.push).map((c) => c.id),
    hashKey: config.hub.secrets.hashKey,
    logger: logger.child({ component: 'store' }),
  });
  const metrics = new Registry();
  const engine = createEngine({
    redis: config.hub.redisUrl,
    prefix: config.hub.keyPrefix,
    store,
    connectors,
    policy,
    logger: logger.child({ component: 'sync' }),
    metrics,
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  const redis = new Redis(config.hub.redisUrl, { maxRetriesPerRequest: 2 });
  redis.on('error', (err: Error) => logger.warn({ err: { name: err.name, message: err.message } }, 'redis connection error'));
  const hubIngest = new HubPatchIngest({ store, redis, prefix: engine.prefix, metrics: engine.metrics });
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
  });
  privacy.attachSources(engine);

  let app: FastifyInstance | null = null;
  let url: string | null = null;
  const closeAll = async (): Promise<void> => {
    await app?.close();
    await privacy.close();
    await engine.close();
    await hubIngest.close();
    await redis.quit().catch(() => redis.disconnect());
    await store.close();
  };
  try {
    if (options.role !== 'api') {
      await engine.start();
      await privacy.start(engine);
    }
    if (options.role !== 'worker') {
      app = await build({
        hub: config.hub,
        catalog: config.catalog,
        policy,
        store,
        engine,
        connectors,
        ingestPatch: (patch, apply) => hubIngest.ingest(patch, apply),
        redis,
        metrics,
        apiKeys: apiKeyRecords(config.hub.apiKeys),
        logger,
        privacy,
        downloadLinkTtlMs: config.hub.privacy.downloadLinkTtl,
        ...(options.server ? { options: options.server } : {}),
      });
      url = await listen(app, config.hub.listen);
      logger.info({ url, role: options.role }, 'http server listening');
    }
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
    privacy,
    app,
    url,
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}

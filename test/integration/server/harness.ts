/**
 * A hub with its HTTP server, for `inject()` tests: the sync harness (fresh database and Redis
 * prefix, in-memory systems, the real engine) plus `build(deps)` exactly as the app wires it.
 * Memory systems deliver their webhooks through the server, signed, so the server's ingress
 * is on the path of every inbound change.
 */
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { Catalog } from '../../../src/config/schema.js';
import type { ApiKeyConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/log/logger.js';
import type { Logger } from '../../../src/log/logger.js';
import { build } from '../../../src/server/build.js';
import { apiKeyRecords } from '../../../src/server/api-keys.js';
import type { ServerEngine, ServerOptionsInput } from '../../../src/server/deps.js';
import type { Engine } from '../../../src/sync/engine.js';
import { HubPatchIngest } from '../../../src/sync/inbound/hub-patch.js';
import { REDIS_URL, startHub } from '../../../harness/sync-hub.js';
import type { Hub, HubOptions } from '../../../harness/sync-hub.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef0123456789';
export const KEYS = {
  admin: 'admin-key-0123456789abcdef0123456789',
  reader: 'reader-key-0123456789abcdef0123456789',
  writer: 'writer-key-0123456789abcdef0123456789',
  writeOnly: 'write-only-key-0123456789abcdef012345',
  queues: 'queues-key-0123456789abcdef0123456789',
  dsr: 'dsr-key-0123456789abcdef0123456789abcd',
  auditor: 'auditor-key-0123456789abcdef01234567',
} as const;

const API_KEYS: ApiKeyConfig[] = [
  { id: 'ops', key: KEYS.admin, scopes: ['admin'] },
  { id: 'support-read', key: KEYS.reader, scopes: ['profiles:read'] },
  { id: 'support-write', key: KEYS.writer, scopes: ['profiles:read', 'profiles:write'] },
  { id: 'form-backend', key: KEYS.writeOnly, scopes: ['profiles:write'] },
  { id: 'on-call', key: KEYS.queues, scopes: ['queues:read'] },
  { id: 'privacy', key: KEYS.dsr, scopes: ['dsr'] },
  { id: 'compliance', key: KEYS.auditor, scopes: ['audit:read'] },
];

/**
 * English and Japanese; the Japanese texts are partial on purpose (`fallback: defaultLocale`):
 * the SMS channel, the description and the topics show their English text.
 */
export const CATALOG = Catalog.parse({
  locales: ['en', 'ja'],
  fallback: 'defaultLocale',
  channels: { email: { title: { en: 'E-mail', ja: 'メール' } }, sms: { title: 'SMS' } },
  purposes: {
    marketing: {
      title: { en: 'Marketing communications', ja: 'マーケティングのご案内' },
      description: 'Offers and news.',
      notice: {
        text: { en: 'We would like to send you offers and news.', ja: '特典やニュースをお送りしたいと考えています。' },
        version: { en: '2025-01', ja: '2025-01-ja' },
      },
      purpose: { en: 'To send you offers and news.', ja: '特典やニュースをお送りするため。' },
      retention: { en: 'Until you withdraw your consent.', ja: '同意を撤回されるまで。' },
      objection: 'directMarketing',
      channels: ['email', 'sms'],
    },
  },
  topics: { newsletter: { title: 'Monthly newsletter' }, offers: { title: 'Offers' } },
});

export interface ServerHub {
  hub: Hub;
  app: FastifyInstance;
  redis: Redis;
  metrics: Registry;
  /** Where the memory systems' webhooks were answered with a non-2xx status. */
  refused: number[];
  bearer(key: keyof typeof KEYS): { authorization: string };
  close(): Promise<void>;
}

export async function startServerHub(
  options: Partial<HubOptions> & {
    server?: ServerOptionsInput;
    now?: () => number;
    publicUrl?: string;
    /** `hub.trustProxy`: the reverse proxies whose X-Forwarded-* headers are believed. */
    trustProxy?: string[];
    /** `hub.metrics`: a bearer token for /metrics. */
    metrics?: { token?: string };
    redis?: Redis;
    /** Wraps the engine the server sees (e.g. to give a connector instance a `refuse`). */
    engine?: (engine: Engine) => ServerEngine;
    /** The server's logger (default: silent unless CONCORD_TEST_LOG names a level). */
    logger?: Logger;
    /** `hub.apiKeys` (default: one key of each scope, `KEYS`). */
    apiKeys?: ApiKeyConfig[];
  } = {},
): Promise<ServerHub> {
  const hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'crm' }, { id: 'shop' }], ...options, roles: options.roles ?? {} });
  const redis = new Redis(REDIS_URL);
  // The engine's registry: /metrics serves the engine's metrics beside the server's.
  const metrics = hub.engine.metrics.registry;
  const hubIngest = new HubPatchIngest({ store: hub.store, redis, prefix: hub.prefix, relayDelayMs: 5 });
  const app = await build({
    hub: {
      publicUrl: options.publicUrl ?? 'http://localhost:8080',
      mode: 'development',
      secrets: { signing: SIGNING_SECRET, hashKey: 'k'.repeat(32) },
      preferenceCenter: { brand: 'Acme Coffee', accentColor: '#1f5f8b', linkTtl: 3_600_000, supportEmail: 'privacy@acme.example' },
      ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    },
    catalog: CATALOG,
    policy: hub.policy,
    store: hub.store,
    engine: options.engine ? options.engine(hub.engine) : hub.engine,
    connectors: hub.connectors,
    ingestPatch: (patch, o) => hubIngest.ingest(patch, o),
    redis: options.redis ?? redis,
    metrics,
    apiKeys: apiKeyRecords(options.apiKeys ?? API_KEYS),
    logger: options.logger ?? createLogger({ level: process.env.CONCORD_TEST_LOG ?? 'silent' }),
    ...(options.server ? { options: options.server } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const refused: number[] = [];
  // Webhooks of the memory systems go through the server (the harness delivered them to the engine directly).
  for (const [id, system] of Object.entries(hub.systems)) {
    system.onWebhook(async (delivery) => {
      const response = await app.inject({
        method: 'POST',
        url: `/webhooks/${id}`,
        headers: { ...delivery.headers, 'content-type': 'application/json' },
        payload: delivery.body,
      });
      if (response.statusCode >= 300) refused.push(response.statusCode);
    });
  }
  return {
    hub,
    app,
    redis,
    metrics,
    refused,
    bearer: (key) => ({ authorization: `Bearer ${KEYS[key]}` }),
    async close() {
      await app.close();
      await hubIngest.close();
      redis.disconnect();
      await hub.close();
    },
  };
}

/**
 * What the HTTP server needs from the rest of the hub. `build(deps)` takes exactly this, so
 * tests can hand it a real store and engine on a private Redis prefix and call `inject()`.
 */
import { z } from 'zod';
import type { RedisClient } from '../queue/redis-health.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LocalizedText } from '../config/localized.js';
import type { Catalog, HubConfig } from '../config/schema.js';
import type { PrivacyService } from '../privacy/index.js';
import type { MergePolicy, ProfilePatch } from '../profile/schema.js';
import type { ApplyResult, Store } from '../store/types.js';
import type { SyncConnector, Engine } from '../sync/index.js';
import type { MailCatcher } from '../mail/index.js';
import type { ApiKeyRecord } from './api-keys.js';
import type { DownloadLinks } from './preferences/downloads.js';
import type { RequesterVerifications } from './requests/service.js';

/** Tunables of the HTTP surface; the defaults suit production. */
export const ServerOptions = z.object({
  /** Largest webhook body accepted (bytes); larger gets 413. */
  webhookBodyLimit: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Largest JSON or form body elsewhere (bytes). */
  bodyLimit: z
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  /** Webhook requests per minute per client address and connector (`0` turns the limit off). */
  webhookRateLimit: z.number().int().nonnegative().default(6_000),
  /** Preference-center requests per minute per client address. */
  preferencesRateLimit: z.number().int().positive().default(60),
  /** Admin API requests per minute per client address. */
  apiRateLimit: z.number().int().positive().default(600),
  /** Serve the BullMQ dashboard at /admin/queues. */
  queueBoard: z.boolean().default(true),
  /** Fastify request logging. */
  logRequests: z.boolean().default(false),
});
export type ServerOptions = z.infer<typeof ServerOptions>;
export type ServerOptionsInput = z.input<typeof ServerOptions>;

/** The data-subject request service as the server uses it (admin API and self-service). */
export type ServerPrivacy = Pick<
  PrivacyService,
  'submit' | 'get' | 'list' | 'extend' | 'retry' | 'exportDocument' | 'recordDownload' | 'unpark' | 'queueNames'
>;

/** The engine as the server uses it. */
export type ServerEngine = Pick<
  Engine,
  | 'receiveWebhook'
  | 'connectorStatus'
  | 'changesPerMinute'
  | 'deadLetters'
  | 'prefix'
  | 'instance'
  | 'unpark'
  | 'pullNow'
  | 'pullProgress'
  | 'pushAgain'
  | 'pushHeld'
>;

export interface ServerDeps {
  /**
   * The hub's settings; `trustProxy` absent means no proxy is trusted, `metrics` absent that
   * /metrics is served here without a token.
   */
  hub: Pick<HubConfig, 'publicUrl' | 'mode' | 'secrets' | 'preferenceCenter'> & Partial<Pick<HubConfig, 'trustProxy' | 'metrics'>>;
  catalog: Catalog;
  policy: MergePolicy;
  store: Store;
  engine: ServerEngine;
  /** The configured connector instances (for status, webhooks and the queue board). */
  connectors: readonly SyncConnector[];
  /** Connector instance id -> its `displayName` from the config, for the preference center's transparency section. */
  connectorNames?: Readonly<Record<string, LocalizedText | undefined>>;
  /**
   * Ingests a canonical patch from a hub-internal source (`admin`, `preference_center`): the
   * same store transaction as every other source (merge, ledger, audit, outbox), then the
   * outbox relay carries it to every connected system.
   */
  ingestPatch(patch: ProfilePatch, options?: { actor?: string }): Promise<ApplyResult>;
  /** A Redis connection for readiness, link revocations and the queue board. */
  redis: RedisClient;
  /**
   * False while Redis is known to be unreachable: every route that needs it answers 503 with
   * Retry-After at once instead of waiting. Default: `redis` is not down.
   */
  redisReady?: () => boolean;
  /** Where the engine's metrics live; the server adds its own and exposes them at /metrics. */
  metrics: Registry;
  /** Hashed admin API keys (see `apiKeyRecords`). */
  apiKeys: readonly ApiKeyRecord[];
  /**
   * Data-subject requests (privacy/). With it, the admin API serves `/api/v1/dsr` and the
   * preference center's rights (download, restrict, object, erase) work; without it they are
   * shown as unavailable.
   */
  privacy?: ServerPrivacy;
  /** How long the preference center's download links last (ms; hub.privacy.downloadLinkTtl). */
  downloadLinkTtlMs?: number;
  /**
   * The public request page (`/requests`, with `privacy` and `hub.mail`): the one-time links it
   * mails, the download links of completion notices, and in development mode the mail catcher
   * whose mails `/dev/mail` shows (loopback clients only).
   */
  requests?: { verifications: RequesterVerifications; downloads: DownloadLinks; catcher?: MailCatcher };
  logger: Logger;
  options?: ServerOptionsInput;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * Options of the generic HTTP emulator: one server, two systems under path prefixes (a REST CRM
 * under `/crm/v1`, a newsletter tool under `/newsletter/api`), each with its own credentials,
 * rate window and webhook URL; one Standard Webhooks signing secret (two during a rotation).
 */
import { z } from 'zod';
import type { EmulatorRuntime } from '../../../src/connector/emulator-kit/index.js';

/** The two systems the emulator serves. */
export const HTTP_SYSTEMS = ['crm', 'newsletter'] as const;
export type HttpSystem = (typeof HTTP_SYSTEMS)[number];

/** Where each system's API is served. */
export const CRM_PREFIX = '/crm/v1';
export const NEWSLETTER_PREFIX = '/newsletter/api';

/** Development credentials (the only ones accepted unless the options name others). */
export const DEV_CRM_TOKEN = 'dev-only-http-token';
export const DEV_NEWSLETTER_API_KEY = 'dev-only-http-api-key';
/** The development Standard Webhooks secret: `whsec_` + base64 of `dev-only-http-webhook-secret-0000` (33 bytes). */
export const DEV_WEBHOOK_SECRET = 'whsec_ZGV2LW9ubHktaHR0cC13ZWJob29rLXNlY3JldC0wMDAw';

/**
 * A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 bytes
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#symmetric-signatures).
 */
export const WebhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'a Standard Webhooks secret: whsec_ and base64')
  .refine((s) => {
    const bytes = Buffer.from(s.slice('whsec_'.length), 'base64').length;
    return bytes >= 24 && bytes <= 64;
  }, 'a Standard Webhooks secret holds 24 to 64 bytes');

/** At most `max` API calls per `intervalMs` (a fixed window that starts with its first call). */
export const RateWindow = z.object({
  max: z.number().int().positive(),
  intervalMs: z.number().int().positive(),
});
export type RateWindow = z.infer<typeof RateWindow>;

export const HttpEmulatorOptions = z.object({
  /** @defaultValue 0 (a free port) */
  port: z.number().int().min(0).max(65_535).default(0),
  /** @defaultValue '127.0.0.1' */
  host: z.string().default('127.0.0.1'),
  /** The CRM's bearer token (`Authorization: Bearer <crmToken>`). @defaultValue 'dev-only-http-token' */
  crmToken: z.string().min(1).default(DEV_CRM_TOKEN),
  /** The newsletter tool's API key (`X-API-Key`). @defaultValue 'dev-only-http-api-key' */
  newsletterApiKey: z.string().min(1).default(DEV_NEWSLETTER_API_KEY),
  /** Signs both systems' webhooks. @defaultValue DEV_WEBHOOK_SECRET */
  webhookSecret: WebhookSecret.default(DEV_WEBHOOK_SECRET),
  /** During a rotation: webhooks are signed with both secrets (two `v1,` entries). */
  previousWebhookSecret: WebhookSecret.optional(),
  /** Where the CRM sends its webhooks; none are sent when absent. */
  crmWebhookUrl: z.url().optional(),
  /** Where the newsletter tool sends its webhooks; none are sent when absent. */
  newsletterWebhookUrl: z.url().optional(),
  /** API calls allowed per system. @defaultValue CRM 50 per 1 s, newsletter 20 per 1 s */
  rateLimit: z
    .object({
      crm: RateWindow.default({ max: 50, intervalMs: 1000 }),
      newsletter: RateWindow.default({ max: 20, intervalMs: 1000 }),
    })
    .default({ crm: { max: 50, intervalMs: 1000 }, newsletter: { max: 20, intervalMs: 1000 } }),
  /** The secret the `concord-events` inboxes verify the hub's webhooks with. @defaultValue webhookSecret */
  inboxSecret: WebhookSecret.optional(),
  /** Delivery attempts per webhook before giving up. @defaultValue 5 */
  webhookMaxAttempts: z.number().int().positive().default(5),
  /** The wait before the first webhook retry (doubled for each next one). @defaultValue 200 */
  webhookRetryBaseMs: z.number().int().min(0).default(200),
});
export type HttpEmulatorOptions = z.infer<typeof HttpEmulatorOptions>;
/** What `startHttpEmulator` takes: the options, and the runtime hooks (`now`: the emulator's clock, `logger`). */
export type HttpEmulatorOptionsInput = z.input<typeof HttpEmulatorOptions> & EmulatorRuntime;

/** Options of the HubSpot emulator. */
import { z } from 'zod';

export const SubscriptionDefinitionInput = z.object({
  id: z.number().int().positive(),
  name: z.string().min(1),
  description: z.string().default(''),
  purpose: z.string().default('Marketing'),
});
export type SubscriptionDefinitionInput = z.input<typeof SubscriptionDefinitionInput>;

/** Rate limits the emulator enforces, like a HubSpot account's. */
export const RateLimitOptions = z.object({
  /** Requests per `intervalMs` (HubSpot: 100 on Free/Starter, 190 on Pro/Enterprise). */
  max: z.number().int().positive().default(190),
  intervalMs: z.number().int().positive().default(10_000),
  /** Requests per day (UTC day in the emulator). */
  daily: z.number().int().positive().default(1_000_000),
  /** CRM search requests per second (HubSpot: 5 per account). */
  searchPerSecond: z.number().int().positive().default(5),
});
export type RateLimitOptions = z.infer<typeof RateLimitOptions>;

export const HubSpotEmulatorOptions = z.object({
  port: z.number().int().min(0).max(65_535).default(0),
  host: z.string().default('127.0.0.1'),
  /** The app's client secret; webhooks are signed with it. */
  clientSecret: z.string().min(1),
  /** Where signed webhooks are sent; none are sent when absent. */
  webhookUrl: z.url().optional(),
  /** When set, only this bearer token is accepted; otherwise any bearer token is. */
  accessToken: z.string().min(1).optional(),
  /**
   * The scopes the private app's token was granted, answered by the access-token-info call
   * (`POST /oauth/v2/private-apps/get/access-token-info`). Default: every scope the connector uses.
   */
  scopes: z
    .array(z.string().min(1))
    .default([
      'oauth',
      'crm.objects.contacts.read',
      'crm.objects.contacts.write',
      'crm.schemas.contacts.read',
      'communication_preferences.read',
      'communication_preferences.statuses.batch.read',
      'communication_preferences.statuses.batch.write',
    ]),
  /** The id of the (private) app: webhooks carry it, and API writes record it as their change source id. */
  appId: z.number().int().positive().default(1_234_567),
  portalId: z.number().int().positive().default(62_515),
  rateLimit: RateLimitOptions.default(RateLimitOptions.parse({})),
  subscriptionDefinitions: z.array(SubscriptionDefinitionInput).default([
    { id: 101, name: 'Marketing Information', description: 'Marketing offers and updates.', purpose: 'Marketing' },
    { id: 102, name: 'One to One', description: 'One to one emails.', purpose: 'Sales' },
    { id: 103, name: 'Newsletter', description: 'The monthly newsletter.', purpose: 'Marketing' },
  ]),
  /** Contact properties the account defines on top of HubSpot's defaults. */
  extraProperties: z.array(z.string().min(1)).default([]),
  /** HubSpot refuses to page a search past 10,000 results; tests may lower this. */
  searchResultCap: z.number().int().positive().default(10_000),
  /** A change becomes searchable only after this long (HubSpot's search index lags writes). */
  searchIndexLagMs: z.number().int().min(0).default(0),
  /** Events are gathered this long before a delivery (up to 100 per request). */
  webhookBatchMs: z.number().int().min(0).default(20),
  /** Delivery attempts per request before giving up (HubSpot retries for about a day). */
  webhookMaxAttempts: z.number().int().positive().default(5),
  webhookRetryBaseMs: z.number().int().min(0).default(200),
  /** Properties whose changes send `contact.propertyChange`; absent means every property. */
  webhookProperties: z.array(z.string()).optional(),
  /** With GDPR features on, subscribing someone needs a legal basis. */
  gdprEnabled: z.boolean().default(true),
});
export type HubSpotEmulatorOptions = z.infer<typeof HubSpotEmulatorOptions>;
export type HubSpotEmulatorOptionsInput = z.input<typeof HubSpotEmulatorOptions>;

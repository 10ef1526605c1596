/**
 * The HubSpot connector's own YAML keys (under `connectors.<id>` with `type: hubspot`), beside
 * the common keys every connector has (`mappings`, `limits`, `schedule`...).
 */
import { z } from 'zod';
import { Duration } from '../../src/config/duration.js';

/** HubSpot's legal bases for a subscription status (communication preferences v4). */
export const HubSpotLegalBasis = z.enum([
  'LEGITIMATE_INTEREST_PQL',
  'LEGITIMATE_INTEREST_CLIENT',
  'PERFORMANCE_OF_CONTRACT',
  'CONSENT_WITH_NOTICE',
  'NON_GDPR',
  'PROCESS_AND_STORE',
  'LEGITIMATE_INTEREST_OTHER',
]);
export type HubSpotLegalBasis = z.infer<typeof HubSpotLegalBasis>;

/**
 * One HubSpot subscription type and the canonical consent (`purpose.channel`) or topic it
 * carries. Its status appears to mappings as the external field `subscription:<id>`, valued
 * `SUBSCRIBED` or `UNSUBSCRIBED` (`null` while HubSpot has `NOT_SPECIFIED`).
 */
export const SubscriptionType = z
  .object({
    id: z.number().int().positive().meta({ description: 'The subscription type id (GET /communication-preferences/v4/definitions).' }),
    consent: z
      .string()
      .regex(/^[^.]+\.[^.]+$/, 'expected purpose.channel')
      .optional()
      .meta({ description: 'The canonical consent it carries, as purpose.channel.' }),
    topic: z.string().min(1).optional().meta({ description: 'The canonical topic it carries.' }),
    legalBasis: HubSpotLegalBasis.optional().meta({
      description: "Legal basis sent when subscribing and the profile's own legal basis is unknown (default CONSENT_WITH_NOTICE).",
    }),
  })
  .strict()
  .refine((s) => (s.consent === undefined) !== (s.topic === undefined), 'a subscription type needs exactly one of consent, topic');
export type SubscriptionType = z.infer<typeof SubscriptionType>;

export const HubSpotConfig = z.object({
  accessToken: z.string().min(1).meta({ description: 'Private app access token (Bearer).' }),
  webhookSecret: z.string().min(1).meta({ description: "The app's client secret, which signs webhooks (signature v3)." }),
  baseUrl: z
    .url()
    .default('https://api.hubapi.com')
    .meta({ description: "HubSpot's API base URL; point it at the emulator in tests and the demo." }),
  appId: z
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: "The private app's id: webhooks about changes it made (changeSource INTEGRATION) are marked as echoes." }),
  subscriptions: z.array(SubscriptionType).default([]).meta({
    description:
      'Subscription types read and written through communication preferences v4. Each is mapped to its consent or topic (SUBSCRIBED / UNSUBSCRIBED) without a mappings entry.',
  }),
  properties: z.array(z.string().min(1)).default([]).meta({
    description: 'Contact properties to read besides the default mapped ones (email, firstname, lastname, phone, hs_language, country).',
  }),
  webhookUrl: z.url().optional().meta({
    description:
      'The target URL as configured in the HubSpot app; signatures cover it. Default: hub.publicUrl followed by the path the request came to (/webhooks/<instance id>), never a URL built from the request’s Host header.',
  }),
  requestsPer10Seconds: z
    .number()
    .int()
    .positive()
    .default(100)
    .meta({ description: "The account's limit per 10 seconds (100 Free/Starter, 190 Professional/Enterprise); calls are paced under it." }),
  searchRequestsPerSecond: z
    .number()
    .int()
    .positive()
    .default(4)
    .meta({ description: 'CRM search pace (HubSpot allows 5 per second per account).' }),
  searchLookBackMs: z
    .number()
    .int()
    .nonnegative()
    .default(5 * 60_000)
    .meta({ description: 'An incremental pull re-reads this far back: a contact just changed may not be searchable yet.' }),
  incrementalWindowMs: z
    .number()
    .int()
    .positive()
    .default(24 * 3_600_000)
    .meta({ description: 'Widest lastmodifieddate window one search covers; halved while a window holds more than 10,000 results.' }),
  accountTimeZone: z.string().default('UTC').meta({ description: "The account's time zone; the DAILY limit resets at its midnight." }),
  /**
   * How long the instance's queues park after HubSpot's DAILY limit when the answer names no
   * Retry-After; an operator can lift a park early (`concord unpark <id>`).
   * @defaultValue until the next midnight in `accountTimeZone`, when the allowance resets
   */
  dailyLimitPark: Duration.optional().meta({
    description:
      "How long the queues park after HubSpot's DAILY limit (when the answer names no Retry-After), e.g. 30m. Default: until the next midnight in accountTimeZone, when the allowance resets.",
  }),
});
export type HubSpotConfig = z.infer<typeof HubSpotConfig>;
export type HubSpotConfigInput = z.input<typeof HubSpotConfig>;

/** Config keys that hold secrets and must come from `${env:...}`. */
export const HUBSPOT_SECRET_KEYS = ['accessToken', 'webhookSecret'] as const;

/** The cursor of a pull: paging the full list first, then windows of `lastmodifieddate`. */
export const HubSpotCursor = z.discriminatedUnion('phase', [
  z.object({
    phase: z.literal('full'),
    /** `paging.next.after` of the list; absent at the start. */
    after: z.string().optional(),
    /** When the full run began (ms); incremental pulls start from here. */
    startedAt: z.number().int(),
  }),
  z.object({
    phase: z.literal('incremental'),
    /** Everything modified before this (ms) has been read. */
    since: z.number().int(),
    /** The window being walked, and the search offset inside it. */
    windowEnd: z.number().int().optional(),
    after: z.string().optional(),
  }),
]);
export type HubSpotCursor = z.infer<typeof HubSpotCursor>;

/**
 * Options of the Segment emulator: one server answers the three hosts' paths (the Tracking API's
 * `/v1/batch`, the Profile API's `/v1/spaces/...`, the Public API's `/regulations`), so the
 * connector takes one base URL for all three.
 */
import { z } from 'zod';

/** The Profile API space the emulator serves by default. */
export const DEFAULT_SPACE_ID = 'spa_dev';
/** The workspace regulations belong to by default. */
export const DEFAULT_WORKSPACE_ID = 'wks_dev';
/** Development credentials (any non-empty value is accepted unless the matching option is set). */
export const DEV_WRITE_KEY = 'dev-only-segment-write-key';
export const DEV_PROFILE_TOKEN = 'dev-only-segment-profile-token';
export const DEV_PUBLIC_API_TOKEN = 'dev-only-segment-public-api-token';

export const SegmentEmulatorOptions = z.object({
  /** @defaultValue 0 (a free port) */
  port: z.number().int().min(0).max(65_535).default(0),
  /** @defaultValue '127.0.0.1' */
  host: z.string().default('127.0.0.1'),
  /** The Webhooks (Actions) destination's shared secret: `X-Signature` is hex HMAC-SHA1(secret, body). */
  secret: z.string().min(1),
  /** The Webhooks (Actions) destination's URL; no webhooks are sent when absent. */
  webhookUrl: z.url().optional(),
  /**
   * Identify events per webhook request: 1 sends one JSON object, more a JSON array (the mapping's
   * batching: 1,000 by default when on, at most 4,000). @defaultValue 1
   */
  webhookBatchSize: z.number().int().min(1).max(4000).default(1),
  /** Delivery attempts per webhook request before giving up. @defaultValue 5 */
  webhookMaxAttempts: z.number().int().positive().default(5),
  /** The wait before the first webhook retry (doubled for each next one). @defaultValue 200 */
  webhookRetryBaseMs: z.number().int().min(0).default(200),
  /** When set, only this write key is accepted by the Tracking API; otherwise any non-empty one is. */
  writeKey: z.string().min(1).optional(),
  /**
   * What the Tracking API does with an event over 32 KB inside a batch: `reject` answers the whole
   * batch 400 (as Segment documents it), `drop` accepts the batch without that event.
   * @defaultValue 'reject'
   */
  oversizedBatchEvent: z.enum(['reject', 'drop']).default('reject'),
  /** The Profile API space (any other space id is a 404). @defaultValue 'spa_dev' */
  spaceId: z.string().min(1).default(DEFAULT_SPACE_ID),
  /** When set, only this Profile API access token is accepted; otherwise any non-empty one is. */
  profileToken: z.string().min(1).optional(),
  /** Profile API requests per second per space (rolling one-second window). @defaultValue 100 */
  profileRatePerSecond: z.number().int().positive().default(100),
  /**
   * Custom identifiers of the space's Identity Resolution, each taken from the identify trait of
   * the same name (e.g. `phone`): a profile is found by `<name>:<value>` like by `email:`.
   * @defaultValue [] (user_id, email and anonymous_id only)
   */
  customIdentifiers: z.array(z.string().regex(/^[a-z][a-z0-9_.]*$/)).default([]),
  /** The workspace regulations report. @defaultValue 'wks_dev' */
  workspaceId: z.string().min(1).default(DEFAULT_WORKSPACE_ID),
  /** When set, only this Public API bearer token is accepted; otherwise any non-empty one is. */
  publicApiToken: z.string().min(1).optional(),
  /** Regulation creates per minute, per quota (destination types and Segment-only types apart). @defaultValue 600 */
  regulationCreatesPerMinute: z.number().int().positive().default(600),
  /** Other Public API requests per minute. @defaultValue 600 */
  publicApiRequestsPerMinute: z.number().int().positive().default(600),
  /** A regulation goes INITIALIZED -> RUNNING -> FINISHED, one step each this long. @defaultValue 2000 */
  regulationStepMs: z.number().int().min(0).default(2000),
  /** How long a messageId is remembered for deduplication. @defaultValue 86400000 (24 h) */
  dedupeWindowMs: z.number().int().positive().default(86_400_000),
});
export type SegmentEmulatorOptions = z.infer<typeof SegmentEmulatorOptions>;
export type SegmentEmulatorOptionsInput = z.input<typeof SegmentEmulatorOptions>;

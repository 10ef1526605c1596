/**
 * Options of the Mailchimp emulator, and the audience it is seeded with by default (its ids are
 * exported so the connector's tests can name them).
 */
import { z } from 'zod';

/** The default audience's id (Mailchimp list ids are 10 hex digits). */
export const DEFAULT_LIST_ID = 'a1b2c3d4e5';
/** The default audience's interest category ("Topics", checkboxes). */
export const DEFAULT_INTEREST_CATEGORY_ID = 'c0ffee0001';
/** The default audience's interests (groups) by name. */
export const DEFAULT_INTEREST_IDS = { newsletter: 'f00d000001', offers: 'f00d000002', events: 'f00d000003' } as const;
/** The default audience's GDPR marketing permissions by channel. */
export const DEFAULT_PERMISSION_IDS = { email: 'bead000001', directMail: 'bead000002', customizedAds: 'bead000003' } as const;
/** The API key the emulator accepts by default in `concord emulate mailchimp` (any key is accepted when `apiKey` is absent). */
export const DEV_API_KEY = 'dev-only-mailchimp-key-us1';

const MergeFieldType = z.enum(['text', 'number', 'address', 'phone', 'date', 'url', 'imageurl', 'radio', 'dropdown', 'birthday', 'zip']);

export const MergeFieldSeed = z.object({
  tag: z.string().regex(/^[A-Z0-9_]{1,10}$/),
  name: z.string().min(1),
  type: MergeFieldType.default('text'),
  required: z.boolean().default(false),
});
export type MergeFieldSeed = z.infer<typeof MergeFieldSeed>;

export const InterestCategorySeed = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  type: z.enum(['checkboxes', 'dropdown', 'radio', 'hidden']).default('checkboxes'),
  interests: z.array(z.object({ id: z.string().min(1), name: z.string().min(1) })),
});
export type InterestCategorySeed = z.infer<typeof InterestCategorySeed>;

export const ListSeed = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  mergeFields: z.array(MergeFieldSeed).default([
    { tag: 'FNAME', name: 'First Name', type: 'text', required: false },
    { tag: 'LNAME', name: 'Last Name', type: 'text', required: false },
    { tag: 'PHONE', name: 'Phone Number', type: 'phone', required: false },
    { tag: 'ADDRESS', name: 'Address', type: 'address', required: false },
  ]),
  /** The plan's merge-field limit (`GET .../merge-fields` answers it). */
  mergeFieldLimit: z.number().int().positive().default(30),
  interestCategories: z.array(InterestCategorySeed).default([]),
  /** GDPR marketing permissions (none: the list's GDPR fields are off). */
  marketingPermissions: z.array(z.object({ id: z.string().min(1), text: z.string().min(1) })).default([]),
});
export type ListSeed = z.infer<typeof ListSeed>;
export type ListSeedInput = z.input<typeof ListSeed>;

/** The default seed: one audience with FNAME LNAME PHONE ADDRESS, one interest category and three permissions. */
export const DEFAULT_LISTS: ListSeedInput[] = [
  {
    id: DEFAULT_LIST_ID,
    name: 'Concord Newsletter',
    interestCategories: [
      {
        id: DEFAULT_INTEREST_CATEGORY_ID,
        title: 'Topics',
        interests: [
          { id: DEFAULT_INTEREST_IDS.newsletter, name: 'Newsletter' },
          { id: DEFAULT_INTEREST_IDS.offers, name: 'Offers' },
          { id: DEFAULT_INTEREST_IDS.events, name: 'Events' },
        ],
      },
    ],
    marketingPermissions: [
      { id: DEFAULT_PERMISSION_IDS.email, text: 'Email' },
      { id: DEFAULT_PERMISSION_IDS.directMail, text: 'Direct Mail' },
      { id: DEFAULT_PERMISSION_IDS.customizedAds, text: 'Customized Online Advertising' },
    ],
  },
];

export const MailchimpEmulatorOptions = z.object({
  /** @defaultValue 0 (a free port) */
  port: z.number().int().min(0).max(65_535).default(0),
  /** @defaultValue '127.0.0.1' */
  host: z.string().default('127.0.0.1'),
  /** When set, only this API key is accepted (as the Basic-auth password); otherwise any key is. */
  apiKey: z.string().min(1).optional(),
  /** The audiences. @defaultValue one audience, `DEFAULT_LIST_ID` (see `DEFAULT_LISTS`) */
  lists: z
    .array(ListSeed)
    .min(1)
    .default(() => DEFAULT_LISTS.map((l) => ListSeed.parse(l))),
  /** Requests in flight per API key; one more is answered 429. @defaultValue 10 */
  maxConnections: z.number().int().positive().default(10),
  /** Test knob: every API call waits this long before it is handled (to hold connections open). @defaultValue 0 */
  requestDelayMs: z.number().int().min(0).default(0),
  /**
   * Pre-registers a webhook on every list, sources {user, admin} (api off), every event but
   * `campaign`. None when absent.
   */
  webhookUrl: z.url().optional(),
  /** The pre-registered webhook's signing secret; its deliveries are unsigned when absent. */
  webhookSigningSecret: z.string().min(1).optional(),
  /** Webhooks created through the API get a signing secret (answered once, in the create response). @defaultValue true */
  signNewWebhooks: z.boolean().default(true),
  /** A webhook created through the API is validated with a GET to its URL first (Mailchimp does). @defaultValue true */
  validateWebhookUrl: z.boolean().default(true),
  /** Delivery attempts per event before giving up. @defaultValue 5 */
  webhookMaxAttempts: z.number().int().positive().default(5),
  /** The wait before the first retry (doubled for each next one). @defaultValue 200 */
  webhookRetryBaseMs: z.number().int().min(0).default(200),
  /** Delay between the batch statuses pending, preprocessing, started, finalizing, finished. @defaultValue 10 */
  batchStepMs: z.number().int().min(0).default(10),
  /** How long a batch's `response_body_url` stays valid. @defaultValue 600000 (10 minutes) */
  batchResultTtlMs: z.number().int().positive().default(600_000),
  /** Batches not finished yet, per API key; one more is answered 429. @defaultValue 500 */
  maxPendingBatches: z.number().int().positive().default(500),
  /** Status changes of one member within `churnWindowMs` after which a re-subscribe is refused. @defaultValue 3 */
  churnFlips: z.number().int().positive().default(3),
  /** @defaultValue 600000 (10 minutes) */
  churnWindowMs: z.number().int().positive().default(600_000),
});
export type MailchimpEmulatorOptions = z.infer<typeof MailchimpEmulatorOptions>;
export type MailchimpEmulatorOptionsInput = z.input<typeof MailchimpEmulatorOptions>;

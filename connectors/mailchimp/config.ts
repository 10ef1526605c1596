/**
 * The Mailchimp connector's own YAML keys (an instance with `type: mailchimp` syncs ONE audience,
 * `listId`; several audiences are several instances), and its pull cursor. The JSON Schema of
 * `config/concord.yaml` derives from it (`npm run schema`).
 * https://mailchimp.com/developer/marketing/docs/fundamentals/
 */
import { z } from 'zod';

const PurposeChannel = z.string().regex(/^[^.]+\.[^.]+$/, 'expected purpose.channel');

/** One interest (a group of an interest category) and the canonical topic it carries, as `interest:<id>` true/false. */
export const MailchimpInterest = z
  .object({
    id: z.string().min(1).meta({ description: 'The interest id (GET /lists/{list_id}/interest-categories/{id}/interests).' }),
    topic: z.string().min(1).meta({ description: 'The canonical subscription topic it carries.' }),
  })
  .strict();
export type MailchimpInterest = z.infer<typeof MailchimpInterest>;

/** One GDPR marketing permission of the audience and the canonical consent it carries, as `permission:<id>` true/false. */
export const MailchimpPermission = z
  .object({
    id: z.string().min(1).meta({ description: 'The marketing_permission_id (read off any member of the list; no endpoint lists them).' }),
    consent: PurposeChannel.meta({ description: 'The canonical consent it carries, as purpose.channel.' }),
  })
  .strict();
export type MailchimpPermission = z.infer<typeof MailchimpPermission>;

/** The data center of an API key (`…-us21` -> `us21`), or undefined when the key has no suffix. */
export function dataCenterOf(apiKey: string): string | undefined {
  const m = /-([a-z]+\d+)$/.exec(apiKey.trim());
  return m?.[1];
}

export const MailchimpConfig = z
  .object({
    /** The Marketing API key (Basic auth password). A secret: `${env:MAILCHIMP_API_KEY}`. */
    apiKey: z.string().min(1).meta({ description: 'Marketing API key (ends in -<dc>); from ${env:...}.' }),
    /**
     * The API base URL.
     * @defaultValue `https://<dc>.api.mailchimp.com/3.0`, `<dc>` from the key's `-<dc>` suffix
     */
    baseUrl: z.url().optional().meta({
      description:
        'API base URL. Default: https://<dc>.api.mailchimp.com/3.0 from the key’s -<dc> suffix; a URL without a path gets /3.0 (the emulator’s URL in tests and the demo).',
    }),
    /** The audience (list) this instance syncs. */
    listId: z.string().min(1).meta({ description: 'The audience (list) id this instance syncs.' }),
    /**
     * The canonical consent the member `status` carries (subscribed = granted, unsubscribed = denied).
     * @defaultValue `marketing.email`
     */
    statusConsent: PurposeChannel.default('marketing.email').meta({
      description: 'The consent the member status carries (subscribed <-> granted, unsubscribed/cleaned <-> denied).',
    }),
    /**
     * Interests mapped to topics.
     * @defaultValue `[]`
     */
    interests: z.array(MailchimpInterest).default([]).meta({ description: 'Interests (groups) mapped to subscription topics.' }),
    /**
     * GDPR marketing permissions mapped to consents.
     * @defaultValue `[]`
     */
    marketingPermissions: z
      .array(MailchimpPermission)
      .default([])
      .meta({ description: 'GDPR marketing permissions mapped to consents (enabled <-> granted).' }),
    /**
     * The long secret in the webhook URL (`/webhooks/<instance id>/<webhookSecret>`), compared in
     * constant time. Generate it with `concord secret`. A secret: `${env:MAILCHIMP_WEBHOOK_SECRET}`.
     */
    webhookSecret: z
      .string()
      .min(32, 'at least 32 characters (concord secret prints one)')
      .meta({ description: 'The long secret in the webhook URL; at least 32 characters.' }),
    /**
     * The webhook's signing secret (Mailchimp returns it once when the webhook is created): when
     * set, `X-Mailchimp-Signature` is required, with a 5-minute tolerance.
     * @defaultValue none: webhooks are unsigned, authenticated by the URL secret, and only hints
     */
    webhookSigningSecret: z.string().min(1).optional().meta({ description: 'Verifies X-Mailchimp-Signature when set.' }),
    /**
     * Requests in flight at once for this API key, across every instance of the process that uses it.
     * @defaultValue 10 (Mailchimp's ceiling of simultaneous connections per key)
     */
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(10)
      .meta({ description: 'Requests in flight per API key in this process (1..10); split the 10 between processes that call Mailchimp.' }),
    /**
     * How far behind the saved cursor an incremental pull starts, ms.
     * @defaultValue 300000 (5 minutes)
     */
    lookBackMs: z
      .number()
      .int()
      .nonnegative()
      .default(5 * 60_000)
      .meta({ description: 'Look-back of an incremental pull, ms.' }),
    /**
     * Members per page of a pull (`count`).
     * @defaultValue 1000 (Mailchimp's maximum)
     */
    pageSize: z.number().int().positive().max(1000).default(1000).meta({ description: 'Members per pull page (at most 1000).' }),
    /**
     * Updates in one push above which they go as one `POST /batches` operation set instead of one PATCH each.
     * @defaultValue 100
     */
    batchOperationsAbove: z
      .number()
      .int()
      .nonnegative()
      .default(100)
      .meta({ description: 'Updates per push above which /batches is used.' }),
    /**
     * How often a running batch operation is polled, ms.
     * @defaultValue 2000
     */
    batchPollMs: z.number().int().positive().default(2_000).meta({ description: 'Poll interval of a batch operation, ms.' }),
    /**
     * How long a push waits for a batch operation to finish before answering its records `retryable`, ms.
     * @defaultValue 600000 (10 minutes)
     */
    batchTimeoutMs: z.number().int().positive().default(600_000).meta({ description: 'Longest wait for a batch operation, ms.' }),
    /**
     * Whether a restriction (GDPR Art. 18) or an objection also archives the member, besides unsubscribing it.
     * @defaultValue false
     */
    archiveOnRestriction: z.boolean().default(false).meta({ description: 'Archive members under a restriction or objection.' }),
  })
  .refine((c) => c.baseUrl !== undefined || dataCenterOf(c.apiKey) !== undefined, {
    message: 'the API key has no -<dc> suffix: set baseUrl',
    path: ['baseUrl'],
  })
  // Two fields of one member carrying one consent would each write it, and a permission still
  // ticked would turn an unsubscribe into a grant: the status already carries statusConsent.
  .superRefine((c, ctx) => {
    c.marketingPermissions.forEach((p, i) => {
      if (p.consent === c.statusConsent)
        ctx.addIssue({
          code: 'custom',
          path: ['marketingPermissions', i, 'consent'],
          message: `${p.consent} is already carried by the member status (statusConsent): map this permission to another consent, or set statusConsent to another one`,
        });
    });
  });
export type MailchimpConfig = z.infer<typeof MailchimpConfig>;
export type MailchimpConfigInput = z.input<typeof MailchimpConfig>;

/** Config keys that hold secrets and must come from `${env:...}`. */
export const MAILCHIMP_SECRET_KEYS = ['apiKey', 'webhookSecret', 'webhookSigningSecret'] as const;

/** The API base URL of an instance, without a trailing slash; a URL with no path is the server, and `/3.0` is added. */
export function apiBaseUrl(config: Pick<MailchimpConfig, 'apiKey' | 'baseUrl'>): string {
  if (config.baseUrl !== undefined) {
    const base = config.baseUrl.replace(/\/+$/, '');
    return new URL(base).pathname === '/' ? `${base}/3.0` : base;
  }
  return `https://${dataCenterOf(config.apiKey) ?? 'us1'}.api.mailchimp.com/3.0`;
}

/**
 * The pull cursor, saved after each page. A walk reads members with `last_changed` from `since`
 * (oldest first) and is `offset` members into that window; `complete` once it read to the end,
 * when the next pull starts `lookBackMs` behind `since`. Absent `since`: the whole audience.
 */
export const MailchimpCursor = z
  .object({
    since: z.iso.datetime({ offset: false }).optional(),
    offset: z.number().int().nonnegative(),
    complete: z.boolean(),
  })
  .strict();
export type MailchimpCursor = z.infer<typeof MailchimpCursor>;

/**
 * The Segment connector's own YAML keys (an instance with `type: segment` is one Segment source,
 * by its write key, plus optionally its Unify space and the workspace's Public API), and its pull
 * cursor. The JSON Schema of `config/concord.yaml` derives from it (`npm run schema`).
 *
 * - Tracking API: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/
 * - Profile API: https://segment.com/docs/unify/profile-api/
 * - Public API regulations: https://docs.segmentapis.com/tag/Deletion-and-Suppression
 */
import { z } from 'zod';

const PurposeChannel = z.string().regex(/^[^.]+\.[^.]+$/, 'expected purpose.channel');
/** A trait name as it appears in `traits` (no `consent:` prefix: those are the category fields). */
const TraitName = z
  .string()
  .min(1)
  .refine((t) => !t.startsWith('consent:'), 'a trait name may not start with consent:');

/** The hosts of each Segment API per region (https://segment.com/docs/guides/regional-segment/). */
export const SEGMENT_HOSTS = {
  us: { events: 'https://api.segment.io', profiles: 'https://profiles.segment.com', publicApi: 'https://api.segmentapis.com' },
  eu: {
    events: 'https://events.eu1.segmentapis.com',
    profiles: 'https://profiles.euw1.segment.com',
    publicApi: 'https://eu1.api.segmentapis.com',
  },
} as const;

/** A subscription topic carried by a boolean trait (`true` subscribed), both ways. */
export const SegmentSubscriptionTrait = z
  .object({
    trait: TraitName.meta({ description: 'The boolean trait, e.g. newsletter_subscribed.' }),
    topic: z.string().min(1).meta({ description: 'The canonical subscription topic it carries.' }),
  })
  .strict();

/**
 * A consent carried by a boolean trait (`true` granted). Inbound it can only withdraw: a trait
 * any tool of the workspace may set is no record of a person's affirmative act.
 */
export const SegmentConsentTrait = z
  .object({
    trait: TraitName.meta({ description: 'The boolean trait, e.g. email_marketing_consent.' }),
    consent: PurposeChannel.meta({ description: 'The canonical consent it carries, as purpose.channel.' }),
  })
  .strict();

/** A consent category of `context.consent.categoryPreferences` and the canonical consent it carries (push only). */
export const SegmentConsentCategory = z
  .object({
    category: z.string().min(1).meta({ description: 'The category name as the workspace’s consent settings name it, e.g. Advertising.' }),
    consent: PurposeChannel.meta({ description: 'The canonical consent whose state it carries (granted = true).' }),
  })
  .strict();

export const SegmentConfig = z
  .object({
    /** The source's write key (Tracking API). A secret: `${env:SEGMENT_WRITE_KEY}`. */
    writeKey: z.string().min(1).meta({ description: 'The source write key; from ${env:...}.' }),
    /**
     * Where the workspace lives.
     * @defaultValue `us`
     */
    region: z.enum(['us', 'eu']).default('us').meta({ description: 'us or eu (the EU hosts of each API).' }),
    /**
     * One base URL for all three APIs (the emulator, `concord emulate segment`, is http://127.0.0.1:4040).
     * @defaultValue none: the region's hosts
     */
    baseUrl: z.url().optional().meta({ description: 'One URL for all three APIs (the emulator); default: the region’s hosts.' }),
    /**
     * The Unify space whose Profile API pulls, read-backs and exports use (with `profileToken`).
     * @defaultValue none: no pulls, read-backs or exports (many teams only send to Segment)
     */
    spaceId: z.string().min(1).optional().meta({ description: 'Unify space id (Settings > API access), for pulls and exports.' }),
    /** The space's Profile API access token (Basic auth user). A secret: `${env:SEGMENT_PROFILE_TOKEN}`. */
    profileToken: z.string().min(1).optional().meta({ description: 'Profile API access token; from ${env:...}.' }),
    /**
     * Profile API requests per second for this space.
     * @defaultValue 100 (Segment's limit per space)
     */
    profileRequestsPerSecond: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(100)
      .meta({ description: 'Profile API requests per second (≤ 100).' }),
    /**
     * The Identity Resolution identifier of the space that holds phone numbers (a custom
     * identifier, e.g. `phone`, set up in Unify's Identity Resolution settings from the `phone`
     * trait): `find` looks a phone up as `<phoneIdentifier>:<number>`.
     * @defaultValue none: phones are not searched (Segment's default identifiers have no phone)
     */
    phoneIdentifier: z
      .string()
      .regex(/^[a-z][a-z0-9_.]*$/)
      .optional()
      .meta({ description: 'Identity Resolution identifier holding phone numbers (e.g. phone), for find; default: none.' }),
    /**
     * Profiles one scheduled pull reads before it saves its place and stops (the next resumes).
     * @defaultValue 3000
     */
    profilesPerPull: z.number().int().positive().default(3_000).meta({ description: 'Profiles read per pull run.' }),
    /**
     * A Public API token with the Workspace Owner role, for erasure. A secret: `${env:SEGMENT_PUBLIC_API_TOKEN}`.
     * @defaultValue none: erasures fail with a message saying to set it
     */
    publicApiToken: z.string().min(1).optional().meta({ description: 'Public API token (erasure); from ${env:...}.' }),
    /**
     * The regulation an erasure creates.
     * @defaultValue `SUPPRESS_WITH_DELETE` (deletes in Segment, forwards the deletion to destinations that support it, and keeps new data out)
     */
    regulationType: z
      .enum(['SUPPRESS_WITH_DELETE', 'SUPPRESS_WITH_DELETE_INTERNAL', 'DELETE_ONLY', 'DELETE_INTERNAL'])
      .default('SUPPRESS_WITH_DELETE')
      .meta({ description: 'Regulation type of an erasure.' }),
    /**
     * Scope the regulations to this source (`POST /regulations/sources/{id}`).
     * @defaultValue none: the whole workspace
     */
    regulationSourceId: z.string().min(1).optional().meta({ description: 'Regulate only this source (default: the workspace).' }),
    /**
     * How often a regulation's status is asked, ms.
     * @defaultValue 3600000 (an hour: regulations take hours to days)
     */
    regulationPollMs: z.number().int().positive().default(3_600_000).meta({ description: 'Poll interval of a regulation, ms.' }),
    /**
     * The shared secret of the Webhooks destination (`X-Signature`), chosen by the operator: `concord secret` prints one (production wants 256 bits).
     * @defaultValue none: webhooks are refused
     */
    webhookSecret: z.string().min(1).optional().meta({ description: 'Shared secret of the Webhooks (Actions) destination.' }),
    /**
     * Subscription topics carried by boolean traits.
     * @defaultValue `[]`
     */
    subscriptionTraits: z.array(SegmentSubscriptionTrait).default([]).meta({ description: 'Topics as boolean traits.' }),
    /**
     * Consents carried by boolean traits (inbound they only withdraw).
     * @defaultValue `[]`
     */
    consentTraits: z.array(SegmentConsentTrait).default([]).meta({ description: 'Consents as boolean traits (withdraw-only inbound).' }),
    /**
     * Consents sent as `context.consent.categoryPreferences` on every identify (push only).
     * @defaultValue `[]`
     */
    consentCategories: z
      .array(SegmentConsentCategory)
      .default([])
      .meta({ description: 'Consents sent as context.consent.categoryPreferences (push only).' }),
    /**
     * How long a push waits for Segment to acknowledge its events before it answers them retryable, ms.
     * @defaultValue 30000
     */
    flushTimeoutMs: z.number().int().positive().default(30_000).meta({ description: 'Longest wait for a push to be acknowledged, ms.' }),
    /**
     * How long a webhook's signed `receivedAt` may be behind its arrival; older ones are refused as replays.
     * Below the hub's 25-hour event-id memory, so a replay is always either remembered or refused.
     * @defaultValue 43200000 (12 hours; Segment retries a destination for up to 4 hours)
     */
    webhookReplayWindowMs: z
      .number()
      .int()
      .positive()
      .max(24 * 3_600_000)
      .default(12 * 3_600_000)
      .meta({ description: 'Oldest signed receivedAt accepted, ms (≤ 24 h).' }),
  })
  .strict()
  .refine((c) => (c.spaceId === undefined) === (c.profileToken === undefined), {
    message: 'spaceId and profileToken go together (the Profile API needs both)',
    path: ['profileToken'],
  })
  .superRefine((c, ctx) => {
    const traits = [...c.subscriptionTraits.map((s) => s.trait), ...c.consentTraits.map((s) => s.trait)];
    traits.forEach((trait, i) => {
      if (traits.indexOf(trait) !== i) {
        const inSubscriptions = i < c.subscriptionTraits.length;
        ctx.addIssue({
          code: 'custom',
          path: inSubscriptions ? ['subscriptionTraits', i, 'trait'] : ['consentTraits', i - c.subscriptionTraits.length, 'trait'],
          message: `the trait ${trait} already carries another topic or consent`,
        });
      }
    });
  });
export type SegmentConfig = z.infer<typeof SegmentConfig>;
export type SegmentConfigInput = z.input<typeof SegmentConfig>;

/** Config keys that hold secrets and must come from `${env:...}`. */
export const SEGMENT_SECRET_KEYS = ['writeKey', 'profileToken', 'publicApiToken', 'webhookSecret'] as const;

/** The base URL of each API for an instance, without a trailing slash. */
export function segmentHosts(config: Pick<SegmentConfig, 'baseUrl' | 'region'>): { events: string; profiles: string; publicApi: string } {
  if (config.baseUrl !== undefined) {
    const base = config.baseUrl.replace(/\/+$/, '');
    return { events: base, profiles: base, publicApi: base };
  }
  return SEGMENT_HOSTS[config.region];
}

/**
 * The pull cursor: a walk over the profiles the hub knows (the Profile API lists none), `after`
 * the paging key of the last profile read; absent, the next pull starts a new walk.
 */
export const SegmentCursor = z.object({ after: z.string().min(1).optional() }).strict();
export type SegmentCursor = z.infer<typeof SegmentCursor>;

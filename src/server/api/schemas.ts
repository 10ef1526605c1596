/**
 * Request and response bodies of the admin API. These zod schemas are the contract: handlers
 * validate with them and the OpenAPI document is generated from them (`openapi.ts`).
 */
import { z } from 'zod';
import { DeadLetter } from '../../sync/index.js';
import {
  Change,
  ConsentInput,
  ConsentState,
  ConsentStatus,
  Identity,
  Ignored,
  Instant,
  Json,
  Profile,
  ProfileIdentity,
} from '../../profile/schema.js';
import { Problem } from '../problem.js';

export { Problem };

/** A `{profileId}` path parameter. */
export const ProfileIdParams = z.object({
  profileId: z
    .string()
    .min(1)
    .max(100)
    .meta({ description: "The hub's profile id (an id merged away resolves to the surviving profile)." }),
});

/** Exactly one identity to look a profile up by. */
export const FindProfileQuery = z
  .object({
    email: z.string().min(3).max(320).optional().meta({ description: 'An e-mail address (normalized before the lookup).' }),
    phone: z.string().min(3).max(40).optional().meta({ description: 'A phone number in international form, e.g. +4930123456.' }),
    system: z.string().min(1).max(100).optional().meta({ description: 'A connector instance id, with externalId.' }),
    externalId: z.string().min(1).max(320).optional().meta({ description: "The system's own record id, with system." }),
  })
  .strict()
  .refine((q) => {
    const kinds = [q.email !== undefined, q.phone !== undefined, q.system !== undefined || q.externalId !== undefined];
    const external = q.system !== undefined && q.externalId !== undefined;
    return kinds.filter(Boolean).length === 1 && (kinds[2] ? external : true);
  }, 'give exactly one of: email, phone, or system with externalId');
export type FindProfileQuery = z.infer<typeof FindProfileQuery>;

export const EffectiveConsent = z.object({
  status: ConsentStatus.nullable().meta({ description: 'What connected systems are told; null while unknown.' }),
  reason: z.enum(['restricted', 'objection', 'expired', 'consent', 'unknown']),
});

/** The identities the hub sends to systems: per kind, the newest one (older ones only find the person). */
export const PrimaryIdentities = z.object({
  email: ProfileIdentity.nullable().meta({ description: 'The newest e-mail address, with who set it and when; null when none is known.' }),
  phone: ProfileIdentity.nullable().meta({ description: 'The newest phone number, with who set it and when; null when none is known.' }),
});

/** A profile with each field's value, source and time, and the consents systems are told. */
export const ProfileView = z.object({
  profile: Profile,
  primaryIdentities: PrimaryIdentities,
  /** purpose -> channel -> effective state, for every purpose and channel of the catalog. */
  effectiveConsents: z.record(z.string(), z.record(z.string(), EffectiveConsent)),
});
export type ProfileView = z.infer<typeof ProfileView>;

/** A change to a profile made through the admin API; it is ingested with source `admin`. */
export const ProfilePatchRequest = z
  .object({
    at: Instant.optional().meta({ description: 'When the change happened (default: now).' }),
    reason: z.string().min(1).max(100).optional().meta({ description: 'Why, for the audit trail, e.g. rectification.' }),
    identities: z.array(Identity).max(20).default([]).meta({ description: 'Identities to add to the profile.' }),
    attributes: z.record(z.string().min(1).max(100), Json).default({}).meta({ description: 'Attribute values; null clears one.' }),
    consents: z
      .record(z.string(), z.record(z.string(), ConsentInput))
      .default({})
      .meta({ description: 'purpose -> channel -> consent; evidence defaults to method admin_api with the key id.' }),
    subscriptions: z.record(z.string(), z.boolean()).default({}).meta({ description: 'topic -> subscribed.' }),
  })
  .strict();
export type ProfilePatchRequest = z.infer<typeof ProfilePatchRequest>;

const ONLY_WITH_READ =
  'Only for keys that also have the profiles:read scope: a write-only key learns nothing of the profile beyond its id and version.';

/**
 * What a write answers. Values of the profile (what a change replaced, the profile after it)
 * only go to keys that may read the profile; a `profiles:write` key alone gets the minimum.
 */
export const PatchResult = z.object({
  status: z.enum(['applied', 'unchanged']),
  profileId: z.string(),
  version: z.number().int(),
  /** Connectors the change will be delivered to. */
  deliveredTo: z.array(z.string()),
  changes: z
    .array(Change)
    .optional()
    .meta({ description: `What the change changed, with the values it replaced. ${ONLY_WITH_READ}` }),
  ignored: z
    .array(Ignored)
    .optional()
    .meta({ description: `Parts of the change recorded but not applied (e.g. not a consent authority). ${ONLY_WITH_READ}` }),
  profile: ProfileView.optional().meta({ description: `The profile after the change. ${ONLY_WITH_READ}` }),
});
export type PatchResult = z.infer<typeof PatchResult>;

export const LedgerEntryView = z.object({
  id: z.string(),
  profileId: z.string(),
  purpose: z.string(),
  channel: z.string(),
  state: ConsentState,
  previous: ConsentStatus.nullable(),
  patchId: z.string(),
  recordedAt: z.string(),
  accepted: z.boolean().meta({ description: 'False when recorded but outvoted or refused (e.g. not a consent authority).' }),
});

export const ConsentHistory = z.object({
  profileId: z.string(),
  entries: z.array(LedgerEntryView),
});

export const SystemSyncState = z.object({
  connector: z.string(),
  type: z.string().nullable().meta({ description: 'The connector type, or null for a connector no longer configured.' }),
  externalId: z.string().nullable(),
  lastPushedAt: z.string().nullable(),
  updatedAt: z.string(),
  shadow: z.record(z.string(), Json).meta({ description: 'The values that system is known to hold (its field names).' }),
  deadLetter: DeadLetter.nullable(),
});

export const SyncState = z.object({
  profileId: z.string(),
  systems: z.array(SystemSyncState),
});

const QueueDepth = z.object({
  queue: z.string(),
  wait: z.number().int(),
  active: z.number().int(),
  delayed: z.number().int(),
  failed: z.number().int(),
});

export const ConnectorStatusView = z.object({
  id: z.string(),
  type: z.string(),
  capabilities: z.object({ pull: z.boolean(), push: z.boolean(), webhooks: z.boolean(), erase: z.boolean(), export: z.boolean() }),
  limits: z.object({ requestsPerWindow: z.number(), windowMs: z.number(), maxBatch: z.number(), concurrency: z.number() }),
  schedule: z.union([z.object({ every: z.number() }), z.object({ cron: z.string() })]).nullable(),
  cursor: Json.nullable().meta({ description: 'The saved pull cursor (where the last pull stopped), or null before the first pull.' }),
  lastPull: z
    .object({
      finishedAt: z.string(),
      pages: z.number().int(),
      records: z.number().int(),
      error: z.object({ name: z.string(), code: z.string().optional(), message: z.string() }).nullable(),
      succeededAt: z
        .string()
        .optional()
        .meta({ description: 'When the last pull that read everything ended (absent before one did): the pull lag counts from it.' }),
    })
    .nullable()
    .meta({
      description: 'When the last pull ended, how much it read, and its error (null when it read everything); null before the first pull.',
    }),
  queues: z.array(QueueDepth),
  profiles: z
    .object({
      dirty: z.number().int(),
      inflight: z.number().int(),
      retry: z.number().int(),
      dead: z.number().int(),
      held: z.number().int().meta({
        description:
          'Profiles whose record a push would create, held until the first full pull of the system finished (initialSync both or push-only).',
      }),
    })
    .nullable()
    .meta({ description: 'Profiles waiting to be pushed, in flight, backing off, dead-lettered and held (push connectors).' }),
  budget: z
    .object({
      max: z.number().int(),
      windowMs: z.number().int(),
      used: z.number().int(),
      remaining: z.number().int(),
      blockedForMs: z.number().int().meta({ description: 'Time left on a 429 Retry-After, 0 when none.' }),
    })
    .meta({ description: "The hub's API budget towards this system in the current window." }),
});

export const ConnectorStatusList = z.object({ connectors: z.array(ConnectorStatusView) });

export const ConnectorIdParams = z.object({
  id: z.string().min(1).max(100).meta({ description: 'A connector instance id (its key under `connectors` in the YAML).' }),
});
export const UnparkResult = z
  .object({
    connector: z.string(),
    parkedForMs: z
      .number()
      .int()
      .nonnegative()
      .meta({ description: 'How long the park still had to run (ms); 0 when the connector was not parked.' }),
  })
  .meta({ description: 'The park is lifted and a push of what waits is scheduled; a system still out of allowance parks it again.' });

export const DeadLetterQuery = z.object({ connector: z.string().min(1).max(100).optional() }).strict();
export const DeadLetterParams = z.object({ connector: z.string().min(1).max(100), profileId: z.string().min(1).max(100) });
export const DeadLetterList = z.object({ deadLetters: z.array(DeadLetter) });
export const SyncRequest = z
  .object({
    full: z
      .boolean()
      .default(false)
      .meta({ description: 'Read every record from the start instead of from the saved cursor (a full resync).' }),
  })
  .meta({ description: 'What to pull.' });
const PullCounts = {
  pages: z.number().int().nonnegative().meta({ description: 'Pages read so far.' }),
  records: z
    .number()
    .int()
    .nonnegative()
    .meta({ description: 'Records read so far (echoes and erased people included; ingest drops them).' }),
};
export const SyncJob = z
  .object({
    connector: z.string(),
    jobId: z.string().meta({
      description: 'The pull job (BullMQ job id on the connector’s pull queue); its state at `GET /connectors/{id}/sync/{jobId}`.',
    }),
    full: z.boolean(),
    state: z.enum(['queued', 'waiting', 'active', 'delayed', 'completed', 'failed']),
    progress: z.object({
      ...PullCounts,
      expected: z
        .number()
        .int()
        .nonnegative()
        .optional()
        .meta({ description: 'For a full pull: the records of the system the hub knows (an estimate of what it reads).' }),
    }),
    result: z.object({ ...PullCounts, skipped: z.literal('running').optional() }).nullable(),
    error: z.string().nullable(),
  })
  .meta({ description: 'A pull of the connector: queued on its pull queue, run by the hub’s pull workers within its rate limits.' });
export const SyncJobParams = ConnectorIdParams.extend({
  jobId: z.string().min(1).max(200).meta({ description: 'A pull job id, as `POST /connectors/{id}/sync` answered it.' }),
});
export const PushAgainResult = z
  .object({
    profileId: z.string(),
    queued: z.array(z.string()).meta({ description: 'The connectors the profile was queued for (every one that pushes).' }),
    held: z.array(z.string()).optional().meta({
      description:
        'Of those, the ones held until their first pull (`initialSync: pull-only`, or a create under both and push-only): the push goes after it.',
    }),
  })
  .meta({ description: 'The profile is queued; the push workers deliver it, whole, to each system.' });

export const ReplayResult = z.object({
  replayed: z.number().int().meta({ description: 'How many dead letters went back to their push queue.' }),
});

export const PreferenceLinkRequest = z
  .object({
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(90 * 86_400)
      .optional()
      .meta({ description: 'How long the link stays valid (default: hub.preferenceCenter.linkTtl).' }),
    lang: z
      .string()
      .min(2)
      .max(35)
      .optional()
      .meta({ description: 'The language the page opens in, one of catalog.locales (default: the browser’s).' }),
  })
  .strict();

export const PreferenceLink = z.object({
  url: z.string().meta({ description: 'The personal link; send it only to the person.' }),
  expiresAt: Instant,
});

export const RevokedLinks = z.object({
  profileId: z.string(),
  revokedBefore: Instant.meta({ description: 'Links to this profile issued before this instant no longer open.' }),
});

/**
 * The canonical living-profile model. zod is the single source of truth: every type
 * here is derived from its schema. This module is pure (no I/O, no clock, no randomness).
 */
import { z } from 'zod';

/** An instant as an ISO-8601 UTC string with milliseconds, e.g. `2026-11-29T10:00:00.000Z`. */
export const Instant = z.iso.datetime({ offset: false, precision: 3 });
export type Instant = z.infer<typeof Instant>;

/** A connector instance id (or a hub-internal source such as `preference_center`, `admin`). */
export const SourceId = z.string().min(1).max(100);
export type SourceId = z.infer<typeof SourceId>;

/** Any JSON value. Attribute values are JSON; `null` clears a field. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export const Json: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(Json), z.record(z.string(), Json)]),
);

/** One way of recognising a person. `external` ids are namespaced by the connector that owns them (`system`). */
export const Identity = z.object({
  kind: z.enum(['email', 'phone', 'external']),
  value: z.string().min(1).max(320),
  system: SourceId.optional(),
});
export type Identity = z.infer<typeof Identity>;

/**
 * The stamp of what is not known: identities stored before identities carried stamps, and
 * identities a source named only as lookup keys. For identities it sorts below every real
 * stamp (`compareIdentityStamps`).
 */
export const UNSTAMPED = { at: '1970-01-01T00:00:00.000Z', source: 'hub' } as const;

/**
 * An identity of a profile, with when it was last set at its source and which source set it
 * (the same stamp as attributes). Per kind (per `system` for external ids) the identity with
 * the greatest stamp is the primary one, the one pushed to systems; the others stay as
 * lookup keys. Identities stored without a stamp read as `UNSTAMPED`.
 */
export const ProfileIdentity = Identity.extend({
  at: Instant.default(UNSTAMPED.at),
  source: SourceId.default(UNSTAMPED.source),
});
export type ProfileIdentity = z.infer<typeof ProfileIdentity>;

/**
 * An identity as a patch names it. `lookup: true` says the source holds it unchanged (for
 * example a record field equal to what the system held before): it finds the person but does
 * not claim to be newer than what the profile has, so it never takes over as primary by the
 * patch's time (it counts as `UNSTAMPED`). `at`: when the source set this identity, where it
 * stamps the field apart from the record (HubSpot's property history): the identity takes it
 * instead of the patch's `at` (clamped like it), so a contact modified later for another
 * reason does not make an older address or number look new. Ignored on a lookup key.
 */
export const PatchIdentity = Identity.extend({ lookup: z.boolean().optional(), at: Instant.optional() });
export type PatchIdentity = z.infer<typeof PatchIdentity>;

/** A value together with when it changed at its source and which source changed it. */
export function Stamped<T extends z.ZodType>(value: T) {
  return z.object({ value, at: Instant, source: SourceId });
}
export type Stamped<T> = { value: T; at: Instant; source: SourceId };

/** Legal bases of GDPR Art. 6(1). */
export const LegalBasis = z.enum(['consent', 'contract', 'legal_obligation', 'vital_interest', 'public_task', 'legitimate_interest']);
export type LegalBasis = z.infer<typeof LegalBasis>;

export const ConsentStatus = z.enum(['granted', 'denied']);
export type ConsentStatus = z.infer<typeof ConsentStatus>;

/** How a consent choice was captured; the proof behind Art. 7(1). */
export const ConsentEvidence = z.object({
  method: z.string().min(1).max(100),
  noticeVersion: z.string().max(100).optional(),
  /** The language (BCP 47 tag) of the notice shown; `noticeVersion` is that language's version. */
  noticeLocale: z.string().max(35).optional(),
  ip: z.string().max(100).optional(),
  userAgent: z.string().max(1000).optional(),
  capturedBy: z.string().max(200).optional(),
  reference: z.string().max(500).optional(),
});
export type ConsentEvidence = z.infer<typeof ConsentEvidence>;

/** The state of one purpose on one channel, as the last winning action set it. */
export const ConsentState = Stamped(ConsentStatus).extend({
  legalBasis: LegalBasis,
  evidence: ConsentEvidence,
  expiresAt: Instant.optional(),
});
export type ConsentState = z.infer<typeof ConsentState>;

/**
 * A consent slot: the resolved state plus, for purposes with `policy: most-restrictive`,
 * the latest state reported by each authority (the resolution is computed from them).
 */
export const ConsentSlot = ConsentState.extend({
  bySource: z.record(SourceId, ConsentState).optional(),
});
export type ConsentSlot = z.infer<typeof ConsentSlot>;

export const ObjectionKind = z.enum(['directMarketing', 'profiling', 'automatedDecisions']);
export type ObjectionKind = z.infer<typeof ObjectionKind>;

/** Data-subject rights in force: restriction (Art. 18) and objections (Art. 21, 22). */
export const Rights = z.object({
  restricted: Stamped(z.boolean()).optional(),
  objections: z.partialRecord(ObjectionKind, Stamped(z.boolean())).default({}),
});
export type Rights = z.infer<typeof Rights>;

/** The hub's living profile of one person. */
export const Profile = z.object({
  id: z.string().min(1),
  identities: z.array(ProfileIdentity),
  attributes: z.record(z.string(), Stamped(Json)),
  /** purpose -> channel -> slot; purposes and channels come from the YAML catalog. */
  consents: z.record(z.string(), z.record(z.string(), ConsentSlot)),
  /** topic -> subscribed. */
  subscriptions: z.record(z.string(), Stamped(z.boolean())),
  rights: Rights,
  /** Bumped by the store on every committed merge (compare-and-swap). Merge never touches it. */
  version: z.number().int().nonnegative(),
});
export type Profile = z.infer<typeof Profile>;

/** A consent choice as a source reports it inside a patch. */
export const ConsentInput = z.object({
  status: ConsentStatus,
  legalBasis: LegalBasis.optional(),
  evidence: ConsentEvidence.optional(),
  expiresAt: Instant.optional(),
});
export type ConsentInput = z.infer<typeof ConsentInput>;

/**
 * The unit of change every source produces. All values in one patch happened at `at`
 * at the source; `receivedAt` is when the hub received it (used to clamp future `at`).
 */
export const ProfilePatch = z.object({
  /** Stable id of the change (e.g. webhook event id), for idempotence and the audit log. */
  id: z.string().min(1).max(200),
  source: SourceId,
  at: Instant,
  receivedAt: Instant,
  identities: z.array(PatchIdentity).default([]),
  attributes: z.record(z.string(), Json).default({}),
  consents: z.record(z.string(), z.record(z.string(), ConsentInput)).default({}),
  subscriptions: z.record(z.string(), z.boolean()).default({}),
  rights: z
    .object({
      restricted: z.boolean().optional(),
      objections: z.partialRecord(ObjectionKind, z.boolean()).default({}),
    })
    .default({ objections: {} }),
  /** Why this change was made, for the audit log (e.g. `rectification`). */
  reason: z.string().max(100).optional(),
  /**
   * When single slots took their value, where the source stamps them one by one and that time
   * differs from `at` (a subscription status in a contact modified later): by slot path,
   * `attributes.<path>`, `consents.<purpose>.<channel>`, `subscriptions.<topic>`,
   * `rights.restricted`, `rights.objections.<kind>`. A slot not named here takes `at`.
   */
  slotsAt: z.record(z.string(), Instant).optional(),
});
export type ProfilePatch = z.infer<typeof ProfilePatch>;
export type ProfilePatchInput = z.input<typeof ProfilePatch>;

/** How conflicting consent reports for a purpose resolve. */
export const PurposePolicy = z.enum(['latest', 'most-restrictive']);
export type PurposePolicy = z.infer<typeof PurposePolicy>;

/** Everything merge needs to know from the configuration. Built from the YAML by `config/`. */
export const MergePolicy = z.object({
  /** Source id -> priority; higher wins a timestamp tie. Unknown sources count as 0. */
  priorities: z.record(SourceId, z.number().int()).default({}),
  purposes: z
    .record(
      z.string(),
      z.object({
        policy: PurposePolicy.default('latest'),
        /** Sources allowed to change this purpose; absent means any source may. */
        authorities: z.array(SourceId).optional(),
        defaultLegalBasis: LegalBasis.default('consent'),
        /** Which objection, when active, blocks "granted" for this purpose. */
        objection: ObjectionKind.optional(),
      }),
    )
    .default({}),
  /** How far in the future a source timestamp may be before it is clamped to receipt time. */
  skewMs: z
    .number()
    .int()
    .nonnegative()
    .default(5 * 60_000),
  /**
   * Sources that may lift a restriction or an objection (report it as false); absent means any
   * source may. Lifting one is the person's explicit request (GDPR Art. 18, 21), so a system
   * that reports it lifted is recorded as ignored (`not_authority`) and corrected on the next
   * push. Setting one (true) is open to every source.
   */
  rightsAuthorities: z.array(SourceId).optional(),
});
export type MergePolicy = z.infer<typeof MergePolicy>;
export type MergePolicyInput = z.input<typeof MergePolicy>;

/**
 * One field that a merge actually changed.
 *
 * `from`/`to` are plain values for attributes, subscriptions and rights, the stamped
 * `ProfileIdentity` for identities (`from` is undefined for a new one, `to` when `diff` sees
 * one removed; both are set when a source set it again later) and the full resolved
 * `ConsentState` (without `bySource`) for consents, ready for the consent ledger. A change
 * may have `from` equal to `to` when only the register's stamp (`at`/`source`) moved: the
 * profile did change and must be stored, or later merges would not converge.
 */
export const Change = z.object({
  kind: z.enum(['identity', 'attribute', 'consent', 'subscription', 'right']),
  /** e.g. `firstName`, `marketing.email`, `newsletter`, `objections.profiling`, `email:a@b.c`. */
  path: z.string(),
  from: z.unknown().optional(),
  to: z.unknown(),
  at: Instant,
  source: SourceId,
  /**
   * Consents of `policy: most-restrictive` purposes only: the state the patch's source
   * reported, now its entry in the slot's `bySource`. When it differs from `to`, the report
   * was recorded but outvoted by another authority's denial: the ledger should record it as
   * not accepted (and `to` as the state still in force).
   */
  reported: ConsentState.optional(),
});
export type Change = z.infer<typeof Change>;

/** A part of a patch that lost on a rule rather than on time (recorded, never applied). */
export const Ignored = z.object({
  kind: z.enum(['consent', 'right']),
  path: z.string(),
  reason: z.enum(['not_authority', 'unknown_purpose']),
  source: SourceId,
  /** For consents: the state the source tried to set, so the ledger can record it as not accepted. */
  state: ConsentState.optional(),
});
export type Ignored = z.infer<typeof Ignored>;

export interface MergeResult {
  profile: Profile;
  changes: Change[];
  ignored: Ignored[];
}

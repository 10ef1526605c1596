/**
 * Data-subject requests as the hub takes them (admin API, CLI, preference center, source
 * systems) and shows them. zod is the source of truth; types are derived.
 */
import { z } from 'zod';
import { Instant, Json, ObjectionKind } from '../profile/schema.js';

export const DsrKind = z.enum(['erase', 'export', 'rectify', 'restrict', 'unrestrict', 'object', 'withdraw_objection']);
export type DsrKind = z.infer<typeof DsrKind>;

export const DsrStatus = z.enum(['received', 'in_progress', 'completed', 'failed']);
export const DsrSystemState = z.enum(['pending', 'in_progress', 'completed', 'failed', 'not_applicable']);

/**
 * Who the request is about: an e-mail address, a phone number, the hub's profile id, or a
 * record in a connected system (`system` is the connector instance id).
 */
export const Subject = z
  .object({
    email: z.string().min(3).max(320).optional(),
    phone: z.string().min(3).max(40).optional(),
    profileId: z.string().min(1).max(100).optional(),
    system: z.string().min(1).max(100).optional(),
    externalId: z.string().min(1).max(320).optional(),
  })
  .strict()
  .refine((s) => {
    const ways = [s.email, s.phone, s.profileId, s.system ?? s.externalId].filter((v) => v !== undefined).length;
    const halfReference = (s.system === undefined) !== (s.externalId === undefined);
    return ways === 1 && !halfReference;
  }, 'give exactly one of email, phone, profileId, or system with externalId')
  .meta({ description: 'Who the request is about: exactly one of email, phone, profileId, or system + externalId.' });
export type Subject = z.infer<typeof Subject>;

const base = { subject: Subject };

/** A new request. Each kind carries what it needs. */
export const DsrInput = z.discriminatedUnion('kind', [
  z
    .object({ kind: z.literal('erase'), ...base })
    .strict()
    .meta({ description: 'Erase the person everywhere (Art. 17), and keep them erased.' }),
  z
    .object({
      kind: z.literal('export'),
      ...base,
      includeLive: z.boolean().default(true).meta({
        description:
          'Search every connected system for the person and include the whole record each holds now (Art. 15 covers all their data). Default: true; false exports only what the hub keeps.',
      }),
    })
    .strict()
    .meta({ description: 'Access and portability (Art. 15, 20): a JSON and CSV export.' }),
  z
    .object({
      kind: z.literal('rectify'),
      ...base,
      attributes: z
        .record(z.string().min(1).max(200), Json)
        .refine((a) => Object.keys(a).length > 0, 'give at least one attribute to correct')
        .meta({ description: 'Attribute path -> corrected value (null clears it).' }),
    })
    .strict()
    .meta({ description: 'Rectification (Art. 16): the corrected values win over older ones and reach every system.' }),
  z
    .object({ kind: z.literal('restrict'), ...base })
    .strict()
    .meta({ description: 'Restriction of processing (Art. 18).' }),
  z
    .object({ kind: z.literal('unrestrict'), ...base })
    .strict()
    .meta({ description: 'Lifts a restriction of processing.' }),
  z
    .object({ kind: z.literal('object'), ...base, objection: ObjectionKind })
    .strict()
    .meta({ description: 'Objection (Art. 21, 22): to direct marketing, profiling, or automated decisions.' }),
  z
    .object({ kind: z.literal('withdraw_objection'), ...base, objection: ObjectionKind })
    .strict()
    .meta({ description: 'Withdraws an objection, at the person’s request.' }),
]);
export type DsrInput = z.infer<typeof DsrInput>;
export type DsrInputData = z.input<typeof DsrInput>;

/** A reference to the person in one system, as `erase` and `export` take it. */
export const EraseRefSchema = z.object({ externalId: z.string().optional(), email: z.string().optional() }).strict();

/** An identity a system was searched by, as kept in the proof: its kind and keyed hash (HMAC-SHA256), never the value. */
export const SearchedIdentity = z
  .object({
    kind: z.enum(['email', 'phone', 'external']),
    hash: z.string(),
  })
  .strict();
export type SearchedIdentity = z.infer<typeof SearchedIdentity>;

/** How a system was searched or read back: `find` (the connector's search), `export` (by ids and addresses), `read` (by ids). */
export const SearchVia = z.enum(['find', 'export', 'read']);

/**
 * What one system's part of a request did, as evidence (no personal data: keyed hashes and counts):
 * the calls it took part in, the search before acting, and the read-back after erasing.
 */
export const SystemEvidence = z
  .object({
    /** Per operation (`find`, `export`, `read`, `erase`, `eraseProgress`): calls that carried this request, the first and the last. */
    calls: z.record(z.string(), z.object({ count: z.number().int().positive(), first: Instant, last: Instant }).strict()),
    /** The search before acting: when, how, by which identities, and the records found (keyed hashes of their ids). */
    searched: z
      .object({
        at: Instant,
        via: SearchVia,
        identities: z.array(SearchedIdentity),
        found: z.number().int().nonnegative(),
        records: z.array(z.string()),
      })
      .strict()
      .optional(),
    /**
     * The person's identities the system cannot be searched by (its `find` does not search by
     * their kind, or `export` by phone), keyed hashes: not found by them is no claim. With none
     * of the person's identities searchable and no record known to the hub there, the system's
     * part fails, to be checked by hand.
     */
    unsearchable: z.array(SearchedIdentity).optional(),
    /** The read-back after erasing: when, how, and what it still found (keyed hashes of record ids; empty when verified). */
    readBack: z
      .object({ at: Instant, via: SearchVia, found: z.number().int().nonnegative(), records: z.array(z.string()) })
      .strict()
      .optional(),
  })
  .strict();
export type SystemEvidence = z.infer<typeof SystemEvidence>;

/**
 * Whom a request searches every system for, while it runs (personal data: removed with `work`
 * when the request completes): the person's addresses and phone numbers, and per system the
 * record ids the hub knows there.
 */
export const SearchSubject = z
  .object({
    emails: z.array(z.string()),
    phones: z.array(z.string()),
    externalIds: z.record(z.string(), z.array(z.string())),
  })
  .strict();
export type SearchSubject = z.infer<typeof SearchSubject>;

/** What one system did for a request, kept as proof (no personal data). */
export const SystemOutcome = z
  .object({
    /** `erased`: records deleted; `not_found`: the system was searched and held nothing; `delivered`: the change reached it; `not_held`: it holds no record, so nothing was sent; `exported`: its live records were read. */
    outcome: z.enum(['erased', 'not_found', 'delivered', 'not_held', 'exported', 'failed']),
    /** Records affected (erased or read). */
    records: z.number().int().nonnegative().optional(),
    /** Erasure: whether reading the system back confirmed the person is gone. */
    verified: z.enum(['yes', 'unsupported', 'off']).optional(),
    /** Erasure the system carried out later: its handles of it (e.g. Segment regulation ids). */
    tickets: z.array(z.string()).optional(),
    /** What was called, when, what the search found and what the read-back returned (keyed hashes and counts). */
    evidence: SystemEvidence.optional(),
    at: Instant,
  })
  .strict();
export type SystemOutcome = z.infer<typeof SystemOutcome>;

/**
 * One system's erasure under way, as the next run of its erase queue must know it (no personal
 * data: counts, the system's handles and its words):
 * - `records` erased so far; `verifyOnly` while the next run only reads back, because a rate
 *   limit interrupted reading back, or the system finished an erasure it carried out later;
 * - `tickets`: the system accepted the erasure of `awaiting` references and carries it out later
 *   (a `pending` outcome): the next run asks how it is going (`eraseProgress`) instead of erasing
 *   again; `progress` is the system's last word on it (stored only when it changes: asking
 *   costs no write), `since` when it accepted it, `reportedAt` when the progress last changed;
 * - `finished`: tickets the system carried out, kept for the outcome (`SystemOutcome.tickets`).
 */
export const ErasureState = z
  .object({
    records: z.number().int().nonnegative(),
    verifyOnly: z.boolean(),
    tickets: z.array(z.string()).optional(),
    awaiting: z.number().int().nonnegative().optional(),
    progress: z.string().optional(),
    since: Instant.optional(),
    reportedAt: Instant.optional(),
    finished: z.array(z.string()).optional(),
  })
  .strict();
export type ErasureState = z.infer<typeof ErasureState>;

/**
 * The request's `detail` as stored. While an erasure runs, `work` holds the references each
 * system is erased by (e-mail addresses and record ids); it is removed when the erasure
 * completes, leaving only the proof.
 */
export const DsrDetail = z
  .object({
    /** Where the request came from: `api`, `cli`, `preference_center`, or a connector id. */
    origin: z.string(),
    /** Who made it (an API key id, `cli`, `preference_center`, a connector id). */
    actor: z.string(),
    objection: ObjectionKind.optional(),
    /** Rectification: the attribute paths corrected (never the values). */
    attributes: z.array(z.string()).optional(),
    includeLive: z.boolean().optional(),
    /** The change applied for rectify, restrict and object requests. */
    patchId: z.string().optional(),
    work: z.record(z.string(), z.array(EraseRefSchema)).optional(),
    /** Whom every system is searched for (see `SearchSubject`). Removed with `work`. */
    search: SearchSubject.optional(),
    /** Per system, the evidence gathered so far (see `SystemEvidence`); it goes into the system's outcome when it is done. */
    evidence: z.record(z.string(), SystemEvidence).optional(),
    /** Per system, an erasure under way that the next run must know of (see `ErasureState`). Removed with `work`. */
    erasing: z.record(z.string(), ErasureState).optional(),
    outcomes: z.record(z.string(), SystemOutcome).default({}),
    /** Systems that hold the person but cannot erase (they must be erased by hand). */
    manual: z.array(z.string()).optional(),
    export: z.object({ expiresAt: Instant, sha256: z.string(), bytes: z.number().int().nonnegative() }).strict().optional(),
    extension: z.object({ reason: z.string() }).strict().optional(),
    /** Tracking of rect./restr./objection deliveries gives up at this instant. */
    trackUntil: Instant.optional(),
    /** Why the request failed as a whole, when it did. */
    failure: z.string().optional(),
    /** The opaque reference handed to `onSettled` on completion (see `RequestMeta.notify`); dropped then. */
    notify: z.string().max(200).optional(),
    /**
     * References of further requesters of the same erasure (one asked again while it was open,
     * so they were handed this request): each is handed to `onSettled` too; dropped then.
     */
    alsoNotify: z.array(z.string().max(200)).max(50).optional(),
  })
  .strict();
export type DsrDetail = z.infer<typeof DsrDetail>;

/** An erasure the system carries out later, while it is under way, as shown. */
export const ErasureProgressView = z
  .object({
    text: z.string().meta({ description: 'What the system last said of it, e.g. "regulation 2b4c… RUNNING".' }),
    tickets: z.array(z.string()).meta({ description: 'The system’s handles of the erasure (e.g. Segment regulation ids).' }),
    since: z.string().meta({ description: 'When the system accepted the erasure.' }),
    reportedAt: z.string().meta({ description: 'When the system first reported this progress.' }),
  })
  .meta({ description: 'An erasure the system carries out later (e.g. a Segment regulation), while it is under way.' });

/** One system's part of a request, as shown. */
export const DsrSystemView = z.object({
  connector: z.string(),
  status: DsrSystemState,
  attempts: z.number().int().nonnegative(),
  error: z.string().nullable(),
  updatedAt: z.string(),
  outcome: SystemOutcome.nullable(),
  progress: ErasureProgressView.nullable(),
});

/** A request as the admin API and the CLI show it. */
export const DsrView = z
  .object({
    id: z.string(),
    kind: DsrKind,
    status: DsrStatus,
    profileId: z.string().nullable(),
    origin: z.string(),
    identityHashes: z.array(z.string()).meta({ description: 'Keyed hashes (HMAC-SHA256) of the identities; never the identities.' }),
    receivedAt: z.string(),
    dueAt: z.string(),
    extendedTo: z.string().nullable(),
    subjectToldAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    overdue: z.boolean(),
    objection: ObjectionKind.nullable(),
    export: z.object({ ready: z.boolean(), expiresAt: z.string().nullable() }).nullable(),
    failure: z.string().nullable(),
    systems: z.array(DsrSystemView),
  })
  .meta({ description: 'A data-subject request with its status per connected system.' });
export type DsrView = z.infer<typeof DsrView>;

/** An extension of a request's deadline (Art. 12(3)), with when the person was told and why. */
export const DsrExtension = z
  .object({
    extendedTo: Instant,
    subjectToldAt: Instant,
    reason: z.string().min(1).max(500),
  })
  .strict();
export type DsrExtension = z.infer<typeof DsrExtension>;

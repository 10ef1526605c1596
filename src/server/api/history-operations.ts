/**
 * Explaining a value: a profile's history (`GET /api/v1/profiles/{profileId}/history`, scope
 * `profiles:read`: it holds the profile's values) and the audit log with filters and paging
 * (`GET /api/v1/audit`, scope `audit:read`).
 */
import { z } from 'zod';
import type { HistoryKind } from '../../profile/explain.js';
import { HistoryOutcome, HistoryReason, StampedValue } from '../../profile/explain.js';
import { Instant, Json } from '../../profile/schema.js';
import type { AuditEntry, HistoryEntry, Store } from '../../store/types.js';
import { ApiProblem } from '../problem.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';
import { ProfileIdParams } from './schemas.js';

export const HistoryEntryView = z.object({
  recordedAt: Instant.meta({ description: 'When the hub merged the change.' }),
  at: Instant.meta({ description: 'When the change happened at its source (clamped to receipt plus the allowed clock skew).' }),
  source: z
    .string()
    .meta({ description: 'The system (connector instance) or hub source (`admin`, `preference_center`, ...) that sent it.' }),
  actor: z.string().meta({ description: 'Who made the change, as the audit log names it (e.g. `admin:<key id>`).' }),
  patchId: z.string(),
  value: Json.meta({ description: 'The value the source sent (a consent: its status; an identity: its value).' }),
  outcome: HistoryOutcome,
  reason: HistoryReason.meta({
    description:
      'Why it won or lost, after the key of the merge order that decided: `new` (no value before), `newer` / `older_than_current` (the source time), `higher_priority` / `lower_priority` (same instant, source priorities), `denied_wins_tie` / `granted_loses_tie` (consents at the same instant), `tie_break` (same instant and priority: source id, then value), `outvoted` (most-restrictive purpose: recorded, but another authority’s denial stands), `not_authority`, `unknown_purpose` (lost on a rule). For an identity, `lost` means only that its stamp did not move: the identity stays.',
  }),
  previous: StampedValue.nullable().meta({
    description: 'What the profile held when the change arrived: replaced when it won, kept when it lost. Null when nothing.',
  }),
});
export type HistoryEntryView = z.infer<typeof HistoryEntryView>;

const EntriesByPath = z.record(z.string(), z.array(HistoryEntryView));

export const ProfileHistory = z.object({
  profileId: z.string(),
  identities: EntriesByPath.meta({ description: 'By identity (`email:a@b.c`, `external:crm:42`), oldest first.' }),
  attributes: EntriesByPath,
  consents: EntriesByPath.meta({ description: 'By `purpose.channel`. The evidence of each consent is in the consent history.' }),
  subscriptions: EntriesByPath,
  rights: EntriesByPath.meta({ description: 'By `restricted` or `objections.<kind>`.' }),
  truncated: z.boolean().meta({ description: 'True when older entries were left out (see `limit`).' }),
});
export type ProfileHistory = z.infer<typeof ProfileHistory>;

export const ProfileHistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(10_000).default(1_000).meta({ description: 'At most this many entries, the newest ones.' }),
  })
  .strict();

const GROUP: Record<HistoryKind, keyof Omit<ProfileHistory, 'profileId' | 'truncated'>> = {
  identity: 'identities',
  attribute: 'attributes',
  consent: 'consents',
  subscription: 'subscriptions',
  right: 'rights',
};

/** History entries grouped by kind and path, oldest first within each path. */
export function groupHistory(profileId: string, entries: readonly HistoryEntry[], truncated: boolean): ProfileHistory {
  const out: ProfileHistory = { profileId, identities: {}, attributes: {}, consents: {}, subscriptions: {}, rights: {}, truncated };
  for (const e of entries) {
    const group = out[GROUP[e.kind]];
    const view: HistoryEntryView = {
      recordedAt: e.recordedAt,
      at: e.offered.at,
      source: e.offered.source,
      actor: e.actor,
      patchId: e.patchId,
      value: e.offered.value,
      outcome: e.outcome,
      reason: e.reason,
      previous: e.previous,
    };
    (Object.hasOwn(group, e.path) ? group[e.path] : (group[e.path] = []))?.push(view);
  }
  return out;
}

/** An opaque paging cursor: the `at` and `id` of the last entry of a page. */
export function auditCursor(entry: Pick<AuditEntry, 'at' | 'id'>): string {
  return Buffer.from(JSON.stringify([entry.at, entry.id])).toString('base64url');
}

const CursorParts = z.tuple([z.string().min(1).max(40), z.string().min(1).max(100)]);

function decodeCursor(cursor: string): { at: string; id: string } | undefined {
  try {
    const parsed = CursorParts.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? { at: parsed.data[0], id: parsed.data[1] } : undefined;
  } catch {
    return undefined;
  }
}

/** Any ISO-8601 instant, normalized to the store's spelling (UTC, milliseconds). */
const InstantQuery = z.iso
  .datetime({ offset: true })
  .transform((text) => new Date(text).toISOString())
  .meta({ description: 'An ISO-8601 instant, e.g. 2026-12-01T00:00:00Z.' });

export const AuditQuery = z
  .object({
    actor: z.string().min(1).max(200).optional().meta({ description: 'e.g. `admin:<key id>`, `cli`, a connector instance id.' }),
    action: z.string().min(1).max(100).optional().meta({ description: 'e.g. `profile.updated`, `profile.merged`, `connector.unparked`.' }),
    profileId: z.string().min(1).max(100).optional(),
    since: InstantQuery.optional().meta({ description: 'Entries at or after this instant.' }),
    until: InstantQuery.optional().meta({ description: 'Entries before this instant.' }),
    limit: z.coerce.number().int().min(1).max(1_000).default(100),
    cursor: z
      .string()
      .max(400)
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return undefined;
        const decoded = decodeCursor(text);
        if (decoded === undefined) ctx.addIssue({ code: 'custom', message: 'not a cursor this endpoint gave (nextCursor)' });
        return decoded;
      })
      .meta({ description: 'The `nextCursor` of the previous page.' }),
  })
  .strict();

export const AuditEntryView = z.object({
  id: z.string(),
  at: Instant,
  actor: z.string(),
  action: z.string(),
  profileId: z.string().nullable(),
  detail: z
    .record(z.string(), Json)
    .meta({ description: 'Paths and kinds of what changed; identities only as keyed hashes, never values.' }),
});

export const AuditPage = z.object({
  entries: z.array(AuditEntryView).meta({ description: 'Newest first.' }),
  nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last one.' }),
});

export function historyOperations(store: Store): Operation<unknown, unknown, unknown, unknown>[] {
  const history = defineOperation({
    id: 'getProfileHistory',
    method: 'GET',
    path: '/profiles/{profileId}/history',
    summary: 'Explain every value',
    description:
      'Per identity, attribute, consent, subscription and right: every change any source sent, with its value, source, time, and why it won or lost against what the profile held. Kept while the profile lives; erasure deletes it. Changes dropped before the merge (echoes of the hub’s own pushes, withdraw-only fields that would grant, identities of erased people) are not changes of the profile and are not listed.',
    tag: 'Profiles',
    scope: 'profiles:read',
    params: ProfileIdParams,
    query: ProfileHistoryQuery,
    response: ProfileHistory,
    errors: [404],
    async handle({ params, query }) {
      const profile = await store.getProfile(params.profileId);
      if (!profile) return new ApiProblem(404, 'not_found', 'Not found', 'profile not found');
      const entries = await store.profileHistory(profile.id, { limit: query.limit + 1 });
      const truncated = entries.length > query.limit;
      return groupHistory(profile.id, truncated ? entries.slice(1) : entries, truncated);
    },
  });

  const audit = defineOperation({
    id: 'listAudit',
    method: 'GET',
    path: '/audit',
    summary: 'The audit log',
    description:
      'Who or what changed what, newest first, filtered by actor, action, profile and time, a page at a time. Holds no values: identities appear only as keyed hashes (the values are in a profile’s history).',
    tag: 'Operations',
    scope: 'audit:read',
    query: AuditQuery,
    response: AuditPage,
    async handle({ query }) {
      const { cursor, limit, ...filter } = query;
      const entries = await store.listAudit({ ...filter, ...(cursor ? { after: cursor } : {}), limit: limit + 1 });
      const page = entries.slice(0, limit);
      const last = page.at(-1);
      return { entries: page, nextCursor: entries.length > limit && last ? auditCursor(last) : null };
    },
  });

  return [history, audit] as Operation<unknown, unknown, unknown, unknown>[];
}

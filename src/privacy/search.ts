/**
 * Find before you act: erasures and exports search every connected system for the person before
 * acting, so that a person the hub never synced (created directly in one system) is found too.
 *
 * A system is searched with `find` (capability `find`: by e-mail, phone and its own ids, many
 * people in one call), else with `export` by the person's record ids and addresses apart (a
 * duplicate record with the same address is found too; phone numbers cannot be searched so).
 * The calls go through the engine's limiter for the system like every other call (`callSystem`);
 * a rate limit throws `RateLimitedError` to the caller, which parks.
 *
 * What is kept as evidence holds no personal data: the kinds of the identities searched by and
 * their keyed hashes (`Store.hashIdentity`), the number of records found and the keyed hashes of
 * their ids, and per operation how many calls carried the request and when.
 */
import type { EraseRef, ExportedRecord, ExternalRecord, FindKind, FindQuery } from '../connector/define.js';
import type { Identity } from '../profile/schema.js';
import type { SyncConnector, SyncInstance } from '../sync/index.js';
import { callSystem } from './context.js';
import type { PrivacyContext, SystemCallDeps } from './context.js';
import type { SearchedIdentity, SearchSubject, SystemEvidence } from './schema.js';

/** How a system is searched: `find`, else `export` by ids and addresses. */
export type SearchMethod = 'find' | 'export';

const lower = (s: string): string => s.trim().toLowerCase();
const unique = (values: readonly string[]): string[] => [...new Set(values)];

/** How the system can be searched, by its declared capabilities (and the instance's methods, when given); `null`: it cannot. */
export function searchMethod(connector: Pick<SyncConnector, 'capabilities'>, instance?: SyncInstance): SearchMethod | null {
  if (connector.capabilities.find && (!instance || instance.find)) return 'find';
  if (connector.capabilities.export && (!instance || instance.export)) return 'export';
  return null;
}

/** Whom to search for: every address and phone number of the person, and per system the record ids the hub knows there. */
export function searchSubject(identities: readonly Identity[]): SearchSubject {
  const externalIds: Record<string, string[]> = {};
  for (const i of identities) {
    if (i.kind !== 'external' || !i.system) continue;
    externalIds[i.system] = unique([...(externalIds[i.system] ?? []), i.value]);
  }
  return {
    emails: unique(identities.filter((i) => i.kind === 'email').map((i) => lower(i.value))),
    phones: unique(identities.filter((i) => i.kind === 'phone').map((i) => i.value.trim())),
    externalIds,
  };
}

/** The query for one system: the person's addresses and phone numbers, the system's ids known to the hub, and `extraIds` (e.g. records found). */
export function queryFor(subject: SearchSubject | undefined, connector: string, extraIds: readonly string[] = []): FindQuery {
  return {
    emails: subject?.emails ?? [],
    phones: subject?.phones ?? [],
    externalIds: unique([...(subject?.externalIds[connector] ?? []), ...extraIds]),
  };
}

const ALL_KINDS: readonly FindKind[] = ['email', 'phone', 'externalId'];

/**
 * The kinds of identity a system can be searched by: with `find`, those its instance declares
 * (`findsBy`; absent: all); with `export`, e-mail addresses and record ids (never phone numbers).
 */
export function searchKinds(method: SearchMethod, instance?: Pick<SyncInstance, 'findsBy'>): readonly FindKind[] {
  if (method === 'export') return ['email', 'externalId'];
  return instance?.findsBy ?? ALL_KINDS;
}

/** The part of a query a system can search by (`kinds`); the rest is left out. */
export function searchableQuery(query: FindQuery, kinds: readonly FindKind[]): FindQuery {
  return {
    emails: kinds.includes('email') ? query.emails : [],
    phones: kinds.includes('phone') ? query.phones : [],
    externalIds: kinds.includes('externalId') ? query.externalIds : [],
  };
}

/** Whether a query holds no identity to search by. */
export function isEmptyQuery(query: FindQuery): boolean {
  return query.emails.length === 0 && query.phones.length === 0 && query.externalIds.length === 0;
}

/** The identities of a query, as the proof keeps them (kind and keyed hash). */
function hashedIdentities(ctx: PrivacyContext, connector: string, query: FindQuery): SearchedIdentity[] {
  const hash = (identity: Identity): SearchedIdentity => ({ kind: identity.kind, hash: ctx.store.hashIdentity(identity) });
  return [
    ...query.emails.map((value) => hash({ kind: 'email', value })),
    ...query.phones.map((value) => hash({ kind: 'phone', value })),
    ...query.externalIds.map((value) => hash({ kind: 'external', system: connector, value })),
  ];
}

/** What a system is searched by and what it cannot be searched by, apart. */
export interface SearchScope {
  /** The part of the query the system can search by. */
  query: FindQuery;
  /** The identities it searches by (kind and keyed hash). */
  identities: SearchedIdentity[];
  /** The person's identities it cannot search by (kind and keyed hash): never "searched, not found" by them. */
  unsearchable: SearchedIdentity[];
  /** With none of the person's identities searchable there: why it must be checked by hand. */
  byHand: string | null;
}

/**
 * Splits a query into what the system can search by (`searchKinds`) and what it cannot, as the
 * proof keeps them; `byHand`, when none of the person's identities can be searched there, is why
 * the system must be checked by hand (unless the hub knows a record there).
 */
export function searchScope(ctx: PrivacyContext, connector: SyncConnector, instance: SyncInstance, query: FindQuery): SearchScope {
  const kinds = searchKinds(searchMethod(connector, instance) ?? 'export', instance);
  const searchable = searchableQuery(query, kinds);
  const rest: FindQuery = {
    emails: kinds.includes('email') ? [] : query.emails,
    phones: kinds.includes('phone') ? [] : query.phones,
    externalIds: kinds.includes('externalId') ? [] : query.externalIds,
  };
  const unsearchable = hashedIdentities(ctx, connector.id, rest);
  return {
    query: searchable,
    identities: hashedIdentities(ctx, connector.id, searchable),
    unsearchable,
    byHand: isEmptyQuery(searchable) && unsearchable.length > 0 ? unsearchableReason(unsearchable) : null,
  };
}

/** Why a system none of the person's identities can be searched in, where the hub knows no record, is checked by hand. */
export function unsearchableReason(unsearchable: readonly SearchedIdentity[]): string {
  const kinds = unique(unsearchable.map((i) => i.kind)).join(', ');
  return `cannot be searched by the person's identities (${kinds}): check by hand`;
}

/**
 * The references to act on in a system, for an erasure and an export alike: those the hub knows
 * (its record ids, an always-erase address), so a record the search misses is still acted on,
 * and the records the search found, each once (given with `email`, when given, as a system may
 * act by it too). `added`: the ids found that the hub did not know.
 */
export function withFound(known: readonly EraseRef[], found: readonly string[], email?: string): { refs: EraseRef[]; added: string[] } {
  const ids = new Set(known.flatMap((r) => (r.externalId ? [r.externalId] : [])));
  const added = unique(found).filter((id) => !ids.has(id));
  return {
    refs: [...known, ...added.map((externalId) => (email === undefined ? { externalId } : { externalId, email }))],
    added,
  };
}

/** Keyed hashes of a system's record ids, for the proof. */
export function hashedRecords(ctx: PrivacyContext, connector: string, ids: readonly string[]): string[] {
  return unique(ids).map((value) => ctx.store.hashIdentity({ kind: 'external', system: connector, value }));
}

/** Counts one call that carried the request (`operation`, at `at`) in its evidence. */
export function noteCall(evidence: SystemEvidence, operation: string, at: string): void {
  const seen = evidence.calls[operation];
  evidence.calls[operation] = seen ? { count: seen.count + 1, first: seen.first, last: at } : { count: 1, first: at, last: at };
}

/** An empty evidence record. */
export function freshEvidence(): SystemEvidence {
  return { calls: {} };
}

/** What a search of one system found, per query in input order. */
export interface SearchResult {
  method: SearchMethod;
  /** The record ids found, per query. */
  found: string[][];
  /** With `export`: the records themselves, per query (an export needs no second read). */
  records?: ExportedRecord[][];
}

/**
 * Searches one system for many people in one call: `find` with the queries, else `export` by
 * their record ids and addresses apart, each record given to the queries it matches (by id, or
 * by an address in any of its fields). Throws what the call throws (a `RateLimitedError`
 * included); `slot` is a limiter slot the caller already reserved.
 */
export async function searchSystem(
  ctx: PrivacyContext,
  deps: SystemCallDeps,
  connector: SyncConnector,
  instance: SyncInstance,
  queries: readonly FindQuery[],
  signal: AbortSignal,
  slot?: string,
): Promise<SearchResult> {
  const options = { signal, ...(slot === undefined ? {} : { slot }) };
  const method = searchMethod(connector, instance);
  const find = instance.find;
  if (method === 'find' && find) {
    // Only by the kinds it can search by (`findsBy`).
    const asked = queries.map((q) => searchableQuery(q, searchKinds(method, instance)));
    const answers = asked.length === 0 ? [] : await callSystem(ctx, deps, connector, 'find', () => find(asked, signal), options);
    return { method, found: queries.map((_, i) => unique((answers[i] ?? []).map((r) => r.externalId))) };
  }
  const exporter = instance.export;
  if (!exporter) throw new Error(`${connector.id} can be searched neither by find nor by export`);
  const ids = unique(queries.flatMap((q) => q.externalIds));
  const emails = unique(queries.flatMap((q) => q.emails.map(lower)));
  const refs = [...ids.map((externalId) => ({ externalId })), ...emails.map((email) => ({ email }))];
  const all = refs.length === 0 ? [] : await callSystem(ctx, deps, connector, 'export', () => exporter(refs, signal), options);
  const records = queries.map((query) => matching(all, query));
  return { method: 'export', found: records.map((list) => unique(list.map((r) => r.externalId))), records };
}

/** The records that match a query: by id, or by one of its addresses in any field. */
export function matching<R extends ExternalRecord>(records: readonly R[], query: FindQuery): R[] {
  const ids = new Set(query.externalIds);
  const emails = new Set(query.emails.map(lower));
  const seen = new Set<string>();
  return records.filter((record) => {
    const mine =
      ids.has(record.externalId) || Object.values(record.fields).some((value) => typeof value === 'string' && emails.has(lower(value)));
    if (!mine || seen.has(record.externalId)) return false;
    seen.add(record.externalId);
    return true;
  });
}

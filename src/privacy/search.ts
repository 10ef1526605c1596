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
import type { ExportedRecord, ExternalRecord, FindQuery } from '../connector/define.js';
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

/** The identities a query searches a system by, as the proof keeps them (kind and keyed hash). */
export function searchedIdentities(ctx: PrivacyContext, connector: string, query: FindQuery, method: SearchMethod): SearchedIdentity[] {
  const hash = (identity: Identity): SearchedIdentity => ({ kind: identity.kind, hash: ctx.store.hashIdentity(identity) });
  return [
    ...query.emails.map((value) => hash({ kind: 'email', value })),
    ...(method === 'find' ? query.phones.map((value) => hash({ kind: 'phone', value })) : []),
    ...query.externalIds.map((value) => hash({ kind: 'external', system: connector, value })),
  ];
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
    const answers = queries.length === 0 ? [] : await callSystem(ctx, deps, connector, 'find', () => find([...queries], signal), options);
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

/**
 * `find` bookkeeping shared by connectors: the identities of a batch of queries, each once, and
 * the answer per query (in input order) from what the system's lookups found per identity.
 */
import type { FindQuery, FoundRecord } from '../define.js';

type MatchKind = FoundRecord['matchedBy'][number];
const KINDS: readonly MatchKind[] = ['email', 'phone', 'externalId'];

/** An e-mail address as `find` compares it: trimmed, lower-case. */
export const emailKey = (email: string): string => email.trim().toLowerCase();

/** A phone number as `find` compares it: without spaces, dashes, dots and parentheses. */
export const phoneKey = (phone: string): string => phone.replace(/[\s().-]/g, '');

const keyOf = (kind: MatchKind, value: string): string =>
  kind === 'email' ? emailKey(value) : kind === 'phone' ? phoneKey(value) : value.trim();

/** The identities of a batch of queries, each once (e-mails and phones in their compared form), empty ones left out. */
export function findIdentities(queries: readonly FindQuery[]): { emails: string[]; phones: string[]; externalIds: string[] } {
  const unique = (kind: MatchKind, values: string[]): string[] => [...new Set(values.map((v) => keyOf(kind, v)).filter((v) => v !== ''))];
  return {
    emails: unique(
      'email',
      queries.flatMap((q) => q.emails),
    ),
    phones: unique(
      'phone',
      queries.flatMap((q) => q.phones),
    ),
    externalIds: unique(
      'externalId',
      queries.flatMap((q) => q.externalIds),
    ),
  };
}

/** What a system's lookups found: by kind and identity, the ids of the records it matched. */
export class FindHits {
  private readonly hits = new Map<string, string[]>();

  /** Records that `value` (an identity of kind `kind`, as queried or as the record holds it) matched. */
  add(kind: MatchKind, value: string, externalId: string): void {
    const key = `${kind}\u0000${keyOf(kind, value)}`;
    const ids = this.hits.get(key) ?? [];
    if (!ids.includes(externalId)) ids.push(externalId);
    this.hits.set(key, ids);
  }

  /** One answer per query, in input order: each record once, with every kind of identity that matched it. */
  answer(queries: readonly FindQuery[]): FoundRecord[][] {
    return queries.map((q) => {
      const found = new Map<string, Set<MatchKind>>();
      const values: Record<MatchKind, string[]> = { email: q.emails, phone: q.phones, externalId: q.externalIds };
      for (const kind of KINDS) {
        for (const value of values[kind]) {
          for (const id of this.hits.get(`${kind}\u0000${keyOf(kind, value)}`) ?? []) {
            const kinds = found.get(id) ?? new Set<MatchKind>();
            kinds.add(kind);
            found.set(id, kinds);
          }
        }
      }
      return [...found].map(([externalId, kinds]) => ({ externalId, matchedBy: KINDS.filter((k) => kinds.has(k)) }));
    });
  }
}

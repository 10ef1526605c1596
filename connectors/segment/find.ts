/**
 * `find` in Segment, through Unify's Profile API, which reads one profile per call and searches
 * none: each e-mail is one `GET .../profiles/email:<address>/external_ids` (the profile's
 * user ids are what it finds), each phone one lookup by the space's phone identifier when
 * `phoneIdentifier` is set (Segment's default identifiers have no phone), and each user id not
 * already among what those found one `GET .../profiles/user_id:<id>/external_ids`.
 * https://segment.com/docs/unify/profile-api/
 */
import type { FindQuery, FoundRecord } from '../../src/connector/define.js';
import { FindHits, findIdentities } from '../../src/connector/kit/index.js';
import type { SegmentApi } from './api.js';
import { userIdsOf } from './profiles.js';

/** One answer per query, in input order (see `ConnectorInstance.find`). */
export async function findProfiles(
  api: SegmentApi,
  phoneIdentifier: string | undefined,
  queries: readonly FindQuery[],
  signal: AbortSignal,
): Promise<FoundRecord[][]> {
  const { emails, phones, externalIds } = findIdentities(queries);
  const hits = new FindHits();
  const seen = new Set<string>();
  const lookups: ['email' | 'phone', string, string][] = [
    ...emails.map((e): ['email', string, string] => ['email', 'email', e]),
    ...(phoneIdentifier === undefined ? [] : phones.map((p): ['phone', string, string] => ['phone', phoneIdentifier, p])),
  ];
  for (const [kind, identifier, value] of lookups) {
    for (const userId of await userIdsOf(api, identifier, value, signal)) {
      hits.add(kind, value, userId);
      seen.add(userId);
    }
  }
  for (const id of externalIds) {
    if (seen.has(id) || (await userIdsOf(api, 'user_id', id, signal)).includes(id)) hits.add('externalId', id, id);
  }
  return hits.answer(queries);
}

/**
 * `find` on a generic system: each e-mail through `read.find` (one call), each phone through
 * `read.findPhone` when declared (one call; without it a phone finds nothing), and each id not
 * already among those records through `read.get` (else `export`; one call, a 404 or 410 finds
 * nothing). What the instance cannot search by (e-mails without `read.find`, phones without
 * `read.findPhone`, ids without `read.get` or `export`) is left out of `findsBy` and ignored here:
 * a data-subject request then says it was not searchable there, never "not found".
 */
import type { FindKind, FindQuery, FoundRecord } from '../../src/connector/define.js';
import { FindHits, findIdentities } from '../../src/connector/kit/index.js';
import type { HttpApi } from './api.js';
import type { HttpConfig } from './config.js';
import { fetchById, findByEmail, findByPhone } from './read.js';

/** The kinds of identity the instance's endpoints can search by (`ConnectorInstance.findsBy`). */
export function httpFindsBy(config: HttpConfig): FindKind[] {
  const kinds: FindKind[] = [];
  if (config.read.find !== undefined) kinds.push('email');
  if (config.read.findPhone !== undefined) kinds.push('phone');
  if ((config.read.get ?? config.export) !== undefined) kinds.push('externalId');
  return kinds;
}

/** One answer per query, in input order (see `ConnectorInstance.find`). */
export async function findRecords(
  api: HttpApi,
  config: HttpConfig,
  queries: readonly FindQuery[],
  signal: AbortSignal,
): Promise<FoundRecord[][]> {
  const identities = findIdentities(queries);
  const emails = config.read.find === undefined ? [] : identities.emails;
  const phones = config.read.findPhone === undefined ? [] : identities.phones;
  const { externalIds } = identities;
  const hits = new FindHits();
  const seen = new Set<string>();
  const searches = [
    ...emails.map(async (email) => ({ kind: 'email' as const, value: email, records: await findByEmail(api, config, email, signal) })),
    ...phones.map(async (phone) => ({ kind: 'phone' as const, value: phone, records: await findByPhone(api, config, phone, signal) })),
  ];
  for (const { kind, value, records } of await Promise.all(searches)) {
    for (const r of records) {
      hits.add(kind, value, r.externalId);
      seen.add(r.externalId);
    }
  }
  const endpoint = config.read.get ?? config.export;
  const unread = externalIds.filter((id) => !seen.has(id));
  const read = endpoint === undefined ? [] : await fetchById(api, config, endpoint, unread, signal);
  for (const r of read) seen.add(r.externalId);
  for (const id of externalIds) if (seen.has(id)) hits.add('externalId', id, id);
  return hits.answer(queries);
}

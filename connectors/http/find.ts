/**
 * `find` on a generic system: each e-mail through `read.find` (one call), each phone through
 * `read.findPhone` when declared (one call; without it a phone finds nothing), and each id not
 * already among those records through `read.get` (else `export`; one call, a 404 or 410 finds
 * nothing). A query with an e-mail on an instance without `read.find` is refused
 * (`RejectedError`), as erasure and export by e-mail are: "nothing found" would be a guess.
 */
import type { FindQuery, FoundRecord } from '../../src/connector/define.js';
import { RejectedError } from '../../src/connector/errors.js';
import { FindHits, findIdentities } from '../../src/connector/kit/index.js';
import type { HttpApi } from './api.js';
import type { HttpConfig } from './config.js';
import { fetchById, findByEmail, findByPhone } from './read.js';

/** One answer per query, in input order (see `ConnectorInstance.find`). */
export async function findRecords(
  api: HttpApi,
  config: HttpConfig,
  queries: readonly FindQuery[],
  signal: AbortSignal,
): Promise<FoundRecord[][]> {
  const { emails, phones, externalIds } = findIdentities(queries);
  if (emails.length > 0 && config.read.find === undefined) throw new RejectedError('cannot look a record up by e-mail: declare read.find');
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

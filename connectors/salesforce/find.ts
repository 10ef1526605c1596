/**
 * `find` in Salesforce: one SOQL query per batch of identities on the configured object
 * (Contact or Lead), `WHERE Id IN (...) OR Email IN (...) OR Phone IN (...) OR MobilePhone IN
 * (...)` (only the phone fields the describe shows: a field hidden by field-level security is no
 * column to SOQL), split so that each query stays under `MAX_FIND_SOQL` characters once URL-encoded
 * (a query goes in the URL of `GET /query`). E-mail comparisons ignore case, as SOQL's do; a
 * phone matches only as the field holds it (E.164 finds a number stored as E.164, not
 * "(555) 010-0100"). A value that cannot be a Salesforce id (15 or 18 letters and digits)
 * matches nothing and is not sent, since Salesforce refuses a malformed id in `Id IN`.
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm
 */
import type { FindQuery, FoundRecord } from '../../src/connector/define.js';
import { emailKey, FindHits, findIdentities } from '../../src/connector/kit/index.js';
import type { SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import { inList, queryAll, sameId } from './read.js';

/** Longest URL-encoded SOQL text of one find query, well under the request URI limit (about 16,000). */
export const MAX_FIND_SOQL = 12_000;

const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
/** The Contact and Lead fields a phone number is searched in (those the integration user can see). */
export const PHONE_FIELDS: readonly string[] = ['Phone', 'MobilePhone'];

/** The identities one query asks for. */
interface Part {
  ids: string[];
  emails: string[];
  phones: string[];
}

/** The SOQL of one part. */
export function findSoql(object: string, part: Part, phoneFields: readonly string[] = PHONE_FIELDS): string {
  const terms = [
    ...(part.ids.length > 0 ? [`Id IN ${inList(part.ids)}`] : []),
    ...(part.emails.length > 0 ? [`Email IN ${inList(part.emails)}`] : []),
    ...(part.phones.length > 0 ? phoneFields.map((f) => `${f} IN ${inList(part.phones)}`) : []),
  ];
  return `SELECT ${['Id', 'Email', ...phoneFields].join(', ')} FROM ${object} WHERE ${terms.join(' OR ')}`;
}

/** Splits the identities into parts whose SOQL stays within `max` characters once URL-encoded. */
export function findParts(object: string, identities: Part, max = MAX_FIND_SOQL, phoneFields: readonly string[] = PHONE_FIELDS): Part[] {
  const parts: Part[] = [];
  let current: Part = { ids: [], emails: [], phones: [] };
  const size = (p: Part): number => encodeURIComponent(findSoql(object, p, phoneFields)).length;
  const items = [
    ...identities.ids.map((v) => ['ids', v] as const),
    ...identities.emails.map((v) => ['emails', v] as const),
    ...identities.phones.map((v) => ['phones', v] as const),
  ];
  for (const [kind, value] of items) {
    const next = { ...current, [kind]: [...current[kind], value] };
    const empty = current.ids.length + current.emails.length + current.phones.length === 0;
    if (!empty && size(next) > max) {
      parts.push(current);
      current = { ids: [], emails: [], phones: [] };
      current[kind].push(value);
    } else current = next;
  }
  if (current.ids.length + current.emails.length + current.phones.length > 0) parts.push(current);
  return parts;
}

/** One answer per query, in input order (see `ConnectorInstance.find`). */
export async function findPeople(
  api: SalesforceApi,
  config: Pick<SalesforceConfig, 'object'>,
  queries: readonly FindQuery[],
  signal: AbortSignal,
  phoneFields: readonly string[] = PHONE_FIELDS,
): Promise<FoundRecord[][]> {
  const { emails, externalIds, phones: asked } = findIdentities(queries);
  // No phone field visible: a phone cannot be searched.
  const phones = phoneFields.length > 0 ? asked : [];
  const ids = externalIds.filter((id) => ID.test(id));
  const hits = new FindHits();
  for (const part of findParts(config.object, { ids, emails, phones }, MAX_FIND_SOQL, phoneFields)) {
    const rows = await api.call(signal, (conn) => queryAll(conn, findSoql(config.object, part, phoneFields)));
    for (const r of rows) {
      const id = String(r['Id']);
      // A 15-character id asked for finds the record its 18-character form names.
      for (const asked of part.ids) if (sameId(asked, id)) hits.add('externalId', asked, id);
      const email = r['Email'];
      if (typeof email === 'string' && part.emails.includes(emailKey(email))) hits.add('email', email, id);
      for (const f of phoneFields) {
        const phone = r[f];
        if (typeof phone === 'string' && phone !== '') hits.add('phone', phone, id);
      }
    }
  }
  // Answers name each record by the id Salesforce returned.
  return hits.answer(queries);
}

/**
 * Reading back the records Outbound Messages name (the engine's `read` after a `changed`
 * event), in as few calls as the API allows:
 * - the person's own ids (a Contact or Lead message): one SOQL query per `IN_CHUNK` ids, so one
 *   per message; only the person's own fields, as a notification of the person is about them;
 * - `Individual:<id>` and `ContactPointTypeConsent:<id>`: one Composite call per chunk, whose
 *   query subrequests read the people, their Individuals, the notified consents (and the
 *   DataUsePurposes, the first time) through semi-joins on the notified ids.
 * Every record is marked by who last modified it (`echo`), as the message used to be: someone
 * else's change is never taken for our own write coming back. Ids that are not Salesforce ids
 * are left out, unknown and deleted records too.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite.htm
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm (semi-joins)
 */
import type { Connection } from 'jsforce';
import type { ExternalRecord } from '../../src/connector/define.js';
import { subrequestError, type SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import { allPages, chunks, CONSENT_SELECT, IN_CHUNK, INDIVIDUAL_SELECT, inList, personFields, queryAll, type QueryPage, type RawRecord, type Related, type SalesforceReader } from './read.js';

const SALESFORCE_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

/** Salesforce's Composite resource takes at most 5 query subrequests per call. */
const MAX_COMPOSITE_QUERIES = 5;

interface Subresponse {
  body: unknown;
  httpStatusCode: number;
  referenceId: string;
}

/**
 * Runs up to five SOQL queries in one Composite call (one API call toward the limits) and
 * follows each result's further pages. jsforce never retries a POST; a failure is a connector
 * error and the engine retries the read.
 */
export async function compositeQueries(conn: Connection, apiVersion: string, queries: Record<string, string>, now: number): Promise<Record<string, RawRecord[]>> {
  const entries = Object.entries(queries);
  if (entries.length > MAX_COMPOSITE_QUERIES) throw new Error(`at most ${MAX_COMPOSITE_QUERIES} queries per Composite call`);
  const compositeRequest = entries.map(([referenceId, soql]) => ({
    method: 'GET',
    url: `/services/data/v${apiVersion}/query?q=${encodeURIComponent(soql)}`,
    referenceId,
  }));
  const answer = await conn.requestPost<{ compositeResponse?: Subresponse[] }>('/composite', { allOrNone: false, compositeRequest });
  const out: Record<string, RawRecord[]> = {};
  for (const [referenceId] of entries) {
    const sub = answer.compositeResponse?.find((r) => r.referenceId === referenceId);
    if (!sub) throw subrequestError(502, [{ errorCode: 'MISSING_SUBRESPONSE', message: 'the Composite answer lacks a subrequest' }], now);
    if (sub.httpStatusCode >= 400) throw subrequestError(sub.httpStatusCode, sub.body, now);
    out[referenceId] = await allPages(conn, sub.body as QueryPage);
  }
  return out;
}

export class NotifiedReader {
  constructor(
    private readonly api: SalesforceApi,
    private readonly reader: SalesforceReader,
    private readonly config: SalesforceConfig,
    private readonly now: () => number,
  ) {}

  /** The records behind the ids a webhook named: people's own ids, `Individual:<id>`, `ContactPointTypeConsent:<id>`. */
  async read(externalIds: readonly string[], signal: AbortSignal): Promise<ExternalRecord[]> {
    const own = new Set<string>();
    const individuals = new Set<string>();
    const consents = new Set<string>();
    for (const id of externalIds) {
      const [kind, value] = id.includes(':') ? [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)] : ['', id];
      if (!SALESFORCE_ID.test(value)) continue;
      if (kind === '') own.add(value);
      else if (kind === 'Individual') individuals.add(value);
      else if (kind === 'ContactPointTypeConsent') consents.add(value);
    }
    const records: ExternalRecord[] = [];
    const noRelated: Related = { individuals: new Map(), consents: new Map() };
    for (const part of chunks([...own], IN_CHUNK)) {
      const soql = `SELECT ${personFields(this.config).join(', ')} FROM ${this.config.object} WHERE Id IN ${inList(part)}`;
      const people = await this.api.call(signal, (conn) => queryAll(conn, soql));
      records.push(...people.flatMap((p) => this.reader.toRecords(p, noRelated, new Map(), { markEcho: true })));
    }
    for (const part of chunks([...individuals], IN_CHUNK)) records.push(...(await this.readRelated('Individual', part, signal)));
    for (const part of chunks([...consents], IN_CHUNK)) records.push(...(await this.readRelated('ContactPointTypeConsent', part, signal)));
    return records.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  /** People named through their Individuals or consents, with those: one Composite call. */
  private async readRelated(kind: 'Individual' | 'ContactPointTypeConsent', ids: readonly string[], signal: AbortSignal): Promise<ExternalRecord[]> {
    const { config, reader } = this;
    const named = inList(ids);
    // The Individuals concerned: the notified ones, or the parties of the notified consents.
    const parties = kind === 'Individual' ? named : `(SELECT PartyId FROM ContactPointTypeConsent WHERE Id IN ${named})`;
    const known = reader.knownPurposes();
    const cached = known ? await known : undefined;
    const queries: Record<string, string> = {
      people: `SELECT ${personFields(config).join(', ')} FROM ${config.object} WHERE IndividualId IN ${parties}`,
      individuals: `SELECT ${INDIVIDUAL_SELECT.join(', ')} FROM Individual WHERE Id IN ${parties}`,
    };
    if (reader.readsConsents) {
      // A consent notification names the consent that changed; an Individual one, all of its consents.
      const which = kind === 'Individual' ? `PartyId IN ${named}` : `Id IN ${named}`;
      const purposes = cached && cached.size > 0 ? ` AND DataUsePurposeId IN ${inList([...cached.keys()])}` : '';
      queries['consents'] = `SELECT ${CONSENT_SELECT.join(', ')} FROM ContactPointTypeConsent WHERE ${which}${purposes}`;
      if (!cached) queries['purposes'] = reader.purposeQuery();
    }
    const rows = await this.api.call(signal, (conn) => compositeQueries(conn, config.apiVersion, queries, this.now()));
    const purposes = rows['purposes'] ? reader.rememberPurposes(rows['purposes']) : (cached ?? new Map<string, string>());
    const related: Related = { individuals: new Map((rows['individuals'] ?? []).map((r) => [String(r['Id']), r])), consents: new Map() };
    for (const c of rows['consents'] ?? []) {
      const party = String(c['PartyId']);
      related.consents.set(party, [...(related.consents.get(party) ?? []), c]);
    }
    return (rows['people'] ?? []).flatMap((p) => reader.toRecords(p, related, purposes, { markEcho: true }));
  }
}

/**
 * The connector's `read`: the records behind ids a `changed` event named, in as few calls as
 * the API allows (one per `IN_CHUNK` ids of a kind, so one per Outbound Message):
 * - `<object>:<id>` (`Contact:`/`Lead:`, a notification of the person): one SOQL query; only
 *   the person's own fields, as the notification is about that record;
 * - a plain person id (any other reader, e.g. the engine reading a record an earlier write
 *   created unseen): the person whole, in one Composite call whose query subrequests read the
 *   person, its Individual and consents (and the DataUsePurposes, the first time);
 * - `Individual:<id>` and `ContactPointTypeConsent:<id>`: one Composite call reading the
 *   people, their Individuals and the notified consents through semi-joins on the ids.
 * With `fieldHistory`, the people's field history rides along (a Composite subrequest, so still
 * one call): a field an earlier save changed keeps that save's time (`field-history.ts`); a
 * history that cannot be read (tracking off, no access) is logged once and the read goes on.
 * Every record is marked by who last modified it (`echo`), as the message used to be: someone
 * else's change is never taken for our own write coming back. Ids that are not Salesforce ids
 * are left out, unknown and deleted records too.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite.htm
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm (semi-joins)
 */
import { chunks } from '../../src/connector/kit/index.js';
import type { Connection } from 'jsforce';
import type { ExternalRecord } from '../../src/connector/define.js';
import { subrequestError, type SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import { RELATED_OBJECTS } from './webhook.js';
import { historyQuery, lastChanges } from './field-history.js';
import {
  allPages,
  CONSENT_SELECT,
  IN_CHUNK,
  INDIVIDUAL_SELECT,
  inList,
  personFields,
  queryAll,
  type FieldChanges,
  type QueryPage,
  type RawRecord,
  type Related,
  type SalesforceReader,
} from './read.js';

const SALESFORCE_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

type RelatedKind = (typeof RELATED_OBJECTS)[number];

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
export async function compositeQueries(
  conn: Connection,
  apiVersion: string,
  queries: Record<string, string>,
  now: number,
  /** Subrequests whose failure is reported here and leaves their rows out, instead of failing the call. */
  optional?: { ids: readonly string[]; failed: (error: Error) => void },
): Promise<Record<string, RawRecord[]>> {
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
    if (sub.httpStatusCode >= 400) {
      const error = subrequestError(sub.httpStatusCode, sub.body, now);
      if (!optional?.ids.includes(referenceId)) throw error;
      optional.failed(error);
      continue;
    }
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
    /** Told (once per distinct message) when the field history could not be read; the read goes on without it. */
    private readonly historyUnread: (message: string) => void = () => undefined,
  ) {}

  private readonly historyErrors = new Set<string>();

  /** The optional history subrequest: a failure is reported once and leaves each field the record's time. */
  private readonly optionalHistory = {
    ids: ['history'],
    failed: (error: Error): void => {
      if (this.historyErrors.has(error.message)) return;
      this.historyErrors.add(error.message);
      this.historyUnread(error.message);
    },
  };

  /** The records behind the ids a `changed` event named (see the module comment for the forms). */
  async read(externalIds: readonly string[], signal: AbortSignal): Promise<ExternalRecord[]> {
    const byKind = new Map<string, Set<string>>();
    for (const id of externalIds) {
      const colon = id.indexOf(':');
      const [kind, value] = colon < 0 ? ['', id] : [id.slice(0, colon), id.slice(colon + 1)];
      if (
        !SALESFORCE_ID.test(value) ||
        (kind !== '' && kind !== this.config.object && !(RELATED_OBJECTS as readonly string[]).includes(kind))
      )
        continue;
      byKind.set(kind, (byKind.get(kind) ?? new Set()).add(value));
    }
    const records: ExternalRecord[] = [];
    const noRelated: Related = { individuals: new Map(), consents: new Map() };
    for (const part of chunks([...(byKind.get(this.config.object) ?? [])], IN_CHUNK)) {
      const soql = `SELECT ${personFields(this.config).join(', ')} FROM ${this.config.object} WHERE Id IN ${inList(part)}`;
      const { config } = this;
      const [people, history] = config.fieldHistory
        ? await this.api.call(signal, async (conn) => {
            const rows = await compositeQueries(
              conn,
              config.apiVersion,
              { people: soql, history: historyQuery(config, part, this.now()) },
              this.now(),
              this.optionalHistory,
            );
            return [rows['people'] ?? [], lastChanges(config, rows['history'] ?? [])] as const;
          })
        : [await this.api.call(signal, (conn) => queryAll(conn, soql)), new Map<string, FieldChanges>()];
      records.push(
        ...people.flatMap((p) => this.reader.toRecords(p, noRelated, new Map(), { markEcho: true, history: history.get(String(p['Id'])) })),
      );
    }
    for (const kind of ['', ...RELATED_OBJECTS] as const) {
      for (const part of chunks([...(byKind.get(kind) ?? [])], IN_CHUNK)) records.push(...(await this.readWhole(kind, part, signal)));
    }
    return records.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  /**
   * People with their Individuals and consents, in one Composite call: named by their own ids
   * (`''`), by their Individuals', or by consents of theirs.
   */
  private async readWhole(kind: '' | RelatedKind, ids: readonly string[], signal: AbortSignal): Promise<ExternalRecord[]> {
    const { config, reader } = this;
    const named = inList(ids);
    // The Individuals concerned: the people's, the notified ones, or the parties of the notified consents.
    const parties =
      kind === ''
        ? `(SELECT IndividualId FROM ${config.object} WHERE Id IN ${named})`
        : kind === 'Individual'
          ? named
          : `(SELECT PartyId FROM ContactPointTypeConsent WHERE Id IN ${named})`;
    const known = reader.knownPurposes();
    const cached = known ? await known : undefined;
    const queries: Record<string, string> = {
      people: `SELECT ${personFields(config).join(', ')} FROM ${config.object} WHERE ${kind === '' ? 'Id' : 'IndividualId'} IN ${kind === '' ? named : parties}`,
      individuals: `SELECT ${INDIVIDUAL_SELECT.join(', ')} FROM Individual WHERE Id IN ${parties}`,
    };
    if (kind === '' && config.fieldHistory) queries['history'] = historyQuery(config, ids, this.now());
    if (reader.readsConsents) {
      // A consent notification names the consent that changed; otherwise all of the parties' consents.
      const which = kind === 'ContactPointTypeConsent' ? `Id IN ${named}` : `PartyId IN ${parties}`;
      const purposes = cached && cached.size > 0 ? ` AND DataUsePurposeId IN ${inList([...cached.keys()])}` : '';
      queries['consents'] = `SELECT ${CONSENT_SELECT.join(', ')} FROM ContactPointTypeConsent WHERE ${which}${purposes}`;
      if (!cached) queries['purposes'] = reader.purposeQuery();
    }
    const rows = await this.api.call(signal, (conn) =>
      compositeQueries(conn, config.apiVersion, queries, this.now(), this.optionalHistory),
    );
    const purposes = rows['purposes'] ? reader.rememberPurposes(rows['purposes']) : (cached ?? new Map<string, string>());
    const related: Related = { individuals: new Map((rows['individuals'] ?? []).map((r) => [String(r['Id']), r])), consents: new Map() };
    for (const c of rows['consents'] ?? []) {
      const party = String(c['PartyId']);
      related.consents.set(party, [...(related.consents.get(party) ?? []), c]);
    }
    const history = lastChanges(config, rows['history'] ?? []);
    return (rows['people'] ?? []).flatMap((p) =>
      reader.toRecords(p, related, purposes, { markEcho: true, history: history.get(String(p['Id'])) }),
    );
  }
}

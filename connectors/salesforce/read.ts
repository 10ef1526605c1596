/**
 * Reading people from Salesforce and turning them into `ExternalRecord`s: the person's own
 * record (Contact or Lead), its Individual (the rights) and its ContactPointTypeConsents (one
 * per purpose and channel). Each of those is a separate record with its own change time, so
 * that merge orders every value by when it really changed: a consent captured yesterday does
 * not make a name edited last year look new.
 */
import { chunks } from '../../src/connector/kit/index.js';
import type { Connection } from 'jsforce';
import type { ExternalRecord } from '../../src/connector/define.js';
import type { Json } from '../../src/profile/schema.js';
import type { SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import {
  CHANNEL_FLAGS,
  consentField,
  csvBoolean,
  DEFAULT_FIELDS,
  fieldValue,
  INDIVIDUAL_FIELDS,
  INDIVIDUAL_PREFIX,
  overrideOf,
  parseSalesforceDate,
  soqlString,
} from './mapping.js';

/** A record as SOQL (JSON) or Bulk API (CSV text) returns it. */
export type RawRecord = Record<string, unknown>;

/** The last change of one field (Field History Tracking, `field-history.ts`): when, and to what. */
export interface FieldChange {
  at: number;
  value: unknown;
  /** Who made the change (the history row's `CreatedById`). */
  by?: string;
}

/** A record's fields' last changes, by field API name. */
export type FieldChanges = Map<string, FieldChange>;

/** Ids per IN list, keeping each query URL well under Salesforce's URI length limit. */
export const IN_CHUNK = 300;

const SYSTEM_FIELDS = ['Id', 'IndividualId', 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp'];

export function inList(ids: readonly string[]): string {
  return `(${ids.map(soqlString).join(', ')})`;
}

/** The person's fields a read asks for. */
export function personFields(config: SalesforceConfig): string[] {
  return [...new Set([...SYSTEM_FIELDS, ...DEFAULT_FIELDS, config.externalIdField, ...config.fields])];
}

export const INDIVIDUAL_SELECT = ['Id', ...INDIVIDUAL_FIELDS, 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp'];
export const CONSENT_SELECT = [
  'Id',
  'PartyId',
  'DataUsePurposeId',
  'ContactPointType',
  'PrivacyConsentStatus',
  'CaptureDate',
  'CaptureSource',
  'LastModifiedDate',
  'LastModifiedById',
  'SystemModstamp',
];

const BOOLEAN_FIELDS = new Set<string>([...CHANNEL_FLAGS, ...INDIVIDUAL_FIELDS]);

function valueOf(name: string, raw: unknown): Json | undefined {
  if (BOOLEAN_FIELDS.has(name)) return csvBoolean(raw);
  return fieldValue(raw);
}

function atOf(record: RawRecord): number {
  const at = parseSalesforceDate(record['LastModifiedDate']);
  return Number.isNaN(at) ? parseSalesforceDate(record['SystemModstamp']) : at;
}

/**
 * Each field's own time from field history: the last change of a field whose new value is the
 * value read (a field whose history says otherwise, or none, keeps the record's time). Undefined
 * without history.
 */
function fieldTimes(fields: Record<string, Json>, recordAt: number, history: FieldChanges | undefined): Record<string, string> | undefined {
  if (!history) return undefined;
  const out: Record<string, string> = {};
  for (const [name, change] of history) {
    const value = fields[name];
    if (value === undefined || change.at > recordAt) continue;
    if (JSON.stringify(valueOf(name, change.value)) === JSON.stringify(value)) out[name] = new Date(change.at).toISOString();
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A page of a SOQL query result. */
export interface QueryPage {
  records: RawRecord[];
  done: boolean;
  nextRecordsUrl?: string;
}

/** The records of a query result's first page and of every page after it (`nextRecordsUrl`). */
export async function allPages(conn: Connection, first: QueryPage): Promise<RawRecord[]> {
  // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
  let result = first;
  const records = [...result.records];
  while (!result.done && result.nextRecordsUrl) {
    result = await conn.queryMore<RawRecord>(result.nextRecordsUrl, {
      headers: {},
      autoFetch: false,
      maxFetch: 10_000,
      scanAll: false,
      responseTarget: 'QueryResult',
    });
    records.push(...result.records);
  }
  return records;
}

/** Runs a SOQL query and follows `nextRecordsUrl` to the end. */
export async function queryAll(conn: Connection, soql: string): Promise<RawRecord[]> {
  return allPages(conn, await conn.query<RawRecord>(soql, { autoFetch: false }));
}

/** Consent data of a set of people: Individuals and ContactPointTypeConsents by party. */
export interface Related {
  individuals: Map<string, RawRecord>;
  consents: Map<string, RawRecord[]>;
}

export class SalesforceReader {
  /** DataUsePurpose Id -> Name, for the configured purposes. */
  private purposes: Promise<Map<string, string>> | undefined;

  constructor(
    private readonly api: SalesforceApi,
    private readonly config: SalesforceConfig,
  ) {}

  /** Whether Individuals and consents are read at all. */
  get readsConsents(): boolean {
    return Object.keys(this.config.dataUsePurposes).length > 0;
  }

  /** The query of the configured DataUsePurposes. */
  purposeQuery(): string {
    return `SELECT Id, Name FROM DataUsePurpose WHERE Name IN ${inList([...new Set(Object.values(this.config.dataUsePurposes))])}`;
  }

  /** The configured DataUsePurposes if they were read already (no call). */
  knownPurposes(): Promise<Map<string, string>> | undefined {
    return this.readsConsents ? this.purposes : Promise.resolve(new Map());
  }

  /** Keeps the rows of `purposeQuery()` that another call read (a Composite subrequest); returns them as Id -> Name. */
  rememberPurposes(rows: readonly RawRecord[]): Map<string, string> {
    const purposes = new Map(rows.map((r) => [String(r['Id']), String(r['Name'])]));
    this.purposes = Promise.resolve(purposes);
    return purposes;
  }

  /** The configured DataUsePurposes: Id -> Name (read once). */
  purposeNames(signal?: AbortSignal): Promise<Map<string, string>> {
    if (!this.readsConsents) return Promise.resolve(new Map());
    this.purposes ??= this.api
      .call(signal, async (conn) => {
        const rows = await queryAll(conn, this.purposeQuery());
        return new Map(rows.map((r) => [String(r['Id']), String(r['Name'])]));
      })
      .catch((err: unknown) => {
        this.purposes = undefined;
        throw err;
      });
    return this.purposes;
  }

  /** Forgets the cached purposes (after a purpose was created). */
  resetPurposes(): void {
    this.purposes = undefined;
  }

  /** Reads the Individuals and consents of these Individual ids. */
  async related(individualIds: readonly string[], signal?: AbortSignal): Promise<Related> {
    const individuals = new Map<string, RawRecord>();
    const consents = new Map<string, RawRecord[]>();
    const ids = [...new Set(individualIds.filter((id) => id !== ''))];
    if (ids.length === 0) return { individuals, consents };
    const purposes = await this.purposeNames(signal);
    for (const part of chunks(ids, IN_CHUNK)) {
      await this.api.call(signal, async (conn) => {
        for (const r of await queryAll(conn, `SELECT ${INDIVIDUAL_SELECT.join(', ')} FROM Individual WHERE Id IN ${inList(part)}`))
          individuals.set(String(r['Id']), r);
        if (purposes.size === 0) return;
        const soql = `SELECT ${CONSENT_SELECT.join(', ')} FROM ContactPointTypeConsent WHERE PartyId IN ${inList(part)} AND DataUsePurposeId IN ${inList([...purposes.keys()])}`;
        for (const r of await queryAll(conn, soql)) {
          const party = String(r['PartyId']);
          consents.set(party, [...(consents.get(party) ?? []), r]);
        }
      });
    }
    return { individuals, consents };
  }

  /**
   * A person as records: the person's own fields, then its Individual's and each consent's,
   * each stamped with its own change time; oldest first. `markEcho` sets `echo` from
   * `LastModifiedById`: true for the integration user, false for anyone else (used for webhooks
   * only: a pull relies on the shadow). `echo: true` names the record's last writer, not each
   * field's, so ingest still compares every field: a rep's edit saved moments before our write
   * landed is in the record too.
   */
  toRecords(
    person: RawRecord,
    related: Related,
    purposes: Map<string, string>,
    options: { markEcho?: boolean; history?: FieldChanges } = {},
  ): ExternalRecord[] {
    const id = String(person['Id']);
    const email = fieldValue(person['Email']);
    const identity: Record<string, Json> = email === undefined ? {} : { Email: email };
    // Who last modified the record: someone else (so none of it is our write coming back, however
    // close in time to one), or us (a hint only: the values decide what is an echo).
    const echo = (r: RawRecord): { echo?: boolean } => {
      const by = typeof r['LastModifiedById'] === 'string' ? r['LastModifiedById'] : '';
      if (!options.markEcho || this.api.integrationUserId === undefined || by === '') return {};
      return { echo: sameId(by, this.api.integrationUserId) };
    };
    const out: ExternalRecord[] = [];

    const fields: Record<string, Json> = {};
    for (const name of personFields(this.config)) {
      if (SYSTEM_FIELDS.includes(name) || name === this.config.externalIdField) continue;
      const v = valueOf(name, person[name]);
      if (v !== undefined) fields[name] = v;
    }
    const personAt = atOf(person);
    if (!Number.isNaN(personAt)) {
      const fieldsAt = fieldTimes(fields, personAt, options.history);
      const author = echo(person);
      // Someone else saved the record last, perhaps another field: a field whose last change
      // (the one its stamp comes from) our integration user made is still ours coming back.
      const ours =
        author.echo === false && fieldsAt
          ? Object.keys(fieldsAt).filter((name) => sameId(options.history?.get(name)?.by ?? '', this.api.integrationUserId ?? ''))
          : [];
      out.push({
        externalId: id,
        at: new Date(personAt).toISOString(),
        fields,
        ...(fieldsAt ? { fieldsAt } : {}),
        ...author,
        ...(ours.length > 0 ? { echoFields: ours } : {}),
      });
    }

    const individualId = typeof person['IndividualId'] === 'string' ? person['IndividualId'] : undefined;
    const individual = individualId ? related.individuals.get(individualId) : undefined;
    if (individual) {
      const f: Record<string, Json> = { ...identity };
      for (const name of INDIVIDUAL_FIELDS) {
        const v = csvBoolean(individual[name]);
        if (v !== undefined) f[`${INDIVIDUAL_PREFIX}${name}`] = v;
      }
      const at = atOf(individual);
      if (!Number.isNaN(at)) out.push({ externalId: id, at: new Date(at).toISOString(), fields: f, ...echo(individual) });
    }
    for (const c of individualId ? (related.consents.get(individualId) ?? []) : []) {
      const purposeName = purposes.get(String(c['DataUsePurposeId']));
      const status = c['PrivacyConsentStatus'];
      if (!purposeName || (status !== 'OptIn' && status !== 'OptOut')) continue;
      // An OptOut Concord wrote because a right or expiry overrides the person's choice is not a
      // choice: reporting it would record a denial they never made (the right itself travels on
      // the Individual).
      const override = overrideOf(c['CaptureSource'], this.config.captureSource);
      if (override !== undefined && status === 'OptOut') continue;
      // The consent's time is when it was captured (the person's action), else its last edit; an
      // OptIn on a record Concord wrote as an override was set since, at its last edit.
      const captured = override === undefined ? parseSalesforceDate(c['CaptureDate']) : Number.NaN;
      const at = Number.isNaN(captured) ? atOf(c) : captured;
      if (Number.isNaN(at)) continue;
      out.push({
        externalId: id,
        at: new Date(at).toISOString(),
        fields: { ...identity, [consentField(String(c['ContactPointType']), purposeName)]: status },
        ...echo(c),
      });
    }
    return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  /** Reads people by Id (unknown and deleted ids are left out). */
  async readPeople(ids: readonly string[], signal?: AbortSignal): Promise<RawRecord[]> {
    const out: RawRecord[] = [];
    for (const part of chunks([...new Set(ids)], IN_CHUNK)) {
      const rows = await this.api.call(signal, (conn) =>
        queryAll(conn, `SELECT ${personFields(this.config).join(', ')} FROM ${this.config.object} WHERE Id IN ${inList(part)}`),
      );
      out.push(...rows);
    }
    return out;
  }

  /** Reads people by e-mail address. */
  async readPeopleByEmail(emails: readonly string[], signal?: AbortSignal): Promise<RawRecord[]> {
    const out: RawRecord[] = [];
    for (const part of chunks([...new Set(emails.map((e) => e.trim().toLowerCase()))], IN_CHUNK)) {
      const rows = await this.api.call(signal, (conn) =>
        queryAll(conn, `SELECT ${personFields(this.config).join(', ')} FROM ${this.config.object} WHERE Email IN ${inList(part)}`),
      );
      out.push(...rows);
    }
    return out;
  }

  /** People plus their consent data, as records. */
  async recordsOf(people: readonly RawRecord[], signal?: AbortSignal, options: { markEcho?: boolean } = {}): Promise<ExternalRecord[]> {
    // Individuals are always read: the default mappings carry the rights they hold.
    const individualIds = people.flatMap((p) =>
      typeof p['IndividualId'] === 'string' && p['IndividualId'] !== '' ? [p['IndividualId']] : [],
    );
    const related = await this.related(individualIds, signal);
    const purposes = await this.purposeNames(signal);
    return people.flatMap((p) => this.toRecords(p, related, purposes, options)).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }
}

/** Compares a 15- and an 18-character id (or two of the same length). */
export function sameId(a: string, b: string): boolean {
  if (a === '' || b === '') return false;
  return a.length === b.length ? a === b : a.slice(0, 15) === b.slice(0, 15);
}

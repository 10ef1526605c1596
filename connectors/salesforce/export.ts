/**
 * Access requests (Art. 15): everything Salesforce holds on a person. The object is described
 * once per instance (every field and its label); the person is read with a SOQL query naming
 * every field, so `fields` holds each field with a value and `labels` Salesforce's labels. The
 * linked Individual (the privacy flags) and, where the connector reads consents, every
 * ContactPointTypeConsent of that Individual are `related`, each read whole the same way.
 */
import type { EraseRef, ExportedRecord } from '../../src/connector/define.js';
import { chunks, ExpiringCache, nonEmptyFields, SCHEMA_TTL_MS, splitRefs, uniqueBy } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import type { SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import { IN_CHUNK, inList, queryAll, type RawRecord } from './read.js';

/** What a describe says of an object: the fields a query can name, and their labels. */
export interface DescribedObject {
  fields: string[];
  labels: Record<string, string>;
}

/** Compound fields repeat their components (MailingStreet, MailingCity...), which are read on their own. */
const COMPOUND_TYPES = new Set(['address', 'location']);

/** A queried record's values without jsforce's `attributes` (type and URL, not data). */
function valuesOf(record: RawRecord): Record<string, Json> {
  const { attributes: _attributes, ...rest } = record;
  return nonEmptyFields(rest);
}

function labelsOf(fields: Record<string, Json>, described: DescribedObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(fields)) {
    const label = described.labels[name];
    if (label !== undefined) out[name] = label;
  }
  return out;
}

/** Characters of field names per query: with an IN list of `IN_CHUNK` ids, the URI stays well under 16,384. */
export const FIELDS_CHARS = 6_000;

/** The fields in groups short enough for one query each, `Id` in every group (to merge the rows). */
export function fieldGroups(fields: readonly string[]): string[][] {
  const groups: string[][] = [];
  let current: string[] = ['Id'];
  let length = 2;
  for (const name of fields) {
    if (name === 'Id') continue;
    if (length + name.length + 2 > FIELDS_CHARS && current.length > 1) {
      groups.push(current);
      current = ['Id'];
      length = 2;
    }
    current.push(name);
    length += name.length + 2;
  }
  groups.push(current);
  return groups;
}

export class SalesforceExporter {
  /** Describes per object, read again every `SCHEMA_TTL_MS` (field-level security and fields change). */
  private readonly described = new ExpiringCache<string, DescribedObject>(SCHEMA_TTL_MS);

  constructor(
    private readonly api: SalesforceApi,
    private readonly config: SalesforceConfig,
    /** Whether the connector reads consents (ContactPointTypeConsent exists in the org). */
    private readonly readsConsents: boolean,
  ) {}

  /**
   * Every field of an object and its label.
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
   */
  describe(object: string, signal?: AbortSignal): Promise<DescribedObject> {
    return this.described.get(object, () =>
      this.api
        .call(signal, (conn) => conn.sobject(object).describe())
        .then((d) => {
          const labels: Record<string, string> = {};
          for (const f of d.fields) if (!COMPOUND_TYPES.has(String(f.type))) labels[f.name] = f.label;
          return { fields: Object.keys(labels), labels };
        }),
    );
  }

  async export(refs: readonly EraseRef[], signal: AbortSignal): Promise<ExportedRecord[]> {
    const { ids, emails } = splitRefs(refs);
    if (ids.length === 0 && emails.length === 0) return [];
    const person = await this.describe(this.config.object, signal);
    const normalized = emails.map((e) => e.trim().toLowerCase());
    const people = uniqueBy(
      [
        await this.query(this.config.object, person, 'Id', ids, signal),
        await this.query(this.config.object, person, 'Email', normalized, signal),
      ],
      (p) => String(p['Id']),
    );
    const individualIds = people.flatMap((p) =>
      typeof p['IndividualId'] === 'string' && p['IndividualId'] !== '' ? [p['IndividualId']] : [],
    );
    const individuals = new Map<string, RawRecord>();
    const consents = new Map<string, RawRecord[]>();
    let individual: DescribedObject | undefined;
    let consent: DescribedObject | undefined;
    if (individualIds.length > 0) {
      individual = await this.describe('Individual', signal);
      for (const r of await this.query('Individual', individual, 'Id', individualIds, signal)) individuals.set(String(r['Id']), r);
      if (this.readsConsents) {
        consent = await this.describe('ContactPointTypeConsent', signal);
        for (const r of await this.query('ContactPointTypeConsent', consent, 'PartyId', individualIds, signal)) {
          const party = String(r['PartyId']);
          consents.set(party, [...(consents.get(party) ?? []), r]);
        }
      }
    }
    return people.map((p) => {
      const fields = valuesOf(p);
      const related: Record<string, Json> = {};
      const partyId = typeof p['IndividualId'] === 'string' ? p['IndividualId'] : '';
      const linked = individuals.get(partyId);
      if (linked && individual) related.individual = this.relatedRecord('Individual', linked, individual);
      const held = consents.get(partyId) ?? [];
      if (consent && held.length > 0) {
        const described = consent;
        related.consents = held.map((c) => this.relatedRecord('ContactPointTypeConsent', c, described));
      }
      const modified = typeof p['LastModifiedDate'] === 'string' ? Date.parse(p['LastModifiedDate']) : Number.NaN;
      return {
        externalId: String(p['Id']),
        at: new Date(Number.isNaN(modified) ? 0 : modified).toISOString(),
        fields,
        labels: labelsOf(fields, person),
        ...(Object.keys(related).length > 0 ? { related } : {}),
      };
    });
  }

  private relatedRecord(object: string, record: RawRecord, described: DescribedObject): Json {
    const fields = valuesOf(record);
    return { object, fields, labels: labelsOf(fields, described) };
  }

  /**
   * Records of an object whose `field` is one of `values`, with every described field. A query
   * is a GET whose URI Salesforce caps at 16,384 characters: an object with many fields is read
   * in several queries of up to `FIELDS_CHARS` characters of field names each, merged by Id.
   */
  private async query(
    object: string,
    described: DescribedObject,
    field: string,
    values: readonly string[],
    signal: AbortSignal,
  ): Promise<RawRecord[]> {
    const byId = new Map<string, RawRecord>();
    for (const part of chunks([...new Set(values)], IN_CHUNK)) {
      for (const names of fieldGroups(described.fields)) {
        const soql = `SELECT ${names.join(', ')} FROM ${object} WHERE ${field} IN ${inList(part)}`;
        for (const row of await this.api.call(signal, (conn) => queryAll(conn, soql))) {
          const id = String(row['Id']);
          byId.set(id, { ...byId.get(id), ...row });
        }
      }
    }
    return [...byId.values()];
  }
}

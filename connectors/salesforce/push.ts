/**
 * Push. The person's own fields go through sObject Collections, at most 200 records per call
 * with `allOrNone: false` and one result per record: an update by Id for people Salesforce
 * already has, an upsert on the external id field (the hub's profile id) for the others; a
 * batch larger than `bulkIngestThreshold` (an initial load) goes through Bulk API 2.0 ingest
 * instead. Rights go to the person's Individual (created and linked when missing), consents to
 * one ContactPointTypeConsent per purpose and contact point type, with the capture date and
 * source. Every write carries `Sforce-Call-Options: client=concord`. A call refused as a whole
 * throws a connector error (the engine retries or parks); a record refused alone gets its own
 * outcome.
 */
import type { Connection, SaveResult, UpsertResult } from 'jsforce';
import type { PushOutcome, PushRecord } from '../../src/connector/define.js';
import type { ConsentState, Json, Profile } from '../../src/profile/schema.js';
import { chunks, redactContacts } from '../../src/connector/kit/index.js';
import type { SalesforceApi } from './api.js';
import type { SalesforceBulk } from './bulk.js';
import type { SalesforceConfig } from './config.js';
import { fieldValue, individualFieldOf, overrideSource, parseConsentField, type ConsentOverride } from './mapping.js';
import { IN_CHUNK, inList, queryAll, type SalesforceReader } from './read.js';

/** Records per sObject Collections call. */
export const COLLECTION_LIMIT = 200;

/** Per-record error codes that will not succeed on retry. */
const PERMANENT = new Set([
  'INVALID_EMAIL_ADDRESS',
  'REQUIRED_FIELD_MISSING',
  'INVALID_FIELD',
  'INVALID_FIELD_FOR_INSERT_UPDATE',
  'INVALID_TYPE_ON_FIELD_IN_RECORD',
  'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
  'STRING_TOO_LONG',
  'DUPLICATE_VALUE',
  'DUPLICATES_DETECTED',
  'DUPLICATE_EXTERNAL_ID',
  'FIELD_CUSTOM_VALIDATION_EXCEPTION',
  'FIELD_INTEGRITY_EXCEPTION',
  'MALFORMED_ID',
  'INVALID_CROSS_REFERENCE_KEY',
  'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY',
  'DATA_USE_PURPOSE_MISSING',
]);

/** The person is gone from Salesforce: write it again by external id. */
const GONE = new Set(['ENTITY_IS_DELETED', 'NOT_FOUND']);

interface SaveErrorLike {
  statusCode?: string;
  errorCode?: string;
  message?: string;
}

interface ConsentWrite {
  type: string;
  purposeName: string;
  status: 'OptIn' | 'OptOut';
  capturedAt: string;
  source: string;
}

interface Work {
  record: PushRecord;
  person: Record<string, Json>;
  individual: Record<string, boolean>;
  consents: ConsentWrite[];
  id: string | undefined;
  individualId?: string;
  /** The Individual was created by this push, with the rights already on it. */
  createdIndividual?: boolean;
  /** Salesforce created the person with this push (the upsert did not match a record). */
  created?: boolean;
  failure?: PushOutcome;
}

function codeOf(e: SaveErrorLike): string {
  return e.statusCode ?? e.errorCode ?? 'UNKNOWN_EXCEPTION';
}

function outcomeOf(profileId: string, errors: readonly SaveErrorLike[]): PushOutcome {
  const first = errors[0] ?? {};
  const code = codeOf(first);
  const reason = `${code}: ${redactContacts(first.message ?? 'no message').slice(0, 300)}`;
  return PERMANENT.has(code) ? { status: 'rejected', profileId, reason, code } : { status: 'retryable', profileId, reason };
}

function errorsOf(result: SaveResult | UpsertResult | undefined): SaveErrorLike[] {
  if (!result) return [{ statusCode: 'UNKNOWN_EXCEPTION', message: 'Salesforce returned no result for the record' }];
  return 'errors' in result && Array.isArray(result.errors) ? (result.errors as SaveErrorLike[]) : [];
}

function textOf(value: Json): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export class SalesforcePusher {
  constructor(
    private readonly api: SalesforceApi,
    private readonly reader: SalesforceReader,
    private readonly bulk: SalesforceBulk,
    private readonly config: SalesforceConfig,
    private readonly now: () => number,
  ) {}

  async push(batch: readonly PushRecord[], signal: AbortSignal): Promise<PushOutcome[]> {
    const work = batch.map((record) => this.prepare(record));
    await this.findLanded(
      work.filter((w) => w.id === undefined && w.record.mayExist === true && !w.failure),
      signal,
    );
    if (work.length > this.config.bulkIngestThreshold) await this.writePeopleInBulk(work, signal);
    else await this.writePeople(work, signal);
    await this.writeConsentData(
      work.filter((w) => !w.failure && w.id !== undefined && (Object.keys(w.individual).length > 0 || w.consents.length > 0)),
      signal,
    );
    return work.map(
      (w) =>
        w.failure ??
        (w.id
          ? { status: 'ok', profileId: w.record.profileId, externalId: w.id, ...(w.created ? { created: true } : {}) }
          : { status: 'retryable', profileId: w.record.profileId, reason: 'Salesforce returned no id for the record' }),
    );
  }

  private prepare(record: PushRecord): Work {
    const person: Record<string, Json> = {};
    const individual: Record<string, boolean> = {};
    const consents: ConsentWrite[] = [];
    const w: Work = { record, person, individual, consents, id: record.externalId };
    for (const [name, value] of Object.entries(record.fields)) {
      const individualField = individualFieldOf(name);
      if (individualField !== undefined) {
        if (typeof value === 'boolean') individual[individualField] = value;
        continue;
      }
      const consent = parseConsentField(name);
      if (consent) {
        if (value === 'OptIn' || value === 'OptOut')
          consents.push({ ...consent, status: value, ...this.captureOf(record, consent, value) });
        continue;
      }
      person[name] = value;
    }
    return w;
  }

  /**
   * CaptureDate and CaptureSource of the state sent, from the canonical profile when the engine
   * gives it. When the person's recorded choice is what goes out, its time and evidence. When
   * Concord sends `OptOut` over a recorded grant (or for a purpose never chosen) because a right
   * or expiry overrides it, the time that override began and a CaptureSource naming it: the
   * grant's time and evidence would claim the person opted out when they opted in, and read
   * back they would compete with the grant itself.
   */
  private captureOf(
    record: PushRecord,
    consent: { type: string; purposeName: string },
    status: 'OptIn' | 'OptOut',
  ): { capturedAt: string; source: string } {
    const fallback = { capturedAt: new Date(this.now()).toISOString(), source: this.config.captureSource };
    const profile = record.profile;
    if (!profile) return fallback;
    const slot = this.slotOf(profile, consent);
    if (slot && slot.value === (status === 'OptIn' ? 'granted' : 'denied')) {
      return { capturedAt: slot.at, source: `${this.config.captureSource} (${slot.evidence.method})`.slice(0, 255) };
    }
    const override = status === 'OptOut' ? overrideIn(profile, slot, this.now()) : undefined;
    return override ? { capturedAt: override.at, source: overrideSource(this.config.captureSource, override.kind) } : fallback;
  }

  /** The recorded consent a ContactPointTypeConsent carries (its purpose and channel, by the config). */
  private slotOf(profile: Profile, consent: { type: string; purposeName: string }): ConsentState | undefined {
    const purposes = Object.entries(this.config.dataUsePurposes)
      .filter(([, name]) => name === consent.purposeName)
      .map(([p]) => p);
    const channels = Object.entries(this.config.contactPointTypes)
      .filter(([, type]) => type === consent.type)
      .map(([c]) => c);
    for (const p of purposes) {
      for (const c of channels) {
        const state = profile.consents[p]?.[c];
        if (state) return state;
      }
    }
    return undefined;
  }

  /** Person fields for a record Concord may be creating (a Lead needs a Company). */
  private createFields(w: Work): Record<string, Json> {
    const fields: Record<string, Json> = { ...w.person, [this.config.externalIdField]: w.record.profileId };
    if (this.config.object === 'Lead' && (fields['Company'] === undefined || fields['Company'] === null))
      fields['Company'] = this.config.leadCompany;
    if (fields['LastName'] === undefined || fields['LastName'] === null) delete fields['LastName'];
    return fields;
  }

  /**
   * People an earlier write may have created unseen (`PushRecord.mayExist`), looked up on the
   * external id field (the hub's profile id): one found is not written over (a rep may have
   * edited it since) but answered `retryable` with its Id, so the engine reads it first. One
   * query per 300 such people; other pushes read nothing.
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
   */
  private async findLanded(work: Work[], signal: AbortSignal): Promise<void> {
    if (work.length === 0) return;
    const field = this.config.externalIdField;
    const ids = new Map<string, string>();
    await this.api.call(signal, async (conn) => {
      for (const part of chunks(
        work.map((w) => w.record.profileId),
        IN_CHUNK,
      )) {
        for (const r of await queryAll(conn, `SELECT Id, ${field} FROM ${this.config.object} WHERE ${field} IN ${inList(part)}`))
          ids.set(String(r[field]), String(r['Id']));
      }
    });
    for (const w of work) {
      const id = ids.get(w.record.profileId);
      if (id === undefined) continue;
      w.failure = {
        status: 'retryable',
        profileId: w.record.profileId,
        reason: 'an earlier write created the record: reading it before writing again',
        retryAfterMs: 1_000,
        externalId: id,
      };
    }
  }

  /** sObject Collections writes of the person's own fields. */
  private async writePeople(work: Work[], signal: AbortSignal): Promise<void> {
    const updates = work.filter((w) => w.id !== undefined && Object.keys(w.person).length > 0);
    const gone = await this.update(updates, signal);
    for (const w of gone) w.id = undefined;
    await this.upsert(
      work.filter((w) => w.id === undefined && !w.failure),
      signal,
    );
  }

  /**
   * Updates known people by Id; returns those Salesforce no longer has. Each record is read
   * first (`current`): a field someone changed since the hub last saw it (`PushRecord.held`)
   * is not written over, the record is answered `retryable` with its Id so the engine reads it
   * first; fields that already hold the value sent are left out. Salesforce has no conditional
   * write for a Contact or Lead that resolves edits within the same second (If-Unmodified-Since
   * takes an HTTP date and exists only on single-record PATCH), so a rep's save landing between
   * this read and the write is still overwritten: the window is one call, not the whole push.
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm
   */
  private async update(work: Work[], signal: AbortSignal): Promise<Work[]> {
    const gone: Work[] = [];
    const current = await this.current(work, signal);
    for (const all of chunks(work, COLLECTION_LIMIT)) {
      const part: { w: Work; fields: Record<string, Json> }[] = [];
      for (const w of all) {
        const now = current.get(w.id ?? '');
        if (now && changedSince(w, now)) {
          w.failure = {
            status: 'retryable',
            profileId: w.record.profileId,
            reason: 'changed in Salesforce since the hub last read it: reading it before writing',
            retryAfterMs: 1_000,
            externalId: w.id ?? '',
          };
          continue;
        }
        // A record left with nothing Salesforce does not already hold is not written at all.
        const fields = now ? unheld(w.person, now) : w.person;
        if (Object.keys(fields).length > 0) part.push({ w, fields });
      }
      if (part.length === 0) continue;
      const records = part.map(({ w, fields }) => ({ Id: w.id ?? '', ...fields }));
      const results = await this.api.call(signal, (conn) => conn.sobject(this.config.object).update(records, { allOrNone: false }));
      part.forEach(({ w }, i) => {
        const r = results[i];
        if (r?.success) return;
        const errors = errorsOf(r);
        if (errors.some((e) => GONE.has(codeOf(e)))) gone.push(w);
        else w.failure = outcomeOf(w.record.profileId, errors);
      });
    }
    return gone;
  }

  /**
   * What Salesforce holds now in the fields each update writes. One query per 300 records
   * (the fields of the whole batch); a record not found is left to the update, which answers
   * for it.
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
   */
  private async current(work: Work[], signal: AbortSignal): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    if (work.length === 0) return found;
    const fields = [...new Set(work.flatMap((w) => Object.keys(w.person)))].filter((f) => f !== 'Id');
    await this.api.call(signal, async (conn) => {
      for (const part of chunks([...new Set(work.map((w) => w.id ?? ''))], IN_CHUNK)) {
        for (const r of await queryAll(conn, `SELECT Id, ${fields.join(', ')} FROM ${this.config.object} WHERE Id IN ${inList(part)}`))
          found.set(String(r['Id']), r);
      }
    });
    return found;
  }

  /**
   * Upserts people on the external id field (the hub's profile id).
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_upsert.htm
   */
  private async upsert(work: Work[], signal: AbortSignal): Promise<void> {
    for (const part of chunks(work, COLLECTION_LIMIT)) {
      const records = part.map((w) => this.createFields(w));
      const results = await this.api.call(signal, (conn) =>
        conn.sobject(this.config.object).upsert(records, this.config.externalIdField, { allOrNone: false }),
      );
      part.forEach((w, i) => {
        const r = results[i];
        if (r?.success && typeof r.id === 'string') {
          w.id = r.id;
          if (r.created) w.created = true;
        } else w.failure = outcomeOf(w.record.profileId, errorsOf(r));
      });
    }
  }

  /** An initial load: the person's fields through Bulk API 2.0 ingest jobs. */
  private async writePeopleInBulk(work: Work[], signal: AbortSignal): Promise<void> {
    const known = work.filter((w) => w.id !== undefined && Object.keys(w.person).length > 0);
    const unknown = work.filter((w) => w.id === undefined && !w.failure);
    if (known.length > 0) {
      const columns = ['Id', ...new Set(known.flatMap((w) => Object.keys(w.person)))];
      const rows = known.map((w) =>
        columns.map((c) => (c === 'Id' ? (w.id ?? '') : w.person[c] === undefined ? '' : textOf(w.person[c] ?? null))),
      );
      const results = await this.bulk.ingest('update', columns, rows, 'Id', signal);
      for (const w of known) {
        const r = results.get(w.id ?? '');
        if (r?.ok) continue;
        if (r && /ENTITY_IS_DELETED|NOT_FOUND/.test(r.error)) {
          w.id = undefined;
          unknown.push(w);
        } else w.failure = this.bulkFailure(w, r?.error);
      }
    }
    if (unknown.length > 0) {
      const fieldsOf = unknown.map((w) => this.createFields(w));
      const columns = [
        this.config.externalIdField,
        ...new Set(fieldsOf.flatMap((f) => Object.keys(f)).filter((c) => c !== this.config.externalIdField)),
      ];
      const rows = fieldsOf.map((f) => columns.map((c) => (f[c] === undefined ? '' : textOf(f[c] ?? null))));
      const results = await this.bulk.ingest('upsert', columns, rows, this.config.externalIdField, signal);
      for (const w of unknown) {
        const r = results.get(w.record.profileId);
        if (r?.ok) {
          w.id = r.id;
          if (r.created) w.created = true;
        } else w.failure = this.bulkFailure(w, r?.error);
      }
    }
  }

  private bulkFailure(w: Work, error: string | undefined): PushOutcome {
    if (error === undefined)
      return { status: 'retryable', profileId: w.record.profileId, reason: 'Bulk API 2.0 reported nothing for the record' };
    const [code = 'UNKNOWN_EXCEPTION', ...rest] = error.split(':');
    return outcomeOf(w.record.profileId, [{ statusCode: code, message: rest.join(':').replace(/\s*--\s*$/, '') }]);
  }

  /** Rights on the Individual, consents on ContactPointTypeConsents. */
  private async writeConsentData(work: Work[], signal: AbortSignal): Promise<void> {
    if (work.length === 0) return;
    await this.api.call(signal, async (conn) => {
      // Which Individual each person has.
      // https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_individual.htm
      const people = new Map<string, Record<string, unknown>>();
      for (const part of chunks([...new Set(work.map((w) => w.id ?? ''))], IN_CHUNK)) {
        for (const r of await queryAll(
          conn,
          `SELECT Id, IndividualId, FirstName, LastName FROM ${this.config.object} WHERE Id IN ${inList(part)}`,
        ))
          people.set(String(r['Id']), r);
      }
      for (const w of work) {
        const linked = people.get(w.id ?? '')?.['IndividualId'];
        if (typeof linked === 'string' && linked !== '') w.individualId = linked;
      }
      await this.createIndividuals(
        conn,
        work.filter((w) => w.individualId === undefined),
        people,
      );
      await this.updateIndividuals(
        conn,
        work.filter((w) => !w.failure && w.individualId !== undefined && Object.keys(w.individual).length > 0 && !w.createdIndividual),
      );
      await this.writeConsents(
        conn,
        work.filter((w) => !w.failure && w.individualId !== undefined && w.consents.length > 0),
        signal,
      );
    });
  }

  /** Creates Individuals (with the rights to write) and links them to their people. */
  private async createIndividuals(conn: Connection, work: Work[], people: Map<string, Record<string, unknown>>): Promise<void> {
    for (const part of chunks(work, COLLECTION_LIMIT)) {
      // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_create.htm
      const results = await conn.sobject('Individual').create(
        part.map((w) => {
          const p = people.get(w.id ?? '');
          const lastName = typeof p?.['LastName'] === 'string' && p['LastName'] !== '' ? p['LastName'] : 'Unknown';
          return { LastName: lastName, ...(typeof p?.['FirstName'] === 'string' ? { FirstName: p['FirstName'] } : {}), ...w.individual };
        }),
        { allOrNone: false },
      );
      const linked: Work[] = [];
      part.forEach((w, i) => {
        const r = results[i];
        if (r?.success && typeof r.id === 'string') {
          w.individualId = r.id;
          w.createdIndividual = true;
          linked.push(w);
        } else w.failure = outcomeOf(w.record.profileId, errorsOf(r));
      });
      const links = await conn.sobject(this.config.object).update(
        linked.map((w) => ({ Id: w.id ?? '', IndividualId: w.individualId ?? '' })),
        { allOrNone: false },
      );
      linked.forEach((w, i) => {
        const r = links[i];
        if (!r?.success) w.failure = outcomeOf(w.record.profileId, errorsOf(r));
      });
    }
  }

  private async updateIndividuals(conn: Connection, work: Work[]): Promise<void> {
    for (const part of chunks(work, COLLECTION_LIMIT)) {
      // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm
      const results = await conn.sobject('Individual').update(
        part.map((w) => ({ Id: w.individualId ?? '', ...w.individual })),
        { allOrNone: false },
      );
      part.forEach((w, i) => {
        const r = results[i];
        if (!r?.success) w.failure = outcomeOf(w.record.profileId, errorsOf(r));
      });
    }
  }

  /** One ContactPointTypeConsent per purpose and contact point type: updated when it exists, created otherwise. */
  private async writeConsents(conn: Connection, work: Work[], signal: AbortSignal): Promise<void> {
    if (work.length === 0) return;
    let purposeIds = invert(await this.reader.purposeNames(signal));
    const missing = [...new Set(work.flatMap((w) => w.consents.map((c) => c.purposeName)))].filter((n) => !purposeIds.has(n));
    if (missing.length > 0) {
      // A purpose added to the org after the names were read.
      this.reader.resetPurposes();
      purposeIds = invert(await this.reader.purposeNames(signal));
    }
    const existing = new Map<string, string>();
    const key = (party: string, purposeId: string, type: string): string => `${party}|${purposeId}|${type}`;
    for (const part of chunks([...new Set(work.map((w) => w.individualId ?? ''))], IN_CHUNK)) {
      // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
      const soql = `SELECT Id, PartyId, DataUsePurposeId, ContactPointType FROM ContactPointTypeConsent WHERE PartyId IN ${inList(part)}`;
      for (const r of await queryAll(conn, soql))
        existing.set(key(String(r['PartyId']), String(r['DataUsePurposeId']), String(r['ContactPointType'])), String(r['Id']));
    }
    const creates: { w: Work; record: Record<string, string> }[] = [];
    const updates: { w: Work; record: { Id: string } & Record<string, string> }[] = [];
    for (const w of work) {
      for (const c of w.consents) {
        const purposeId = purposeIds.get(c.purposeName);
        if (!purposeId) {
          w.failure = {
            status: 'rejected',
            profileId: w.record.profileId,
            reason: `no DataUsePurpose named "${c.purposeName}" in the org`,
            code: 'DATA_USE_PURPOSE_MISSING',
          };
          continue;
        }
        const values = { PrivacyConsentStatus: c.status, CaptureDate: c.capturedAt, CaptureSource: c.source, EffectiveFrom: c.capturedAt };
        const id = existing.get(key(w.individualId ?? '', purposeId, c.type));
        if (id) updates.push({ w, record: { Id: id, ...values } });
        else {
          creates.push({
            w,
            record: {
              Name: `${c.purposeName} ${c.type}`.slice(0, 255),
              PartyId: w.individualId ?? '',
              DataUsePurposeId: purposeId,
              ContactPointType: c.type,
              CaptureContactPointType: 'Web',
              ...values,
            },
          });
        }
      }
    }
    // https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contactpointtypeconsent.htm
    for (const part of chunks(creates, COLLECTION_LIMIT)) {
      const results = await conn.sobject('ContactPointTypeConsent').create(
        part.map((p) => p.record),
        { allOrNone: false },
      );
      part.forEach((p, i) => {
        const r = results[i];
        if (!r?.success && !p.w.failure) p.w.failure = outcomeOf(p.w.record.profileId, errorsOf(r));
      });
    }
    for (const part of chunks(updates, COLLECTION_LIMIT)) {
      const results = await conn.sobject('ContactPointTypeConsent').update(
        part.map((p) => p.record),
        { allOrNone: false },
      );
      part.forEach((p, i) => {
        const r = results[i];
        if (!r?.success && !p.w.failure) p.w.failure = outcomeOf(p.w.record.profileId, errorsOf(r));
      });
    }
  }
}

/**
 * What denies a consent the person did not deny, and since when: a restriction, the consent's
 * expiry, an objection. The connector is not told which objection a purpose names (the catalog
 * says), so an active objection is the reason only when nothing certain is, the latest one
 * when several are active.
 */
function overrideIn(profile: Profile, slot: ConsentState | undefined, now: number): { kind: ConsentOverride; at: string } | undefined {
  const restricted = profile.rights.restricted;
  if (restricted?.value === true) return { kind: 'restriction', at: restricted.at };
  if (slot?.expiresAt !== undefined && Date.parse(slot.expiresAt) <= now) return { kind: 'expiry', at: slot.expiresAt };
  let objection: string | undefined;
  for (const o of Object.values(profile.rights.objections)) {
    if (o?.value === true && (objection === undefined || Date.parse(o.at) > Date.parse(objection))) objection = o.at;
  }
  return objection === undefined ? undefined : { kind: 'objection', at: objection };
}

function invert(map: Map<string, string>): Map<string, string> {
  return new Map([...map].map(([k, v]) => [v, k]));
}

/** Salesforce stores an empty text as null: both are "no value". */
function sameValue(held: Json | undefined, now: unknown): boolean {
  return (fieldValue(held) ?? null) === (fieldValue(now) ?? null);
}

/** A field the update writes was changed in Salesforce since the hub last saw it. */
function changedSince(w: Work, now: Record<string, unknown>): boolean {
  const held = w.record.held ?? {};
  return Object.keys(w.person).some((f) => Object.hasOwn(held, f) && !sameValue(held[f], now[f]) && !sameValue(w.person[f], now[f]));
}

/** The fields of an update, without those Salesforce already holds. */
function unheld(person: Record<string, Json>, now: Record<string, unknown>): Record<string, Json> {
  return Object.fromEntries(Object.entries(person).filter(([f, v]) => !sameValue(v, now[f])));
}

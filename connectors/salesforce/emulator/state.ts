/**
 * The emulator's in-memory org: records of every known object, kept with Salesforce's system
 * fields (`CreatedDate`, `LastModifiedDate`, `LastModifiedById`, `SystemModstamp` on every
 * write), validation with Salesforce's error codes, a recycle bin for deletes, and a log of
 * every change with the user and the `client` of `Sforce-Call-Options` that made it.
 */
import type { SoqlValue } from './soql.js';
import { buildObjects, findField, type FieldDef, type ObjectDef } from './schema.js';
import type { SalesforceEmulatorOptions } from './options.js';

export type StoredRecord = Record<string, SoqlValue>;

/** One error of a record, as Salesforce reports it in save results. */
export interface RecordError {
  statusCode: string;
  message: string;
  fields: string[];
}

/** Who makes a change: the API (as the integration user, with the call's client) or a rep in the UI. */
export interface Actor {
  userId: string;
  /** The `client` of `Sforce-Call-Options`, when the call named one. */
  client?: string;
}

/** A change, as logged (event log files keep the client) and announced to Outbound Messages. */
export interface ChangeEntry {
  object: string;
  id: string;
  kind: 'created' | 'updated' | 'deleted';
  at: string;
  userId: string;
  client?: string;
}

/**
 * A rep's edit waiting for the next API write to its record (a race armed by the side door):
 * it is saved just before that write, as its own change, so the write lands on top of it.
 */
export interface ArmedRace {
  fields: Record<string, unknown>;
  actor: Actor;
  /** How long before the write the rep saved (ms). */
  leadMs: number;
}

export class SaveError extends Error {
  constructor(readonly errors: RecordError[]) {
    super(errors.map((e) => `${e.statusCode}: ${e.message}`).join('; '));
  }
}

/** The administrator who set the org up (DataUsePurposes). */
export const ADMIN_USER_ID = '0055e000001AdmnAAC';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** The 18-character form of a 15-character id (the case-safe suffix Salesforce computes). */
export function to18(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15[chunk * 5 + i] ?? '';
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += SUFFIX[bits];
  }
  return id15 + suffix;
}

export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** An update by the integration user that changed no field value. */
export interface IdleWrite {
  object: string;
  id: string;
  at: string;
  /**
   * Someone else changed the record after the API last read it: a rep saved the value the hub
   * was about to write, between the hub's read and its update (Salesforce has no conditional
   * write), not the hub writing back what Salesforce had told it.
   */
  crossed?: boolean;
}

/**
 * An update by the integration user that changed fields another user had set since the API last
 * read the record: that user's values are gone, unseen (Salesforce has no conditional write for
 * sObject Collections, and its Outbound Messages carry the record as it is when sent).
 */
export interface BlindOverwrite {
  object: string;
  id: string;
  fields: string[];
  at: string;
}

export class OrgState {
  readonly objects: Map<string, ObjectDef>;
  private readonly records = new Map<string, Map<string, StoredRecord>>();
  private counter = 1;
  /** E-mail addresses every write refuses (a test hook for a permanently rejected record). */
  readonly poisoned = new Set<string>();
  readonly changes: ChangeEntry[] = [];
  /**
   * Updates by the integration user that changed no field value (Salesforce stamps them all the
   * same): a hub that writes back what the org already holds shows up here.
   */
  readonly idleWrites: IdleWrite[] = [];
  /**
   * Order of API reads and other users' changes, by record (a counter, not the clock: a rep's
   * save in the millisecond of the read still comes after it), for `IdleWrite.crossed`.
   */
  private seq = 0;
  private readonly readSeq = new Map<string, number>();
  private readonly foreignChangeSeq = new Map<string, number>();
  /** When another user last set each field, by record (the same counter). */
  private readonly foreignFieldSeq = new Map<string, Map<string, number>>();
  readonly blindOverwrites: BlindOverwrite[] = [];
  private readonly listeners: ((change: ChangeEntry) => void)[] = [];
  /** Armed races by `object` and record id. */
  private readonly races = new Map<string, ArmedRace>();

  constructor(
    private readonly options: SalesforceEmulatorOptions,
    private readonly now: () => number,
  ) {
    this.objects = buildObjects(options.externalIdFields, options.fieldHistory);
    for (const name of this.objects.keys()) this.records.set(name, new Map());
    // Setup data comes from an administrator, not from the integration user.
    const system: Actor = { userId: ADMIN_USER_ID };
    for (const name of options.dataUsePurposes) this.create('DataUsePurpose', { Name: name }, system);
  }

  onChange(listener: (change: ChangeEntry) => void): void {
    this.listeners.push(listener);
  }

  object(name: string): ObjectDef | undefined {
    for (const [key, def] of this.objects) if (key.toLowerCase() === name.toLowerCase()) return def;
    return undefined;
  }

  newId(object: ObjectDef): string {
    const n = this.counter++;
    let body = '';
    for (let v = n; body.length < 7; v = Math.floor(v / 62)) body = (BASE62[v % 62] ?? '0') + body;
    return to18(`${object.keyPrefix}5e000${body}`);
  }

  /** The live (not deleted) record, or undefined. */
  get(object: string, id: string): StoredRecord | undefined {
    const r = this.table(object).get(id) ?? this.table(object).get(this.normalizeId(id));
    return r && r['IsDeleted'] !== true ? r : undefined;
  }

  /** Finds the object a record id belongs to by its key prefix. */
  objectOfId(id: string): ObjectDef | undefined {
    for (const def of this.objects.values()) if (id.startsWith(def.keyPrefix)) return def;
    return undefined;
  }

  /** Every record of an object; `withDeleted` includes the recycle bin (queryAll). */
  all(object: string, withDeleted = false): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const r of this.table(object).values()) if (withDeleted || r['IsDeleted'] !== true) out.push(r);
    return out;
  }

  count(object: string): number {
    let n = 0;
    for (const r of this.table(object).values()) if (r['IsDeleted'] !== true) n++;
    return n;
  }

  findByField(object: string, field: string, value: string): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const r of this.table(object).values()) {
      if (r['IsDeleted'] !== true && typeof r[field] === 'string' && r[field] === value) out.push(r);
    }
    return out;
  }

  create(objectName: string, input: Record<string, unknown>, actor: Actor): StoredRecord {
    const object = this.writableObject(objectName, 'insert');
    const values = this.validate(object, input, 'create');
    const t = isoOf(this.now());
    const record: StoredRecord = {};
    for (const f of object.fields) record[f.name] = f.defaultValue ?? (f.type === 'boolean' ? false : null);
    Object.assign(record, values, {
      Id: this.newId(object),
      IsDeleted: false,
      CreatedDate: t,
      CreatedById: actor.userId,
      LastModifiedDate: t,
      LastModifiedById: actor.userId,
      SystemModstamp: t,
    });
    this.table(object.name).set(String(record['Id']), record);
    this.noteHistory(object, record, 'created', t, actor);
    this.announce(object.name, String(record['Id']), 'created', t, actor);
    return record;
  }

  /**
   * Arms a race: `race.actor` saves `race.fields` on this record just before the next write to
   * it by anyone else lands (checked now, so a bad edit fails here and not inside that write).
   */
  armRace(objectName: string, id: string, race: ArmedRace): void {
    const object = this.requireObject(objectName);
    const record = this.get(object.name, id);
    if (!record) throw new SaveError([{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }]);
    this.validate(object, race.fields, 'update');
    this.races.set(`${object.name}\u0000${String(record['Id'])}`, { ...race, fields: { ...race.fields } });
  }

  /** Races armed and not yet run. */
  armedRaces(): number {
    return this.races.size;
  }

  /** Updates a record; as in Salesforce, every update stamps it, even with unchanged values. */
  update(objectName: string, id: string, input: Record<string, unknown>, actor: Actor): StoredRecord {
    const object = this.writableObject(objectName, 'update');
    const record = this.get(object.name, id);
    if (!record) throw new SaveError([{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }]);
    const values = this.validate(object, input, 'update');
    const raceKey = `${object.name}\u0000${String(record['Id'])}`;
    const race = this.races.get(raceKey);
    if (race && race.actor.userId !== actor.userId) {
      // The rep's save commits first, stamped a moment earlier; this write then lands on top of it.
      this.races.delete(raceKey);
      const t = isoOf(Math.max(this.now() - race.leadMs, Date.parse(String(record['SystemModstamp']))));
      const raced = this.validate(object, race.fields, 'update');
      this.noteFieldsSet(raceKey, raced, race.actor);
      this.noteHistory(object, record, raced, t, race.actor);
      Object.assign(record, raced, {
        LastModifiedDate: t,
        LastModifiedById: race.actor.userId,
        SystemModstamp: t,
      });
      this.announce(object.name, String(record['Id']), 'updated', t, race.actor);
    }
    const t = isoOf(Math.max(this.now(), Date.parse(String(record['SystemModstamp']))));
    if (actor.userId === this.options.integrationUserId && Object.entries(values).every(([name, value]) => record[name] === value)) {
      const crossed = (this.foreignChangeSeq.get(raceKey) ?? -1) > (this.readSeq.get(raceKey) ?? -1);
      this.idleWrites.push({ object: object.name, id: String(record['Id']), at: t, ...(crossed ? { crossed } : {}) });
    }
    if (actor.userId === this.options.integrationUserId) {
      const readAt = this.readSeq.get(raceKey) ?? -1;
      const setAt = this.foreignFieldSeq.get(raceKey);
      const lost = Object.entries(values)
        .filter(([name, value]) => record[name] !== value && (setAt?.get(name) ?? -1) > readAt)
        .map(([name]) => name);
      if (lost.length > 0) this.blindOverwrites.push({ object: object.name, id: String(record['Id']), fields: lost, at: t });
    }
    this.noteFieldsSet(raceKey, values, actor);
    this.noteHistory(object, record, values, t, actor);
    Object.assign(record, values, { LastModifiedDate: t, LastModifiedById: actor.userId, SystemModstamp: t });
    this.announce(object.name, String(record['Id']), 'updated', t, actor);
    return record;
  }

  /** Another user than the integration set these fields (for `BlindOverwrite`). */
  private noteFieldsSet(key: string, values: Record<string, unknown>, actor: Actor): void {
    if (actor.userId === this.options.integrationUserId) return;
    const fields = this.foreignFieldSeq.get(key) ?? new Map<string, number>();
    for (const name of Object.keys(values)) fields.set(name, ++this.seq);
    this.foreignFieldSeq.set(key, fields);
  }

  /** Upserts on an external id field: `created` tells which happened. */
  upsert(
    objectName: string,
    field: string,
    value: string,
    input: Record<string, unknown>,
    actor: Actor,
  ): { record: StoredRecord; created: boolean } {
    const object = this.writableObject(objectName, 'upsert');
    const def = findField(object, field);
    if (!def || !(def.externalId || def.type === 'id')) {
      throw new SaveError([
        { statusCode: 'INVALID_FIELD', message: `Field ${field} is not an external id field of ${object.name}`, fields: [field] },
      ]);
    }
    if (def.type === 'id') {
      const record = this.get(object.name, value);
      if (!record) throw new SaveError([{ statusCode: 'NOT_FOUND', message: 'The requested resource does not exist', fields: [] }]);
      return { record: this.update(object.name, value, input, actor), created: false };
    }
    const hits = this.findByField(object.name, def.name, value);
    if (hits.length > 1) {
      throw new SaveError([
        {
          statusCode: 'DUPLICATE_EXTERNAL_ID',
          message: `${def.name}: more than one record found for external id field: [${hits.map((h) => String(h['Id'])).join(', ')}]`,
          fields: [def.name],
        },
      ]);
    }
    const existing = hits[0];
    const { [def.name]: _ignored, ...rest } = input;
    if (existing) return { record: this.update(object.name, String(existing['Id']), rest, actor), created: false };
    return { record: this.create(object.name, { ...rest, [def.name]: value }, actor), created: true };
  }

  /** Moves a record to the recycle bin. */
  delete(objectName: string, id: string, actor: Actor): void {
    const object = this.writableObject(objectName, 'delete');
    const record = this.get(object.name, id);
    if (!record) throw new SaveError([{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }]);
    const t = isoOf(this.now());
    Object.assign(record, { IsDeleted: true, LastModifiedDate: t, LastModifiedById: actor.userId, SystemModstamp: t });
    this.announce(object.name, String(record['Id']), 'deleted', t, actor);
  }

  /** Checks input fields for a write and converts them; throws `SaveError` with every problem. */
  validate(object: ObjectDef, input: Record<string, unknown>, mode: 'create' | 'update'): StoredRecord {
    const errors: RecordError[] = [];
    const out: StoredRecord = {};
    for (const [name, raw] of Object.entries(input)) {
      if (name === 'attributes' || (name === 'Id' && mode === 'update')) continue;
      const def = findField(object, name);
      if (!def) {
        errors.push({ statusCode: 'INVALID_FIELD', message: `No such column '${name}' on sobject of type ${object.name}`, fields: [name] });
        continue;
      }
      if (def.readOnly) {
        errors.push({
          statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
          message: `Unable to create/update fields: ${def.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          fields: [def.name],
        });
        continue;
      }
      const problem = this.checkValue(def, raw);
      if (problem) {
        errors.push(problem);
        continue;
      }
      out[def.name] = this.convert(def, raw);
    }
    if (mode === 'create') {
      const missing = object.fields.filter((f) => f.required && (out[f.name] === undefined || out[f.name] === null || out[f.name] === ''));
      if (missing.length > 0) {
        errors.push({
          statusCode: 'REQUIRED_FIELD_MISSING',
          message: `Required fields are missing: [${missing.map((f) => f.name).join(', ')}]`,
          fields: missing.map((f) => f.name),
        });
      }
    } else {
      for (const f of object.fields) {
        if (f.required && f.name in out && (out[f.name] === null || out[f.name] === '')) {
          errors.push({ statusCode: 'REQUIRED_FIELD_MISSING', message: `Required fields are missing: [${f.name}]`, fields: [f.name] });
        }
      }
    }
    if (errors.length > 0) throw new SaveError(errors);
    return out;
  }

  private checkValue(def: FieldDef, raw: unknown): RecordError | undefined {
    if (raw === null)
      return def.type === 'boolean'
        ? { statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${def.name}: value not of required type: null`, fields: [def.name] }
        : undefined;
    switch (def.type) {
      case 'boolean':
        return typeof raw === 'boolean' || raw === 'true' || raw === 'false'
          ? undefined
          : {
              statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
              message: `${def.name}: value not of required type: ${String(raw)}`,
              fields: [def.name],
            };
      case 'email': {
        const text = String(raw).trim();
        if (text === '') return undefined;
        if (!EMAIL.test(text) || this.poisoned.has(text.toLowerCase())) {
          return { statusCode: 'INVALID_EMAIL_ADDRESS', message: `${def.name}: invalid email address: ${text}`, fields: [def.name] };
        }
        return undefined;
      }
      case 'datetime':
        return typeof raw === 'string' && (raw === '' || (ISO.test(raw) && !Number.isNaN(Date.parse(raw))))
          ? undefined
          : {
              statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
              message: `${def.name}: value not of required type: ${String(raw)}`,
              fields: [def.name],
            };
      case 'picklist':
        return def.values?.includes(String(raw)) || raw === ''
          ? undefined
          : {
              statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
              message: `${def.name}: bad value for restricted picklist field: ${String(raw)}`,
              fields: [def.name],
            };
      case 'reference': {
        const id = String(raw);
        if (id === '') return undefined;
        const target = def.referenceTo ? this.get(def.referenceTo, id) : undefined;
        return target
          ? undefined
          : { statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: `invalid cross reference id`, fields: [def.name] };
      }
      default:
        return typeof raw === 'string' || typeof raw === 'number'
          ? undefined
          : { statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${def.name}: value not of required type`, fields: [def.name] };
    }
  }

  private convert(def: FieldDef, raw: unknown): SoqlValue {
    if (raw === null) return null;
    switch (def.type) {
      case 'boolean':
        return raw === true || raw === 'true';
      case 'datetime':
        return raw === '' ? null : isoOf(Date.parse(String(raw)));
      case 'reference':
        return raw === '' ? null : this.normalizeId(String(raw));
      case 'email':
        return String(raw).trim() === '' ? null : String(raw).trim();
      default:
        return String(raw) === '' ? null : String(raw);
    }
  }

  /** A 15-character id is accepted wherever an 18-character one is. */
  private normalizeId(id: string): string {
    return id.length === 15 ? to18(id) : id;
  }

  /**
   * Field History Tracking: a row of the object's history object per tracked field this save
   * changes (old and new value), or a `created` row for a new record; stamped like the save.
   */
  private noteHistory(object: ObjectDef, record: StoredRecord, values: StoredRecord | 'created', at: string, actor: Actor): void {
    const history = this.object(`${object.name}History`);
    if (!history?.readOnly) return;
    const row = (field: string, oldValue: SoqlValue | undefined, newValue: SoqlValue | undefined): void => {
      const id = this.newId(history);
      this.table(history.name).set(id, {
        Id: id,
        IsDeleted: false,
        [`${object.name}Id`]: record['Id'] ?? null,
        CreatedById: actor.userId,
        CreatedDate: at,
        Field: field,
        DataType: field === 'created' ? null : (findField(object, field)?.type ?? null),
        OldValue: oldValue ?? null,
        NewValue: newValue ?? null,
      });
    };
    if (values === 'created') return row('created', null, null);
    for (const field of this.options.fieldHistory) {
      const def = findField(object, field);
      if (!def || !(def.name in values) || values[def.name] === record[def.name]) continue;
      row(def.name, record[def.name], values[def.name]);
    }
  }

  /** The object, if the API may write it (history objects are the org's own). */
  private writableObject(name: string, operation: 'insert' | 'update' | 'upsert' | 'delete'): ObjectDef {
    const object = this.requireObject(name);
    if (object.readOnly)
      throw new SaveError([
        { statusCode: 'INVALID_TYPE_FOR_OPERATION', message: `entity type ${object.name} does not support ${operation}`, fields: [] },
      ]);
    return object;
  }

  private requireObject(name: string): ObjectDef {
    const object = this.object(name);
    if (!object) throw new SaveError([{ statusCode: 'INVALID_TYPE', message: `sObject type '${name}' is not supported.`, fields: [] }]);
    return object;
  }

  private table(object: string): Map<string, StoredRecord> {
    const def = this.object(object);
    const t = def ? this.records.get(def.name) : undefined;
    if (!t) throw new SaveError([{ statusCode: 'INVALID_TYPE', message: `sObject type '${object}' is not supported.`, fields: [] }]);
    return t;
  }

  /** The API returned these records (a query, a retrieve): what the caller knows of them is now current. */
  noteRead(object: string, records: readonly StoredRecord[]): void {
    for (const r of records) this.readSeq.set(`${object}\u0000${String(r['Id'])}`, ++this.seq);
  }

  private announce(object: string, id: string, kind: ChangeEntry['kind'], at: string, actor: Actor): void {
    if (actor.userId !== this.options.integrationUserId) this.foreignChangeSeq.set(`${object}\u0000${id}`, ++this.seq);
    const entry: ChangeEntry = { object, id, kind, at, userId: actor.userId, ...(actor.client ? { client: actor.client } : {}) };
    this.changes.push(entry);
    // The last 100,000 are kept, trimmed in steps: one splice per write made it quadratic (a 1,000,000-record seed).
    if (this.changes.length > 110_000) this.changes.splice(0, this.changes.length - 100_000);
    for (const l of this.listeners) l(entry);
  }
}

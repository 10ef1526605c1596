/**
 * The system's JSON records and the connector's external fields. An external field name is a
 * dotted path into the record (`consents.email_marketing`): a record read is flattened to its
 * leaves under those names, and a write sets each field at its path. Selectors into responses
 * and payloads are RFC 9535 JSONPath queries (`jsonpath-rfc9535`, which evaluates no code).
 */
import { query } from 'jsonpath-rfc9535';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { ExternalRecord } from '../../src/connector/define.js';
import type { Json } from '../../src/profile/schema.js';
import type { HttpConfig, TimeFormat } from './config.js';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value parsed from JSON as the `Json` type (it is one; this narrows `unknown`). */
export function asJson(value: unknown): Json {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(asJson);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asJson(v)]));
  throw new MalformedPayloadError('a response holds a value JSON cannot carry');
}

/** The values a JSONPath query selects (none when it selects nothing, or the answer had no body). */
export function select(document: unknown, selector: string): Json[] {
  if (document === undefined) return [];
  // One walk narrows the parsed answer to JSON; the query's results are JSON already.
  return query(asJson(document), selector);
}

/** The first value a JSONPath query selects. */
export function selectOne(document: unknown, selector: string): Json | undefined {
  return select(document, selector)[0];
}

/** The value at a dotted path, `undefined` when any step is missing. */
export function getPath(record: unknown, path: string): unknown {
  let current: unknown = record;
  for (const key of path.split('.')) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** A JSON value that is an object (not an array, not null). */
function isJsonObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets `value` at a dotted path, creating the objects on the way. */
export function setPath(target: Record<string, Json>, path: string, value: Json): void {
  const keys = path.split('.');
  const last = keys.pop();
  if (last === undefined) return;
  let current = target;
  for (const key of keys) {
    const next = current[key];
    if (isJsonObject(next)) current = next;
    else {
      const created: Record<string, Json> = {};
      current[key] = created;
      current = created;
    }
  }
  current[last] = value;
}

/** The record a write sends: each external field set at its dotted path. */
export function recordBody(fields: Readonly<Record<string, Json>>): Record<string, Json> {
  const body: Record<string, Json> = {};
  for (const [path, value] of Object.entries(fields)) setPath(body, path, value);
  return body;
}

/** Every leaf of a record under its dotted path (arrays are leaves). */
export function flatten(record: Record<string, unknown>, prefix = ''): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(record)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isObject(value)) Object.assign(out, flatten(value, path));
    else if (value !== undefined) out[path] = asJson(value);
  }
  return out;
}

/** An instant from the system (ISO text, epoch seconds or milliseconds, as declared) as ISO 8601. */
export function instantFrom(value: unknown, format: TimeFormat): string | undefined {
  const ms =
    format === 'iso'
      ? typeof value === 'string'
        ? Date.parse(value)
        : NaN
      : typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value))
        ? Number(value) * (format === 'epochSeconds' ? 1_000 : 1)
        : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** An ISO instant in the system's format, for a query parameter. */
export function instantTo(iso: string, format: TimeFormat): string {
  const ms = Date.parse(iso);
  if (format === 'epochSeconds') return String(Math.floor(ms / 1_000));
  if (format === 'epochMillis') return String(ms);
  return new Date(ms).toISOString();
}

/** A record id as the hub keeps it (a string), or undefined when the value is no id. */
export function idOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * One JSON record of the system as an `ExternalRecord`: its id and change time at the declared
 * paths, every field flattened. A record without an id or a readable time is malformed.
 */
export function toExternalRecord(record: unknown, spec: HttpConfig['record'], fallbackAt?: string): ExternalRecord {
  if (!isObject(record)) throw new MalformedPayloadError('a record is not a JSON object');
  const externalId = idOf(getPath(record, spec.id));
  if (externalId === undefined) throw new MalformedPayloadError(`a record has no id at ${spec.id}`);
  const at = instantFrom(getPath(record, spec.updatedAt), spec.updatedAtFormat) ?? fallbackAt;
  if (at === undefined) throw new MalformedPayloadError(`a record has no ${spec.updatedAtFormat} time at ${spec.updatedAt}`);
  const deleted = spec.deleted !== undefined && getPath(record, spec.deleted) === true;
  return { externalId, at, fields: flatten(record), ...(deleted ? { deleted: true } : {}) };
}

/**
 * The named value transforms of a mapping entry (see `Transform` in `mapping-schema.ts`),
 * each with a canonical -> external direction (`toExternal`, used by push) and an
 * external -> canonical direction (`toCanonical`, used by pull and webhooks).
 *
 * Pure: no I/O, no clock. A value that cannot be converted gives a typed failure value
 * (`Converted` with `ok: false`), never an exception.
 *
 * `null` passes through every transform unchanged in both directions (it means "cleared"),
 * except that a `map` whose values include `null` reverses an external `null` to its key.
 *
 * ## Which transforms are invertible
 *
 * "Invertible" means `toCanonical(toExternal(v))` equals `v` for every canonical value `v`
 * the transform accepts. A chain is invertible when every transform in it is.
 *
 * | transform          | invertible | notes |
 * |--------------------|------------|-------|
 * | `invert`           | yes        | booleans; inbound also accepts `"true"`/`"false"` strings |
 * | `map`              | yes, when the values are one-to-one | compile refuses a non one-to-one map on a pulled entry; a canonical value outside the map goes out as `default` (lossy) or fails. Reverse lookup gives string keys (booleans for consent, topic and right entries) |
 * | `date` `iso`       | yes        | canonical ISO instants with milliseconds |
 * | `date` `epoch_ms`  | yes        | inbound also accepts numeric strings (HubSpot sends strings) |
 * | `date` `epoch_s`   | no         | drops milliseconds; round-trips only whole-second instants |
 * | `date` `date`      | no         | drops the time of day; round-trips only midnight-UTC instants |
 * | `split`            | yes        | `""` <-> `[]` |
 * | `join`             | yes, on arrays whose items do not contain the separator and which are not `[""]` | |
 * | `lowercase`        | no         | inbound keeps the external (lower-case) value |
 *
 * Lossy transforms are still idempotent through a round trip: mapping the result of a
 * round trip out and back in again gives the same value.
 */
import type { Json } from '../profile/schema.js';
import type { MappingValueProblem } from './errors.js';
import type { Transform } from './mapping-schema.js';

/** The outcome of converting one value. */
export type Converted =
  { ok: true; value: Json } | { ok: false; problem: MappingValueProblem; valueType: string; transform?: Transform['type'] };

/**
 * What the canonical side of a chain holds: `boolean` for consent (true = granted), topic and
 * right entries, `json` (any JSON value) for attributes and identities.
 */
export type CanonicalKind = 'boolean' | 'json';

/** A transform ready to run in both directions. */
export interface CompiledTransform {
  readonly type: Transform['type'];
  /** See the table in this module's documentation. */
  readonly invertible: boolean;
  toExternal(value: Json): Converted;
  toCanonical(value: Json): Converted;
}

/** A chain of transforms; `toExternal` runs them in order, `toCanonical` in reverse order. */
export interface CompiledChain {
  readonly transforms: readonly CompiledTransform[];
  readonly invertible: boolean;
  toExternal(value: Json): Converted;
  toCanonical(value: Json): Converted;
}

/** The JSON type name of a value, for error messages that must not contain the value. */
export function jsonType(value: Json | undefined): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

const ok = (value: Json): Converted => ({ ok: true, value });
const fail = (problem: MappingValueProblem, value: Json): Converted => ({ ok: false, problem, valueType: jsonType(value) });

/** Reads a boolean from a boolean or a `"true"`/`"false"` string (any case, trimmed). */
export function readBoolean(value: Json): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const t = value.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return undefined;
}

// ---------------------------------------------------------------------------- dates

const MIN_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
const ISO_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const NUMERIC_PATTERN = /^-?\d+(\.\d+)?$/;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : (MONTH_DAYS[month - 1] ?? 0);
}
function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Parses an ISO-8601 date or date-time (offset optional, UTC assumed) to epoch ms, checking the calendar. */
export function parseIsoInstant(text: string): number | undefined {
  const m = ISO_PATTERN.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  let offsetMin = 0;
  if (zone && zone !== 'Z' && zone !== 'z') {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (!zm) return undefined;
    offsetMin = (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3]));
  }
  const ms = Number((frac + '000').slice(0, 3));
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(Number(h), Number(mi), Number(s), ms);
  const at = utc.getTime() - offsetMin * 60_000;
  return at >= MIN_MS && at <= MAX_MS ? at : undefined;
}

function instantFromMs(ms: number, source: Json): Converted {
  if (!Number.isFinite(ms)) return fail('not_a_date', source);
  if (ms < MIN_MS || ms > MAX_MS) return fail('date_out_of_range', source);
  return ok(new Date(ms).toISOString());
}

function readEpoch(value: Json): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && NUMERIC_PATTERN.test(value.trim())) return Number(value.trim());
  return undefined;
}

function compileDate(format: 'iso' | 'epoch_ms' | 'epoch_s' | 'date'): CompiledTransform {
  return {
    type: 'date',
    invertible: format === 'iso' || format === 'epoch_ms',
    toExternal(value) {
      if (value === null) return ok(null);
      if (typeof value !== 'string') return fail('not_a_date', value);
      const ms = parseIsoInstant(value);
      if (ms === undefined) return fail('not_a_date', value);
      switch (format) {
        case 'iso':
          return ok(new Date(ms).toISOString());
        case 'epoch_ms':
          return ok(ms);
        case 'epoch_s':
          return ok(Math.floor(ms / 1000));
        case 'date':
          return ok(new Date(ms).toISOString().slice(0, 10));
      }
    },
    toCanonical(value) {
      if (value === null) return ok(null);
      switch (format) {
        case 'iso': {
          if (typeof value !== 'string') return fail('not_a_date', value);
          const ms = parseIsoInstant(value);
          return ms === undefined ? fail('not_a_date', value) : instantFromMs(ms, value);
        }
        case 'epoch_ms':
        case 'epoch_s': {
          const n = readEpoch(value);
          if (n === undefined) return fail('not_a_date', value);
          return instantFromMs(format === 'epoch_s' ? Math.round(n * 1000) : Math.round(n), value);
        }
        case 'date': {
          if (typeof value !== 'string' || !DATE_PATTERN.test(value.trim())) return fail('not_a_date', value);
          const ms = parseIsoInstant(value);
          return ms === undefined ? fail('not_a_date', value) : instantFromMs(ms, value);
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------- map

type Primitive = string | number | boolean | null;

function typedKey(value: Primitive): string {
  return `${value === null ? 'null' : typeof value}:${String(value)}`;
}

/**
 * Whether a `map` transform's values are one-to-one (so the reverse map is a function).
 * Values are compared by type and value (`1` and `"1"` differ).
 */
export function isOneToOne(values: Record<string, Primitive>): boolean {
  const seen = new Set<string>();
  for (const v of Object.values(values)) {
    const k = typedKey(v);
    if (seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

function canonicalKeyOf(value: Json): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function compileMap(values: Record<string, Primitive>, fallback: Primitive | undefined, inputKind: CanonicalKind): CompiledTransform {
  // For boolean inputs (consent, topic, right) `granted`/`denied` are accepted as keys for true/false.
  const forward = new Map<string, Primitive>();
  for (const [key, external] of Object.entries(values)) {
    const k = inputKind === 'boolean' ? (key === 'granted' ? 'true' : key === 'denied' ? 'false' : key) : key;
    forward.set(k, external);
  }
  const reverse = new Map<string, string>();
  const reverseLoose = new Map<string, string | null>();
  for (const [key, external] of forward) {
    reverse.set(typedKey(external), key);
    const loose = String(external);
    // An ambiguous loose match (e.g. 1 and "1") is marked null and never used.
    reverseLoose.set(loose, reverseLoose.has(loose) ? null : key);
  }
  const canonicalFromKey = (key: string): Json => {
    if (inputKind === 'boolean') {
      if (key === 'true') return true;
      if (key === 'false') return false;
    }
    return key;
  };
  return {
    type: 'map',
    invertible: isOneToOne(values) && forward.size === Object.keys(values).length,
    toExternal(value) {
      if (value === null) return ok(null);
      const key = canonicalKeyOf(value);
      if (key !== undefined && forward.has(key)) return ok(forward.get(key) ?? null);
      if (fallback !== undefined) return ok(fallback);
      return fail('unmapped_value', value);
    },
    toCanonical(value) {
      // `null` is "cleared" unless the map itself sends null for some key.
      if (value === null && !reverse.has(typedKey(null))) return ok(null);
      if (Array.isArray(value) || (value !== null && typeof value === 'object')) return fail('unmapped_value', value);
      const exact = reverse.get(typedKey(value));
      if (exact !== undefined) return ok(canonicalFromKey(exact));
      const loose = reverseLoose.get(String(value));
      if (loose !== undefined && loose !== null) return ok(canonicalFromKey(loose));
      return fail('unmapped_value', value);
    },
  };
}

// ---------------------------------------------------------------------------- the rest

function isStringArray(value: Json): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function joinParts(parts: string[], separator: string): string {
  return parts.join(separator);
}
function splitText(text: string, separator: string): string[] {
  return text === '' ? [] : text.split(separator);
}

function compileJoin(separator: string): CompiledTransform {
  return {
    type: 'join',
    invertible: true,
    toExternal(value) {
      if (value === null) return ok(null);
      return isStringArray(value) ? ok(joinParts(value, separator)) : fail('not_a_string_array', value);
    },
    toCanonical(value) {
      if (value === null) return ok(null);
      if (typeof value === 'string') return ok(splitText(value, separator));
      return isStringArray(value) ? ok(value) : fail('not_a_string', value);
    },
  };
}

function compileSplit(separator: string): CompiledTransform {
  return {
    type: 'split',
    invertible: true,
    toExternal(value) {
      if (value === null) return ok(null);
      return typeof value === 'string' ? ok(splitText(value, separator)) : fail('not_a_string', value);
    },
    toCanonical(value) {
      if (value === null) return ok(null);
      if (typeof value === 'string') return ok(value);
      return isStringArray(value) ? ok(joinParts(value, separator)) : fail('not_a_string_array', value);
    },
  };
}

const LOWERCASE: CompiledTransform = {
  type: 'lowercase',
  invertible: false,
  toExternal(value) {
    if (value === null) return ok(null);
    return typeof value === 'string' ? ok(value.toLowerCase()) : fail('not_a_string', value);
  },
  toCanonical(value) {
    return ok(value);
  },
};

const INVERT: CompiledTransform = {
  type: 'invert',
  invertible: true,
  toExternal(value) {
    if (value === null) return ok(null);
    return typeof value === 'boolean' ? ok(!value) : fail('not_a_boolean', value);
  },
  toCanonical(value) {
    if (value === null) return ok(null);
    const b = readBoolean(value);
    return b === undefined ? fail('not_a_boolean', value) : ok(!b);
  },
};

/**
 * Compiles one transform. `inputKind` is what the transform receives on its canonical side
 * (it matters only to `map`, whose keys are then `true`/`false`, or `granted`/`denied`).
 */
export function compileTransform(transform: Transform, inputKind: CanonicalKind = 'json'): CompiledTransform {
  switch (transform.type) {
    case 'lowercase':
      return LOWERCASE;
    case 'invert':
      return INVERT;
    case 'map':
      return compileMap(transform.values, transform.default, inputKind);
    case 'date':
      return compileDate(transform.format);
    case 'join':
      return compileJoin(transform.separator);
    case 'split':
      return compileSplit(transform.separator);
  }
}

/** Whether a transform is invertible (see the table in this module's documentation). */
export function isInvertible(transform: Transform): boolean {
  return compileTransform(transform).invertible;
}

/** Compiles a chain. `canonicalKind` is what the chain's canonical end holds. */
export function compileChain(transforms: readonly Transform[], canonicalKind: CanonicalKind = 'json'): CompiledChain {
  const compiled: CompiledTransform[] = [];
  let kind: CanonicalKind = canonicalKind;
  for (const t of transforms) {
    compiled.push(compileTransform(t, kind));
    // Only `invert` keeps a boolean a boolean; after anything else the map keys are plain strings.
    kind = kind === 'boolean' && t.type === 'invert' ? 'boolean' : 'json';
  }
  const reversed = [...compiled].reverse();
  return {
    transforms: compiled,
    invertible: compiled.every((t) => t.invertible),
    toExternal(value) {
      let current: Json = value;
      for (const t of compiled) {
        const r = t.toExternal(current);
        if (!r.ok) return { ...r, transform: t.type };
        current = r.value;
      }
      return ok(current);
    },
    toCanonical(value) {
      let current: Json = value;
      for (const t of reversed) {
        const r = t.toCanonical(current);
        if (!r.ok) return { ...r, transform: t.type };
        current = r.value;
      }
      return ok(current);
    },
  };
}

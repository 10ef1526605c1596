/**
 * What `export` answers holds only values: empty strings, `null`, empty lists and objects left
 * with nothing are left out (`ExportedRecord.fields`), at any depth.
 */
import type { Json } from '../../profile/schema.js';

/** The value without its empty parts, or `undefined` when nothing is left. */
export function nonEmpty(value: unknown): Json | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (Array.isArray(value)) {
    const items = value.flatMap((v) => {
      const kept = nonEmpty(v);
      return kept === undefined ? [] : [kept];
    });
    return items.length > 0 ? items : undefined;
  }
  if (typeof value === 'object') {
    const out = nonEmptyFields(value);
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return undefined;
}

/** The object's non-empty members (see `nonEmpty`). */
export function nonEmptyFields(record: object): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, value] of Object.entries(record)) {
    const kept = nonEmpty(value);
    if (kept !== undefined) out[name] = kept;
  }
  return out;
}

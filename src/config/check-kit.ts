/** What the cross-part checks share: their finding, and reading parsed YAML defensively (they run even where the schema failed). */
import type { ConfigErrorCode } from './errors.js';
import type { ConfigPath } from './locate.js';

export interface CheckFinding {
  code: ConfigErrorCode;
  path: ConfigPath;
  /** Point at the key (e.g. a map key that is wrong) or at the value. */
  at: 'key' | 'value';
  message: string;
}

export type Dict = Record<string, unknown>;

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
export function dict(value: unknown): Dict {
  return isDict(value) ? value : {};
}
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
export function keysOf(value: unknown): string {
  const keys = Object.keys(dict(value));
  return keys.length === 0 ? '(none)' : keys.join(', ');
}

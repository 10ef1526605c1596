/**
 * Admin API keys. The hub never keeps a key in clear: the config's keys are hashed when the
 * server is built, and a presented key is hashed and compared in constant time against
 * every known digest.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, ApiScope } from '../config/schema.js';

/** A key as the server holds it: its id, the SHA-256 digest of the key, and its scopes. */
export interface ApiKeyRecord {
  id: string;
  sha256: Buffer;
  scopes: readonly ApiScope[];
  /** During a rotation: the old key's digest, accepted until `until` (epoch milliseconds). */
  previous?: { sha256: Buffer; until: number };
}

/** Who made an authenticated request. */
export interface ApiPrincipal {
  keyId: string;
  scopes: readonly ApiScope[];
}

/** The record a presented key matched, and whether it was the record's previous (rotated-out) key. */
export interface ApiKeyMatch {
  record: ApiKeyRecord;
  previous: boolean;
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Hashes the configured keys; the plain keys are not kept. */
export function apiKeyRecords(keys: readonly ApiKeyConfig[]): ApiKeyRecord[] {
  return keys.map((k) => ({
    id: k.id,
    sha256: k.key !== undefined ? sha256(k.key) : Buffer.from(k.sha256 ?? '', 'hex'),
    scopes: [...k.scopes],
    ...(k.previous ? { previous: { sha256: Buffer.from(k.previous.sha256, 'hex'), until: Date.parse(k.previous.until) } } : {}),
  }));
}

function sameDigest(known: Buffer, digest: Buffer): boolean {
  return known.length === digest.length && timingSafeEqual(known, digest);
}

/**
 * The match of a presented key, or null: a record's current key, or its previous key while
 * `now` is before the previous key's `until`. Compares against every digest (current and
 * previous, expired or not) so timing does not tell which matched.
 */
export function matchApiKey(records: readonly ApiKeyRecord[], presented: string, now: number = Date.now()): ApiKeyMatch | null {
  const digest = sha256(presented);
  let found: ApiKeyMatch | null = null;
  for (const record of records) {
    const current = sameDigest(record.sha256, digest);
    const previous = record.previous !== undefined && sameDigest(record.previous.sha256, digest) && now < record.previous.until;
    if (found === null && (current || previous)) found = { record, previous: !current };
  }
  return found;
}

/** The key's record, or null (see `matchApiKey`). */
export function findApiKey(records: readonly ApiKeyRecord[], presented: string, now: number = Date.now()): ApiKeyRecord | null {
  return matchApiKey(records, presented, now)?.record ?? null;
}

/** True when the scopes grant `needed` (`admin` grants everything). */
export function hasScope(scopes: readonly ApiScope[], needed: ApiScope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** The key of an `Authorization: Bearer <key>` or `Basic <base64(user:key)>` header (the Basic form serves browsers). */
export function presentedKey(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, value] = authorization.split(' ', 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value.trim() || undefined;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const key = colon === -1 ? decoded : decoded.slice(colon + 1);
    return key || undefined;
  }
  return undefined;
}

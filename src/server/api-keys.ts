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
}

/** Who made an authenticated request. */
export interface ApiPrincipal {
  keyId: string;
  scopes: readonly ApiScope[];
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
  }));
}

/** The key's record, or null. Compares against every record so timing does not tell which matched. */
export function findApiKey(records: readonly ApiKeyRecord[], presented: string): ApiKeyRecord | null {
  const digest = sha256(presented);
  let found: ApiKeyRecord | null = null;
  for (const record of records) {
    if (record.sha256.length === digest.length && timingSafeEqual(record.sha256, digest) && found === null) found = record;
  }
  return found;
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

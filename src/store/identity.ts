/**
 * Identity normalization and keyed hashing. Two spellings of one identity must land on
 * the same row of the identity graph and the same suppression hash.
 *
 * - E-mail: trimmed and lower-cased. Dots and plus-tags are kept (`a.b+x@gmail.com` is
 *   not folded into `ab@gmail.com`): folding is provider-specific and would merge people
 *   who are different to every other system.
 * - Phone: E.164 via libphonenumber-js. A number written in international form (`+44 ...`)
 *   always parses. A national number (`030 1234567`) parses only when a default country
 *   is configured (`StoreOptions.defaultPhoneCountry`); without one it is rejected rather
 *   than guessed, because a wrong guess would link two different people. The number must
 *   be *possible* (right length for its country); full validity is not required, so
 *   numbering-plan updates do not split a person in two.
 * - External ids: trimmed, case kept, namespaced by `system` (the connector id). An
 *   external id without a system takes the patch's source as its namespace.
 */
import { createHmac } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { CountryCode } from 'libphonenumber-js';
import type { Identity, PatchIdentity } from '../profile/schema.js';

export interface NormalizeOptions {
  /** ISO 3166-1 alpha-2 country for phone numbers written without an international prefix. */
  defaultPhoneCountry?: CountryCode;
  /** Namespace for external ids that carry no `system` (normally the patch source). */
  defaultSystem?: string;
}

export type RejectReason = 'invalid_email' | 'invalid_phone' | 'missing_system' | 'empty';

export type NormalizeResult = { ok: true; identity: PatchIdentity } | { ok: false; reason: RejectReason };

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Normalizes one identity; a patch identity's `lookup` flag and its own `at` are kept. */
export function normalizeIdentity(identity: PatchIdentity, options: NormalizeOptions = {}): NormalizeResult {
  const result = normalizeValue(identity, options);
  if (!result.ok || (identity.lookup !== true && identity.at === undefined)) return result;
  return {
    ok: true,
    identity: {
      ...result.identity,
      ...(identity.lookup === true ? { lookup: true } : {}),
      ...(identity.at === undefined ? {} : { at: identity.at }),
    },
  };
}

function normalizeValue(identity: Identity, options: NormalizeOptions): NormalizeResult {
  const raw = identity.value.trim();
  if (raw === '') return { ok: false, reason: 'empty' };
  switch (identity.kind) {
    case 'email': {
      const value = raw.toLowerCase();
      return EMAIL.test(value) ? { ok: true, identity: { kind: 'email', value } } : { ok: false, reason: 'invalid_email' };
    }
    case 'phone': {
      const parsed = parsePhoneNumberFromString(raw, options.defaultPhoneCountry);
      if (!parsed || !parsed.isPossible()) return { ok: false, reason: 'invalid_phone' };
      return { ok: true, identity: { kind: 'phone', value: parsed.number } };
    }
    case 'external': {
      const system = identity.system?.trim() || options.defaultSystem;
      if (!system) return { ok: false, reason: 'missing_system' };
      return { ok: true, identity: { kind: 'external', value: raw, system } };
    }
  }
}

/** A stable string for an already-normalized identity: `kind|system|value`. */
export function identityKey(identity: Identity): string {
  return `${identity.kind}|${identity.kind === 'external' ? (identity.system ?? '') : ''}|${identity.value}`;
}

/** Recent hashes: the same people are hashed again and again (every patch, every push). */
const hashCache = new Map<string, string>();
const HASH_CACHE_SIZE = 20_000;

/** HMAC-SHA256 (hex) of an already-normalized identity under `key`. */
export function keyedIdentityHash(identity: Identity, key: string): string {
  const text = identityKey(identity);
  const cacheKey = `${key}\u0000${text}`;
  const cached = hashCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const hash = createHmac('sha256', key).update(text).digest('hex');
  // Dropping everything when full is cheaper than tracking recency, and refills at once.
  if (hashCache.size >= HASH_CACHE_SIZE) hashCache.clear();
  hashCache.set(cacheKey, hash);
  return hash;
}

/**
 * Normalizes every identity, drops the ones that cannot be normalized and de-duplicates (two
 * spellings of one identity are one lookup key only when both are). Returns the normalized
 * identities and the reasons of the rejected ones.
 */
export function normalizeIdentities(
  identities: readonly PatchIdentity[],
  options: NormalizeOptions = {},
): { identities: PatchIdentity[]; rejected: RejectReason[] } {
  const seen = new Map<string, number>();
  const out: PatchIdentity[] = [];
  const rejected: RejectReason[] = [];
  for (const identity of identities) {
    const result = normalizeIdentity(identity, options);
    if (!result.ok) {
      rejected.push(result.reason);
      continue;
    }
    const key = identityKey(result.identity);
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, out.length);
      out.push(result.identity);
    } else if (result.identity.lookup !== true) {
      out[at] = result.identity;
    }
  }
  return { identities: out, rejected };
}

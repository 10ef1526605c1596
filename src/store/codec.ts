/**
 * The one JSON codec of the store: every JSON column is text on both dialects, written
 * with `JSON.stringify`. Values are checked against their zod schema before they are
 * written (patches are parsed on the way in, and the merge only builds valid profiles), so
 * the hot reads (profiles, shadow values) trust the rows the store wrote itself: checking a
 * whole profile on every read cost about 5 % of the hub's CPU under load. The other
 * columns are read back through their schema.
 */
import { z } from 'zod';
import { ConsentState, Json } from '../profile/schema.js';
import type { Profile } from '../profile/schema.js';
import { withIdentityStamps } from '../profile/identities.js';

export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

export function decodeJson<T>(text: string, schema: z.ZodType<T>): T {
  return schema.parse(JSON.parse(text));
}

export const JsonRecord = z.record(z.string(), Json);
export const StringArray = z.array(z.string());

/** A JSON object column the store wrote itself (shadow values, push log values). */
export function decodeRecord(text: string): Record<string, Json> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('stored value is not a JSON object');
  return value as Record<string, Json>;
}

/**
 * A profile row: the store wrote it from a merged, valid profile. Identities written before
 * identities carried stamps read as `UNSTAMPED` (the next write stores the stamps).
 */
export function decodeProfile(text: string, version: number): Profile {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || !('identities' in value)) throw new Error('stored profile is malformed');
  const profile = value as Profile;
  return { ...profile, identities: withIdentityStamps(profile.identities), version };
}

export function decodeConsentState(text: string): ConsentState {
  return decodeJson(text, ConsentState);
}

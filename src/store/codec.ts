/**
 * The one JSON codec of the store: every JSON column is text on both dialects, written
 * with `JSON.stringify` and read back through the zod schema of what it holds.
 */
import { z } from 'zod';
import { ConsentState, Json, Profile } from '../profile/schema.js';

export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

export function decodeJson<T>(text: string, schema: z.ZodType<T>): T {
  return schema.parse(JSON.parse(text));
}

export const JsonRecord = z.record(z.string(), Json);
export const StringArray = z.array(z.string());

export function decodeProfile(text: string, version: number): Profile {
  return { ...decodeJson(text, Profile), version };
}

export function decodeConsentState(text: string): ConsentState {
  return decodeJson(text, ConsentState);
}

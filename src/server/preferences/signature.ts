/**
 * Comparing the signature of a signed token (preference links, download links) as the text it
 * was issued as. Decoding the given base64url first would accept other spellings of the same
 * bytes (the last character's unused bits, characters outside the alphabet are skipped), so an
 * edited link could still open.
 */
import { timingSafeEqual } from 'node:crypto';

/** True when `given` is exactly `expected` (constant time for equal lengths). */
export function signatureMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Comparing a secret a sender presents (a URL token, a signature) with the expected one. */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether two secrets are equal, in constant time: both are hashed first, so neither their
 * contents nor their lengths show in the time taken.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

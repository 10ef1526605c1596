/**
 * How strong a secret the operator made looks: an estimate in bits, for the production policy
 * (`secret-policy.ts`). It cannot know how a value was made, so it credits each character with
 * what its alphabet allows (hex 4 bits, base64 6, other mixes by their character classes) and
 * then takes away what is not random: characters that repeat the one before, count up or down
 * from it, or repeat an earlier stretch of the value, and values of very few different
 * characters. 32 random bytes score 256 or more in base64url, base64 and hex; words, counting
 * and repeated characters score far less.
 */

/** The strength a production secret needs: 32 random bytes. */
export const REQUIRED_SECRET_BITS = 256;

/** A stretch counts as a pattern (repeat, run, sequence) from this many bits of characters on. */
const PATTERN_BITS = 30;

/** Fewer different characters than this read as a tiny alphabet, whatever the classes say. */
const MIN_VARIETY = 8;

/** Only the first characters are examined (the estimate is quadratic; any secret is shorter). */
const MAX_EXAMINED = 2_048;

/** Why a value falls short of `REQUIRED_SECRET_BITS`. */
export type SecretWeakness =
  /** Too few characters for its alphabet, even if every one were random. */
  | 'short'
  /** Too few different characters. */
  | 'variety'
  /** Repeats, runs or sequences take too much away. */
  | 'patterns';

export interface SecretStrength {
  /** The estimate, in whole bits. */
  bits: number;
  /** Set when `bits` is below `REQUIRED_SECRET_BITS`. */
  weakness?: SecretWeakness;
}

/** Bits per character of the alphabet the value appears to be drawn from. */
function bitsPerCharacter(value: string): number {
  if (/^[0-9]+$/.test(value)) return Math.log2(10);
  if (/^[0-9a-f]+$/.test(value) || /^[0-9A-F]+$/.test(value)) return 4;
  const base64 = /^[A-Za-z0-9_-]+$/.test(value) || /^[A-Za-z0-9+/]+$/.test(value);
  if (base64 && /[a-z]/.test(value) && /[A-Z]/.test(value)) return 6;
  let size = 0;
  if (/[a-z]/.test(value)) size += 26;
  if (/[A-Z]/.test(value)) size += 26;
  if (/[0-9]/.test(value)) size += 10;
  // The two extra characters of either base64 alphabet, or any printable ASCII punctuation.
  if (/[^A-Za-z0-9]/.test(value)) size += /^[A-Za-z0-9_-]*$/.test(value) || /^[A-Za-z0-9+/]*$/.test(value) ? 2 : 33;
  return Math.log2(size);
}

/** The length of the pattern that continues at `i`: a run, a sequence, or a repeat of an earlier stretch. */
function patternLengthAt(codes: readonly number[], i: number): number {
  if (i === 0) return 0;
  const n = codes.length;
  const step = (codes[i] ?? 0) - (codes[i - 1] ?? 0);
  let longest = 0;
  if (Math.abs(step) <= 1) {
    let k = 0;
    while (i + k < n && (codes[i + k] ?? 0) - (codes[i + k - 1] ?? 0) === step) k++;
    longest = k;
  }
  for (let j = 0; j < i; j++) {
    let k = 0;
    while (i + k < n && codes[j + k] === codes[i + k]) k++;
    if (k > longest) longest = k;
  }
  return longest;
}

/** The estimated strength of `value` (see the module comment). Never keeps or logs the value. */
export function secretStrength(value: string): SecretStrength {
  const examined = value.replace(/={1,2}$/, '').slice(0, MAX_EXAMINED);
  const codes = [...examined].map((c) => c.codePointAt(0) ?? 0);
  if (codes.length === 0) return { bits: 0, weakness: 'short' };
  const variety = new Set(codes).size;
  const perChar = variety < MIN_VARIETY ? Math.min(bitsPerCharacter(examined), Math.log2(variety)) : bitsPerCharacter(examined);
  const patternLength = perChar > 0 ? Math.ceil(PATTERN_BITS / perChar) : 1;
  let effective = 0;
  for (let i = 0; i < codes.length; effective++) {
    const length = patternLengthAt(codes, i);
    i += length >= patternLength ? length : 1;
  }
  const bits = Math.floor(effective * perChar);
  if (bits >= REQUIRED_SECRET_BITS) return { bits };
  if (variety < MIN_VARIETY) return { bits, weakness: 'variety' };
  if (Math.floor(codes.length * bitsPerCharacter(examined)) < REQUIRED_SECRET_BITS) return { bits, weakness: 'short' };
  return { bits, weakness: 'patterns' };
}

/**
 * The suppression aggregate: keyed hashes of the normalized identities of erased people, so
 * that erased people stay erased (`applyPatch` refuses a patch naming one).
 */
import type { Identity } from '../../profile/schema.js';

/** The suppression list and the keyed identity hash it is made of. */
export interface SuppressionRepository {
  /** Keyed hash (HMAC-SHA256 with `hashKey`) of a normalized identity. */
  hashIdentity(identity: Identity): string;
  suppress(hashes: readonly string[], reason: string): Promise<void>;
  isSuppressed(hashes: readonly string[]): Promise<boolean>;
  /** Which of `hashes` are on the suppression list. */
  suppressedAmong(hashes: readonly string[]): Promise<Set<string>>;
}

/**
 * The requester-verification aggregate: one row per one-time link mailed to a person who asked,
 * on the public request page, for a copy of their data or its erasure. The link's token is
 * never stored (only its SHA-256); the address is kept sealed (encrypted by the caller) only
 * until the request it led to is settled and the person told.
 */

/** What the person asked for. */
export type VerificationKind = 'export' | 'erase';

export interface NewRequesterVerification {
  id: string;
  /** SHA-256 (hex) of the link's token. */
  tokenHash: string;
  /** Keyed hash of the normalized address (rate limit per address). */
  addressHash: string;
  /** Keyed hash of the client address (rate limit per client). */
  clientHash: string;
  kind: VerificationKind;
  /** The language of the page the person used (the mails follow it). */
  locale: string;
  /** The address, sealed by the caller (never in clear in the store). */
  sealedAddress: string;
  createdAt: string;
  expiresAt: string;
}

export interface RequesterVerification {
  id: string;
  kind: VerificationKind;
  locale: string;
  sealedAddress: string;
  createdAt: string;
  expiresAt: string;
  consumedAt: string | null;
  /** The data-subject request the confirmed link created. */
  dsrId: string | null;
}

/**
 * Consuming a link: `consumed` exactly once (atomically: of two confirmations at once, one
 * wins); `expired`, `used` or `unknown` otherwise.
 */
export type VerificationConsumption =
  { status: 'consumed'; verification: RequesterVerification } | { status: 'expired' | 'used' | 'unknown' };

export interface RequesterVerificationRepository {
  createVerification(verification: NewRequesterVerification): Promise<void>;
  /** Links made since `since` for the address hash, or for the client hash. */
  countVerifications(filter: { addressHash: string; since: string } | { clientHash: string; since: string }): Promise<number>;
  /** The link's row by its token's hash, or null. */
  findVerification(tokenHash: string): Promise<RequesterVerification | null>;
  /** The row by id, or null. */
  getVerification(id: string): Promise<RequesterVerification | null>;
  /** Marks the link used, if it is unused and unexpired at `at`: only one caller ever gets `consumed`. */
  consumeVerification(tokenHash: string, at: string): Promise<VerificationConsumption>;
  /** Records the request the link created. */
  attachVerificationDsr(id: string, dsrId: string): Promise<void>;
  /** Deletes the row (the address with it). */
  deleteVerification(id: string): Promise<void>;
  /**
   * Deletes rows that expired before `before` and led to no request (unused links, and used ones
   * whose request could not be made), and rows whose request was confirmed before
   * `requestsBefore` and never completed (so the person is never told, but their address is not
   * kept for ever either); returns how many.
   */
  purgeVerifications(before: string, requestsBefore: string): Promise<number>;
}

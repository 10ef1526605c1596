/**
 * Expected failures of data-subject requests. They are returned as values (`Result`), never
 * thrown; each has a stable `code` the admin API and the CLI show.
 */
export type PrivacyErrorCode =
  /** The request does not match its schema. */
  | 'invalid_request'
  /** No profile matches the subject (for kinds that need one: rectify, restrict, object...). */
  | 'subject_not_found'
  /** No request with this id. */
  | 'request_not_found'
  /** The identity belongs to an erased person: nothing may be written for it. */
  | 'subject_erased'
  /** An extension that GDPR Art. 12(3) does not allow (too long, too late, person not told). */
  | 'invalid_extension'
  /** The request is finished (completed) and cannot be changed or retried. */
  | 'request_closed'
  /** The request's kind does not support this operation (e.g. downloading a non-export). */
  | 'wrong_kind'
  /** The export is not ready yet, or its download window has passed. */
  | 'export_unavailable';

export class PrivacyError extends Error {
  constructor(
    readonly code: PrivacyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PrivacyError';
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: PrivacyError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(code: PrivacyErrorCode, message: string): Result<T> {
  return { ok: false, error: new PrivacyError(code, message) };
}

/** Errors the store throws for unexpected failures. Expected outcomes are `ApplyResult` values. */

export type StoreErrorCode = 'invalid_url' | 'schema_too_new' | 'write_conflict' | 'profile_not_found' | 'dsr_not_found' | 'invalid_cursor';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/**
 * A compare-and-swap lost against a concurrent writer (or a row it read went away). The
 * transaction is rolled back and retried; callers only see it if every retry lost.
 */
export class WriteConflictError extends StoreError {
  constructor(message: string) {
    super('write_conflict', message);
    this.name = 'WriteConflictError';
  }
}

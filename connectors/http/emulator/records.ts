/**
 * What both systems' stores share: the error a write or lookup ends with (mapped to each API's
 * error body by its routes), the poisoned addresses, the ids' order, and one reading of a zod
 * failure as the field it names.
 */
import type { z } from 'zod';

export type RecordErrorCode = 'not_found' | 'duplicate' | 'invalid';

/** A write or lookup the system refuses: the record is unknown, its e-mail taken, or a value invalid. */
export class RecordError extends Error {
  constructor(
    readonly code: RecordErrorCode,
    message: string,
    /** The offending field (`invalid`), or the record that holds the address (`duplicate`). */
    readonly detail: { field?: string; existingId?: string } = {},
  ) {
    super(message);
    this.name = 'RecordError';
  }
}

/** Addresses every API write of fails (`poison`), case-insensitive. */
export class PoisonList {
  private readonly emails = new Set<string>();

  add(email: string): void {
    this.emails.add(normalEmail(email));
  }

  /** Throws the `invalid` error of a poisoned address. */
  check(email: string, field: string): void {
    if (this.emails.has(normalEmail(email)))
      throw new RecordError('invalid', `${field} is not accepted (the address is blocked)`, { field });
  }
}

export const normalEmail = (email: string): string => email.trim().toLowerCase();

/** `c_2` before `c_10`: ids compared by length, then as text. */
export const compareIds = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

/** The `invalid` error of a zod failure: the first issue's path as the field. */
export function invalidFrom(error: z.ZodError, fallbackField: string): RecordError {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : fallbackField;
  return new RecordError('invalid', `${field}: ${issue?.message ?? 'invalid value'}`, { field });
}

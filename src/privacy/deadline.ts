/**
 * Deadlines of data-subject requests (GDPR Art. 12(3)): an answer is due one month after the
 * request is received; it may be extended by two further months when the person is told of
 * the extension, with the reasons, within the first month. Months are counted as EU law counts
 * them (Regulation 1182/71, Art. 3(2)(c)): the period ends on the same day of the month, or on
 * the last day of a shorter month. Pure, in UTC.
 */
import type { DataSubjectRequest } from '../store/types.js';

/** `instant` plus `months` calendar months, clamped to the end of a shorter month. */
export function addMonths(instant: string, months: number): string {
  const d = new Date(instant);
  const day = d.getUTCDate();
  const target = new Date(
    Date.UTC(
      d.getUTCFullYear(),
      d.getUTCMonth() + months,
      1,
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
      d.getUTCMilliseconds(),
    ),
  );
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.toISOString();
}

/** When an answer to a request received at `receivedAt` is due: one month later. */
export function dueDate(receivedAt: string): string {
  return addMonths(receivedAt, 1);
}

/** The latest a deadline may be extended to: three months after receipt. */
export function latestExtension(receivedAt: string): string {
  return addMonths(receivedAt, 3);
}

/** The deadline in force: the extension when there is one. */
export function deadlineOf(request: Pick<DataSubjectRequest, 'dueAt' | 'extendedTo'>): string {
  return request.extendedTo ?? request.dueAt;
}

/** Still open (received or in progress) and past its deadline at `now`. */
export function isOverdue(request: Pick<DataSubjectRequest, 'status' | 'dueAt' | 'extendedTo'>, now: Date): boolean {
  if (request.status !== 'received' && request.status !== 'in_progress') return false;
  return Date.parse(deadlineOf(request)) < now.getTime();
}

export type ExtensionCheck = { ok: true } | { ok: false; message: string };

/**
 * Whether an extension to `extendedTo`, with the person told at `subjectToldAt`, is allowed:
 * later than the original deadline, at most three months after receipt, and the person told no
 * later than the original deadline and not in the future.
 */
export function checkExtension(
  request: Pick<DataSubjectRequest, 'receivedAt' | 'dueAt'>,
  extension: { extendedTo: string; subjectToldAt: string },
  now: Date,
): ExtensionCheck {
  const to = Date.parse(extension.extendedTo);
  const told = Date.parse(extension.subjectToldAt);
  if (to <= Date.parse(request.dueAt))
    return { ok: false, message: `the extension must end after the original deadline (${request.dueAt})` };
  const latest = latestExtension(request.receivedAt);
  if (to > Date.parse(latest)) return { ok: false, message: `a deadline can be extended by two further months at most (until ${latest})` };
  if (told > now.getTime()) return { ok: false, message: 'the person must already have been told of the extension' };
  if (told > Date.parse(request.dueAt)) {
    return { ok: false, message: `the person must be told of an extension within the first month (by ${request.dueAt})` };
  }
  if (told < Date.parse(request.receivedAt))
    return { ok: false, message: 'the person cannot have been told before the request was received' };
  return { ok: true };
}

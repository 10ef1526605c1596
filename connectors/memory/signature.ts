/**
 * Webhook signing of the in-memory system: header `x-memory-signature: t=<ms>,v1=<hex>`
 * where `hex` is HMAC-SHA256(secret, `<ms>.<raw body>`), like Stripe's scheme. The timestamp
 * lets the receiver refuse replays outside a tolerance window.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-memory-signature';
export const EVENT_ID_HEADER = 'x-memory-event-id';
/** Default tolerance between the signature timestamp and receipt: 5 minutes. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;

/** The signature header value for `body` signed at `timestampMs`. */
export function signMemoryWebhook(secret: string, body: Buffer | string, timestampMs: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampMs}.`).update(body).digest('hex');
  return `t=${timestampMs},v1=${mac}`;
}

/** Checks a signature header against the raw body, in constant time, within the tolerance. */
export function verifyMemoryWebhook(
  secret: string,
  header: string | undefined,
  body: Buffer,
  nowMs: number,
  toleranceMs: number = DEFAULT_TOLERANCE_MS,
): { ok: true } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: 'missing signature header' };
  const parts = new Map<string, string>();
  for (const part of header.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) parts.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !/^\d+$/.test(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed signature header' };
  const timestamp = Number(t);
  if (Math.abs(nowMs - timestamp) > toleranceMs) return { ok: false, reason: 'signature timestamp outside tolerance' };
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}

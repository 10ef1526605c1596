/**
 * Segment webhooks: a Webhooks (Actions) destination POSTs each event as Segment's JSON message
 * (or, batched, a JSON array of them) with `X-Signature` = hex HMAC-SHA1(shared secret, raw
 * body). https://segment.com/docs/connections/destinations/catalog/actions-webhook/
 *
 * The signature covers no timestamp, so a captured delivery could be replayed for ever. The
 * body's own `receivedAt` (Segment stamps every message) is signed with it: a delivery whose
 * messages were received longer than `webhookReplayWindowMs` ago is refused, and within the
 * window the hub remembers every `messageId` (the event id) for 25 hours, so a replay is either
 * refused or a repeat the engine drops.
 *
 * Signed by a secret only Segment and the hub hold, an `identify`'s traits are taken as values
 * (no read-back); a `messageId` the hub made (`concord-…`) marks the hub's own event coming
 * back (a hint: the engine still compares each value with what it wrote). Other event types
 * (track, page, group) carry no profile values and yield nothing.
 */
import { createHmac } from 'node:crypto';
import type { ExternalRecord, RawWebhook, VerifyResult, WebhookEvent } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { headerValue, secretsEqual } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import { MESSAGE_ID_PREFIX } from './push.js';

/** The signature header (censored in every hub log: `sensitiveKeys`). */
export const SIGNATURE_HEADER = 'x-signature';
/** A batch of Segment messages is at most 500 KB; anything larger is no Segment delivery. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** `X-Signature` of a body (the emulator signs the same way). */
export function segmentSignature(secret: string, body: Buffer | string): string {
  return createHmac('sha1', secret)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex');
}

/** One Segment message as a webhook carries it (the fields the connector reads). */
interface SegmentMessage {
  type: string;
  messageId: string;
  userId?: string | null;
  traits?: Record<string, Json>;
  timestamp?: string;
  receivedAt?: string;
  sentAt?: string;
}

function isMessage(value: unknown): value is SegmentMessage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  return typeof m['type'] === 'string' && typeof m['messageId'] === 'string' && m['messageId'] !== '';
}

/** The messages of a body: one message, or an array of them. Throws `MalformedPayloadError` on anything else. */
export function parseMessages(body: Buffer): SegmentMessage[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedPayloadError('the Segment webhook body is not JSON');
  }
  const list = Array.isArray(json) ? json : [json];
  if (list.length === 0 || !list.every(isMessage))
    throw new MalformedPayloadError('the Segment webhook body is not a Segment message or a list of them');
  return list;
}

const instantOf = (value: unknown): number | undefined => {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
};

/** The signature over the exact bytes, in constant time; then the messages' signed `receivedAt` within the replay window. */
export function verifySegmentWebhook(secret: string | undefined, replayWindowMs: number, raw: RawWebhook): VerifyResult {
  if (secret === undefined) return { ok: false, reason: 'no webhookSecret is configured for this instance' };
  if (raw.body.length > MAX_WEBHOOK_BYTES) return { ok: false, reason: 'webhook body too large' };
  const given = headerValue(raw.headers, SIGNATURE_HEADER);
  if (given === undefined) return { ok: false, reason: 'missing X-Signature' };
  if (!secretsEqual(given.trim().toLowerCase(), segmentSignature(secret, raw.body))) return { ok: false, reason: 'bad signature' };
  let messages: SegmentMessage[];
  try {
    messages = parseMessages(raw.body);
  } catch {
    // Signed but not a message: parse says so (a 400), with nothing enqueued.
    return { ok: true };
  }
  const now = Date.parse(raw.receivedAt);
  for (const m of messages) {
    const received = instantOf(m.receivedAt) ?? instantOf(m.sentAt);
    if (received === undefined) return { ok: false, reason: 'a message carries no receivedAt: a replay could not be bounded' };
    if (now - received > replayWindowMs) return { ok: false, reason: 'stale delivery (received by Segment before the replay window)' };
  }
  return { ok: true };
}

/** The `records` events of a verified body: one per identify of a known user id. */
export function toWebhookEvents(messages: readonly SegmentMessage[]): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  for (const m of messages) {
    if (m.type !== 'identify' || typeof m.userId !== 'string' || m.userId === '') continue;
    const at = instantOf(m.timestamp) ?? instantOf(m.receivedAt);
    if (at === undefined) throw new MalformedPayloadError('an identify carries neither timestamp nor receivedAt');
    const traits = m.traits !== null && typeof m.traits === 'object' && !Array.isArray(m.traits) ? m.traits : {};
    const record: ExternalRecord = {
      externalId: m.userId,
      at: new Date(at).toISOString(),
      fields: { ...traits },
      // Any source of the workspace may send an identify, a website's public write key too: it
      // only changes a profile the hub already holds under that user id (its own profile ids).
      knownOnly: true,
      ...(m.messageId.startsWith(MESSAGE_ID_PREFIX) ? { echo: true } : {}),
    };
    events.push({ kind: 'records', eventId: m.messageId, records: [record] });
  }
  return events;
}

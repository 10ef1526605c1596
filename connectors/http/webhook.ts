/**
 * Standard Webhooks in, for the generic HTTP connector: a system signs each message with
 * `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature` (space-separated `v1,<base64
 * HMAC-SHA256(secret, id.timestamp.body)>` entries), and sends one `{type, timestamp, data}` body.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 *
 * The operator's event rules say which event types the hub takes, where the record id is in the
 * payload (an RFC 9535 JSONPath, https://www.rfc-editor.org/rfc/rfc9535) and what the event means.
 */
import { query } from 'jsonpath-rfc9535';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import type { ExternalRecord, RawWebhook, VerifyResult, WebhookEvent } from '../../src/connector/define.js';
import { ConnectorConfigError, MalformedPayloadError } from '../../src/connector/errors.js';
import { headerValue, secretsEqual } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';

export interface InboundEventRule {
  /** Event type, exact, or a prefix ending in '*' (`contact.*`). */
  type: string;
  /** JSONPath (RFC 9535) to the record id in the whole payload, e.g. `$.data.id`. */
  id: string;
  kind: 'changed' | 'deleted' | 'erase';
}

/** The spec's (and its library's) window around the signed timestamp: 5 minutes either way. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;

const SIGNATURE_VERSION = 'v1,';

const SECRET_PREFIX = 'whsec_';

/**
 * Whether `value` is a Standard Webhooks secret: `whsec_` and the (canonical, padded) base64 of 24
 * to 64 random bytes. The library would take an empty or short key, with which anyone can sign.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#symmetric-signatures
 */
export function isStandardWebhooksSecret(value: string): boolean {
  if (!value.startsWith(SECRET_PREFIX)) return false;
  const encoded = value.slice(SECRET_PREFIX.length);
  const bytes = Buffer.from(encoded, 'base64');
  return bytes.toString('base64') === encoded && bytes.length >= 24 && bytes.length <= 64;
}

/** A Standard Webhooks secret (see `isStandardWebhooksSecret`). */
export const StandardWebhooksSecret = z
  .string()
  .refine(isStandardWebhooksSecret, 'expected a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 bytes');

/** The `v1,` signatures of the header (`v1a,` ed25519 entries and unknown versions are skipped, as the library does). */
function v1Signatures(header: string): string[] {
  return header
    .split(' ')
    .filter((entry) => entry.startsWith(SIGNATURE_VERSION))
    .map((entry) => entry.slice(SIGNATURE_VERSION.length));
}

/** The library's `v1,` signature of a message, without the version; `undefined` for a secret it cannot use. */
function expectedSignature(secret: string, id: string, sentAt: Date, body: Buffer): string | undefined {
  try {
    // https://github.com/standard-webhooks/standard-webhooks/tree/main/libraries/javascript
    return new Webhook(secret).sign(id, sentAt, body).slice(SIGNATURE_VERSION.length);
  } catch {
    return undefined;
  }
}

/**
 * Verifies a Standard Webhooks message against each configured secret (rotation: whichever secret, whichever
 * `v1` entry of the header matches). The signature is the `standardwebhooks` library's, compared in
 * constant time; the timestamp is judged against `raw.receivedAt` (not the clock, as the library's
 * `verify` would): more than `toleranceMs` either way is refused. Missing headers and a
 * `webhook-id` containing '.' are refused. Never throws; reasons are fixed text.
 * @param toleranceMs - @defaultValue 5 minutes
 */
export function verifyStandardWebhook(
  secrets: readonly string[],
  raw: RawWebhook,
  toleranceMs: number = DEFAULT_TOLERANCE_MS,
): VerifyResult {
  const id = headerValue(raw.headers, 'webhook-id');
  const timestamp = headerValue(raw.headers, 'webhook-timestamp');
  const signature = headerValue(raw.headers, 'webhook-signature');
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (id.includes('.')) return { ok: false, reason: "webhook-id contains '.'" };
  if (!/^\d{1,12}$/.test(timestamp.trim())) return { ok: false, reason: 'webhook-timestamp is not a number of seconds' };
  const sentAt = new Date(Number(timestamp.trim()) * 1000);
  const receivedAt = Date.parse(raw.receivedAt);
  if (!(Math.abs(receivedAt - sentAt.getTime()) <= toleranceMs)) return { ok: false, reason: 'webhook-timestamp outside the tolerance' };
  if (secrets.length === 0) return { ok: false, reason: 'no webhook secret is configured' };
  const given = v1Signatures(signature);
  for (const secret of secrets) {
    const expected = expectedSignature(secret, id, sentAt, raw.body);
    if (expected !== undefined && given.some((candidate) => secretsEqual(candidate, expected))) return { ok: true };
  }
  return { ok: false, reason: 'no matching signature' };
}

/** Whether `expression` is a valid RFC 9535 JSONPath (for config checks). */
export function isValidJsonPath(expression: string): boolean {
  try {
    query({}, expression);
    return true;
  } catch {
    return false;
  }
}

/** The rule for an event type: an exact rule first, else the longest matching prefix rule. */
function ruleFor(rules: readonly InboundEventRule[], type: string): InboundEventRule | undefined {
  const exact = rules.find((rule) => !rule.type.endsWith('*') && rule.type === type);
  if (exact !== undefined) return exact;
  const prefixes = rules.filter((rule) => rule.type.endsWith('*') && type.startsWith(rule.type.slice(0, -1)));
  return prefixes.sort((a, b) => b.type.length - a.type.length)[0];
}

interface Payload {
  /** The whole body, what the rules' selectors run on. */
  json: Json;
  type: string;
  timestamp: unknown;
}

function payloadOf(body: Buffer): Payload {
  let json: Json;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedPayloadError('the webhook body is not JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json) || typeof json['type'] !== 'string') {
    throw new MalformedPayloadError('the webhook body is not a {type, timestamp, data} object');
  }
  return { json, type: json['type'], timestamp: json['timestamp'] };
}

/** The record ids the rule's selector finds (each a non-empty string or a finite number). */
function recordIds(payload: Payload, rule: InboundEventRule): string[] {
  let found: Json[];
  try {
    found = query(payload.json, rule.id);
  } catch (err) {
    throw new ConnectorConfigError(`the webhook event rule for ${rule.type} has an invalid JSONPath id selector ${rule.id}`, {
      cause: err,
    });
  }
  if (found.length === 0) throw new MalformedPayloadError(`no record id at ${rule.id} (event rule ${rule.type})`);
  return found.map((value) => {
    if (typeof value === 'string' && value !== '') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    throw new MalformedPayloadError(`the record id at ${rule.id} (event rule ${rule.type}) is not a string or a number`);
  });
}

/** The payload's timestamp as an instant, or `undefined` when absent or not a date. */
function instantOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * The event of a verified Standard Webhooks message: the rule matching its `type` gives the record
 * id(s) and the kind; eventId = the `webhook-id` header (stable across the sender's retries); at =
 * the payload's `timestamp` (else `raw.receivedAt`). With `authoritative`, a 'changed' rule yields
 * the records it makes from the payload (`records`); when it cannot make one for every id, the ids
 * are read back instead (`changed`). An unknown type yields no event. Malformed JSON, a missing id
 * or an id that is neither a string nor a number throw MalformedPayloadError (fixed text, nothing
 * of the payload).
 */
export function parseStandardWebhook(
  raw: RawWebhook,
  rules: readonly InboundEventRule[],
  authoritative?: (payload: unknown, id: string) => ExternalRecord | undefined,
): WebhookEvent[] {
  const payload = payloadOf(raw.body);
  const rule = ruleFor(rules, payload.type);
  if (rule === undefined) return [];
  const eventId = headerValue(raw.headers, 'webhook-id');
  if (!eventId) throw new MalformedPayloadError('missing webhook-id');
  const externalIds = recordIds(payload, rule);
  const at = instantOf(payload.timestamp) ?? raw.receivedAt;
  if (rule.kind !== 'changed') return [{ kind: rule.kind, eventId, externalIds, at }];
  if (authoritative !== undefined) {
    const records = externalIds.map((id) => authoritative(payload.json, id));
    if (records.every((record) => record !== undefined)) return [{ kind: 'records', eventId, records }];
  }
  return [{ kind: 'changed', eventId, externalIds, at }];
}

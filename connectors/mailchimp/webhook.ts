/**
 * Mailchimp webhooks: a form-encoded POST (`type`, `fired_at`, `data[...]`), one event per request,
 * to `/webhooks/<instance id>/<webhookSecret>`. The long secret in the URL is checked in constant
 * time (`admit`, and again in `verify`); when a signing secret is configured,
 * `X-Mailchimp-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` is required
 * too, within 5 minutes of receipt. A payload is only a hint: `parse` names the member
 * (`hash.<md5 of the e-mail>`) and the engine reads it back, so a forged webhook can at most
 * cause a read. A GET to the URL is Mailchimp's validation: answer 200 (`validationReply`).
 * https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/
 */
import { createHash, createHmac } from 'node:crypto';
import type { AdmitResult, RawWebhook, VerifyResult, WebhookEvent, WebhookHead, WebhookReply } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { headerValue, secretsEqual } from '../../src/connector/kit/index.js';
import { mailchimpDate } from './mapping.js';
import { hashRef } from './read.js';

/** The signature header (censored in every hub log: `sensitiveKeys`). */
export const SIGNATURE_HEADER = 'x-mailchimp-signature';
/** The signature's timestamp window. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;
/** Mailchimp's payloads are a few kilobytes; anything far larger is no Mailchimp webhook. */
export const MAX_WEBHOOK_BYTES = 64 * 1024;

/** Event types Mailchimp sends. */
export const WEBHOOK_TYPES = ['subscribe', 'unsubscribe', 'profile', 'upemail', 'cleaned', 'campaign'] as const;

export interface WebhookSecrets {
  /** The URL secret. */
  urlSecret: string;
  /** The signing secret, when the webhook has one. */
  signingSecret?: string;
}

/** Before the body is read: the URL secret, and a declared size within bounds. */
export function admitMailchimpWebhook(head: WebhookHead, secrets: WebhookSecrets): AdmitResult {
  if (head.urlToken === undefined || !secretsEqual(head.urlToken, secrets.urlSecret)) {
    return { ok: false, status: 401, reason: 'missing or wrong URL secret' };
  }
  const length = Number(headerValue(head.headers, 'content-length') ?? '0');
  if (Number.isFinite(length) && length > MAX_WEBHOOK_BYTES) return { ok: false, status: 413, reason: 'webhook body too large' };
  return { ok: true };
}

/** `X-Mailchimp-Signature` for a body at a time (the emulator signs the same way). */
export function signMailchimpWebhook(secret: string, body: Buffer | string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret)
    .update(`${unixSeconds}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `t=${unixSeconds},v1=${mac.digest('hex')}`;
}

/** The URL secret again (callers may hand a raw webhook to the engine directly), then the signature when one is configured. */
export function verifyMailchimpWebhook(raw: RawWebhook, secrets: WebhookSecrets): VerifyResult {
  if (raw.urlToken === undefined || !secretsEqual(raw.urlToken, secrets.urlSecret))
    return { ok: false, reason: 'missing or wrong URL secret' };
  if (raw.body.length > MAX_WEBHOOK_BYTES) return { ok: false, reason: 'webhook body too large' };
  if (secrets.signingSecret === undefined) return { ok: true };
  const header = headerValue(raw.headers, SIGNATURE_HEADER);
  if (header === undefined) return { ok: false, reason: 'missing X-Mailchimp-Signature' };
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (t === undefined || v1 === undefined || !/^\d{1,12}$/.test(t)) return { ok: false, reason: 'malformed X-Mailchimp-Signature' };
  const received = Date.parse(raw.receivedAt);
  if (!Number.isFinite(received) || Math.abs(received - Number(t) * 1000) > SIGNATURE_TOLERANCE_MS) {
    return { ok: false, reason: 'signature timestamp outside the 5-minute window' };
  }
  const expected = signMailchimpWebhook(secrets.signingSecret, raw.body, Number(t));
  return secretsEqual(`t=${t},v1=${v1.toLowerCase()}`, expected) ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

/** Mailchimp's GET of the webhook URL (when the webhook is saved): 200 once the URL secret is right. */
export function validationReply(head: WebhookHead, secrets: WebhookSecrets): WebhookReply {
  return admitMailchimpWebhook(head, secrets).ok ? { status: 200 } : { status: 401 };
}

/** One parsed delivery. */
export interface MailchimpWebhook {
  type: string;
  firedAt: string;
  data: Record<string, string>;
}

/** The form body as `type`, `fired_at` and the flat `data[...]` keys (`data[merges][FNAME]` -> `merges][FNAME`... kept as written). */
export function parseMailchimpForm(body: Buffer): MailchimpWebhook {
  const form = new URLSearchParams(body.toString('utf8'));
  const type = form.get('type');
  const firedAt = mailchimpDate(form.get('fired_at') ?? '');
  if (type === null || type === '' || firedAt === undefined) {
    throw new MalformedPayloadError('Mailchimp webhook body lacks type or fired_at');
  }
  const data: Record<string, string> = {};
  for (const [key, value] of form) {
    const m = /^data\[(.+)\]$/.exec(key);
    if (m?.[1] !== undefined) data[m[1]] = value;
  }
  return { type, firedAt, data };
}

/**
 * The engine's events for one delivery: subscribe, unsubscribe, profile and cleaned name the
 * member by its address, upemail by the new address (the contact_id stays), campaign names
 * nobody; another audience's delivery (`data[list_id]`) is none of this instance's business.
 * The event id is stable for a redelivery: a hash of type, fired_at, the member and the list.
 */
export function toWebhookEvents(hook: MailchimpWebhook, listId: string): WebhookEvent[] {
  const listOf = hook.data['list_id'];
  if (listOf !== undefined && listOf !== '' && listOf !== listId) return [];
  const email = hook.type === 'upemail' ? hook.data['new_email'] : hook.data['email'];
  switch (hook.type) {
    case 'subscribe':
    case 'unsubscribe':
    case 'profile':
    case 'cleaned':
    case 'upemail': {
      if (email === undefined || email.trim() === '') throw new MalformedPayloadError(`Mailchimp ${hook.type} webhook names no e-mail`);
      const who = hook.data['id'] ?? hook.data['new_id'] ?? '';
      const eventId = `mc-${createHash('sha256')
        .update([hook.type, hook.firedAt, who, email.trim().toLowerCase(), listOf ?? ''].join('\u0000'))
        .digest('hex')
        .slice(0, 40)}`;
      return [{ kind: 'changed', eventId, externalIds: [hashRef(email)], at: hook.firedAt }];
    }
    default:
      return [];
  }
}

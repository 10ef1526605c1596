/**
 * Outbound Messages: Salesforce's SOAP `notifications` call, up to 100 `Notification`s of one
 * object. There is no signature, and anyone can write one, so a message is a hint only: the
 * connector takes the record ids it names (and the notification ids, for dedupe) and the
 * engine reads those records back through the API (`read`); no value in the body is ever
 * ingested. A forged message can at most cause a read.
 *
 * The endpoint is authenticated by a secret in its URL, `/webhooks/<id>/<outboundMessageToken>`
 * (the Outbound Message's "Endpoint URL" in Salesforce), compared in constant time before the
 * body is read; the OrganizationId the message names is checked as a second factor. A body is
 * read by a bounded reader (`outbound-xml.ts`). Notification ids are remembered once the events
 * are safely enqueued, so a redelivery (Salesforce retries until it gets an Ack, for up to 24
 * hours) is dropped. The answer is the `notificationsResponse` with `<Ack>true</Ack>`; anything
 * refused gets a SOAP fault with fixed text, and nothing is enqueued.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_security.htm
 */
import { createHash } from 'node:crypto';
import type { AdmitResult, RawWebhook, VerifyResult, WebhookEvent, WebhookHead, WebhookReply } from '../../src/connector/define.js';
import { headerValue } from '../../src/connector/errors.js';
import { secretsEqual } from '../../src/connector/kit/index.js';
import {
  OUTBOUND_LIMITS,
  readOutboundMessage,
  type OutboundLimits,
  type OutboundMessage,
  type OutboundNotification,
} from './outbound-xml.js';

export { OUTBOUND_LIMITS, readOutboundMessage, type OutboundMessage, type OutboundNotification };

/** Salesforce sends at most 100 notifications per message. */
export const MAX_NOTIFICATIONS = OUTBOUND_LIMITS.maxNotifications;

/** The refusal reasons (fixed text: nothing a sender wrote is logged or echoed). */
export const REFUSED = {
  token: 'wrong or missing URL token',
  unexpectedToken: 'a URL token, but none is configured for Outbound Messages',
  tooLarge: `the body exceeds ${OUTBOUND_LIMITS.maxBytes} bytes`,
  noOrganization: 'no organizationId configured for Outbound Messages',
  otherOrganization: 'Outbound Message from another organization',
} as const;

/** Where Salesforce must send a connector's Outbound Messages (the Outbound Message's Endpoint URL). */
export function outboundEndpointUrl(publicUrl: string, instanceId: string, token: string | undefined): string {
  return `${publicUrl.replace(/\/$/, '')}/webhooks/${encodeURIComponent(instanceId)}${token === undefined ? '' : `/${token}`}`;
}

/** Compares a URL token with the configured one in constant time (hashed first, so lengths do not show either). */
export function sameToken(given: string | undefined, expected: string): boolean {
  return given !== undefined && secretsEqual(given, expected);
}

/** The URL-token part of admission, shared by `admit` and `verify`. */
function checkToken(urlToken: string | undefined, token: string | undefined): VerifyResult {
  if (token === undefined) return urlToken === undefined || urlToken === '' ? { ok: true } : { ok: false, reason: REFUSED.unexpectedToken };
  return sameToken(urlToken, token) ? { ok: true } : { ok: false, reason: REFUSED.token };
}

export interface OutboundSettings {
  /** The secret last path segment of the endpoint URL; none configured: no token is taken (development). */
  token: string | undefined;
  organizationId: string | undefined;
  limits?: OutboundLimits;
}

/** Admission before the body is read: the URL token, then the declared size. */
export function admitOutboundMessage(head: WebhookHead, settings: OutboundSettings): AdmitResult {
  const token = checkToken(head.urlToken, settings.token);
  if (!token.ok) return { ok: false, status: 401, reason: token.reason };
  const declared = Number(headerValue(head.headers, 'content-length'));
  if (declared > (settings.limits ?? OUTBOUND_LIMITS).maxBytes) return { ok: false, status: 413, reason: REFUSED.tooLarge };
  return { ok: true };
}

/** Compares two org ids in constant time (15- and 18-character forms match). */
export function sameOrganization(a: string, b: string): boolean {
  return secretsEqual(a.slice(0, 15), b.slice(0, 15));
}

/**
 * Checks a message: the URL token first (before a byte of the body is looked at), then the
 * size, then reads it (bounded) and checks the org. Failure is a value with fixed text; on
 * success the message read is returned, so that `parse` does not read it again.
 */
export function verifyOutboundMessage(
  raw: RawWebhook,
  settings: OutboundSettings,
): { ok: true; message: OutboundMessage } | { ok: false; reason: string } {
  const token = checkToken(raw.urlToken, settings.token);
  if (!token.ok) return token;
  if (!settings.organizationId) return { ok: false, reason: REFUSED.noOrganization };
  let message: OutboundMessage;
  try {
    message = readOutboundMessage(raw.body, settings.limits);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : 'unreadable Outbound Message' };
  }
  return sameOrganization(message.organizationId, settings.organizationId)
    ? { ok: true, message }
    : { ok: false, reason: REFUSED.otherOrganization };
}

const SOAP_ENVELOPE = 'http://schemas.xmlsoap.org/soap/envelope/';

/** The acknowledgement Salesforce waits for; without it, it sends the message again. */
export function ackReply(): WebhookReply {
  return {
    status: 200,
    contentType: 'text/xml; charset=utf-8',
    body:
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<soapenv:Envelope xmlns:soapenv="${SOAP_ENVELOPE}"><soapenv:Body>` +
      '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>' +
      '</soapenv:Body></soapenv:Envelope>',
  };
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A SOAP 1.1 fault (HTTP 500), for a message that was refused; Salesforce retries it later. */
export function soapFault(reason: string, code: 'Client' | 'Server' = 'Client'): WebhookReply {
  return {
    status: 500,
    contentType: 'text/xml; charset=utf-8',
    body:
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<soapenv:Envelope xmlns:soapenv="${SOAP_ENVELOPE}"><soapenv:Body><soapenv:Fault>` +
      `<faultcode>soapenv:${code}</faultcode><faultstring>${escapeXml(reason.slice(0, 500))}</faultstring>` +
      '</soapenv:Fault></soapenv:Body></soapenv:Envelope>',
  };
}

/** An engine event with the notification ids it stands for. */
export interface MappedEvent {
  event: WebhookEvent;
  notificationIds: string[];
}

function stableId(prefix: string, ids: readonly string[]): string {
  const sorted = [...ids].sort();
  return `${prefix}:${createHash('sha256').update(sorted.join(',')).digest('hex').slice(0, 32)}`;
}

/** Kinds of related objects whose notifications name people only indirectly. */
export const RELATED_OBJECTS = ['Individual', 'ContactPointTypeConsent'] as const;

/**
 * Turns notifications into engine events that only name records, for the engine to read back:
 * the person's own notifications become one `changed` event naming them as `<object>:<id>`
 * (`read` reads that record alone); Individual and ContactPointTypeConsent notifications one
 * naming them as `Individual:<id>` and `ContactPointTypeConsent:<id>` (`read` finds their
 * people). None is marked as our echo: the
 * records are read and compared field by field. Event ids derive from the notification ids, so
 * a redelivery of the same notifications has the same event ids. Notifications of other
 * objects are ignored. `at` is when the hub received the message (the read decides the times).
 */
export function toWebhookEvents(
  notifications: readonly OutboundNotification[],
  options: { object: string; receivedAt: string },
): { events: MappedEvent[]; ignored: number } {
  const people = notifications.filter((n) => n.object === options.object);
  const related = notifications.filter((n) => (RELATED_OBJECTS as readonly string[]).includes(n.object));
  const events: MappedEvent[] = [];
  if (people.length > 0) {
    const ids = people.map((n) => n.id);
    events.push({
      event: {
        kind: 'changed',
        eventId: stableId('om', ids),
        externalIds: [...new Set(people.map((n) => `${n.object}:${n.recordId}`))],
        at: options.receivedAt,
      },
      notificationIds: ids,
    });
  }
  if (related.length > 0) {
    const ids = related.map((n) => n.id);
    events.push({
      event: {
        kind: 'changed',
        eventId: stableId('om-related', ids),
        externalIds: [...new Set(related.map((n) => `${n.object}:${n.recordId}`))],
        at: options.receivedAt,
      },
      notificationIds: ids,
    });
  }
  return { events, ignored: notifications.length - people.length - related.length };
}

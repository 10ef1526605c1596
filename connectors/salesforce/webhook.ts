/**
 * Outbound Messages: Salesforce's SOAP `notifications` call, up to 100 `Notification`s of one
 * object, each with its id and the record's selected fields. There is no signature: a message
 * is accepted when it names the configured OrganizationId. Notification ids are remembered
 * once the events are safely enqueued, so a redelivery (Salesforce retries until it gets an
 * Ack, for up to 24 hours) is dropped. The answer is the `notificationsResponse` with
 * `<Ack>true</Ack>`; anything that cannot be read gets a SOAP fault and nothing is enqueued.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_listener.htm
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ExternalRecord, RawWebhook, VerifyResult, WebhookEvent, WebhookReply } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { RawRecord } from './read.js';

/** Salesforce sends at most 100 notifications per message. */
export const MAX_NOTIFICATIONS = 100;

/** One notification as sent: its id, the object type, and the record's fields as text (`null` when nil). */
export interface OutboundNotification {
  id: string;
  object: string;
  fields: Record<string, string | null>;
}

export interface OutboundMessage {
  organizationId: string;
  actionId: string;
  notifications: OutboundNotification[];
}

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => name === 'Notification',
});

function fail(message: string): never {
  throw new MalformedPayloadError(`Outbound Message refused: ${message}`);
}

function child(node: unknown, name: string): unknown {
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[name] : undefined;
}

function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  const t = child(node, '#text');
  return typeof t === 'string' ? t : undefined;
}

const ID = /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/;

/** Parses an Outbound Message with a real XML parser; throws `MalformedPayloadError` on anything else. */
export function parseOutboundMessage(body: Buffer): OutboundMessage {
  const xml = body.toString('utf8');
  // SOAP forbids a DOCTYPE; refusing it also rules out entity expansion attacks.
  if (/<!DOCTYPE/i.test(xml)) fail('a DOCTYPE is not allowed');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) fail(`not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  const doc = parser.parse(xml) as unknown;
  const notifications = child(child(child(doc, 'Envelope'), 'Body'), 'notifications');
  if (notifications === undefined || notifications === null || typeof notifications !== 'object') fail('no soapenv:Envelope/soapenv:Body/notifications element');
  const organizationId = text(child(notifications, 'OrganizationId'));
  if (!organizationId || !ID.test(organizationId)) fail('OrganizationId missing or not an id');
  const actionId = text(child(notifications, 'ActionId')) ?? '';
  const list = child(notifications, 'Notification');
  const items = Array.isArray(list) ? list : [];
  if (items.length === 0) fail('no Notification');
  if (items.length > MAX_NOTIFICATIONS) fail(`${items.length} notifications (at most ${MAX_NOTIFICATIONS})`);
  const out: OutboundNotification[] = [];
  for (const item of items) {
    const id = text(child(item, 'Id'));
    if (!id || !ID.test(id)) fail('a Notification without an Id');
    const sObject = child(item, 'sObject');
    if (sObject === null || typeof sObject !== 'object') fail(`Notification ${id} has no sObject`);
    const type = child(sObject, '@_type');
    const object = typeof type === 'string' ? type.replace(/^.*:/, '') : '';
    if (!object) fail(`Notification ${id} has an sObject without xsi:type`);
    const fields: Record<string, string | null> = {};
    for (const [name, value] of Object.entries(sObject as Record<string, unknown>)) {
      if (name.startsWith('@_') || name === '#text') continue;
      if (child(value, '@_nil') === 'true') fields[name] = null;
      else {
        const v = text(value);
        if (v === undefined && value !== '') fail(`Notification ${id}: field ${name} is not a simple value`);
        fields[name] = v ?? '';
      }
    }
    if (!fields['Id'] || !ID.test(fields['Id'])) fail(`Notification ${id} has an sObject without an Id`);
    out.push({ id, object, fields });
  }
  return { organizationId, actionId, notifications: out };
}

/** Compares two org ids in constant time (15- and 18-character forms match). */
export function sameOrganization(a: string, b: string): boolean {
  const x = Buffer.from(a.slice(0, 15));
  const y = Buffer.from(b.slice(0, 15));
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks that a message comes from the configured org. Failure is a value. */
export function verifyOutboundMessage(raw: RawWebhook, organizationId: string | undefined): VerifyResult {
  if (!organizationId) return { ok: false, reason: 'no organizationId configured for Outbound Messages' };
  let message: OutboundMessage;
  try {
    message = parseOutboundMessage(raw.body);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : 'unreadable Outbound Message' };
  }
  return sameOrganization(message.organizationId, organizationId) ? { ok: true } : { ok: false, reason: 'Outbound Message from another organization' };
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

export interface ToEventsOptions {
  /** The object people are kept in (`Contact` or `Lead`). */
  object: string;
  /** Turns a person's notified fields into records (the person's own part). */
  toRecord(fields: RawRecord): ExternalRecord | undefined;
  now: () => number;
}

function stableId(prefix: string, ids: readonly string[]): string {
  const sorted = [...ids].sort();
  return `${prefix}:${createHash('sha256').update(sorted.join(',')).digest('hex').slice(0, 32)}`;
}

/** Kinds of related objects whose notifications name people only indirectly. */
export const RELATED_OBJECTS = ['Individual', 'ContactPointTypeConsent'] as const;

/**
 * Turns notifications into engine events: the person's own notifications become one `records`
 * event (the fields they carry), Individual and ContactPointTypeConsent notifications one
 * `changed` event naming them (`Individual:<id>`, `ContactPointTypeConsent:<id>`: `read`
 * finds their people). Event ids derive from the notification ids, so a redelivery of the same
 * notifications has the same event ids. Notifications of other objects are ignored.
 */
export function toWebhookEvents(notifications: readonly OutboundNotification[], options: ToEventsOptions): { events: MappedEvent[]; ignored: number } {
  const people = notifications.filter((n) => n.object === options.object);
  const related = notifications.filter((n) => (RELATED_OBJECTS as readonly string[]).includes(n.object));
  const events: MappedEvent[] = [];
  if (people.length > 0) {
    const records = people.flatMap((n) => {
      const r = options.toRecord(n.fields);
      return r ? [r] : [];
    });
    const ids = people.map((n) => n.id);
    if (records.length > 0) events.push({ event: { kind: 'records', eventId: stableId('om', ids), records }, notificationIds: ids });
  }
  if (related.length > 0) {
    const ids = related.map((n) => n.id);
    // Never marked as our echo, even when the integration user modified them last: that names
    // the last writer of the whole record, not of each field (a rep's edit saved moments before
    // our write is in it too). The records are read and compared field by field.
    const stamps = related.map((n) => Date.parse((n.fields['LastModifiedDate'] ?? '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'))).filter((t) => !Number.isNaN(t));
    events.push({
      event: {
        kind: 'changed',
        eventId: stableId('om-related', ids),
        externalIds: [...new Set(related.map((n) => `${n.object}:${n.fields['Id'] ?? ''}`))],
        at: new Date(stamps.length > 0 ? Math.max(...stamps) : options.now()).toISOString(),
      },
      notificationIds: ids,
    });
  }
  return { events, ignored: notifications.length - people.length - related.length };
}


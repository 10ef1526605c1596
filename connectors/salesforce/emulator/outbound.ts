/**
 * Outbound Messages: every change to a watched object queues a notification; notifications of
 * one object are sent together (up to 100 per SOAP `notifications` call), carrying the
 * record's current field values (a change made after queueing is what gets delivered, as in
 * Salesforce), and are sent again until the listener answers with `<Ack>true</Ack>`.
 * Batching, retries, pause and redelivery are the emulator kit's `WebhookDeliveryLoop`.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 */
import { XMLParser } from 'fast-xml-parser';
import { WebhookDeliveryLoop, type DeliveryRequest } from '../../../src/connector/emulator-kit/index.js';
import type { ChangeEntry, OrgState, StoredRecord } from './state.js';

export const MAX_NOTIFICATIONS_PER_MESSAGE = 100;
const REQUEST_TIMEOUT_MS = 10_000;

export interface QueuedNotification {
  /** The notification id (`04l...`), stable across redeliveries. */
  id: string;
  object: string;
  recordId: string;
  /** Who made the change, and the `client` of `Sforce-Call-Options` when the API call named one. */
  userId: string;
  client?: string;
}

export interface OutboundDelivery {
  /** When the answer came (or the request failed). */
  at: number;
  /** When the request was sent. */
  sentAt: number;
  object: string;
  attempt: number;
  status: number | 'error';
  acked: boolean;
  notificationIds: string[];
}

export interface OutboundSenderOptions {
  url: string | undefined;
  organizationId: string;
  baseUrl: () => string;
  apiVersion: string;
  objects: readonly string[];
  batchMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  now: () => number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** One Outbound Message SOAP envelope. Null fields are sent as `xsi:nil`. */
export function notificationsEnvelope(options: {
  organizationId: string;
  actionId: string;
  baseUrl: string;
  apiVersion: string;
  object: string;
  notifications: { id: string; record: StoredRecord }[];
}): string {
  const { organizationId, actionId, baseUrl, apiVersion, object } = options;
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    '<soapenv:Body>',
    '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">',
    `<OrganizationId>${escapeXml(organizationId)}</OrganizationId>`,
    `<ActionId>${escapeXml(actionId)}</ActionId>`,
    '<SessionId xsi:nil="true"/>',
    `<EnterpriseUrl>${escapeXml(`${baseUrl}/services/Soap/c/${apiVersion}/${organizationId}`)}</EnterpriseUrl>`,
    `<PartnerUrl>${escapeXml(`${baseUrl}/services/Soap/u/${apiVersion}/${organizationId}`)}</PartnerUrl>`,
  ];
  for (const n of options.notifications) {
    parts.push(
      '<Notification>',
      `<Id>${escapeXml(n.id)}</Id>`,
      `<sObject xsi:type="sf:${object}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`,
    );
    for (const [name, value] of Object.entries(n.record)) {
      if (name === 'IsDeleted') continue;
      parts.push(value === null ? `<sf:${name} xsi:nil="true"/>` : `<sf:${name}>${escapeXml(String(value))}</sf:${name}>`);
    }
    parts.push('</sObject>', '</Notification>');
  }
  parts.push('</notifications>', '</soapenv:Body>', '</soapenv:Envelope>');
  return parts.join('');
}

const ackParser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false });

/** Whether a listener's answer is the `notificationsResponse` with `Ack` true. */
export function isAck(body: string): boolean {
  try {
    const doc = ackParser.parse(body) as Record<string, unknown>;
    const envelope = doc['Envelope'] as Record<string, unknown> | undefined;
    const soapBody = envelope?.['Body'] as Record<string, unknown> | undefined;
    const response = soapBody?.['notificationsResponse'] as Record<string, unknown> | undefined;
    return String(response?.['Ack'] ?? '').trim() === 'true';
  } catch {
    return false;
  }
}

/**
 * Turns org changes into Outbound Message notifications on the kit's delivery loop (one group
 * per object); the signing hook writes the SOAP envelope with the records' current values, and
 * a delivery counts as received only when the listener answers with `<Ack>true</Ack>`.
 */
export class OutboundSender {
  private nextId = 1;
  private readonly actionIds = new Map<string, string>();
  readonly loop: WebhookDeliveryLoop<QueuedNotification, string, OutboundDelivery>;

  constructor(
    private readonly state: OrgState,
    private readonly opts: OutboundSenderOptions,
  ) {
    opts.objects.forEach((o, i) => this.actionIds.set(o, `04k5e00000${String(i + 1).padStart(5, '0')}AAA`));
    this.loop = new WebhookDeliveryLoop<QueuedNotification, string, OutboundDelivery>({
      url: opts.url,
      idOf: (n) => n.id,
      groupOf: (n) => n.object,
      maxPerRequest: MAX_NOTIFICATIONS_PER_MESSAGE,
      batchMs: opts.batchMs,
      maxAttempts: opts.maxAttempts,
      retryBaseMs: opts.retryBaseMs,
      retryMaxMs: opts.retryMaxMs,
      timeoutMs: REQUEST_TIMEOUT_MS,
      sign: (group) => this.envelope(group),
      acknowledged: (status, body) => status === 200 && isAck(body),
      logEntry: ({ at, sentAt, items, attempt, status, acked }) => ({
        at,
        sentAt,
        object: items[0]?.object ?? 'Contact',
        attempt,
        status,
        acked,
        notificationIds: items.map((n) => n.id),
      }),
      now: opts.now,
    });
  }

  notify(change: ChangeEntry): void {
    if (!this.loop.accepting || change.kind === 'deleted' || !this.opts.objects.includes(change.object)) return;
    this.loop.enqueue({
      id: `04l5e0000${String(this.nextId++).padStart(6, '0')}AAA`,
      object: change.object,
      recordId: change.id,
      userId: change.userId,
      ...(change.client ? { client: change.client } : {}),
    });
  }

  /** The SOAP request for one object's notifications; the current values are sent, a record deleted meanwhile is left out. */
  private envelope(group: readonly QueuedNotification[]): DeliveryRequest | undefined {
    const object = group[0]?.object ?? 'Contact';
    const notifications = group.flatMap((n) => {
      const record = this.state.get(n.object, n.recordId);
      return record ? [{ id: n.id, record }] : [];
    });
    if (notifications.length === 0) return undefined;
    const body = notificationsEnvelope({
      organizationId: this.opts.organizationId,
      actionId: this.actionIds.get(object) ?? '04k5e0000000000AAA',
      baseUrl: this.opts.baseUrl(),
      apiVersion: this.opts.apiVersion,
      object,
      notifications,
    });
    return {
      headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""', 'User-Agent': 'Salesforce - Concord emulator' },
      body,
    };
  }
}

/**
 * Outbound Messages: every change to a watched object queues a notification; notifications of
 * one object are sent together (up to 100 per SOAP `notifications` call), carrying the
 * record's current field values (a change made after queueing is what gets delivered, as in
 * Salesforce), and are sent again until the listener answers with `<Ack>true</Ack>`.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_wsdl.htm
 */
import { XMLParser } from 'fast-xml-parser';
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
  at: number;
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
    parts.push('<Notification>', `<Id>${escapeXml(n.id)}</Id>`, `<sObject xsi:type="sf:${object}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`);
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

export class OutboundSender {
  private pending: QueuedNotification[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private paused = false;
  private closed = false;
  private nextId = 1;
  private readonly deliveries: OutboundDelivery[] = [];
  /** Every notification ever queued, by id, for redelivery. */
  private readonly sent = new Map<string, QueuedNotification>();
  private readonly actionIds = new Map<string, string>();

  constructor(
    private readonly state: OrgState,
    private readonly opts: OutboundSenderOptions,
  ) {
    opts.objects.forEach((o, i) => this.actionIds.set(o, `04k5e00000${String(i + 1).padStart(5, '0')}AAA`));
  }

  setUrl(url: string | undefined): void {
    this.opts.url = url;
  }

  notify(change: ChangeEntry): void {
    if (!this.opts.url || this.closed || change.kind === 'deleted' || !this.opts.objects.includes(change.object)) return;
    const n: QueuedNotification = {
      id: `04l5e0000${String(this.nextId++).padStart(6, '0')}AAA`,
      object: change.object,
      recordId: change.id,
      userId: change.userId,
      ...(change.client ? { client: change.client } : {}),
    };
    this.sent.set(n.id, n);
    this.pending.push(n);
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /** Forgets notifications not sent yet (seeding an org without announcing it). */
  dropPending(): void {
    for (const n of this.pending) this.sent.delete(n.id);
    this.pending = [];
  }

  /** Sends the given notifications again in one message (same ids), as Salesforce's retries do. */
  redeliver(ids: readonly string[]): void {
    const list = ids.map((id) => this.sent.get(id)).filter((n): n is QueuedNotification => n !== undefined);
    const byObject = new Map<string, QueuedNotification[]>();
    for (const n of list) byObject.set(n.object, [...(byObject.get(n.object) ?? []), n]);
    for (const group of byObject.values()) this.track(this.deliver(group, 1));
  }

  log(): readonly OutboundDelivery[] {
    return this.deliveries;
  }

  notifications(): QueuedNotification[] {
    return [...this.sent.values()];
  }

  /** Resolves once nothing is pending, in flight or waiting for a retry. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.timer || (this.pending.length > 0 && !this.paused)) this.flushNow();
      if (this.inFlight.size === 0 && this.retryTimers.size === 0 && (this.pending.length === 0 || this.paused)) return;
      await Promise.race([...this.inFlight, new Promise((r) => setTimeout(r, 10))]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.pending = [];
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(): void {
    if (this.paused || this.timer || this.closed || this.pending.length === 0) return;
    this.timer = setTimeout(() => this.flushNow(), this.opts.batchMs);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.paused) return;
    const byObject = new Map<string, QueuedNotification[]>();
    for (const n of this.pending.splice(0)) byObject.set(n.object, [...(byObject.get(n.object) ?? []), n]);
    for (const list of byObject.values()) {
      for (let i = 0; i < list.length; i += MAX_NOTIFICATIONS_PER_MESSAGE) this.track(this.deliver(list.slice(i, i + MAX_NOTIFICATIONS_PER_MESSAGE), 1));
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async deliver(group: QueuedNotification[], attempt: number): Promise<void> {
    const url = this.opts.url;
    if (!url || this.closed) return;
    const object = group[0]?.object ?? 'Contact';
    // The current values are sent; a record deleted meanwhile is left out.
    const notifications = group.flatMap((n) => {
      const record = this.state.get(n.object, n.recordId);
      return record ? [{ id: n.id, record }] : [];
    });
    if (notifications.length === 0) return;
    const body = notificationsEnvelope({
      organizationId: this.opts.organizationId,
      actionId: this.actionIds.get(object) ?? '04k5e0000000000AAA',
      baseUrl: this.opts.baseUrl(),
      apiVersion: this.opts.apiVersion,
      object,
      notifications,
    });
    let status: number | 'error';
    let acked = false;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""', 'User-Agent': 'Salesforce - Concord emulator' },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      status = res.status;
      acked = res.status === 200 && isAck(text);
    } catch {
      status = 'error';
    }
    this.deliveries.push({ at: this.opts.now(), object, attempt, status, acked, notificationIds: group.map((n) => n.id) });
    if (this.deliveries.length > 1000) this.deliveries.shift();
    if (!acked && attempt < this.opts.maxAttempts && !this.closed) {
      const delay = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (attempt - 1));
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        this.track(this.deliver(group, attempt + 1));
      }, delay);
      this.retryTimers.add(t);
    }
  }
}

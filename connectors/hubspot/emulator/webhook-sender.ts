/**
 * Sends HubSpot webhooks: JSON arrays of up to 100 events, signed with v3 (and the legacy v1
 * signature HubSpot still sends), retried with backoff, `attemptNumber` counting the retries.
 * https://developers.hubspot.com/docs/api/webhooks
 */
import { createHash } from 'node:crypto';
import { signV3 } from '../signature.js';

export type SubscriptionType =
  | 'contact.creation'
  | 'contact.propertyChange'
  | 'contact.deletion'
  | 'contact.privacyDeletion'
  | 'contact.merge';

/** A change inside the emulator that HubSpot would announce. */
export interface ChangeNotice {
  subscriptionType: SubscriptionType;
  objectId: number;
  occurredAt: number;
  changeSource: string;
  sourceId?: string;
  propertyName?: string;
  propertyValue?: string;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
}

/** One event as HubSpot sends it. */
export interface WebhookPayloadEvent extends ChangeNotice {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  attemptNumber: number;
}

export interface Delivery {
  at: number;
  attemptNumber: number;
  status: number | 'error';
  eventIds: number[];
}

const SUBSCRIPTION_IDS: Record<SubscriptionType, number> = {
  'contact.creation': 1_000_001,
  'contact.propertyChange': 1_000_002,
  'contact.deletion': 1_000_003,
  'contact.privacyDeletion': 1_000_004,
  'contact.merge': 1_000_005,
};

const MAX_EVENTS_PER_REQUEST = 100;
const REQUEST_TIMEOUT_MS = 5_000;

export interface WebhookSenderOptions {
  url: string | undefined;
  clientSecret: string;
  appId: number;
  portalId: number;
  batchMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  now: () => number;
}

export class WebhookSender {
  private nextEventId = 1;
  private pending: WebhookPayloadEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<Promise<void>>();
  private retryTimers = new Set<NodeJS.Timeout>();
  private paused = false;
  private closed = false;
  private readonly deliveries: Delivery[] = [];
  /** Every event ever queued, by id, so a test can ask for a redelivery. */
  private readonly sent = new Map<number, WebhookPayloadEvent>();

  constructor(private readonly opts: WebhookSenderOptions) {}

  setUrl(url: string | undefined): void {
    this.opts.url = url;
  }

  get url(): string | undefined {
    return this.opts.url;
  }

  notify(change: ChangeNotice): void {
    if (!this.opts.url || this.closed) return;
    const event: WebhookPayloadEvent = {
      eventId: this.nextEventId++,
      subscriptionId: SUBSCRIPTION_IDS[change.subscriptionType],
      portalId: this.opts.portalId,
      appId: this.opts.appId,
      attemptNumber: 0,
      ...change,
    };
    this.sent.set(event.eventId, event);
    this.pending.push(event);
    this.schedule();
  }

  /** Holds deliveries until `resume()` (to build up a batch, or to simulate an outage). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  /** Sends the given events again (same event ids, next attempt number), like a HubSpot retry. */
  redeliver(eventIds: number[]): void {
    const events = eventIds.map((id) => this.sent.get(id)).filter((e): e is WebhookPayloadEvent => e !== undefined);
    if (events.length > 0) this.track(this.deliver(events.map((e) => ({ ...e, attemptNumber: e.attemptNumber + 1 }))));
  }

  log(): readonly Delivery[] {
    return this.deliveries;
  }

  /** Resolves once nothing is pending or in flight (scheduled retries included). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.timer || (this.pending.length > 0 && !this.paused)) {
        this.flushNow();
      }
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
    while (this.pending.length > 0) {
      const chunk = this.pending.splice(0, MAX_EVENTS_PER_REQUEST);
      this.track(this.deliver(chunk));
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async deliver(events: WebhookPayloadEvent[]): Promise<void> {
    const url = this.opts.url;
    if (!url || this.closed) return;
    const body = JSON.stringify(events);
    const timestamp = String(this.opts.now());
    const attemptNumber = events[0]?.attemptNumber ?? 0;
    let status: number | 'error';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-HubSpot-Signature-v3': signV3({ clientSecret: this.opts.clientSecret, method: 'POST', uri: url, body, timestamp }),
          'X-HubSpot-Request-Timestamp': timestamp,
          'X-HubSpot-Signature': createHash('sha256').update(this.opts.clientSecret + body).digest('hex'),
          'X-HubSpot-Signature-Version': 'v1',
        },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = 'error';
    }
    this.deliveries.push({ at: this.opts.now(), attemptNumber, status, eventIds: events.map((e) => e.eventId) });
    if (this.deliveries.length > 1000) this.deliveries.shift();
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    if (!ok && attemptNumber + 1 < this.opts.maxAttempts && !this.closed) {
      const retry = events.map((e) => ({ ...e, attemptNumber: attemptNumber + 1 }));
      const delay = this.opts.retryBaseMs * 2 ** attemptNumber;
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        this.track(this.deliver(retry));
      }, delay);
      this.retryTimers.add(t);
    }
  }
}

/**
 * Sends HubSpot webhooks: JSON arrays of up to 100 events, signed with v3 (and the legacy v1
 * signature HubSpot still sends), retried with backoff, `attemptNumber` counting the retries.
 * Batching, retries, pause and redelivery are the emulator kit's `WebhookDeliveryLoop`.
 * https://developers.hubspot.com/docs/api/webhooks
 */
import { createHash } from 'node:crypto';
import { WebhookDeliveryLoop, type DeliveryRequest } from '../../../src/connector/emulator-kit/index.js';
import { signV3 } from '../signature.js';

export type SubscriptionType =
  'contact.creation' | 'contact.propertyChange' | 'contact.deletion' | 'contact.privacyDeletion' | 'contact.merge';

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
  /** When the answer came (or the request failed). */
  at: number;
  /** When the request was sent. */
  sentAt: number;
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

/**
 * Turns emulator changes into HubSpot events on the kit's delivery loop; the signing hook
 * writes the JSON array with each event's `attemptNumber` and signs it (v3 and legacy v1).
 */
export class WebhookSender {
  private nextEventId = 1;
  readonly loop: WebhookDeliveryLoop<WebhookPayloadEvent, number, Delivery>;

  constructor(private readonly opts: WebhookSenderOptions) {
    this.loop = new WebhookDeliveryLoop<WebhookPayloadEvent, number, Delivery>({
      url: opts.url,
      idOf: (e) => e.eventId,
      maxPerRequest: MAX_EVENTS_PER_REQUEST,
      batchMs: opts.batchMs,
      maxAttempts: opts.maxAttempts,
      retryBaseMs: opts.retryBaseMs,
      timeoutMs: REQUEST_TIMEOUT_MS,
      // HubSpot numbers attempts from 0; a redelivery is a retry of the first attempt.
      redeliveryAttempt: 2,
      sign: (events, attempt, url) => this.sign(events, attempt - 1, url),
      logEntry: ({ at, sentAt, items, attempt, status }) => ({
        at,
        sentAt,
        attemptNumber: attempt - 1,
        status,
        eventIds: items.map((e) => e.eventId),
      }),
      now: opts.now,
    });
  }

  notify(change: ChangeNotice): void {
    if (!this.loop.accepting) return;
    this.loop.enqueue({
      eventId: this.nextEventId++,
      subscriptionId: SUBSCRIPTION_IDS[change.subscriptionType],
      portalId: this.opts.portalId,
      appId: this.opts.appId,
      attemptNumber: 0,
      ...change,
    });
  }

  private sign(events: readonly WebhookPayloadEvent[], attemptNumber: number, url: string): DeliveryRequest {
    const body = JSON.stringify(events.map((e) => ({ ...e, attemptNumber })));
    const timestamp = String(this.opts.now());
    const secret = this.opts.clientSecret;
    return {
      headers: {
        'Content-Type': 'application/json',
        'X-HubSpot-Signature-v3': signV3({ clientSecret: secret, method: 'POST', uri: url, body, timestamp }),
        'X-HubSpot-Request-Timestamp': timestamp,
        'X-HubSpot-Signature': createHash('sha256')
          .update(secret + body)
          .digest('hex'),
        'X-HubSpot-Signature-Version': 'v1',
      },
      body,
    };
  }
}

/**
 * The outbound webhooks aggregate: Standard Webhooks messages the hub sends to an endpoint (one
 * per connector instance that declares one), each stored until delivered or dead-lettered, and
 * the endpoint's state. A worker claims due rows under a lease and records each attempt's outcome
 * under that claim, so a worker that died leaves its rows to the next one after the lease.
 */

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
/** `pending` until a 2xx (`delivered`) or the end of the retry schedule (`dead`). */
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const WEBHOOK_ENDPOINT_STATES = ['enabled', 'disabled_gone', 'disabled_exhausted'] as const;
/** `disabled_gone`: the receiver answered 410; `disabled_exhausted`: it failed for a whole retry schedule. */
export type WebhookEndpointState = (typeof WEBHOOK_ENDPOINT_STATES)[number];

/** A message to store (`enqueueWebhooks`). */
export interface NewWebhookDelivery {
  messageId: string;
  type: string;
  /** The exact JSON text to send. */
  body: string;
}

/** A stored message with its delivery state. */
export interface WebhookDelivery {
  endpoint: string;
  messageId: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: string;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** A row a worker claimed: it holds it until `leasedUntil` (`claimId` records its outcome). */
export interface ClaimedWebhookDelivery {
  endpoint: string;
  messageId: string;
  body: string;
  /** Attempts made before this one. */
  attempts: number;
  createdAt: string;
  claimId: string;
}

export interface WebhookEndpointRecord {
  endpoint: string;
  /** SHA-256 (hex) of the URL it was registered with (the URL itself may carry a token). */
  urlSha256: string;
  state: WebhookEndpointState;
  disabledAt: string | null;
  reason: string | null;
  lastSuccessAt: string | null;
  updatedAt: string;
}

/** An endpoint with how many of its messages are in each state. */
export interface WebhookEndpointReport extends WebhookEndpointRecord {
  counts: Record<WebhookDeliveryStatus, number>;
}

/** The outcome of one attempt, recorded under its claim (`recordWebhookAttempts`). */
export type WebhookAttemptOutcome =
  /** A 2xx. */
  | { kind: 'delivered'; status: number }
  /** Any other failure with a schedule step left: due again at `nextAttemptAt`. */
  | { kind: 'retry'; status: number | null; error: string; nextAttemptAt: string }
  /** A failure after the last step: a dead letter (and the endpoint disabled if nothing got through since the message came). */
  | { kind: 'dead'; status: number | null; error: string }
  /** A 410: the endpoint is disabled, the message stays pending (due at once once re-enabled). */
  | { kind: 'gone' };

export interface WebhookAttempt {
  endpoint: string;
  messageId: string;
  claimId: string;
  /**
   * When the attempt began: a 410 or a dead letter disables the endpoint only if its state did not
   * change since (an operator who enabled it meanwhile is not overruled by an older answer).
   */
  startedAt: string;
  outcome: WebhookAttemptOutcome;
}

/** What recording a batch of attempts changed (for metrics and logs). */
export interface RecordedWebhookAttempts {
  /** Delivered messages with when they were enqueued. */
  delivered: { endpoint: string; messageId: string; createdAt: string }[];
  /** Messages dead-lettered. */
  dead: { endpoint: string; messageId: string }[];
  /** Endpoints this batch disabled, with the new state. */
  disabled: { endpoint: string; state: WebhookEndpointState }[];
}

/** Outbound webhooks as the connectors' contexts, the delivery worker and the operators use them. */
export interface WebhooksOutRepository {
  /**
   * Makes sure the endpoint has a state row (enabled when new). A disabled endpoint whose URL
   * changed is enabled again: what disabled it was said by the receiver at the old URL.
   */
  registerWebhookEndpoint(endpoint: string, url: string): Promise<WebhookEndpointRecord>;
  /** Stores messages as pending, due at once; a message id already stored is left as it is. Returns how many were new. */
  enqueueWebhooks(endpoint: string, messages: readonly NewWebhookDelivery[]): Promise<number>;
  /** The stored status of each id, in input order (`null`: not stored), and the endpoint's state (`null`: never registered). */
  webhookStatuses(
    endpoint: string,
    messageIds: readonly string[],
  ): Promise<{ state: WebhookEndpointState | null; statuses: (WebhookDeliveryStatus | null)[] }>;
  /**
   * Claims up to `limit` due pending rows of an enabled endpoint, oldest due first, for `leaseMs`
   * (safe with several workers: PostgreSQL skips rows another claim holds). None when the
   * endpoint is disabled.
   */
  claimWebhookDeliveries(endpoint: string, limit: number, leaseMs: number): Promise<ClaimedWebhookDelivery[]>;
  /** Records attempts' outcomes in one transaction; an outcome whose claim no longer holds its row changes nothing. */
  recordWebhookAttempts(attempts: readonly WebhookAttempt[]): Promise<RecordedWebhookAttempts>;
  /** Hands claimed rows back unsent (due at once), e.g. a worker's prefetched rows when it stops. */
  releaseWebhookClaims(endpoint: string, claims: readonly { messageId: string; claimId: string }[]): Promise<void>;
  /** The endpoint's state and counts; null when it was never registered. */
  webhookEndpoint(endpoint: string): Promise<WebhookEndpointReport | null>;
  /** Pending messages per endpoint (the endpoints that have any). */
  pendingWebhookCounts(): Promise<Map<string, number>>;
  /** Dead letters of the endpoint, oldest first. */
  webhookDeadLetters(endpoint: string, options?: { limit?: number }): Promise<WebhookDelivery[]>;
  /** Dead letters (all, or those of `messageIds`) back to pending with a fresh schedule; returns how many. */
  redeliverWebhooks(endpoint: string, messageIds?: readonly string[]): Promise<number>;
  /** Enables a disabled endpoint; its pending messages are due at once. Returns the state it had (null: unknown endpoint). */
  enableWebhookEndpoint(endpoint: string): Promise<WebhookEndpointState | null>;
  /** Deletes delivered rows delivered before `before` (their status reads `unknown` afterwards); returns how many. */
  purgeDeliveredWebhooks(before: string): Promise<number>;
}

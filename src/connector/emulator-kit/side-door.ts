/**
 * The part of every side door that is the same whatever the vendor: the call ledger's controls
 * and the webhook delivery loop's. An emulator's `SideDoor` extends it and adds `poison`,
 * `userChange` and what its vendor's UI offers.
 */
import type { CallCounts, CallLedger, EmulatorControls, WebhookControls } from './controls.js';
import type { WebhookDeliveryLoop } from './delivery.js';

/** A side-door action a user could not do (no such record, an invalid value); HTTP 400 over the side door. */
export class SideDoorError extends Error {}

/** Runs a side-door action for an HTTP route: a `SideDoorError` becomes a 400 answer. */
export function sideDoorAction<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SideDoorError) throw Object.assign(new Error(e.message), { statusCode: 400 });
    throw e;
  }
}

export abstract class EmulatorSideDoor<Item, EventId, Delivery> implements EmulatorControls, WebhookControls<EventId, Delivery> {
  constructor(
    protected readonly ledger: CallLedger,
    protected readonly webhooks: WebhookDeliveryLoop<Item, EventId, Delivery>,
  ) {}

  abstract poison(email: string): void;
  abstract userChange(email: string): unknown;

  calls(): CallCounts {
    return this.ledger.calls();
  }

  resetCalls(): void {
    this.ledger.reset();
  }

  rateLimitNextCall(retryAfterSeconds?: number): void {
    this.ledger.rateLimitNextCall(retryAfterSeconds);
  }

  /** Where webhooks go (none while unset: changes then send none). */
  get webhookUrl(): string | undefined {
    return this.webhooks.url;
  }

  setWebhookUrl(url: string | undefined): void {
    this.webhooks.setUrl(url);
  }

  pauseWebhooks(): void {
    this.webhooks.pause();
  }

  resumeWebhooks(): void {
    this.webhooks.resume();
  }

  /** Resolves once every webhook is delivered (acknowledged, for vendors that acknowledge) or has given up. */
  flushWebhooks(): Promise<void> {
    return this.webhooks.idle();
  }

  /** Sends these events again with the same ids, as the vendor's retries do. */
  redeliverWebhooks(ids: readonly EventId[]): void {
    this.webhooks.redeliver(ids);
  }

  webhookDeliveries(): readonly Delivery[] {
    return this.webhooks.log();
  }
}

/**
 * The vocabulary every emulator's side door speaks (`EmulatorControls`), and the call ledger
 * behind it: API calls counted per endpoint (or operation), 429s answered, and the "rate-limit
 * the next call" switch. The same names are used in process (`emulator.sideDoor`) and over
 * HTTP (`/_emulator/...`, see `server.ts`).
 */
import { z } from 'zod';

/** The API calls an emulator has served since it started (or since `resetCalls`). */
export const CallCounts = z.object({
  /** API calls received (refused ones included). */
  total: z.number().int().min(0),
  /** `METHOD /route` (or the operation's name) -> calls received (refused ones included). */
  byEndpoint: z.record(z.string(), z.number().int().min(0)),
  /** Calls refused for a rate or usage limit (HTTP 429, or the vendor's own limit answer). */
  rateLimited: z.number().int().min(0),
});
export type CallCounts = z.infer<typeof CallCounts>;

/**
 * What tests, the demo and the conformance adapter can do with any emulator, whatever the
 * vendor. Each emulator's side door implements it (and adds what its vendor's UI offers).
 */
export interface EmulatorControls {
  /** API calls served so far (a copy). */
  calls(): CallCounts;
  resetCalls(): void;
  /**
   * Answers the next API call with the vendor's rate-limit refusal (HTTP 429), with
   * `Retry-After: <retryAfterSeconds>` when given. Each call queues one refusal.
   */
  rateLimitNextCall(retryAfterSeconds?: number): void;
  /** Every API write of this address fails from now on, as the vendor rejects an invalid record. */
  poison(email: string): void;
  /**
   * Creates a record with this address as a user of the system would (in its UI), which makes
   * the system send a webhook (its kind of webhook) once delivery runs.
   */
  userChange(email: string): unknown;
  /** Resolves once every webhook queued so far is delivered (or has given up). */
  flushWebhooks(): Promise<void>;
}

/** The controls of an emulator that sends webhooks over HTTP (see `WebhookDeliveryLoop`). */
export interface WebhookControls<EventId = string, Delivery = unknown> {
  /** Where webhooks go (`undefined`: none are sent, and none are queued). */
  setWebhookUrl(url: string | undefined): void;
  /** Holds deliveries until `resumeWebhooks` (to build up a batch, or to simulate an outage). */
  pauseWebhooks(): void;
  resumeWebhooks(): void;
  /** Sends these events again, with the same ids, as the vendor's retries do. */
  redeliverWebhooks(ids: readonly EventId[]): void;
  /** The delivery attempts so far (the last 1,000), oldest first. */
  webhookDeliveries(): readonly Delivery[];
}

/** A rate-limit refusal queued by `rateLimitNextCall`. */
export interface InjectedRateLimit {
  /** Sent as `Retry-After` when given. */
  retryAfterSeconds?: number;
}

/** The mutable counters and switches an emulator's server and side door share. */
export class CallLedger {
  private total = 0;
  private readonly byEndpoint = new Map<string, number>();
  private rateLimited = 0;
  private readonly injected: InjectedRateLimit[] = [];

  /** Counts one call of `endpoint`; `total: false` lists it per endpoint only (e.g. token requests). */
  count(endpoint: string, options: { total?: boolean } = {}): void {
    this.byEndpoint.set(endpoint, (this.byEndpoint.get(endpoint) ?? 0) + 1);
    if (options.total !== false) this.total += 1;
  }

  /** Counts one call refused for a limit. */
  refused(): void {
    this.rateLimited += 1;
  }

  /** Queues a rate-limit refusal for the next API call. */
  rateLimitNextCall(retryAfterSeconds?: number): void {
    this.injected.push(retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
  }

  /** The refusal queued for this call, if any (counted as refused). */
  takeInjected(): InjectedRateLimit | undefined {
    const forced = this.injected.shift();
    if (forced) this.refused();
    return forced;
  }

  calls(): CallCounts {
    return { total: this.total, byEndpoint: Object.fromEntries(this.byEndpoint), rateLimited: this.rateLimited };
  }

  reset(): void {
    this.total = 0;
    this.byEndpoint.clear();
    this.rateLimited = 0;
  }
}

/** `METHOD /route` for a request: the route's pattern when it matched one, else the path. */
export function endpointOf(req: { method: string; url: string; routeOptions: { url?: string | undefined } }): string {
  return `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
}

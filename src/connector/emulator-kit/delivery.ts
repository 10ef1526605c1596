/**
 * The webhook delivery loop every emulator shares: changes are queued, gathered for `batchMs`
 * and sent in requests of at most `maxPerRequest` items (one group at a time, e.g. one
 * Salesforce object per Outbound Message), retried with exponential backoff until the receiver
 * acknowledges or `maxAttempts` is reached, and can be paused, resumed, flushed and redelivered.
 * The vendor's wire format is a hook: `sign` builds each request (body, headers, signature).
 */

/** One HTTP request the loop sends: the vendor's body and headers (signature included). */
export interface DeliveryRequest {
  headers: Record<string, string>;
  body: string;
}

/** What the loop reports of one delivery attempt, for the vendor's delivery log. */
export interface DeliveryAttempt<Item> {
  /** When the answer came (or the request failed). */
  at: number;
  /** When the request was sent: a receiver may have handled it well before its answer is logged. */
  sentAt: number;
  items: readonly Item[];
  /** 1 for the first attempt. */
  attempt: number;
  /** The receiver's HTTP status, or `error` when the request failed (refused, reset, timed out). */
  status: number | 'error';
  /** Whether the receiver acknowledged it (`acknowledged`). */
  acked: boolean;
}

export interface WebhookDeliveryOptions<Item, Id, Delivery> {
  /** Where webhooks go; nothing is queued or sent while absent. */
  url: string | undefined;
  /** The item's id, stable across retries and redeliveries. */
  idOf(item: Item): Id;
  /** Items of one group are sent together (default: all in one group). */
  groupOf?(item: Item): string;
  /** Items per request at most. */
  maxPerRequest: number;
  /** Items are gathered this long before a delivery. */
  batchMs: number;
  /** Attempts per request before giving up. */
  maxAttempts: number;
  /** The wait before attempt `n + 1` is `min(retryMaxMs, retryBaseMs * 2^(n - 1))`. */
  retryBaseMs: number;
  retryMaxMs?: number;
  /** Per request. */
  timeoutMs: number;
  /**
   * The signing hook: the request for these items at this attempt (1 = first), signed the
   * vendor's way; `undefined` when there is nothing to send (nothing is logged then).
   */
  sign(items: readonly Item[], attempt: number, url: string): DeliveryRequest | undefined;
  /** Whether the receiver's answer acknowledges the request (default: every 2xx status). */
  acknowledged?(status: number, body: string): boolean;
  /** The vendor's log entry for one attempt. */
  logEntry(attempt: DeliveryAttempt<Item>): Delivery;
  /** The attempt number a redelivery is sent as (default 1). */
  redeliveryAttempt?: number;
  now(): number;
}

const MAX_LOG = 1000;

export class WebhookDeliveryLoop<Item, Id, Delivery> {
  private pending: Item[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private paused = false;
  private closed = false;
  private readonly deliveries: Delivery[] = [];
  /** Every item ever queued, by id, for redelivery. */
  private readonly sent = new Map<Id, Item>();

  constructor(private readonly opts: WebhookDeliveryOptions<Item, Id, Delivery>) {}

  get url(): string | undefined {
    return this.opts.url;
  }

  setUrl(url: string | undefined): void {
    this.opts.url = url;
  }

  /** Whether `enqueue` takes items (a URL is set and the loop is not closed). */
  get accepting(): boolean {
    return this.opts.url !== undefined && this.opts.url !== '' && !this.closed;
  }

  /** Queues an item for the next batch (ignored unless `accepting`). */
  enqueue(item: Item): void {
    if (!this.accepting) return;
    this.sent.set(this.opts.idOf(item), item);
    this.pending.push(item);
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

  /** Forgets the items not sent yet (seeding a system without announcing it). */
  dropPending(): void {
    for (const item of this.pending) this.sent.delete(this.opts.idOf(item));
    this.pending = [];
  }

  /** Sends the given items again, one request per group, with their ids (unknown ids are skipped). */
  redeliver(ids: readonly Id[]): void {
    const items = ids.map((id) => this.sent.get(id)).filter((i): i is Item => i !== undefined);
    for (const group of this.groups(items)) this.track(this.deliver(group, this.opts.redeliveryAttempt ?? 1));
  }

  /** The delivery attempts so far (the last 1,000), oldest first. */
  log(): readonly Delivery[] {
    return this.deliveries;
  }

  /** Every item ever queued (redeliverable), in queueing order. */
  items(): Item[] {
    return [...this.sent.values()];
  }

  /** Resolves once nothing is pending, in flight or waiting for a retry (paused items stay pending). */
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

  private groups(items: readonly Item[]): Item[][] {
    const groupOf = this.opts.groupOf;
    if (!groupOf) return items.length > 0 ? [[...items]] : [];
    const byGroup = new Map<string, Item[]>();
    for (const item of items) {
      const key = groupOf(item);
      byGroup.set(key, [...(byGroup.get(key) ?? []), item]);
    }
    return [...byGroup.values()];
  }

  private schedule(): void {
    if (this.paused || this.timer || this.closed || this.pending.length === 0) return;
    this.timer = setTimeout(() => this.flushNow(), this.opts.batchMs);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.paused) return;
    const max = this.opts.maxPerRequest;
    for (const group of this.groups(this.pending.splice(0))) {
      for (let i = 0; i < group.length; i += max) this.track(this.deliver(group.slice(i, i + max), 1));
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async deliver(items: Item[], attempt: number): Promise<void> {
    const url = this.opts.url;
    if (!url || this.closed) return;
    const request = this.opts.sign(items, attempt, url);
    if (!request) return;
    let status: number | 'error';
    let acked = false;
    const sentAt = this.opts.now();
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.text();
      status = res.status;
      acked = this.opts.acknowledged ? this.opts.acknowledged(res.status, text) : res.status >= 200 && res.status < 300;
    } catch {
      status = 'error';
    }
    this.deliveries.push(this.opts.logEntry({ at: this.opts.now(), sentAt, items, attempt, status, acked }));
    if (this.deliveries.length > MAX_LOG) this.deliveries.shift();
    if (!acked && attempt < this.opts.maxAttempts && !this.closed) {
      const delay = Math.min(this.opts.retryMaxMs ?? Number.POSITIVE_INFINITY, this.opts.retryBaseMs * 2 ** (attempt - 1));
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        this.track(this.deliver(items, attempt + 1));
      }, delay);
      this.retryTimers.add(t);
    }
  }
}

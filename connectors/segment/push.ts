/**
 * Writes to Segment: one `identify` per changed profile through Segment's own client,
 * `@segment/analytics-node` (its batching, its 32 KB / 480 KB limits, its retries), at the
 * Tracking API's `/v1/batch`.
 * https://segment.com/docs/connections/sources/catalog/libraries/server/node/
 *
 * - The user id is the record's external id, else the hub's profile id (no personal data).
 * - Traits carry the mapped fields; `consent:<Category>` fields go to
 *   `context.consent.categoryPreferences` instead.
 * - `messageId` is derived from the change (instance, profile, fields and the time each value was
 *   chosen), so a retry of the same change carries the same id and Segment drops the repeat
 *   (it dedupes on messageId for about a day, across workspaces: the id is a hash, prefixed
 *   `concord-`, unique to this hub's write key and instance). A value chosen again later is a new
 *   change with a new id.
 * - A push is answered only once the client says each event was delivered (its `identify` /
 *   `error` events, which fire with the delivery's result like the per-call callback, without
 *   the callback's fixed 300 ms delay). A 429 is not waited out inside the client
 *   (`maxRateLimitDuration` 0): the engine parks the queue for its Retry-After instead.
 */
import { createHash } from 'node:crypto';
import { Analytics, type Context, type HTTPClient, type HTTPClientRequest, type HTTPResponse } from '@segment/analytics-node';
import type { PushOutcome, PushRecord } from '../../src/connector/define.js';
import { headerValue, parseRetryAfter } from '../../src/connector/kit/index.js';
import { DEFAULT_RETRY_AFTER_MS, RateLimitedError } from '../../src/connector/errors.js';
import type { Json } from '../../src/profile/schema.js';
import type { SegmentConfig } from './config.js';
import { categoryOf } from './mapping.js';

/** The prefix of every messageId the hub sends: a webhook carrying it is the hub's own event coming back. */
export const MESSAGE_ID_PREFIX = 'concord-';
/** Retries of a batch after a 5xx or a network failure, inside the client (then the engine retries). */
const CLIENT_RETRIES = 2;

/** The deterministic messageId of one change (see the module comment). */
export function messageIdOf(scope: string, record: Pick<PushRecord, 'profileId' | 'fields' | 'valuesAt'>): string {
  const hash = createHash('sha256')
    .update(scope)
    .update('\u0000')
    .update(record.profileId)
    .update('\u0000')
    .update(stableJson(record.fields))
    .update('\u0000')
    .update(stableJson(record.valuesAt ?? {}))
    .digest('base64url');
  return `${MESSAGE_ID_PREFIX}${hash.slice(0, 32)}`;
}

/** JSON with object keys sorted, so equal values hash equally. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The identify of one record: traits, every configured consent category (one the record does not
 * carry has no granted state: `false`), and the latest time a value was chosen.
 */
export function identifyOf(
  record: PushRecord,
  messageId: string,
  now: number,
  categories: readonly string[] = [],
): {
  userId: string;
  messageId: string;
  timestamp: Date;
  traits: Record<string, Json>;
  context?: { consent: { categoryPreferences: Record<string, boolean> } };
} {
  const traits: Record<string, Json> = {};
  const preferences: Record<string, boolean> = Object.fromEntries(categories.map((c) => [c, false]));
  for (const [field, value] of Object.entries(record.fields)) {
    const category = categoryOf(field);
    if (category === undefined) traits[field] = value;
    else preferences[category] = value === true;
  }
  const chosen = Object.values(record.valuesAt ?? {})
    .map((t) => Date.parse(t))
    .filter((t) => !Number.isNaN(t));
  return {
    userId: record.externalId ?? record.profileId,
    messageId,
    timestamp: new Date(chosen.length > 0 ? Math.max(...chosen) : now),
    traits,
    ...(Object.keys(preferences).length > 0 ? { context: { consent: { categoryPreferences: preferences } } } : {}),
  };
}

/**
 * The client's HTTP client for one batch: notes the answers (the client keeps statuses to
 * itself), and sends nothing once the batch is settled or its push was aborted, so a client
 * left retrying in the background can never deliver an old value after a newer one.
 */
class WatchedHttpClient implements HTTPClient {
  /** The longest Retry-After of a 429, ms; undefined when none came. */
  rateLimitedMs: number | undefined;
  private closed = false;

  constructor(
    private readonly now: () => number,
    private readonly signal: AbortSignal,
  ) {}

  /** No request is sent from now on. */
  close(): void {
    this.closed = true;
  }

  async makeRequest(options: HTTPClientRequest): Promise<HTTPResponse> {
    if (this.closed || this.signal.aborted) throw new Error('the push is over: nothing more is sent');
    // The client's request as its own fetch client sends it, also ended by the push's signal.
    const response = await fetch(options.url, {
      method: options.method,
      headers: options.headers,
      body: options.body,
      signal: AbortSignal.any([AbortSignal.timeout(options.httpRequestTimeout), this.signal]),
    });
    if (response.status === 429) {
      const ms = parseRetryAfter(headerValue(response.headers, 'retry-after'), this.now()) ?? DEFAULT_RETRY_AFTER_MS;
      this.rateLimitedMs = Math.max(this.rateLimitedMs ?? 0, ms);
    }
    return response;
  }
}

/**
 * Segment's limits (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#max-request-size),
 * checked here in bytes: the client's own checks count something else (pieces of the URI-encoded
 * JSON split on escapes and the letter "i"), so a 40 KB event or a 2 MB batch passes them and
 * Segment answers 400 for the whole batch.
 */
export const MAX_EVENT_BYTES = 32 * 1024;
/** Under Segment's 500 KB a batch, leaving room for the batch's envelope (write key, sentAt). */
export const MAX_CHUNK_BYTES = 460 * 1024;
/** What the client adds to each event (library context, `_metadata`, type; about 280 bytes measured), allowed for in the checks. */
const CLIENT_ADDS_BYTES = 384;

type Result = { ok: true } | { ok: false; reason: unknown };
type Identify = ReturnType<typeof identifyOf>;

/** Cuts events into batches of whole events under `MAX_CHUNK_BYTES`; events over `MAX_EVENT_BYTES` are left out. */
function chunksOf(events: readonly Identify[], sizes: readonly number[]): Identify[][] {
  const chunks: Identify[][] = [];
  let chunk: Identify[] = [];
  let bytes = 0;
  events.forEach((event, i) => {
    const size = sizes[i] ?? 0;
    if (size > MAX_EVENT_BYTES) return;
    if (chunk.length > 0 && bytes + size > MAX_CHUNK_BYTES) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(event);
    bytes += size;
  });
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

export class SegmentPusher {
  /** The batches being sent, for `close` to wait on. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly scope: string;
  private readonly categories: readonly string[];

  constructor(
    private readonly config: SegmentConfig,
    private readonly eventsHost: string,
    instanceId: string,
    private readonly now: () => number,
  ) {
    // Unique to this hub's source and instance, without the write key itself.
    this.scope = createHash('sha256').update(`${config.writeKey}\u0000${instanceId}`).digest('hex');
    this.categories = config.consentCategories.map((c) => c.category);
  }

  /**
   * Sends the batch and answers once each event's delivery is known. Rejects when `signal`
   * fires: nothing of the batch is sent after that, and its records stay in the outbox.
   */
  async push(batch: readonly PushRecord[], signal: AbortSignal): Promise<PushOutcome[]> {
    if (batch.length === 0) return [];
    signal.throwIfAborted();
    const events = batch.map((record) => identifyOf(record, messageIdOf(this.scope, record), this.now(), this.categories));
    const sizes = events.map((event) => Buffer.byteLength(JSON.stringify(event)) + CLIENT_ADDS_BYTES);
    const results = new Map<string, Result>();
    let rateLimitedMs: number | undefined;
    for (const chunk of chunksOf(events, sizes)) {
      // After a 429 the rest waits with it: the engine parks for the Retry-After.
      if (rateLimitedMs !== undefined) break;
      const sending = this.send(chunk, results, signal);
      this.inFlight.add(sending);
      try {
        rateLimitedMs = await sending;
      } finally {
        this.inFlight.delete(sending);
      }
      signal.throwIfAborted();
    }
    const outcomes = batch.map((record, i): PushOutcome => {
      const event = events[i];
      const userId = record.externalId ?? record.profileId;
      if ((sizes[i] ?? 0) > MAX_EVENT_BYTES)
        return {
          status: 'rejected',
          profileId: record.profileId,
          reason: `the identify is ${sizes[i]} bytes, over Segment's 32 KB an event: map fewer or shorter traits`,
          code: 'segment_event_too_large',
        };
      const result = event === undefined ? undefined : results.get(event.messageId);
      if (result?.ok === true) return { status: 'ok', profileId: record.profileId, externalId: userId };
      const message = result?.reason instanceof Error ? result.reason.message : 'not sent or not delivered before the deadline';
      // A 400 is Segment refusing the batch (sizes are checked before sending): tried again, and
      // dead-lettered by the engine when it keeps refusing.
      return {
        status: 'retryable',
        profileId: record.profileId,
        reason: `not delivered to Segment: ${message.slice(0, 120)}`,
        ...(rateLimitedMs === undefined ? {} : { retryAfterMs: rateLimitedMs }),
      };
    });
    if (rateLimitedMs !== undefined && outcomes.every((o) => o.status !== 'ok'))
      throw new RateLimitedError('rate limited by the Tracking API (HTTP 429)', { retryAfterMs: rateLimitedMs, status: 429 });
    return outcomes;
  }

  /** Waits, up to `timeoutMs`, for the batches in flight to be delivered (their pushes then answer). */
  async close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    clearTimeout(timer);
  }

  /**
   * One batch through the client, each event's result noted by its messageId; resolves with the
   * Retry-After of a 429, if one came. Closing sends what is queued at once and resolves when
   * every event has its result; past the deadline the client aborts, and what was not delivered
   * is answered retryable (a retry carries the same messageIds, so an event that did land is not
   * counted twice). Once it resolves, or the push is aborted, the client can send nothing more.
   */
  private async send(events: Identify[], results: Map<string, Result>, signal: AbortSignal): Promise<number | undefined> {
    const http = new WatchedHttpClient(this.now, signal);
    const analytics = new Analytics({
      writeKey: this.config.writeKey,
      host: this.eventsHost,
      path: '/v1/batch',
      flushAt: events.length,
      flushInterval: 1_000,
      maxRetries: CLIENT_RETRIES,
      maxRateLimitDuration: 0,
      // Each try gets its share of the deadline, so a slow one leaves room for the retries.
      httpRequestTimeout: Math.max(1_000, Math.floor(this.config.flushTimeoutMs / (CLIENT_RETRIES + 1))),
      httpClient: http,
    });
    const settle = (messageId: unknown, result: Result): void => {
      if (typeof messageId === 'string' && !results.has(messageId)) results.set(messageId, result);
    };
    analytics.on('identify', (ctx: Context) => settle(ctx.event.messageId, { ok: true }));
    analytics.on('error', (err: { code: string; reason?: unknown; ctx?: Context }) =>
      settle(err.ctx?.event.messageId, { ok: false, reason: err.reason }),
    );
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      for (const event of events) analytics.identify(event);
      await Promise.race([analytics.closeAndFlush({ timeout: this.config.flushTimeoutMs }), aborted]);
    } finally {
      http.close();
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
    return http.rateLimitedMs;
  }
}

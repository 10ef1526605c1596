/**
 * Every call to HubSpot goes through here: the official client (`@hubspot/api-client`, with
 * `basePath` pointing at HubSpot or the emulator), paced under the account's limits, with the
 * rate-limit headers read after each answer and failures turned into connector errors.
 *
 * The client's own retry and limiter options are process-global (the last client created
 * wins) and ignore Retry-After, so they are left off: a 429 becomes a `RateLimitedError` and
 * the engine parks the queue (`TEN_SECONDLY_ROLLING`: for the window; `DAILY`: until the
 * account's midnight, with a metric and an error log line an operator can alert on).
 */
import { Client } from '@hubspot/api-client';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Counter, Gauge } from 'prom-client';
import {
  classifyHttpError,
  classifyHttpStatus,
  headerValue,
  MalformedPayloadError,
  parseRetryAfter,
  RateLimitedError,
  TransientError,
} from '../../src/connector/errors.js';
import type { ConnectorContext } from '../../src/connector/define.js';
import { counterOn, gaugeOn } from '../../src/connector/metrics.js';
import type { HubSpotConfig } from './config.js';
import { Pacer, redactContacts } from '../../src/connector/kit/index.js';

const TEN_SECONDS = 10_000;

/** What a codegen `...WithHttpInfo` call resolves to. */
interface HttpInfo<T> {
  httpStatusCode: number;
  headers: Record<string, string>;
  data: T;
}

/** The client throws `ApiException` (one class per API module, so it is recognised by shape). */
function apiException(err: unknown): { code: number; body: unknown; headers: Record<string, string> } | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e.code !== 'number' || !('body' in e)) return undefined;
  const headers = typeof e.headers === 'object' && e.headers !== null ? (e.headers as Record<string, string>) : {};
  return { code: e.code, body: e.body, headers };
}

/** The hub's one e-mail redaction, here for the modules of this connector. */

function redactedBody(body: unknown): unknown {
  if (typeof body === 'string') return redactContacts(body);
  if (body === null || typeof body !== 'object') return body;
  const b = body as Record<string, unknown>;
  return typeof b.message === 'string' ? { ...b, message: redactContacts(b.message) } : body;
}

/** Milliseconds until the next midnight in `timeZone` (when HubSpot's daily limit resets). */
export function msUntilMidnight(now: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(now));
  const part = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const elapsed = ((part('hour') * 60 + part('minute')) * 60 + part('second')) * 1000 + (now % 1000);
  return Math.max(1, 86_400_000 - elapsed);
}

interface HubSpotMetrics {
  /** Calls left in the rolling 10-second window (`X-HubSpot-RateLimit-Remaining`). */
  remaining: Gauge<'instance'>;
  /** Calls left of the account's daily allowance (`X-HubSpot-RateLimit-Daily-Remaining`). */
  dailyRemaining: Gauge<'instance'>;
  /** Times the DAILY limit was hit. */
  dailyLimitHits: Counter<'instance'>;
}

/** The connector's metrics on the hub's registry (shared by every HubSpot instance of the hub). */
function hubSpotMetrics(registry: Registry): HubSpotMetrics {
  return {
    remaining: gaugeOn(registry, {
      name: 'concord_hubspot_rate_limit_remaining',
      help: "Calls left in HubSpot's rolling 10-second window (X-HubSpot-RateLimit-Remaining).",
      labelNames: ['instance'],
    }),
    dailyRemaining: gaugeOn(registry, {
      name: 'concord_hubspot_daily_remaining',
      help: "Calls left of the HubSpot account's daily API allowance (X-HubSpot-RateLimit-Daily-Remaining).",
      labelNames: ['instance'],
    }),
    dailyLimitHits: counterOn(registry, {
      name: 'concord_hubspot_daily_limit_reached_total',
      help: "Times a HubSpot instance hit the account's DAILY API limit (alert on any increase).",
      labelNames: ['instance'],
    }),
  };
}

/**
 * Slots of the 10-second window taken at once for the calls of one push (`HubSpotApi.reserve`):
 * those calls do not wait for the pacer. `left` counts the slots not used yet.
 */
export interface Reservation {
  left: number;
  at: number;
}

export class HubSpotApi {
  readonly client: Client;
  private readonly pacer: Pacer;
  private readonly searchPacer: Pacer;
  private dailyBlockedUntil = 0;
  private readonly metrics: HubSpotMetrics;

  constructor(
    private readonly config: HubSpotConfig,
    private readonly ctx: Pick<ConnectorContext<HubSpotConfig>, 'instanceId' | 'logger' | 'reportBudget' | 'metrics'>,
    private readonly now: () => number = Date.now,
  ) {
    this.metrics = hubSpotMetrics(ctx.metrics ?? new Registry());
    // No numberOfApiCallRetries, no limiterOptions: see the module comment.
    this.client = new Client({ accessToken: config.accessToken, basePath: config.baseUrl.replace(/\/+$/, '') });
    this.pacer = new Pacer({
      max: config.requestsPer10Seconds,
      windowMs: TEN_SECONDS,
      now,
      marginMs: 100,
      maxWaitMs: 15_000,
      policy: 'TEN_SECONDLY_ROLLING',
    });
    this.searchPacer = new Pacer({ max: config.searchRequestsPerSecond, windowMs: 1_000, now, marginMs: 20, policy: 'SECONDLY' });
  }

  private get logger(): Logger {
    return this.ctx.logger;
  }

  /** An operator lifted the park: forget the DAILY block and the pacers' waits after a 429. */
  unpark(): void {
    this.dailyBlockedUntil = 0;
    this.pacer.unblock();
    this.searchPacer.unblock();
  }

  /**
   * Takes the slots of `calls` standard calls at once, or throws a `RateLimitedError` (the
   * engine parks the queue) without taking any: a push must not sleep in the pacer between its
   * calls, its write open all along, nor write its properties and then find no room left for
   * their statuses.
   */
  reserve(calls: number): Reservation {
    this.checkDaily({ nothingWritten: true });
    if (calls <= 0) return { left: 0, at: this.now() };
    const taken = this.pacer.tryTake(calls);
    if ('waitMs' in taken) {
      throw new RateLimitedError(`pacing: room for ${calls} TEN_SECONDLY_ROLLING calls in ${taken.waitMs} ms`, {
        retryAfterMs: taken.waitMs,
        policy: 'TEN_SECONDLY_ROLLING',
        nothingWritten: true,
      });
    }
    return { left: calls, at: taken.at };
  }

  /**
   * Waits until the slots of `calls` standard calls fit at once and takes them: calls that
   * make one record together (a contact and its statuses) go out back to back, not seconds
   * apart with the pacer in between.
   */
  async reserveWaiting(calls: number, signal?: AbortSignal): Promise<Reservation> {
    this.checkDaily();
    if (calls <= 0) return { left: 0, at: this.now() };
    return { left: calls, at: await this.pacer.takeMany(calls, signal) };
  }

  /** Gives back the slots of a reservation its calls did not use. */
  release(reservation: Reservation): void {
    this.pacer.release(reservation.at, reservation.left);
    reservation.left = 0;
  }

  /** Runs one codegen call (`...WithHttpInfo`) within the limits (a standard call with a `reservation` uses one of its slots). */
  async call<T>(
    kind: 'standard' | 'search',
    signal: AbortSignal | undefined,
    fn: () => Promise<HttpInfo<T>>,
    reservation?: Reservation,
  ): Promise<HttpInfo<T>> {
    const { slot, sentAt } = await this.beforeCall(kind, signal, reservation);
    try {
      const info = await fn();
      this.readHeaders(info.headers, sentAt);
      return info;
    } catch (err) {
      throw this.toConnectorError(err, sentAt);
    } finally {
      this.answered(kind, slot);
    }
  }

  /** HubSpot counted the call somewhere between sending and answering: hold its slot until the answer. */
  private answered(kind: 'standard' | 'search', slot: number): void {
    const at = this.now();
    this.pacer.answered(slot, at);
    if (kind === 'search') this.searchPacer.answered(slot, at);
  }

  /** Runs one raw request through the client's `apiRequest` (for APIs the client does not wrap). */
  async request<T>(
    signal: AbortSignal | undefined,
    options: { method: string; path: string; qs?: Record<string, string>; body?: unknown },
    reservation?: Reservation,
  ): Promise<{ status: number; data: T }> {
    const { slot, sentAt } = await this.beforeCall('standard', signal, reservation);
    let res: Awaited<ReturnType<Client['apiRequest']>>;
    try {
      res = await this.client.apiRequest(options);
    } catch (err) {
      throw classifyHttpError(err);
    } finally {
      this.answered('standard', slot);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const text = await res.text();
    let data: unknown;
    try {
      data = text === '' ? undefined : JSON.parse(text);
    } catch {
      if (res.ok) throw new MalformedPayloadError(`HubSpot answered ${options.path} with a body that is not JSON`);
      data = text;
    }
    if (!res.ok) throw this.toConnectorError({ code: res.status, body: data, headers }, sentAt);
    this.readHeaders(headers, sentAt);
    return { status: res.status, data: data as T };
  }

  /**
   * Waits for the pacers (or uses a slot of the reservation); returns the slot's time (what
   * `answered` holds) and when the call goes out (what the vendor's remaining budget is read against).
   */
  private async beforeCall(
    kind: 'standard' | 'search',
    signal: AbortSignal | undefined,
    reservation?: Reservation,
  ): Promise<{ slot: number; sentAt: number }> {
    signal?.throwIfAborted();
    this.checkDaily();
    if (kind === 'standard' && reservation && reservation.left > 0) {
      reservation.left -= 1;
      return { slot: reservation.at, sentAt: this.pacer.sending() };
    }
    if (kind === 'search') await this.searchPacer.take(signal);
    const slot = await this.pacer.take(signal);
    return { slot, sentAt: slot };
  }

  /** `nothingWritten`: asked before the operation's first call (see `RateLimitedError.nothingWritten`). */
  private checkDaily(options: { nothingWritten?: boolean } = {}): void {
    const now = this.now();
    if (this.dailyBlockedUntil > now) {
      throw new RateLimitedError('HubSpot DAILY limit reached; waiting for the reset', {
        retryAfterMs: this.dailyBlockedUntil - now,
        policy: 'DAILY',
        ...options,
      });
    }
  }

  private readHeaders(headers: Record<string, string>, sentAt: number): void {
    const remaining = headerValue(headers, 'x-hubspot-ratelimit-remaining');
    const max = headerValue(headers, 'x-hubspot-ratelimit-max');
    if (remaining !== undefined && /^\d+$/.test(remaining)) {
      this.pacer.observeRemaining(Number(remaining), sentAt);
      this.metrics.remaining.set({ instance: this.ctx.instanceId }, Number(remaining));
      this.ctx.reportBudget?.({ remaining: Number(remaining), ...(max ? { max: Number(max) } : {}), window: 'TEN_SECONDLY_ROLLING' });
    }
    const dailyRemaining = headerValue(headers, 'x-hubspot-ratelimit-daily-remaining');
    const daily = headerValue(headers, 'x-hubspot-ratelimit-daily');
    if (dailyRemaining !== undefined && /^\d+$/.test(dailyRemaining)) {
      this.metrics.dailyRemaining.set({ instance: this.ctx.instanceId }, Number(dailyRemaining));
      this.ctx.reportBudget?.({
        remaining: Number(dailyRemaining),
        ...(daily ? { max: Number(daily) } : {}),
        resetAt: new Date(this.now() + msUntilMidnight(this.now(), this.config.accountTimeZone)).toISOString(),
        window: 'DAILY',
      });
    }
  }

  private toConnectorError(err: unknown, sentAt: number): Error {
    const ex = apiException(err);
    if (!ex) return classifyHttpError(err);
    this.readHeaders(ex.headers, sentAt);
    if (ex.code !== 429) {
      return (
        classifyHttpStatus(ex.code, { headers: ex.headers, body: redactedBody(ex.body) }) ??
        new TransientError(`HubSpot answered ${ex.code}`)
      );
    }
    const body = typeof ex.body === 'object' && ex.body !== null ? (ex.body as Record<string, unknown>) : {};
    const policy = typeof body.policyName === 'string' ? body.policyName : 'TEN_SECONDLY_ROLLING';
    const now = this.now();
    const retryAfter = parseRetryAfter(headerValue(ex.headers, 'retry-after'), now);
    if (policy === 'DAILY') {
      const wait = retryAfter ?? this.config.dailyLimitPark ?? msUntilMidnight(now, this.config.accountTimeZone);
      this.dailyBlockedUntil = now + wait;
      this.metrics.dailyLimitHits.inc({ instance: this.ctx.instanceId });
      const resetAt = new Date(now + wait).toISOString();
      this.ctx.reportBudget?.({ remaining: 0, resetAt, window: 'DAILY' });
      this.logger.error(
        { alert: 'hubspot_daily_limit', connector: this.ctx.instanceId, resetAt },
        "HubSpot DAILY API limit reached: this instance's push and pull queues are parked until the reset",
      );
      return new RateLimitedError('HubSpot DAILY limit reached', { retryAfterMs: wait, policy, status: 429, cause: err });
    }
    const interval = Number(headerValue(ex.headers, 'x-hubspot-ratelimit-interval-milliseconds') ?? '');
    const wait = retryAfter ?? (policy === 'SECONDLY' ? 1_000 : Number.isFinite(interval) && interval > 0 ? interval : TEN_SECONDS);
    (policy === 'SECONDLY' ? this.searchPacer : this.pacer).block(wait);
    this.logger.warn({ connector: this.ctx.instanceId, policy, retryAfterMs: wait }, 'HubSpot rate limit hit');
    return new RateLimitedError(`HubSpot ${policy} limit reached`, { retryAfterMs: wait, policy, status: 429, cause: err });
  }
}

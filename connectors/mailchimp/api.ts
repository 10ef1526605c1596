/**
 * Every call to Mailchimp goes through here: axios (not the stale official client) with Basic
 * auth (any user name, the API key as password), at most `maxInFlight` requests in flight per
 * API key across the whole process (Mailchimp allows 10 simultaneous connections per key and
 * answers 429 beyond), `Retry-After` on a 429 (the key is blocked for that long and the caller
 * gets a `RateLimitedError`, so the engine parks), a short backoff on 5xx for idempotent calls,
 * and problem+json errors (`{type, title, status, detail, instance}`) turned into connector
 * errors, with e-mail addresses removed from every vendor message.
 * https://mailchimp.com/developer/marketing/docs/errors/
 * https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
 */
import { setMaxListeners } from 'node:events';
import { createHash } from 'node:crypto';
import axios, { type AxiosInstance, type Method } from 'axios';
import { Registry, type Counter } from 'prom-client';
import type { ConnectorContext } from '../../src/connector/define.js';
import {
  classifyHttpError,
  classifyHttpStatus,
  DEFAULT_RETRY_AFTER_MS,
  headerValue,
  RateLimitedError,
  RejectedError,
  TransientError,
  type ConnectorError,
} from '../../src/connector/errors.js';
import { parseRetryAfter, redactContacts, sleep } from '../../src/connector/kit/index.js';
import { counterOn } from '../../src/connector/metrics.js';
import { apiBaseUrl, type MailchimpConfig } from './config.js';

/** Mailchimp closes a call after 120 s. */
const TIMEOUT_MS = 120_000;
/** Retries of an idempotent call after a 5xx or a network failure. */
const RETRIES = 2;
/** The longest server-suggested wait slept inside a call before it is left to the engine. */
const MAX_INLINE_WAIT_MS = 5_000;
/** Mailchimp's ceiling of pending batch operations per user. */
export const MAX_PENDING_BATCHES = 500;

/** A counting semaphore whose capacity can only shrink (the smallest `maxInFlight` for a key wins). */
export class Gate {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  /** The most requests ever in flight at once through this gate. */
  peak = 0;

  constructor(private capacity: number) {}

  lower(capacity: number): void {
    this.capacity = Math.min(this.capacity, capacity);
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.capacity && this.waiters.length === 0) {
      this.take();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.take();
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    this.active -= 1;
    this.drain();
  }

  private take(): void {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
  }

  private drain(): void {
    while (this.active < this.capacity && this.waiters.length > 0) this.waiters.shift()?.();
  }
}

/**
 * The caller's signal, allowed as many abort listeners as requests it covers: a push of 20
 * updates waits on the gate and calls axios 20 times with it, one listener each (each removed when
 * its request ends), where Node warns of a leak past 10.
 */
export function sharedSignal(signal: AbortSignal): AbortSignal {
  setMaxListeners(0, signal);
  return signal;
}

/** What the process shares per API key: the in-flight gate, the pending-batch gate, a 429 block. */
interface KeyState {
  inFlight: Gate;
  batches: Gate;
  blockedUntil: number;
}

/** Keyed by a hash of (base URL, API key): never the key itself. */
const keys = new Map<string, KeyState>();

function keyStateFor(baseUrl: string, apiKey: string, maxInFlight: number): KeyState {
  const id = createHash('sha256').update(`${baseUrl}\u0000${apiKey}`).digest('hex');
  let state = keys.get(id);
  if (state === undefined) {
    state = { inFlight: new Gate(maxInFlight), batches: new Gate(MAX_PENDING_BATCHES), blockedUntil: 0 };
    keys.set(id, state);
  } else state.inFlight.lower(maxInFlight);
  return state;
}

/** A Mailchimp problem+json body. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: { field?: string; message?: string }[];
}

/** Per-record outcomes Mailchimp gives as a 400 that no retry changes. */
export type MemberProblemCode = 'compliance_state' | 'forgotten_email' | 'too_many_signups' | 'member_archived';

/** Matched on status 400 and known titles or detail patterns, never on the exact text. */
const MEMBER_PROBLEMS: readonly [MemberProblemCode, RegExp][] = [
  ['compliance_state', /compliance state/i],
  ['forgotten_email', /forgotten email|permanently deleted|cannot be re-imported/i],
  ['too_many_signups', /signed up to a lot of lists|too many recent signup/i],
  ['member_archived', /\barchived\b/i],
];

/** The permanent per-record outcome a Mailchimp error text stands for, if any. */
export function memberProblemCode(text: string): MemberProblemCode | undefined {
  return MEMBER_PROBLEMS.find(([, pattern]) => pattern.test(text))?.[0];
}

function problemOf(body: unknown): Problem {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Problem) : {};
}

/** "title: detail" of a problem, e-mail addresses removed, bounded. */
export function problemText(body: unknown): string {
  const p = problemOf(body);
  const parts = [p.title, p.detail].filter((s): s is string => typeof s === 'string' && s !== '');
  const fields = (p.errors ?? []).map((e) => `${e.field ?? ''} ${e.message ?? ''}`.trim()).filter((s) => s !== '');
  const text = [...parts, ...fields].join(': ') || (typeof body === 'string' ? body : '');
  return redactContacts(text).slice(0, 300);
}

/**
 * The connector error of a failed answer. A 400 naming a known per-record refusal carries its
 * code (`RejectedError.reasonCode`: `compliance_state`, ...); another refusal carries the
 * problem's title.
 */
export function mailchimpError(status: number, body: unknown, headers: unknown, now: number): ConnectorError {
  const text = problemText(body);
  const p = problemOf(body);
  const code = status === 400 ? memberProblemCode(text) : undefined;
  const reasonCode = code ?? (typeof p.title === 'string' && p.title !== '' ? p.title : undefined);
  return (
    classifyHttpStatus(status, { headers, body: { message: text, ...(reasonCode ? { code: reasonCode } : {}) }, now }) ??
    new TransientError(`Mailchimp answered ${status}`, { status })
  );
}

/** The code of a permanent per-record refusal, or undefined when `err` is none. */
export function permanentMemberCode(err: unknown): string | undefined {
  if (!(err instanceof RejectedError)) return undefined;
  const known = err.reasonCode !== undefined && MEMBER_PROBLEMS.some(([code]) => code === err.reasonCode);
  if (known) return err.reasonCode;
  if (err.status === 404) return 'member_not_found';
  return err.status !== undefined && err.status >= 400 && err.status < 500 ? 'invalid_member' : undefined;
}

/** The MD5 of the lower-cased address: Mailchimp's subscriber hash. */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.trim().toLowerCase()).digest('hex');
}

export interface RequestOptions {
  params?: Record<string, string | number | boolean>;
  data?: unknown;
  signal?: AbortSignal | undefined;
  /** Answers that are not failures besides 2xx (e.g. 404 for a lookup). */
  accept?: readonly number[];
  /** Retry a 5xx or network failure (default: for GET, PUT, PATCH and DELETE). */
  idempotent?: boolean;
}

export interface Answer<T> {
  status: number;
  data: T;
}

/** One outcome label value of `concord_mailchimp_member_outcomes_total`. */
export type MemberOutcome = 'ok' | 'retryable' | 'invalid_member' | 'member_not_found' | MemberProblemCode;

export class MailchimpApi {
  readonly baseUrl: string;
  private readonly http: AxiosInstance;
  private readonly plain: AxiosInstance;
  private readonly key: KeyState;
  private readonly outcomes: Counter<'instance' | 'outcome'>;

  constructor(
    readonly config: MailchimpConfig,
    private readonly ctx: Pick<ConnectorContext<MailchimpConfig>, 'instanceId' | 'metrics'> & {
      logger?: ConnectorContext<MailchimpConfig>['logger'];
    },
    private readonly now: () => number = Date.now,
  ) {
    this.baseUrl = apiBaseUrl(config);
    this.http = axios.create({
      baseURL: this.baseUrl,
      auth: { username: 'concord', password: config.apiKey },
      timeout: TIMEOUT_MS,
      validateStatus: () => true,
      // JSON bodies, a body-less POST included (as the official client sends it).
      headers: { accept: 'application/json', 'content-type': 'application/json' },
    });
    // Result files are fetched from a signed link: no credentials go there.
    this.plain = axios.create({ timeout: TIMEOUT_MS, validateStatus: () => true });
    this.key = keyStateFor(this.baseUrl, config.apiKey, config.maxInFlight);
    const registry = ctx.metrics ?? new Registry();
    this.outcomes = counterOn(registry, {
      name: 'concord_mailchimp_member_outcomes_total',
      help: 'Mailchimp member writes by outcome (ok, retryable, and each permanent per-record refusal: compliance_state, forgotten_email, ...).',
      labelNames: ['instance', 'outcome'],
    });
  }

  /** The gate of this key's requests in flight (tests read its `peak`). */
  get gate(): Gate {
    return this.key.inFlight;
  }

  /** Counts one member write's outcome. */
  count(outcome: MemberOutcome): void {
    this.outcomes.inc({ instance: this.ctx.instanceId, outcome });
  }

  /** An operator lifted the park: forget the 429 block. */
  unpark(): void {
    this.key.blockedUntil = 0;
  }

  /** Runs `fn` while holding one of the key's pending-batch slots. */
  async withBatchSlot<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    await this.key.batches.acquire(signal);
    try {
      return await fn();
    } finally {
      this.key.batches.release();
    }
  }

  /** One API call, path relative to the base URL. Throws a `ConnectorError` on failure. */
  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const idempotent = options.idempotent ?? ['GET', 'PUT', 'PATCH', 'DELETE'].includes(method.toUpperCase());
    return this.send<T>(
      () =>
        this.http.request({
          method,
          url: path,
          ...(options.params ? { params: options.params } : {}),
          ...(options.data === undefined ? {} : { data: options.data }),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      { ...options, idempotent },
    );
  }

  /** Downloads a batch result file (an absolute, signed, short-lived link) as bytes. */
  async download(url: string, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.send<ArrayBuffer>(
      () => this.plain.request({ method: 'GET', url, responseType: 'arraybuffer', ...(signal ? { signal } : {}) }),
      { idempotent: true, signal },
    );
    return Buffer.from(res.data);
  }

  private async send<T>(
    call: () => Promise<{ status: number; data: unknown; headers: unknown }>,
    options: RequestOptions & { idempotent: boolean },
  ): Promise<Answer<T>> {
    for (let attempt = 0; ; attempt++) {
      this.checkBlocked();
      await this.key.inFlight.acquire(options.signal);
      let res: { status: number; data: unknown; headers: unknown };
      try {
        res = await call();
      } catch (err) {
        const error = classifyHttpError(err);
        if (options.signal?.aborted || !error.retryable || !options.idempotent || attempt >= RETRIES) throw stripped(error);
        await sleep(backoff(attempt), options.signal);
        continue;
      } finally {
        this.key.inFlight.release();
      }
      if (res.status < 400 || options.accept?.includes(res.status)) return { status: res.status, data: res.data as T };
      const now = this.now();
      if (res.status === 429) {
        const wait = parseRetryAfter(headerValue(res.headers, 'retry-after'), now) ?? DEFAULT_RETRY_AFTER_MS;
        this.key.blockedUntil = Math.max(this.key.blockedUntil, now + wait);
        this.ctx.logger?.warn(
          { connector: this.ctx.instanceId, retryAfterMs: wait },
          'Mailchimp rate limit hit: the API key is blocked until Retry-After',
        );
        throw new RateLimitedError(`Mailchimp rate limit (HTTP 429): ${problemText(res.data)}`, { retryAfterMs: wait, status: 429 });
      }
      const error = mailchimpError(res.status, res.data, res.headers, now);
      if (error instanceof TransientError && options.idempotent && attempt < RETRIES) {
        const suggested = error.retryAfterMs;
        await sleep(suggested !== undefined && suggested <= MAX_INLINE_WAIT_MS ? suggested : backoff(attempt), options.signal);
        continue;
      }
      throw error;
    }
  }

  /** A key blocked by a 429 refuses calls until Retry-After has passed (the engine parks). */
  private checkBlocked(): void {
    const wait = this.key.blockedUntil - this.now();
    if (wait > 0) throw new RateLimitedError(`Mailchimp rate limit: waiting ${wait} ms (Retry-After)`, { retryAfterMs: wait });
  }
}

function backoff(attempt: number): number {
  return 250 * 2 ** attempt + Math.floor(Math.random() * 100);
}

/** A client error's cause holds the request config (the Authorization header): never keep it. */
function stripped(error: ConnectorError): ConnectorError {
  return error instanceof TransientError
    ? new TransientError(error.message, error.status === undefined ? {} : { status: error.status })
    : error;
}

/**
 * The HTTP client of one `http` instance: every call goes through `safeFetch` (no private targets
 * unless `allowPrivateNetwork`, no redirects, time and size limits), carries the declared
 * authentication, is paced under the instance's `rateLimit`, and turns a failure into a
 * `ConnectorError` (429 with its `Retry-After` parks; 5xx and timeouts retry; other 4xx reject).
 */
import { getMaxListeners, setMaxListeners } from 'node:events';
import type { ConnectorError } from '../../src/connector/errors.js';
import {
  AuthError,
  BlockedTargetError,
  ConnectorConfigError,
  MalformedPayloadError,
  RateLimitedError,
  TransientError,
} from '../../src/connector/errors.js';
import { classifyHttpStatus, Pacer, redactContacts } from '../../src/connector/kit/index.js';
import { safeFetch, type SafeFetchOptions, type SafeResponse } from '../../src/connector/kit/safe-fetch.js';
import type { Json } from '../../src/profile/schema.js';
import type { HttpConfig } from './config.js';
import { isObject } from './records.js';

/** One call: a path below `baseUrl` (already expanded), or the absolute URL of a next page. */
export interface ApiCall {
  method: string;
  path?: string;
  url?: string;
  query?: readonly [string, string][];
  body?: Json;
  /** Answers with these statuses are returned, not thrown (e.g. 404 on a read). */
  accept?: readonly number[];
}

/** An answer: its status, headers and parsed JSON body (`undefined` when empty). */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: unknown;
}

/**
 * A failure of the instance, not of one record: the credentials refused, the target refused by the
 * SSRF guard, a config mistake. No retry of the record can help, so the whole call fails with it.
 */
export function failsTheInstance(error: unknown): boolean {
  return error instanceof AuthError || error instanceof BlockedTargetError || error instanceof ConnectorConfigError;
}

/** A longest pacing wait before a call parks instead (the engine retries it later). */
const MAX_PACING_WAIT_MS = 30_000;
/** Renew an OAuth2 token this long before it expires (a quarter of its life, for a token that lives under 4 minutes). */
const TOKEN_MARGIN_MS = 60_000;

/** The message and code an error body carries, without e-mail addresses. */
function errorDetail(json: unknown): { message?: string; code?: string } | undefined {
  const inner = isObject(json) && isObject(json['error']) ? json['error'] : json;
  if (!isObject(inner)) return typeof json === 'string' ? { message: redactContacts(json).slice(0, 200) } : undefined;
  const message = inner['message'] ?? (isObject(json) ? json['message'] : undefined);
  const code = inner['code'];
  return {
    ...(typeof message === 'string' ? { message: redactContacts(message).slice(0, 200) } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/**
 * A redirect, which is never followed (credentials would go with it). A permanent one (301, 308)
 * will not change by waiting: a config error naming where the system went (without its query,
 * which may carry tokens). Another may pass (a maintenance page): transient.
 */
function redirectError(status: number, location: string | null, from: URL): ConnectorError {
  if (status !== 301 && status !== 308) {
    return new TransientError(`the system answered a redirect (HTTP ${status}), which is not followed`, { status });
  }
  let target = 'another address';
  try {
    const to = new URL(location ?? '', from);
    target = `${to.origin}${to.pathname}`;
  } catch {
    // An unreadable Location: the message says "another address".
  }
  return new ConnectorConfigError(`the system moved permanently (HTTP ${status}) to ${target}; redirects are not followed: update baseUrl`);
}

export class HttpApi {
  private readonly base: URL;
  private readonly pacer: Pacer;
  private readonly fetchOptions: SafeFetchOptions;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenRequest: Promise<string> | undefined;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly config: HttpConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.base = new URL(config.baseUrl.replace(/\/+$/, ''));
    this.pacer = new Pacer({
      max: config.rateLimit.requests,
      windowMs: config.rateLimit.per,
      now,
      maxWaitMs: MAX_PACING_WAIT_MS,
      policy: 'http.rateLimit',
    });
    this.fetchOptions = {
      allowPrivateNetwork: config.allowPrivateNetwork,
      timeoutMs: config.timeout,
      maxResponseBytes: config.maxResponseBytes,
      maxRequestBytes: config.maxRequestBytes,
    };
  }

  /** The URL of a path below `baseUrl`, with its query. */
  urlOf(path: string, query: readonly [string, string][] = []): URL {
    // A URL with no path reads back as `origin/`: without the slash, `/contacts` stays `/contacts`, not `//contacts`.
    const url = new URL(this.base.href.replace(/\/+$/, '') + path);
    for (const [key, value] of query) url.searchParams.append(key, value);
    return url;
  }

  /** Makes one call; throws a `ConnectorError` unless the status is 2xx or accepted. */
  async call(call: ApiCall, signal: AbortSignal): Promise<ApiAnswer> {
    const url = call.url === undefined ? this.urlOf(call.path ?? '', call.query) : this.sameOrigin(call.url);
    await this.acquire(signal);
    try {
      await this.pacer.take(signal);
      let response = await this.send(call, url, signal);
      if (response.status === 401 && this.config.auth.type === 'oauth2') {
        // An expired or revoked token: fetch a new one once.
        this.token = undefined;
        response = await this.send(call, url, signal);
      }
      const json = this.parse(response);
      if ((response.status >= 200 && response.status < 300) || call.accept?.includes(response.status)) {
        return { status: response.status, headers: response.headers, json };
      }
      if (response.status >= 300 && response.status < 400) throw redirectError(response.status, response.headers.get('location'), url);
      const error = classifyHttpStatus(response.status, { headers: response.headers, body: errorDetail(json), now: this.now() });
      if (error instanceof RateLimitedError) this.pacer.block(error.retryAfterMs);
      throw error ?? new TransientError(`unexpected HTTP ${response.status}`, { status: response.status });
    } finally {
      this.release();
    }
  }

  /** A next-page URL the system gave must stay on its own origin (credentials go with it). */
  private sameOrigin(href: string): URL {
    const url = new URL(href, this.base);
    if (url.origin !== this.base.origin) throw new MalformedPayloadError('a next-page link points to another origin');
    return url;
  }

  private async send(call: ApiCall, url: URL, signal: AbortSignal): Promise<SafeResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...(await this.authHeaders(signal)) };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    return safeFetch(
      {
        method: call.method,
        url: url.href,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal,
      },
      this.fetchOptions,
    );
  }

  private parse(response: SafeResponse): unknown {
    if (response.body.length === 0) return undefined;
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('json')) return response.json();
    // Many systems label JSON text/plain: a body that is JSON is read as JSON, whatever the label.
    const text = response.text();
    if (!/^\s*[[{]/.test(text)) return text;
    try {
      return response.json();
    } catch {
      return text;
    }
  }

  private async authHeaders(signal: AbortSignal): Promise<Record<string, string>> {
    const auth = this.config.auth;
    switch (auth.type) {
      case 'none':
        return {};
      case 'bearer':
        return { authorization: `Bearer ${auth.token}` };
      case 'basic':
        return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
      case 'apiKey':
        return { [auth.header.toLowerCase()]: auth.key };
      case 'oauth2':
        return { authorization: `Bearer ${await this.oauthToken(auth, signal)}` };
    }
  }

  /** A client-credentials access token (RFC 6749 §4.4), kept until shortly before it expires; calls made at once share one request. */
  private oauthToken(auth: Extract<HttpConfig['auth'], { type: 'oauth2' }>, signal: AbortSignal): Promise<string> {
    if (this.token !== undefined && this.token.expiresAt > this.now()) return Promise.resolve(this.token.value);
    this.tokenRequest ??= this.fetchToken(auth, signal).finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(auth: Extract<HttpConfig['auth'], { type: 'oauth2' }>, signal: AbortSignal): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: auth.clientId, client_secret: auth.clientSecret });
    if (auth.scope !== undefined) form.set('scope', auth.scope);
    const response = await safeFetch(
      {
        method: 'POST',
        url: auth.tokenUrl,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal,
      },
      this.fetchOptions,
    );
    const json = response.body.length === 0 ? undefined : this.parse(response);
    if (response.status !== 200) {
      const error = classifyHttpStatus(response.status, { headers: response.headers, body: errorDetail(json), now: this.now() });
      if (error !== undefined && (response.status === 429 || response.status >= 500)) throw error;
      throw new AuthError(`the token endpoint refused the client credentials (HTTP ${response.status})`, { status: response.status });
    }
    const token = isObject(json) ? json['access_token'] : undefined;
    const expiresIn = isObject(json) ? json['expires_in'] : undefined;
    if (typeof token !== 'string' || token === '') throw new AuthError('the token endpoint answered without an access_token');
    const lifetimeMs = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn * 1_000 : 3_600_000;
    this.token = { value: token, expiresAt: this.now() + lifetimeMs - Math.min(TOKEN_MARGIN_MS, lifetimeMs / 4) };
    return token;
  }

  /** Takes a slot of `rateLimit.concurrency`; a caller that gives up while waiting leaves the queue at once. */
  private async acquire(signal: AbortSignal): Promise<void> {
    // Every record of a push waits on the push's one signal (and each call in flight listens to it
    // too): many listeners there are expected, not a leak.
    const wanted = this.waiting.length + this.config.rateLimit.concurrency + 10;
    if (getMaxListeners(signal) < wanted) setMaxListeners(wanted, signal);
    while (this.inFlight >= this.config.rateLimit.concurrency) {
      await new Promise<void>((resolve, reject) => {
        const aborted = () => {
          this.waiting.splice(this.waiting.indexOf(wake), 1);
          reject(new TransientError('request aborted by the caller'));
        };
        const wake = () => {
          signal.removeEventListener('abort', aborted);
          resolve();
        };
        if (signal.aborted) return reject(new TransientError('request aborted by the caller'));
        this.waiting.push(wake);
        signal.addEventListener('abort', aborted, { once: true });
      });
    }
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }

  /** Forgets a pacing block (an operator lifted the park). */
  unpark(): void {
    this.pacer.unblock();
  }
}

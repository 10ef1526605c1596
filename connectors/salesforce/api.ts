/**
 * Every call to Salesforce goes through here: jsforce's `Connection` (with `instanceUrl`
 * pointing at the org or the emulator) and `OAuth2` for the client credentials flow.
 *
 * jsforce's transport is wrapped so that:
 * - its own retries are off (it retries GET/PUT/DELETE on 429 and 5xx, ignoring Retry-After,
 *   and never POST or PATCH): retries are the engine's, driven by the connector errors;
 * - every answer's `Sforce-Limit-Info` is read (remaining daily API calls, as a metric and a
 *   budget report);
 * - every failure becomes a connector error carrying the HTTP status and Salesforce's
 *   `errorCode` (jsforce's own errors carry neither the status nor the headers);
 * - `REQUEST_LIMIT_EXCEEDED` parks the queue (`RateLimitedError`) instead of failing the job.
 * A 401 `INVALID_SESSION_ID` gets one new token and one retry.
 */
import { Connection, OAuth2, type HttpRequest, type HttpRequestOptions, type HttpResponse } from 'jsforce';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Counter, Gauge } from 'prom-client';
import type { ConnectorContext } from '../../src/connector/define.js';
import { counterOn, gaugeOn } from '../../src/connector/metrics.js';
import {
  AuthError,
  classifyHttpError,
  classifyHttpStatus,
  ConnectorError,
  headerValue,
  parseRetryAfter,
  RateLimitedError,
  TransientError,
} from '../../src/connector/errors.js';
import type { SalesforceConfig } from './config.js';
import { redactContacts } from '../../src/connector/kit/index.js';

/** Marks every write so Salesforce's logs (and the emulator) attribute it to Concord. */
export const CALL_OPTIONS_CLIENT = 'concord';

/** Key of a per-request option that receives the raw response (e.g. to read `Sforce-Locator`). */
export const RESPONSE_SINK = Symbol('salesforce.responseSink');

export type ResponseSink = (response: HttpResponse) => void;

interface ApiErrorEntry {
  message?: unknown;
  errorCode?: unknown;
  error?: unknown;
  error_description?: unknown;
}

/** The hub's one e-mail redaction, here for the modules of this connector. */

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** Salesforce's `errorCode` (or OAuth `error`) of an error body. */
export function errorCodeOf(body: unknown): string | undefined {
  const first = (Array.isArray(body) ? body[0] : body) as ApiErrorEntry | undefined;
  if (!first || typeof first !== 'object') return undefined;
  const code = first.errorCode ?? first.error;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(body: unknown): string {
  const first = (Array.isArray(body) ? body[0] : body) as ApiErrorEntry | string | undefined;
  if (typeof first === 'string') return redactContacts(first.slice(0, 300));
  const m = first?.message ?? first?.error_description;
  return typeof m === 'string' ? redactContacts(m.slice(0, 300)) : '';
}

/** A Composite subrequest's failure as a connector error, classified by its status and Salesforce's `errorCode`. */
export function subrequestError(status: number, body: unknown, now: number): ConnectorError {
  const code = errorCodeOf(body);
  const summary = { message: messageOf(body) || `HTTP ${status}`, ...(code ? { errorCode: code } : {}) };
  return (
    classifyHttpStatus(status, { body: summary, now }) ??
    new TransientError(`Salesforce answered HTTP ${status} to a subrequest`, { status })
  );
}

/** A 401 with `INVALID_SESSION_ID`: the token expired or was revoked. */
export class SessionExpiredError extends AuthError {}

/** The connector's metrics on the hub's registry (shared by every Salesforce instance of the hub). */
function salesforceMetrics(registry: Registry): { remaining: Gauge<'instance'>; limitHits: Counter<'instance'> } {
  return {
    remaining: gaugeOn(registry, {
      name: 'concord_salesforce_api_requests_remaining',
      help: "API requests left in the Salesforce org's rolling 24-hour allowance (Sforce-Limit-Info).",
      labelNames: ['instance'],
    }),
    limitHits: counterOn(registry, {
      name: 'concord_salesforce_request_limit_exceeded_total',
      help: 'Times Salesforce answered REQUEST_LIMIT_EXCEEDED (alert on any increase).',
      labelNames: ['instance'],
    }),
  };
}

/** The org and user ids of an OAuth identity URL (`https://login.salesforce.com/id/<org>/<user>`). */
export function parseIdentityUrl(id: string | undefined): { organizationId?: string; userId?: string } {
  const m = id ? /\/id\/([A-Za-z0-9]{15,18})\/([A-Za-z0-9]{15,18})\/?$/.exec(id) : null;
  return m ? { ...(m[1] ? { organizationId: m[1] } : {}), ...(m[2] ? { userId: m[2] } : {}) } : {};
}

export class SalesforceApi {
  private connection: Connection | undefined;
  private pendingToken: Promise<Connection> | undefined;
  private blockedUntil = 0;
  private readonly metrics: ReturnType<typeof salesforceMetrics>;
  /**
   * The integration user's id (config, else learned from the token's identity URL): known once
   * any call was made, so records read back can be marked by who last modified them.
   */
  integrationUserId: string | undefined;
  /** The org the token belongs to, from its identity URL: known once any call was made. */
  organizationId: string | undefined;
  /** API calls used and allowed, from the last `Sforce-Limit-Info`. */
  lastUsage: { used: number; max: number } | undefined;

  constructor(
    private readonly config: SalesforceConfig,
    private readonly ctx: Pick<ConnectorContext<SalesforceConfig>, 'instanceId' | 'logger' | 'reportBudget' | 'metrics'>,
    private readonly now: () => number = Date.now,
  ) {
    this.integrationUserId = config.integrationUserId;
    this.metrics = salesforceMetrics(ctx.metrics ?? new Registry());
  }

  /** An operator lifted the park: calls go to Salesforce again (a spent allowance answers REQUEST_LIMIT_EXCEEDED anew). */
  unpark(): void {
    this.blockedUntil = 0;
  }

  private get logger(): Logger {
    return this.ctx.logger;
  }

  /**
   * Runs one or more jsforce calls on an authenticated connection. Failures are connector
   * errors; a 401 `INVALID_SESSION_ID` gets a new token and one more try.
   */
  async call<T>(signal: AbortSignal | undefined, fn: (conn: Connection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const now = this.now();
      if (this.blockedUntil > now) {
        throw new RateLimitedError('Salesforce REQUEST_LIMIT_EXCEEDED; waiting before calling again', {
          retryAfterMs: this.blockedUntil - now,
          policy: 'REQUEST_LIMIT_EXCEEDED',
        });
      }
      const conn = await this.authorized(signal);
      try {
        return await fn(conn);
      } catch (err) {
        const e = err instanceof ConnectorError ? err : classifyHttpError(err);
        if (e instanceof SessionExpiredError && attempt === 0) {
          this.logger.info({ connector: this.ctx.instanceId }, 'Salesforce session expired; requesting a new token');
          this.dropToken(conn);
          continue;
        }
        throw e;
      }
    }
  }

  /** The connection, with a token (requested on first use). */
  private async authorized(signal: AbortSignal | undefined): Promise<Connection> {
    if (this.connection) return this.connection;
    this.pendingToken ??= this.requestToken().finally(() => {
      this.pendingToken = undefined;
    });
    const conn = await this.pendingToken;
    signal?.throwIfAborted();
    return conn;
  }

  private dropToken(conn: Connection): void {
    if (this.connection === conn) this.connection = undefined;
  }

  /**
   * OAuth 2.0 client credentials flow.
   * https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
   */
  private async requestToken(): Promise<Connection> {
    const oauth2 = new OAuth2({ loginUrl: this.config.loginUrl, clientId: this.config.clientId, clientSecret: this.config.clientSecret });
    this.wrapTransport(oauth2._transport, 'token');
    let token: Awaited<ReturnType<OAuth2['requestToken']>>;
    try {
      token = await oauth2.requestToken({ grant_type: 'client_credentials' });
    } catch (err) {
      throw err instanceof ConnectorError ? err : classifyHttpError(err);
    }
    const identity = parseIdentityUrl(token.id);
    this.integrationUserId ??= identity.userId;
    this.organizationId = identity.organizationId;
    const conn = new Connection({
      instanceUrl: this.config.instanceUrl ?? token.instance_url,
      accessToken: token.access_token,
      version: this.config.apiVersion,
      callOptions: { client: CALL_OPTIONS_CLIENT },
    });
    this.wrapTransport(conn._transport, 'api');
    this.connection = conn;
    return conn;
  }

  /** Turns jsforce's transport into ours: no retries of its own, limits read, errors classified. */
  private wrapTransport(transport: Connection['_transport'], kind: 'token' | 'api'): void {
    const original = transport.httpRequest.bind(transport);
    transport.httpRequest = (req: HttpRequest, options: HttpRequestOptions = {}) => {
      const inner = original(req, { ...options, retry: { ...options.retry, maxRetries: 0 } });
      const sink = (options as { [RESPONSE_SINK]?: ResponseSink })[RESPONSE_SINK];
      const promise = inner.then(
        (res) => {
          this.readLimits(res.headers);
          if (res.statusCode >= 400) throw this.toError(res, kind);
          sink?.(res);
          return res;
        },
        (err: unknown) => {
          throw classifyHttpError(err);
        },
      );
      // jsforce pipes request bodies into the stream of the answer it gets back.
      const stream = inner.stream();
      return Object.assign(promise, { stream: () => stream });
    };
  }

  private readLimits(headers: HttpResponse['headers']): void {
    const info = headerValue(headers, 'sforce-limit-info');
    const m = info ? /api-usage=(\d+)\/(\d+)/.exec(info) : null;
    if (!m) return;
    const used = Number(m[1]);
    const max = Number(m[2]);
    this.lastUsage = { used, max };
    this.metrics.remaining.set({ instance: this.ctx.instanceId }, Math.max(0, max - used));
    this.ctx.reportBudget?.({ remaining: Math.max(0, max - used), max, window: 'DAILY' });
  }

  private toError(res: HttpResponse, kind: 'token' | 'api'): ConnectorError {
    const body = parseBody(res.body);
    const code = errorCodeOf(body);
    const message = messageOf(body);
    const status = res.statusCode;
    if (kind === 'token' && status === 400) {
      // invalid_client, invalid_grant, unsupported_grant_type: the credentials are wrong.
      return new AuthError(`Salesforce refused the client credentials (${code ?? 'HTTP 400'}): ${message}`, { status });
    }
    if (status === 401 && (code === 'INVALID_SESSION_ID' || kind === 'api')) {
      return new SessionExpiredError(`Salesforce session invalid (${code ?? 'HTTP 401'})`, { status });
    }
    if (code === 'REQUEST_LIMIT_EXCEEDED') {
      const retryAfter = parseRetryAfter(headerValue(res.headers, 'retry-after'), this.now());
      if (status === 429 && retryAfter !== undefined) {
        return new RateLimitedError(`Salesforce rate limit (HTTP 429): ${message}`, {
          retryAfterMs: retryAfter,
          policy: 'REQUEST_LIMIT_EXCEEDED',
          status,
        });
      }
      const wait = retryAfter ?? this.config.requestLimitPark;
      this.blockedUntil = this.now() + wait;
      this.metrics.limitHits.inc({ instance: this.ctx.instanceId });
      this.ctx.reportBudget?.({
        remaining: 0,
        ...(this.lastUsage ? { max: this.lastUsage.max } : {}),
        resetAt: new Date(this.now() + wait).toISOString(),
        window: 'DAILY',
      });
      this.logger.error(
        { alert: 'salesforce_request_limit_exceeded', connector: this.ctx.instanceId, retryAfterMs: wait },
        `Salesforce REQUEST_LIMIT_EXCEEDED (${message}): this instance's queues are parked`,
      );
      return new RateLimitedError(`Salesforce REQUEST_LIMIT_EXCEEDED: ${message}`, {
        retryAfterMs: wait,
        policy: 'REQUEST_LIMIT_EXCEEDED',
        status,
      });
    }
    // The classifier reads `errorCode` and `message`; the message is passed redacted.
    const summary = { message: message || `HTTP ${status}`, ...(code ? { errorCode: code } : {}) };
    return (
      classifyHttpStatus(status, { headers: res.headers, body: summary, now: this.now() }) ??
      new TransientError(`Salesforce answered HTTP ${status}`, { status })
    );
  }
}

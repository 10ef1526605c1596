/**
 * Connector errors with stable `code` strings, and the classifier that turns an HTTP status,
 * an axios error or a network failure into one of them.
 *
 * How the engine treats them:
 * - `RateLimitedError` (`rate_limited`): park the connector's queue for `retryAfterMs`
 *   without spending an attempt.
 * - `TransientError` (`transient`): retry (p-retry inside one call, BullMQ attempts across calls).
 * - `RejectedError` (`rejected`): the request itself is wrong; do not retry, dead-letter it.
 * - `AuthError` (`auth`): credentials are missing, expired or lack a scope; do not retry blindly.
 * - `MalformedPayloadError` (`malformed_payload`): an inbound payload (webhook, API response)
 *   does not have the expected shape.
 * - `ConnectorConfigError` (`config`): the connector's configuration or mapping is invalid.
 * - `MappingValueError` (`invalid_value`): one external or canonical value cannot be converted
 *   by a mapping transform. It is returned as a value by the mapping engine, never thrown.
 * - `BlockedTargetError` (`blocked_target`), `RequestTooLargeError` (`request_too_large`),
 *   `ResponseTooLargeError` (`response_too_large`): the kit's `safeFetch` refused a call (an address
 *   the SSRF guard blocks, a body over its limit); trying again changes nothing.
 */
import { redactContacts } from '../log/logger.js';

/** Every stable code a connector error can carry. */
export type ConnectorErrorCode =
  | 'rate_limited'
  | 'transient'
  | 'rejected'
  | 'auth'
  | 'malformed_payload'
  | 'config'
  | 'invalid_value'
  | 'blocked_target'
  | 'request_too_large'
  | 'response_too_large';

/** Base class of all connector errors. Check `code` (stable) rather than the message. */
export abstract class ConnectorError extends Error {
  abstract readonly code: ConnectorErrorCode;
  /** Whether trying the same thing again later may succeed. */
  abstract readonly retryable: boolean;
  /** The HTTP status that caused it, when there was one. */
  readonly status: number | undefined;

  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options?.status;
  }
}

/** The external API refused the call because of its rate limit (HTTP 429 or equivalent). */
export class RateLimitedError extends ConnectorError {
  readonly code = 'rate_limited' as const;
  readonly retryable = true;
  /** How long to wait before the next call, from Retry-After (or a default when absent). */
  readonly retryAfterMs: number;
  /** The limit that was hit, when the API names it (e.g. HubSpot `TEN_SECONDLY_ROLLING`, `DAILY`). */
  readonly policy: string | undefined;
  /**
   * The connector stopped before its first call of this operation (its own pacer had no room):
   * nothing was written, so no write of it can come back as an echo.
   * @defaultValue false
   */
  readonly nothingWritten: boolean;

  constructor(
    message: string,
    options: { retryAfterMs: number; policy?: string; cause?: unknown; status?: number; nothingWritten?: boolean },
  ) {
    super(message, options);
    this.retryAfterMs = Math.max(0, Math.ceil(options.retryAfterMs));
    this.policy = options.policy;
    this.nothingWritten = options.nothingWritten ?? false;
  }
}

/** A failure that may succeed when tried again: 5xx, 408, timeouts, connection resets. */
export class TransientError extends ConnectorError {
  readonly code = 'transient' as const;
  readonly retryable = true;
  /** A server-suggested wait (e.g. Retry-After on a 503), when one was given. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: { retryAfterMs?: number; cause?: unknown; status?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** The external system refused the request as invalid (a 4xx other than 401/403/408/429). */
export class RejectedError extends ConnectorError {
  readonly code = 'rejected' as const;
  readonly retryable = false;
  /** The system's own error code, when it gives one (e.g. Salesforce `INVALID_EMAIL_ADDRESS`). */
  readonly reasonCode: string | undefined;

  constructor(message: string, options?: { reasonCode?: string; cause?: unknown; status?: number }) {
    super(message, options);
    this.reasonCode = options?.reasonCode;
  }
}

/** Authentication or authorization failed (401, 403): the token is wrong, expired or lacks a scope. */
export class AuthError extends ConnectorError {
  readonly code = 'auth' as const;
  readonly retryable = false;
}

/** An inbound payload (webhook body, API response) does not have the expected shape. */
export class MalformedPayloadError extends ConnectorError {
  readonly code = 'malformed_payload' as const;
  readonly retryable = false;
}

/** The connector's configuration or mapping is invalid. `issues` lists every problem found. */
export class ConnectorConfigError extends ConnectorError {
  readonly code = 'config' as const;
  readonly retryable = false;
  readonly issues: readonly string[];

  constructor(message: string, options?: { issues?: readonly string[]; cause?: unknown }) {
    super(options?.issues?.length ? `${message}: ${options.issues.join('; ')}` : message, options);
    this.issues = options?.issues ?? [];
  }
}

/**
 * `safeFetch` refused a target: the URL's host is, or resolves to, an address in a range the SSRF
 * guard blocks (private, loopback, link-local, unique-local, CGNAT, multicast, unspecified,
 * reserved) and the connector does not allow its private network.
 */
export class BlockedTargetError extends ConnectorError {
  readonly code = 'blocked_target' as const;
  readonly retryable = false;
  /** The refused address (as resolved or written in the URL). */
  readonly address: string;
  /** Its range as ipaddr.js names it (`private`, `loopback`, `linkLocal`, `carrierGradeNat`...). */
  readonly range: string;

  constructor(details: { host: string; address: string; range: string; description: string }) {
    const target = details.host === details.address ? details.address : `${details.host} resolves to ${details.address}, which`;
    super(`refused: ${target} is ${details.description} (allowPrivateNetwork is off)`);
    this.address = details.address;
    this.range = details.range;
  }
}

/** `safeFetch` refused to send a request body larger than its limit (nothing was sent). */
export class RequestTooLargeError extends ConnectorError {
  readonly code = 'request_too_large' as const;
  readonly retryable = false;
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(`request body over the ${limitBytes} byte limit: not sent`);
    this.limitBytes = limitBytes;
  }
}

/** A response body larger than `safeFetch`'s limit: reading stopped at the limit. */
export class ResponseTooLargeError extends ConnectorError {
  readonly code = 'response_too_large' as const;
  readonly retryable = false;
  readonly limitBytes: number;

  constructor(limitBytes: number, options: { status: number }) {
    super(`response body over the ${limitBytes} byte limit (HTTP ${options.status})`, options);
    this.limitBytes = limitBytes;
  }
}

/** Why a mapping transform could not convert a value. */
export type MappingValueProblem =
  | 'not_a_string'
  | 'not_a_boolean'
  | 'not_a_date'
  | 'date_out_of_range'
  | 'not_a_string_array'
  | 'unmapped_value'
  | 'not_an_identity'
  | 'not_a_consent';

/**
 * One value that a mapping could not convert. Returned as a value by `mapInbound` and
 * `mapOutbound` (the rest of the record is still mapped). The message never contains the
 * value itself, which may be personal data.
 */
export class MappingValueError extends ConnectorError {
  readonly code = 'invalid_value' as const;
  readonly retryable = false;
  readonly problem: MappingValueProblem;
  /** `inbound` (external -> canonical) or `outbound` (canonical -> external). */
  readonly direction: 'inbound' | 'outbound';
  /** The external field name. */
  readonly external: string;
  /** The canonical target, e.g. `field:firstName`, `consent:marketing.email`. */
  readonly target: string;
  /** The transform that failed, when one did (otherwise the final type check failed). */
  readonly transform: string | undefined;
  /** The JSON type of the offending value (`string`, `number`, `array`...), never the value. */
  readonly valueType: string;

  constructor(details: {
    problem: MappingValueProblem;
    direction: 'inbound' | 'outbound';
    external: string;
    target: string;
    transform?: string;
    valueType: string;
  }) {
    const via = details.transform ? ` (transform ${details.transform})` : '';
    super(`${details.direction} ${details.external} <-> ${details.target}${via}: ${details.problem} (got ${details.valueType})`);
    this.problem = details.problem;
    this.direction = details.direction;
    this.external = details.external;
    this.target = details.target;
    this.transform = details.transform;
    this.valueType = details.valueType;
  }
}

/** True when `err` is a connector error that may succeed if tried again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectorError ? err.retryable : false;
}

/** Rate-limit wait used when a 429 carries no usable Retry-After. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * Parses a Retry-After header value: delta-seconds (`"2"`, `"1.5"`) or an HTTP date
 * (`"Wed, 21 Oct 2015 07:28:00 GMT"`). Returns milliseconds to wait (never negative), or
 * `undefined` when the value is absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Reads one header case-insensitively from any common header container. */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const lower = name.toLowerCase();
  const getter = (headers as { get?: unknown }).get;
  let raw: unknown;
  if (typeof getter === 'function' && !(headers instanceof Map)) {
    raw = (getter as (n: string) => unknown).call(headers, name);
  }
  if (raw === undefined || raw === null) {
    const bag = headers instanceof Map ? Object.fromEntries(headers) : (headers as Record<string, unknown>);
    const key = Object.keys(bag).find((k) => k.toLowerCase() === lower);
    raw = key === undefined ? undefined : bag[key];
  }
  if (Array.isArray(raw)) raw = raw[0];
  if (raw === undefined || raw === null) return undefined;
  return typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : undefined;
}

/** Network-level error codes that mean "try again". */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'ERR_NETWORK',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function policyFromBody(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const policy = b['policyName'] ?? b['policy'];
  return typeof policy === 'string' ? policy : undefined;
}

function messageFromBody(body: unknown): string | undefined {
  if (typeof body === 'string') return redactContacts(body).slice(0, 200);
  if (body === null || typeof body !== 'object') return undefined;
  if (Array.isArray(body)) return messageFromBody(body[0]);
  const m = (body as Record<string, unknown>)['message'];
  return typeof m === 'string' ? redactContacts(m).slice(0, 200) : undefined;
}

function reasonCodeFromBody(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  if (Array.isArray(body)) return reasonCodeFromBody(body[0]);
  const b = body as Record<string, unknown>;
  const code = b['errorCode'] ?? b['category'] ?? b['code'];
  return typeof code === 'string' ? code : undefined;
}

/**
 * Classifies an HTTP response status. Returns `undefined` for success statuses (< 400).
 * - 429: `RateLimitedError`, wait from Retry-After (seconds or HTTP date), else
 *   `DEFAULT_RETRY_AFTER_MS`; `policy` from a `policyName` in the body (HubSpot).
 * - 401, 403: `AuthError`.
 * - 408 and every 5xx: `TransientError` (with Retry-After when given).
 * - every other 4xx: `RejectedError`.
 */
export function classifyHttpStatus(
  status: number,
  options: { headers?: unknown; body?: unknown; now?: number; cause?: unknown } = {},
): ConnectorError | undefined {
  if (status < 400) return undefined;
  const { headers, body, cause } = options;
  const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'), options.now);
  const detail = messageFromBody(body);
  const suffix = detail ? `: ${detail}` : '';
  if (status === 429) {
    const policy = policyFromBody(body);
    return new RateLimitedError(`rate limited (HTTP 429)${suffix}`, {
      retryAfterMs: retryAfterMs ?? DEFAULT_RETRY_AFTER_MS,
      status,
      cause,
      ...(policy === undefined ? {} : { policy }),
    });
  }
  if (status === 401 || status === 403) return new AuthError(`not authorized (HTTP ${status})${suffix}`, { status, cause });
  if (status === 408 || status >= 500) {
    return new TransientError(`server error (HTTP ${status})${suffix}`, {
      status,
      cause,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  const reasonCode = reasonCodeFromBody(body);
  return new RejectedError(`rejected (HTTP ${status})${suffix}`, {
    status,
    cause,
    ...(reasonCode === undefined ? {} : { reasonCode }),
  });
}

/**
 * Turns anything a client library may throw into a `ConnectorError`:
 * - a `ConnectorError` is returned as is;
 * - an error with an HTTP response (axios `err.response`, or `status`/`statusCode` on the
 *   error itself) is classified by `classifyHttpStatus`;
 * - network failures (connection reset/refused, timeouts, DNS hiccups) and aborted requests
 *   become `TransientError`;
 * - anything else also becomes `TransientError` (attempts are bounded, so an unknown failure
 *   ends in the dead-letter view rather than looping), keeping the original as `cause`.
 */
export function classifyHttpError(err: unknown, options: { now?: number } = {}): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err !== null && typeof err === 'object') {
    const e = err as Record<string, unknown>;
    const response = e['response'];
    if (response !== null && typeof response === 'object') {
      const r = response as Record<string, unknown>;
      const status = r['status'] ?? r['statusCode'];
      if (typeof status === 'number') {
        const classified = classifyHttpStatus(status, {
          headers: r['headers'],
          body: r['data'] ?? r['body'],
          now: options.now,
          cause: err,
        });
        if (classified) return classified;
      }
    }
    const status = e['status'] ?? e['statusCode'];
    if (typeof status === 'number') {
      const classified = classifyHttpStatus(status, { headers: e['headers'], body: e['body'] ?? e['data'], now: options.now, cause: err });
      if (classified) return classified;
    }
    const code = e['code'];
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) {
      return new TransientError(`network error (${code})`, { cause: err });
    }
    if (e['name'] === 'AbortError' || e['name'] === 'CanceledError' || code === 'ERR_CANCELED') {
      return new TransientError('request aborted', { cause: err });
    }
    const message = typeof e['message'] === 'string' ? e['message'] : 'unknown error';
    return new TransientError(`unexpected error: ${redactContacts(message).slice(0, 200)}`, { cause: err });
  }
  return new TransientError('unexpected non-error value thrown', { cause: err });
}

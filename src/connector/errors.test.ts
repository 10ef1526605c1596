import { AxiosError, AxiosHeaders } from 'axios';
import type { InternalAxiosRequestConfig } from 'axios';
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  ConnectorConfigError,
  DEFAULT_RETRY_AFTER_MS,
  RateLimitedError,
  RejectedError,
  TransientError,
  classifyHttpError,
  classifyHttpStatus,
  headerValue,
  isRetryable,
  parseRetryAfter,
} from './errors.js';

const now = Date.parse('2026-05-01T12:00:00.000Z');

function axiosError(status: number, headers: Record<string, string> = {}, data: unknown = {}): AxiosError {
  const config = { headers: new AxiosHeaders() } as InternalAxiosRequestConfig;
  return new AxiosError('Request failed', 'ERR_BAD_RESPONSE', config, undefined, {
    status,
    statusText: '',
    headers: new AxiosHeaders(headers),
    config,
    data,
  });
}

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 1.5 ', now)).toBe(1500);
    expect(parseRetryAfter('Fri, 01 May 2026 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Fri, 01 May 2026 11:00:00 GMT', now)).toBe(0);
  });
  it('gives undefined for absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('headerValue', () => {
  it('reads headers case-insensitively from plain objects, arrays, Maps and AxiosHeaders', () => {
    expect(headerValue({ 'Retry-After': '3' }, 'retry-after')).toBe('3');
    expect(headerValue({ 'retry-after': ['4', '5'] }, 'Retry-After')).toBe('4');
    expect(headerValue(new Map([['retry-after', '6']]), 'retry-after')).toBe('6');
    expect(headerValue(new AxiosHeaders({ 'Retry-After': '7' }), 'retry-after')).toBe('7');
    expect(headerValue(undefined, 'x')).toBeUndefined();
  });
});

describe('classifyHttpStatus', () => {
  it('maps 429 to RateLimitedError with Retry-After seconds or date, and the policy name', () => {
    const a = classifyHttpStatus(429, { headers: { 'retry-after': '3' }, body: { policyName: 'TEN_SECONDLY_ROLLING' }, now });
    expect(a).toBeInstanceOf(RateLimitedError);
    expect(a).toMatchObject({ code: 'rate_limited', retryAfterMs: 3000, policy: 'TEN_SECONDLY_ROLLING', retryable: true, status: 429 });
    const b = classifyHttpStatus(429, { headers: { 'Retry-After': 'Fri, 01 May 2026 12:00:10 GMT' }, now });
    expect(b).toMatchObject({ retryAfterMs: 10_000, policy: undefined });
    expect(classifyHttpStatus(429, {})).toMatchObject({ retryAfterMs: DEFAULT_RETRY_AFTER_MS });
  });
  it('maps 5xx and 408 to TransientError, 401/403 to AuthError, other 4xx to RejectedError', () => {
    expect(classifyHttpStatus(503, { headers: { 'retry-after': '1' } })).toMatchObject({ code: 'transient', retryAfterMs: 1000 });
    expect(classifyHttpStatus(500)).toBeInstanceOf(TransientError);
    expect(classifyHttpStatus(408)).toBeInstanceOf(TransientError);
    expect(classifyHttpStatus(401)).toBeInstanceOf(AuthError);
    expect(classifyHttpStatus(403)).toMatchObject({ code: 'auth', retryable: false });
    const rejected = classifyHttpStatus(400, { body: [{ message: 'bad email', errorCode: 'INVALID_EMAIL_ADDRESS' }] });
    expect(rejected).toBeInstanceOf(RejectedError);
    expect(rejected).toMatchObject({ code: 'rejected', reasonCode: 'INVALID_EMAIL_ADDRESS', retryable: false });
    expect(rejected?.message).toContain('bad email');
  });
  it('gives undefined for success statuses', () => {
    expect(classifyHttpStatus(200)).toBeUndefined();
    expect(classifyHttpStatus(304)).toBeUndefined();
  });
});

describe('classifyHttpError', () => {
  it('classifies axios errors by their response', () => {
    const e = classifyHttpError(axiosError(429, { 'retry-after': '2' }, { policyName: 'DAILY' }), { now });
    expect(e).toBeInstanceOf(RateLimitedError);
    expect(e).toMatchObject({ retryAfterMs: 2000, policy: 'DAILY' });
    expect(e.cause).toBeInstanceOf(AxiosError);
    expect(classifyHttpError(axiosError(502))).toBeInstanceOf(TransientError);
    expect(classifyHttpError(axiosError(422))).toBeInstanceOf(RejectedError);
  });
  it('classifies errors carrying status and headers themselves', () => {
    const e = Object.assign(new Error('HTTP 429'), { status: 429, headers: { 'retry-after': '4' } });
    expect(classifyHttpError(e)).toMatchObject({ code: 'rate_limited', retryAfterMs: 4000 });
  });
  it('treats connection resets, timeouts and aborts as transient', () => {
    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'ERR_NETWORK', 'ECONNABORTED']) {
      expect(classifyHttpError(Object.assign(new Error('net'), { code }))).toMatchObject({ code: 'transient' });
    }
    expect(classifyHttpError(new DOMException('aborted', 'AbortError'))).toBeInstanceOf(TransientError);
  });
  it('returns connector errors unchanged and wraps anything else as transient with its cause', () => {
    const config = new ConnectorConfigError('bad', { issues: ['a', 'b'] });
    expect(classifyHttpError(config)).toBe(config);
    expect(config.message).toBe('bad: a; b');
    const odd = classifyHttpError('string thrown');
    expect(odd).toBeInstanceOf(TransientError);
    expect(odd.cause).toBe('string thrown');
  });
  it('isRetryable follows the class', () => {
    expect(isRetryable(new TransientError('x'))).toBe(true);
    expect(isRetryable(new RateLimitedError('x', { retryAfterMs: 1 }))).toBe(true);
    expect(isRetryable(new RejectedError('x'))).toBe(false);
    expect(isRetryable(new Error('x'))).toBe(false);
  });
});

describe('a vendor message in an error', () => {
  // The message becomes a dead letter's reason and a log line: an address cut at 200 characters
  // before redaction left a fragment of it.
  it('loses its e-mail addresses before it is cut', () => {
    const long = `${'x'.repeat(190)} ada.lovelace@example.com is already subscribed`;
    for (const body of [long, { message: long }]) {
      const error = classifyHttpStatus(400, { body });
      expect(error?.message).not.toMatch(/ada\.lo|example\.com/);
    }
    expect(classifyHttpError(new Error(`refused for ${long}`)).message).not.toMatch(/ada\.lo|example\.com/);
  });
});

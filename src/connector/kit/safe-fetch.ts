/**
 * TEMPORARY STAND-IN (branch h19-outhooks only): the real `safeFetch` (SSRF guard, pinned
 * addresses, streamed size limits) is written by another helper; this file has its exported
 * names and types (HTTP-CONTRACT.md section 2) so outbound webhooks can be built and tested, and
 * must be replaced by the real one at merge. It only does plain fetch with `redirect: 'manual'`.
 */
import { TransientError } from '../errors.js';

export interface SafeFetchOptions {
  /** Private, loopback, link-local, unique-local, CGNAT, multicast, unspecified targets allowed (tests, the demo). @defaultValue false */
  allowPrivateNetwork?: boolean;
  /** @defaultValue 15000 */
  timeoutMs?: number;
  /** Largest response body read; more rejects with ResponseTooLargeError. @defaultValue 5 MiB */
  maxResponseBytes?: number;
  /** Largest request body sent. @defaultValue 1 MiB */
  maxRequestBytes?: number;
}

export interface SafeRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

export interface SafeResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export async function safeFetch(request: SafeRequest, options: SafeFetchOptions = {}): Promise<SafeResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      redirect: 'manual',
      signal,
      ...(request.headers ? { headers: request.headers } : {}),
      ...(request.body === undefined ? {} : { body: typeof request.body === 'string' ? request.body : new Uint8Array(request.body) }),
    });
    const body = Buffer.from(await response.arrayBuffer());
    return {
      status: response.status,
      headers: response.headers,
      body,
      text: () => body.toString('utf8'),
      json: (): unknown => JSON.parse(body.toString('utf8')),
    };
  } catch (err) {
    throw new TransientError(timeout.aborted ? 'request timed out' : 'request failed', { cause: err });
  }
}

/**
 * `safeFetch`: the HTTP client for URLs an operator configures (a generic HTTP system, a webhook
 * endpoint), guarded against server-side request forgery. It resolves the host once, refuses it when
 * any address is in a blocked range, and connects to the checked addresses only, so a DNS answer
 * that changes between the check and the connection (DNS rebinding) is never used. It follows no
 * redirect, stops at a deadline or the caller's signal, and enforces body size limits while
 * streaming. It never logs; its errors carry no header values.
 */
import { lookup as resolveHost } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { urlToHttpOptions } from 'node:url';
import ipaddr from 'ipaddr.js';
import {
  BlockedTargetError,
  ConnectorConfigError,
  ConnectorError,
  MalformedPayloadError,
  RequestTooLargeError,
  ResponseTooLargeError,
  TransientError,
  classifyHttpError,
} from '../errors.js';

export interface SafeFetchOptions {
  /**
   * Private, loopback, link-local, unique-local, CGNAT, multicast, unspecified and reserved targets
   * allowed (tests, the demo).
   * @defaultValue false
   */
  allowPrivateNetwork?: boolean;
  /**
   * Deadline for the whole call (DNS, connection, response, body).
   * @defaultValue 15000
   */
  timeoutMs?: number;
  /**
   * Largest response body read; more rejects with ResponseTooLargeError.
   * @defaultValue 5 MiB
   */
  maxResponseBytes?: number;
  /**
   * Largest request body sent; more rejects with RequestTooLargeError before anything is sent.
   * @defaultValue 1 MiB
   */
  maxRequestBytes?: number;
}

export interface SafeRequest {
  method: string;
  /** An absolute http: or https: URL. */
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

/**
 * A response of any status: a 3xx is returned as is (never followed), and 4xx/5xx are for the
 * caller to classify (`classifyHttpStatus`).
 */
export interface SafeResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The body decoded as UTF-8. */
  text(): string;
  /** The body parsed as JSON; throws MalformedPayloadError when it is not JSON. */
  json(): unknown;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Connection pools. Sockets are reused per host and port, so a pool never serves both settings of
 * `allowPrivateNetwork`: a socket of the guarded pool was always opened to a checked address.
 * https://nodejs.org/docs/latest-v20.x/api/http.html#class-httpagent
 */
const agents = {
  guarded: { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) },
  open: { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) },
};

/** How a refusal names each range of ipaddr.js. */
const RANGE_DESCRIPTIONS: Record<string, string> = {
  private: 'a private address',
  loopback: 'a loopback address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique-local address',
  carrierGradeNat: 'a carrier-grade NAT (CGNAT) address',
  multicast: 'a multicast address',
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
};

/** NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached. */
const NAT64_PREFIX = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
/** IPv6 global unicast (RFC 4291): the only IPv6 addresses the guard lets through. */
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * The blocked range an address is in, as ipaddr.js names it, or `undefined` for a public unicast
 * address. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) and NAT64 addresses are judged by the IPv4 address
 * they reach; IPv6 outside global unicast (2000::/3) is `reserved`.
 * https://github.com/whitequark/ipaddr.js#working-with-ranges
 */
export function blockedRangeOf(address: string): string | undefined {
  const ip = ipaddr.process(address);
  if (ip instanceof ipaddr.IPv4) {
    const range = ip.range();
    return range === 'unicast' ? undefined : range;
  }
  if (ip.match(NAT64_PREFIX)) return blockedRangeOf(ipaddr.fromByteArray(ip.toByteArray().slice(12)).toString());
  const range = ip.range();
  if (range !== 'unicast') return range;
  return ip.match(GLOBAL_UNICAST) ? undefined : 'reserved';
}

interface Target {
  url: URL;
  /** The host as the connection uses it: an IPv6 literal without its brackets. */
  host: string;
}

function targetOf(rawUrl: string): Target {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new ConnectorConfigError('not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConnectorConfigError(`only http: and https: URLs are fetched (got ${url.protocol})`);
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url, host };
}

function checkHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch (err) {
      throw new ConnectorConfigError(`request header ${JSON.stringify(name)} has an invalid name or value`, { cause: err });
    }
  }
}

/** `work`, or the signal's reason as soon as it aborts (a DNS lookup cannot be cancelled). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Every address of the host (a literal IP is its own), each checked unless private targets are allowed. */
async function checkedAddresses(
  host: string,
  allowPrivateNetwork: boolean,
  signal: AbortSignal,
): Promise<readonly { address: string; family: number }[]> {
  const family = isIP(host);
  // https://nodejs.org/docs/latest-v20.x/api/dns.html#dnspromiseslookuphostname-options
  const addresses =
    family === 0 ? await untilAborted(resolveHost(host, { all: true, verbatim: true }), signal) : [{ address: host, family }];
  if (!allowPrivateNetwork) {
    for (const { address } of addresses) {
      const range = blockedRangeOf(address);
      if (range !== undefined) {
        throw new BlockedTargetError({
          host,
          address,
          range,
          description: RANGE_DESCRIPTIONS[range] ?? `a special-purpose address (${range})`,
        });
      }
    }
  }
  return addresses;
}

/** A `lookup` for the connection that answers with the checked addresses, never asking DNS again. */
function pinnedLookup(addresses: readonly { address: string; family: number }[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const first = wanted[0];
    if (first === undefined) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }), '');
    } else if (options.all === true) {
      callback(null, [...wanted]);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

/** Reads the body, stopping as soon as it passes `maxBytes`. */
async function readBody(response: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const status = response.statusCode ?? 0;
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw new ResponseTooLargeError(maxBytes, { status });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += bytes.length;
    // Leaving the loop destroys the response (and its socket, which is not reused).
    if (size > maxBytes) throw new ResponseTooLargeError(maxBytes, { status });
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

function headersOf(response: http.IncomingMessage): Headers {
  const headers = new Headers();
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] ?? '', raw[i + 1] ?? '');
  return headers;
}

function safeResponse(status: number, headers: Headers, body: Buffer): SafeResponse {
  return {
    status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json: () => {
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        return parsed;
      } catch {
        throw new MalformedPayloadError(`response body is not JSON (HTTP ${status})`, { status });
      }
    },
  };
}

function send(
  target: Target,
  request: SafeRequest,
  addresses: readonly { address: string; family: number }[],
  settings: { allowPrivateNetwork: boolean; maxResponseBytes: number },
  signal: AbortSignal,
): Promise<SafeResponse> {
  const secure = target.url.protocol === 'https:';
  const pool = settings.allowPrivateNetwork ? agents.open : agents.guarded;
  return new Promise<SafeResponse>((resolve, reject) => {
    // Node's client never follows redirects: a 3xx comes back as it is.
    // https://nodejs.org/docs/latest-v20.x/api/http.html#httprequesturl-options-callback
    const options: https.RequestOptions = {
      ...urlToHttpOptions(target.url),
      method: request.method,
      headers: request.headers ?? {},
      agent: secure ? pool.https : pool.http,
      lookup: pinnedLookup(addresses),
      signal,
    };
    const onResponse = (response: http.IncomingMessage): void => {
      const status = response.statusCode ?? 0;
      readBody(response, settings.maxResponseBytes).then((body) => resolve(safeResponse(status, headersOf(response), body)), reject);
    };
    const outgoing = secure ? https.request(options, onResponse) : http.request(options, onResponse);
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/**
 * Sends one HTTP request to an operator-configured URL, guarded against SSRF.
 *
 * - Only http: and https: URLs; an unparseable URL or another scheme is a ConnectorConfigError.
 * - The host is resolved once (every address); when any address is private, loopback, link-local,
 *   unique-local, CGNAT, multicast, unspecified or reserved (IPv4-mapped IPv6 and literal IPs
 *   included), the call is refused with BlockedTargetError unless `allowPrivateNetwork`. The
 *   connection goes to the checked addresses only.
 * - Redirects are not followed; every status is returned as a response.
 * - The deadline (`timeoutMs`) and the caller's signal abort the call: a TransientError.
 * - A request body over `maxRequestBytes` is refused before anything is sent (RequestTooLargeError);
 *   a response body over `maxResponseBytes` stops the read there (ResponseTooLargeError).
 * - Network failures are classified by `classifyHttpError` (TransientError for resets, refusals...).
 */
export async function safeFetch(request: SafeRequest, options: SafeFetchOptions = {}): Promise<SafeResponse> {
  const allowPrivateNetwork = options.allowPrivateNetwork ?? false;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  const target = targetOf(request.url);
  checkHeaders(request.headers ?? {});
  if (request.body !== undefined && Buffer.byteLength(request.body) > maxRequestBytes) throw new RequestTooLargeError(maxRequestBytes);

  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = request.signal === undefined ? deadline : AbortSignal.any([deadline, request.signal]);
  try {
    const addresses = await checkedAddresses(target.host, allowPrivateNetwork, signal);
    return await send(target, request, addresses, { allowPrivateNetwork, maxResponseBytes }, signal);
  } catch (err) {
    if (err instanceof ConnectorError) throw err;
    if (request.signal?.aborted === true) throw new TransientError('request aborted by the caller', { cause: err });
    if (deadline.aborted) throw new TransientError(`no complete response within ${timeoutMs} ms`, { cause: err });
    throw classifyHttpError(err);
  }
}

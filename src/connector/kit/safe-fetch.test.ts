import type { LookupAddress } from 'node:dns';
import type * as DnsPromises from 'node:dns/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BlockedTargetError,
  ConnectorConfigError,
  MalformedPayloadError,
  RequestTooLargeError,
  ResponseTooLargeError,
  TransientError,
} from '../errors.js';
import { blockedRangeOf, safeFetch } from './safe-fetch.js';

/** Host names the tests resolve themselves (`.invalid` never resolves in real DNS, RFC 6761). */
const fakeDns = vi.hoisted(() => ({ answers: new Map<string, LookupAddress[]>(), asked: new Array<string>() }));

vi.mock('node:dns/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof DnsPromises>();
  return {
    ...actual,
    lookup: async (host: string, options: { all: true; verbatim: boolean }): Promise<LookupAddress[]> => {
      fakeDns.asked.push(host);
      return fakeDns.answers.get(host) ?? actual.lookup(host, options);
    },
  };
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback server whose handler answers (or never does); it records every request it got. */
async function loopbackServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address: AddressInfo | string | null = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  servers.push(close);
  return { port, url: `http://127.0.0.1:${port}`, seen };
}

const servers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()));
  fakeDns.answers.clear();
  fakeDns.asked.length = 0;
});

const PRIVATE_OK = { allowPrivateNetwork: true };

describe('safeFetch: the SSRF guard', () => {
  it.each([
    ['10/8', 'http://10.1.2.3/', 'private'],
    ['172.16/12', 'http://172.16.0.1/', 'private'],
    ['172.16/12, its last address', 'http://172.31.255.255/', 'private'],
    ['192.168/16', 'http://192.168.1.1/', 'private'],
    ['127/8', 'http://127.0.0.1/', 'loopback'],
    ['127/8, not only .1', 'http://127.255.0.9/', 'loopback'],
    ['127/8, written as one number', 'http://2130706433/', 'loopback'],
    ['127/8, written in hex', 'http://0x7f.1/', 'loopback'],
    ['169.254/16 (cloud metadata)', 'http://169.254.169.254/latest/meta-data/', 'linkLocal'],
    ['100.64/10 (CGNAT)', 'http://100.64.0.1/', 'carrierGradeNat'],
    ['100.64/10, its last address', 'http://100.127.255.254/', 'carrierGradeNat'],
    ['0.0.0.0', 'http://0.0.0.0/', 'unspecified'],
    ['224/4 multicast', 'http://224.0.0.1/', 'multicast'],
    ['broadcast', 'http://255.255.255.255/', 'broadcast'],
    ['240/4 reserved', 'http://240.0.0.1/', 'reserved'],
    ['::1', 'http://[::1]/', 'loopback'],
    ['::', 'http://[::]/', 'unspecified'],
    ['fc00::/7', 'http://[fc00::1]/', 'uniqueLocal'],
    ['fc00::/7 (fd)', 'https://[fd12:3456::1]/', 'uniqueLocal'],
    ['fe80::/10', 'http://[fe80::1]/', 'linkLocal'],
    ['ff00::/8 multicast', 'http://[ff02::1]/', 'multicast'],
    ['::ffff:127.0.0.1 (IPv4-mapped)', 'http://[::ffff:127.0.0.1]/', 'loopback'],
    ['::ffff:10.0.0.1 (IPv4-mapped)', 'http://[::ffff:10.0.0.1]/', 'private'],
    ['64:ff9b::127.0.0.1 (NAT64)', 'http://[64:ff9b::7f00:1]/', 'loopback'],
    ['::127.0.0.1 (IPv4-compatible, outside 2000::/3)', 'http://[::7f00:1]/', 'reserved'],
  ])('refuses %s', async (_label, url, range) => {
    const refusal = safeFetch({ method: 'GET', url });
    await expect(refusal).rejects.toBeInstanceOf(BlockedTargetError);
    await expect(refusal).rejects.toMatchObject({ code: 'blocked_target', retryable: false, range });
  });

  it('names the address and its range, and how to allow it', async () => {
    await expect(safeFetch({ method: 'GET', url: 'http://10.0.0.5:8080/x' })).rejects.toThrow(
      'refused: 10.0.0.5 is a private address (allowPrivateNetwork is off)',
    );
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '11.0.0.1',
    '172.32.0.1',
    '100.128.0.1',
    '169.255.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('lets the public address %s through', (address) => {
    expect(blockedRangeOf(address)).toBeUndefined();
  });

  it('refuses a host name that resolves to loopback, without connecting', async () => {
    const server = await loopbackServer((_req, res) => res.end('reached'));
    const refusal = safeFetch({ method: 'GET', url: `http://localhost:${server.port}/` });
    await expect(refusal).rejects.toMatchObject({ code: 'blocked_target', range: 'loopback' });
    await expect(refusal).rejects.toThrow(/^refused: localhost resolves to .*, which is a loopback address/);
    expect(server.seen).toEqual([]);
  });

  it('refuses a host name when any of its addresses is blocked', async () => {
    fakeDns.answers.set('mixed.invalid', [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ]);
    await expect(safeFetch({ method: 'GET', url: 'https://mixed.invalid/' })).rejects.toMatchObject({
      code: 'blocked_target',
      address: '10.0.0.7',
    });
  });

  it('reaches a loopback host by name with allowPrivateNetwork', async () => {
    const server = await loopbackServer((_req, res) => res.end('hello'));
    const response = await safeFetch({ method: 'GET', url: `http://localhost:${server.port}/hi` }, PRIVATE_OK);
    expect(response.status).toBe(200);
    expect(response.text()).toBe('hello');
  });

  it('connects to the address it checked, never resolving the name again (no DNS rebinding)', async () => {
    const server = await loopbackServer((_req, res) => res.end('pinned'));
    // Real DNS knows no `.invalid` name: the connection can only have used the checked answer.
    fakeDns.answers.set('pinned.invalid', [{ address: '127.0.0.1', family: 4 }]);
    const response = await safeFetch({ method: 'GET', url: `http://pinned.invalid:${server.port}/` }, PRIVATE_OK);
    expect(response.text()).toBe('pinned');
    expect(fakeDns.asked.filter((host) => host === 'pinned.invalid')).toHaveLength(1);
    expect(server.seen[0]?.headers.host).toBe(`pinned.invalid:${server.port}`);
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/x', 'gopher://127.0.0.1:6379/_INFO', 'not a url'])(
    'refuses %s as a configuration error',
    async (url) => {
      const refusal = safeFetch({ method: 'GET', url }, PRIVATE_OK);
      await expect(refusal).rejects.toBeInstanceOf(ConnectorConfigError);
      await expect(refusal).rejects.toMatchObject({ code: 'config', retryable: false });
    },
  );
});

describe('safeFetch: requests and responses', () => {
  it('sends the method, headers and body, and returns status, headers and body', async () => {
    const server = await loopbackServer((_req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-echo': 'yes' });
      res.end(JSON.stringify({ got: body }));
    });
    const response = await safeFetch(
      {
        method: 'POST',
        url: `${server.url}/items?x=1`,
        headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
        body: '{"a":1}',
      },
      PRIVATE_OK,
    );
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('yes');
    expect(response.json()).toEqual({ got: '{"a":1}' });
    expect(server.seen).toMatchObject([
      { method: 'POST', url: '/items?x=1', headers: { authorization: 'Bearer t', 'content-length': '7' } },
    ]);
  });

  it('returns a redirect as it is, never following it', async () => {
    const server = await loopbackServer((_req, res) => {
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    });
    const response = await safeFetch({ method: 'GET', url: `${server.url}/start` }, PRIVATE_OK);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/elsewhere');
    expect(server.seen.map((s) => s.url)).toEqual(['/start']);
  });

  it('returns a 5xx as a response for the caller to classify', async () => {
    const server = await loopbackServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '7' });
      res.end('busy');
    });
    const response = await safeFetch({ method: 'GET', url: server.url }, PRIVATE_OK);
    expect(response.status).toBe(503);
    expect(response.text()).toBe('busy');
  });

  it('json() on a body that is not JSON throws MalformedPayloadError without the body in the message', async () => {
    const server = await loopbackServer((_req, res) => res.end('secret-looking <html>'));
    const response = await safeFetch({ method: 'GET', url: server.url }, PRIVATE_OK);
    expect(() => response.json()).toThrow(MalformedPayloadError);
    expect(() => response.json()).not.toThrow(/secret-looking/);
  });

  it('refuses an oversize request body before sending anything (counting bytes, not characters)', async () => {
    const server = await loopbackServer((_req, res) => res.end());
    const refusal = safeFetch({ method: 'POST', url: server.url, body: 'é'.repeat(6) }, { ...PRIVATE_OK, maxRequestBytes: 10 });
    await expect(refusal).rejects.toBeInstanceOf(RequestTooLargeError);
    await expect(refusal).rejects.toMatchObject({ code: 'request_too_large', retryable: false, limitBytes: 10 });
    await expect(
      safeFetch({ method: 'POST', url: server.url, body: Buffer.alloc(10) }, { ...PRIVATE_OK, maxRequestBytes: 10 }),
    ).resolves.toMatchObject({ status: 200 });
    expect(server.seen).toHaveLength(1);
  });

  it('refuses a response whose Content-Length is over the limit', async () => {
    const server = await loopbackServer((_req, res) => res.end('x'.repeat(101)));
    const refusal = safeFetch({ method: 'GET', url: server.url }, { ...PRIVATE_OK, maxResponseBytes: 100 });
    await expect(refusal).rejects.toBeInstanceOf(ResponseTooLargeError);
    await expect(refusal).rejects.toMatchObject({ code: 'response_too_large', retryable: false, status: 200 });
  });

  it('stops reading a streamed response as soon as it passes the limit, without waiting for its end', async () => {
    // Chunked, no Content-Length, and never ended: only a limit enforced while streaming can answer.
    const server = await loopbackServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('x'.repeat(60));
      res.write('y'.repeat(60));
    });
    const refusal = safeFetch({ method: 'GET', url: server.url }, { ...PRIVATE_OK, maxResponseBytes: 100, timeoutMs: 60_000 });
    await expect(refusal).rejects.toBeInstanceOf(ResponseTooLargeError);
  });

  it('reads a response of exactly the limit', async () => {
    const server = await loopbackServer((_req, res) => res.end('x'.repeat(100)));
    const response = await safeFetch({ method: 'GET', url: server.url }, { ...PRIVATE_OK, maxResponseBytes: 100 });
    expect(response.body).toHaveLength(100);
  });

  it('gives up at the deadline with a TransientError', async () => {
    const server = await loopbackServer(() => undefined);
    const call = safeFetch({ method: 'GET', url: server.url }, { ...PRIVATE_OK, timeoutMs: 100 });
    await expect(call).rejects.toBeInstanceOf(TransientError);
    await expect(call).rejects.toMatchObject({ code: 'transient', retryable: true, message: 'no complete response within 100 ms' });
  });

  it("stops when the caller's signal aborts", async () => {
    let arrived: () => void = () => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const server = await loopbackServer(() => arrived());
    const controller = new AbortController();
    const call = safeFetch({ method: 'GET', url: server.url, signal: controller.signal }, PRIVATE_OK);
    await arrival;
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'transient', message: 'request aborted by the caller' });
  });

  it('sends nothing when the signal is already aborted', async () => {
    const server = await loopbackServer((_req, res) => res.end());
    const call = safeFetch({ method: 'GET', url: server.url, signal: AbortSignal.abort() }, PRIVATE_OK);
    await expect(call).rejects.toMatchObject({ code: 'transient', message: 'request aborted by the caller' });
    expect(server.seen).toEqual([]);
  });

  it('classifies a refused connection as transient', async () => {
    const server = await loopbackServer((_req, res) => res.end());
    await servers.splice(0)[0]?.();
    await expect(safeFetch({ method: 'GET', url: server.url }, PRIVATE_OK)).rejects.toMatchObject({
      code: 'transient',
      message: 'network error (ECONNREFUSED)',
    });
  });

  it('refuses a header with an invalid value, naming the header only', async () => {
    const call = safeFetch(
      { method: 'GET', url: 'http://127.0.0.1:9/', headers: { authorization: 'Bearer a\r\nx-injected: 1' } },
      PRIVATE_OK,
    );
    await expect(call).rejects.toMatchObject({ code: 'config', message: 'request header "authorization" has an invalid name or value' });
  });
});

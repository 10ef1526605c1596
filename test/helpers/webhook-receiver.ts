/** A tiny HTTP server that records raw webhook requests (body bytes and headers) for tests. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { RawWebhook } from '../../src/connector/define.js';

export interface ReceivedWebhook {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Status to answer with (default 204), or a function of each request and its index (0 for the first). */
  respondWith(status: number | ((request: ReceivedWebhook, index: number) => number)): void;
  /** What was received so far as the hub's raw webhooks (`urlToken`: the secret path segment of the hub's address). */
  raw(urlToken?: string): RawWebhook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/webhooks/hubspot'): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let status: number | ((request: ReceivedWebhook, index: number) => number) = 204;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(request);
      res.statusCode = typeof status === 'number' ? status : status(request, received.length - 1);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    respondWith(s) {
      status = s;
    },
    raw: (urlToken) =>
      received.map((r) => ({
        method: r.method,
        url: `http://127.0.0.1:${port}${path}`,
        ...(urlToken === undefined ? {} : { urlToken }),
        headers: r.headers,
        body: r.body,
        receivedAt: new Date().toISOString(),
      })),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

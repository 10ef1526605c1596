/**
 * A loopback HTTP proxy in front of an emulator that can answer with server errors instead of
 * forwarding, for the requests a test names: "the system returns 500s", then recovers.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface FaultProxy {
  url: string;
  /** Answer 500 to requests whose `METHOD path` matches (all requests when no pattern is given). */
  fail(pattern?: RegExp): void;
  recover(): void;
  /** Requests answered with a 500 so far. */
  failed(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let failing: RegExp | null = null;
  let failedCount = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const line = `${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0] ?? '/'}`;
      if (failing && failing.test(line)) {
        failedCount++;
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', message: 'internal error', correlationId: 'proxy', category: 'INTERNAL_ERROR' }));
        return;
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    fail(pattern = /.*/) {
      failing = pattern;
    },
    recover() {
      failing = null;
    },
    failed: () => failedCount,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

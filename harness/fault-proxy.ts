/**
 * A loopback HTTP proxy in front of an emulator that can answer with server errors instead of
 * forwarding, for the requests a test names: "the system returns 500s", then recovers. It can
 * also answer chosen requests with a HubSpot 429, hold the system's answers a while (the
 * system has done the work, the caller has not heard), and it logs every request with its time
 * and the status answered.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the proxy received: when, `METHOD path`, and the status it was answered with. */
export interface ProxiedRequest {
  at: number;
  line: string;
  /** 0 while the request is in flight (forwarded, not answered yet). */
  status: number;
  /** Answered by the proxy with an injected 429 (not forwarded). */
  injected: boolean;
}

/** Answer the `nth` (1-based) request matching `pattern` from now on with a HubSpot 429. */
export interface InjectedLimit {
  pattern: RegExp;
  nth: number;
  policyName: 'TEN_SECONDLY_ROLLING' | 'DAILY';
  /** Sent as `Retry-After` when given. */
  retryAfterSeconds?: number;
}

export interface FaultProxy {
  url: string;
  /** Answer 500 to requests whose `METHOD path` matches (all requests when no pattern is given). */
  fail(pattern?: RegExp): void;
  recover(): void;
  /** Requests answered with a 500 so far. */
  failed(): number;
  /** Answers one chosen request with a 429 (see `InjectedLimit`). */
  rateLimit(limit: InjectedLimit): void;
  /** Holds the system's answer to requests whose `METHOD path` matches for `ms` before passing it on (0: no more). */
  delayAnswers(ms: number, pattern?: RegExp): void;
  /** Every request received so far, oldest first. */
  log(): readonly ProxiedRequest[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let failing: RegExp | null = null;
  let failedCount = 0;
  const limits: { limit: InjectedLimit; seen: number }[] = [];
  let delay: { ms: number; pattern: RegExp } | null = null;
  const requests: ProxiedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const line = `${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0] ?? '/'}`;
      const entry: ProxiedRequest = { at, line, status: 0, injected: false };
      requests.push(entry);
      if (failing && failing.test(line)) {
        failedCount++;
        entry.status = 500;
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'error', message: 'internal error', correlationId: 'proxy', category: 'INTERNAL_ERROR' }));
        return;
      }
      for (const [i, l] of limits.entries()) {
        if (!l.limit.pattern.test(line)) continue;
        l.seen++;
        if (l.seen !== l.limit.nth) continue;
        limits.splice(i, 1);
        entry.status = 429;
        entry.injected = true;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (l.limit.retryAfterSeconds !== undefined) headers['retry-after'] = String(l.limit.retryAfterSeconds);
        const message =
          l.limit.policyName === 'DAILY' ? 'You have reached your daily limit.' : 'You have reached your ten_secondly_rolling limit.';
        res
          .writeHead(429, headers)
          .end(
            JSON.stringify({ status: 'error', message, errorType: 'RATE_LIMIT', correlationId: 'proxy', policyName: l.limit.policyName }),
          );
        return;
      }
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const pass = (): void => {
            entry.status = answer.statusCode ?? 502;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          };
          if (delay && delay.ms > 0 && delay.pattern.test(line)) setTimeout(pass, delay.ms);
          else pass();
        },
      );
      forward.on('error', () => {
        entry.status = 502;
        res.writeHead(502).end();
      });
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
    rateLimit(limit) {
      limits.push({ limit, seen: 0 });
    },
    delayAnswers(ms, pattern = /.*/) {
      delay = ms > 0 ? { ms, pattern } : null;
    },
    log: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

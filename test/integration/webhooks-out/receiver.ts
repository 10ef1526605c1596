/**
 * A loopback Standard Webhooks receiver for the outbound webhook tests: it verifies every request
 * with the official `standardwebhooks` library (the hub's signing is checked by the spec's own
 * code) and answers what the test scripts, per message and attempt.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** The signing secret of the tests' endpoints. */
export const SECRET = `whsec_${Buffer.from('outbound-test-secret-0123456789abcdef').toString('base64')}`;

export interface ReceivedMessage {
  id: string;
  /** The `webhook-timestamp` header, seconds. */
  timestamp: number;
  body: { type: string; timestamp: string; data: unknown };
  /** Verified with every secret given (a rotation signs with each). */
  verified: boolean;
  signatures: number;
  /** Which attempt of this id it was, from 1. */
  attempt: number;
  /** When it arrived (ms). */
  at: number;
  /** What it was answered. */
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface SignedReceiver {
  url: string;
  received: ReceivedMessage[];
  /** Ids answered 2xx, each as many times as it was. */
  delivered(): string[];
  /** How the next requests are answered (default 204). */
  answer(respond: (message: { id: string; attempt: number }) => Answer): void;
  close(): Promise<void>;
}

function headerOf(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

export async function startSignedReceiver(secrets: readonly string[]): Promise<SignedReceiver> {
  const received: ReceivedMessage[] = [];
  const attempts = new Map<string, number>();
  let respond: (message: { id: string; attempt: number }) => Answer = () => ({ status: 204 });
  const webhooks = secrets.map((secret) => new Webhook(secret));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': headerOf(req.headers, 'webhook-id'),
        'webhook-timestamp': headerOf(req.headers, 'webhook-timestamp'),
        'webhook-signature': headerOf(req.headers, 'webhook-signature'),
      };
      const verified = webhooks.every((webhook) => {
        try {
          webhook.verify(raw, headers);
          return true;
        } catch {
          return false;
        }
      });
      const id = headers['webhook-id'];
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      const answer = verified ? respond({ id, attempt }) : { status: 401 };
      received.push({
        id,
        timestamp: Number(headers['webhook-timestamp']),
        body: JSON.parse(raw),
        verified,
        signatures: headers['webhook-signature'].split(' ').length,
        attempt,
        at: Date.now(),
        status: answer.status,
      });
      setTimeout(() => {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/concord-events`,
    received,
    delivered: () => received.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id),
    answer(next) {
      respond = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

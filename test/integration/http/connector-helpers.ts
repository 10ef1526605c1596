/**
 * Shared pieces of the generic HTTP connector's own tests: an instance made through
 * `createHttpInstance` (every method the tests use present), the example systems on a fresh
 * emulator, a whole pull, tiny loopback servers for what the emulator cannot do, and a fake
 * durable sender of Standard Webhooks (`OutboundWebhooks`).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { afterEach } from 'vitest';
import { createHttpInstance, type HttpRuntime } from '../../../connectors/http/connector.js';
import { HttpConfig, type HttpConfigInput, type HttpCursor } from '../../../connectors/http/config.js';
import type { HttpEmulatorOptionsInput, RunningHttpEmulator } from '../../../connectors/http/emulator/index.js';
import { exampleInstance, type ExampleSystem } from '../../../harness/http-systems.js';
import type {
  ConnectorContext,
  ConnectorInstance,
  OutboundWebhookMessage,
  OutboundWebhooks,
  PullPage,
} from '../../../src/connector/define.js';
import { silentLogger } from '../../../src/log/logger.js';
import { emulator } from './emulator-helpers.js';

const USED = ['pull', 'push', 'read', 'erase', 'eraseProgress', 'export', 'verify', 'parse', 'reply', 'check'] as const;
type Used = (typeof USED)[number];
export type HttpInstance = ConnectorInstance<HttpCursor> & Required<Pick<ConnectorInstance<HttpCursor>, Used>>;

function hasAll(i: ConnectorInstance<HttpCursor>): i is HttpInstance {
  return USED.every((method) => i[method] !== undefined);
}

/** An instance of `config` (the connector's own keys), as the engine makes one. */
export function instanceOf(
  config: HttpConfigInput,
  ctx: Partial<Omit<ConnectorContext<HttpConfig>, 'config'>> = {},
  runtime: HttpRuntime = {},
): HttpInstance {
  const made = createHttpInstance({ instanceId: 'crm', logger: silentLogger(), ...ctx, config: HttpConfig.parse(config) }, runtime);
  if (!hasAll(made)) throw new Error('the http instance lacks a method these tests use');
  return made;
}

/** An example system's config (`config/examples/http-<system>.yaml`) on a fresh emulator. */
export async function exampleOnEmulator(
  system: ExampleSystem,
  options: HttpEmulatorOptionsInput = {},
): Promise<{ emu: RunningHttpEmulator; config: HttpConfig }> {
  const emu = await emulator(options);
  const { config } = await exampleInstance(system, emu.url);
  return { emu, config };
}

export const signal = (): AbortSignal => AbortSignal.timeout(20_000);

/** Every page of a pull from `cursor`; `limit` stops after that many pages (a walk cut short). */
export async function pull(instance: HttpInstance, cursor?: HttpCursor, limit = Infinity): Promise<PullPage<HttpCursor>[]> {
  const pages: PullPage<HttpCursor>[] = [];
  for await (const page of instance.pull(cursor, signal())) {
    pages.push(page);
    if (pages.length >= limit) break;
  }
  return pages;
}

/** The external ids of pages, in order. */
export const idsOf = (pages: readonly PullPage<HttpCursor>[]): string[] => pages.flatMap((p) => p.records.map((r) => r.externalId));

/** A request a tiny server received. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TinyServer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  port: number;
  requests: Seen[];
}

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A loopback server answering each request by `handle` (closed after the test). */
export async function tinyServer(handle: (req: Seen, res: ServerResponse) => void): Promise<TinyServer> {
  const requests: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      handle(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close() {
      server.closeAllConnections();
      server.close();
    },
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { origin: `http://127.0.0.1:${port}`, port, requests };
}

/** Answers JSON with `status` (and headers). */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A minimal contacts system at `baseUrl` (list, get, find, create/update), no auth, private network allowed. */
export function plainConfig(baseUrl: string, extra: Partial<HttpConfigInput> = {}): HttpConfigInput {
  return {
    baseUrl,
    allowPrivateNetwork: true,
    record: { id: 'id', updatedAt: 'updated_at' },
    read: {
      list: { path: '/contacts', records: '$.data[*]' },
      get: { path: '/contacts/{id}', record: '$.data' },
      find: { path: '/contacts', query: { email: '{email}' }, records: '$.data[*]' },
    },
    write: {
      create: { method: 'POST', path: '/contacts', body: { data: '{{record}}' }, id: '$.data.id' },
      update: { method: 'PATCH', path: '/contacts/{id}', body: { data: '{{record}}' } },
    },
    ...extra,
  };
}

/** A stand-in for the hub's durable webhook delivery: keeps what is enqueued; states set by the test. */
export class FakeOutbound implements OutboundWebhooks {
  readonly messages: OutboundWebhookMessage[] = [];
  readonly states = new Map<string, 'pending' | 'delivered' | 'failed'>();

  enqueue(messages: readonly OutboundWebhookMessage[]): Promise<void> {
    for (const m of messages) {
      if (this.messages.some((held) => held.id === m.id)) continue;
      this.messages.push(m);
      this.states.set(m.id, 'pending');
    }
    return Promise.resolve();
  }

  status(ids: readonly string[]): Promise<('pending' | 'delivered' | 'failed' | 'unknown')[]> {
    return Promise.resolve(ids.map((id) => this.states.get(id) ?? 'unknown'));
  }
}

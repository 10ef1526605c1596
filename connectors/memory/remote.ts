/**
 * Optional loopback bridge, for tests that run the engine in another process (e.g. a worker
 * killed with SIGKILL mid-batch): `serveMemorySystems` exposes in-process systems over HTTP on
 * 127.0.0.1, and `RemoteMemorySystem` is a `MemorySystemApi` client for it. The memory
 * connector uses the client when its config has a `url`.
 *
 * Wire format: `POST /systems/<name>/<operation>` with the operation's arguments as JSON;
 * `200` with the result as JSON, or the system's error status, headers and body. A simulated
 * connection reset really resets the connection.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from '../../src/profile/schema.js';
import { MemoryApiError, MemoryNetworkError } from './system.js';
import type {
  ChangesPage,
  EraseResult,
  ErasureStatus,
  MemoryRecord,
  MemoryRef,
  MemorySystemApi,
  SearchHit,
  SearchQuery,
  UpsertInput,
  UpsertResult,
} from './system.js';

/** A running bridge. */
export interface MemoryBridge {
  /** Base URL, e.g. `http://127.0.0.1:40123`; give it to the connector config as `url`. */
  url: string;
  close(): Promise<void>;
}

type Operation = 'upsert' | 'changes' | 'read' | 'find' | 'search' | 'erase' | 'erasures';
const OPERATIONS = new Set<string>(['upsert', 'changes', 'read', 'find', 'search', 'erase', 'erasures']);

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as unknown);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function dispatch(api: MemorySystemApi, op: Operation, args: Record<string, unknown>): Promise<unknown> {
  switch (op) {
    case 'upsert':
      return api.upsert(args['inputs'] as UpsertInput[]);
    case 'changes':
      return api.changes({ since: Number(args['since']), limit: Number(args['limit']) });
    case 'read':
      return api.read(args['ids'] as string[]);
    case 'find':
      return api.find(args['refs'] as MemoryRef[]);
    case 'search':
      return api.search(args['queries'] as SearchQuery[]);
    case 'erase':
      return api.erase(args['refs'] as MemoryRef[]);
    case 'erasures':
      return api.erasures(args['tickets'] as string[]);
  }
}

/** Serves the given systems (name -> system) on an ephemeral loopback port. */
export async function serveMemorySystems(
  systems: Record<string, MemorySystemApi> | ReadonlyMap<string, MemorySystemApi>,
): Promise<MemoryBridge> {
  const lookup = systems instanceof Map ? systems : new Map(Object.entries(systems));
  const server = createServer((req, res) => {
    void (async () => {
      const match = /^\/systems\/([^/]+)\/([a-z]+)$/.exec(req.url ?? '');
      const api = match ? lookup.get(decodeURIComponent(match[1] ?? '')) : undefined;
      const op = match?.[2] ?? '';
      if (req.method !== 'POST' || !api || !OPERATIONS.has(op)) {
        send(res, 404, { message: 'not found' });
        return;
      }
      try {
        const args = (await readBody(req)) as Record<string, unknown>;
        send(res, 200, await dispatch(api, op as Operation, args));
      } catch (err) {
        if (err instanceof MemoryNetworkError) req.socket.destroy();
        else if (err instanceof MemoryApiError) send(res, err.status, err.body, err.headers);
        else send(res, 500, { message: 'internal error' });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A `MemorySystemApi` that talks to a bridge over HTTP, failing the way the in-process API does. */
export class RemoteMemorySystem implements MemorySystemApi {
  private readonly base: string;

  constructor(url: string, name: string) {
    this.base = `${url.replace(/\/+$/, '')}/systems/${encodeURIComponent(name)}`;
  }

  upsert(inputs: UpsertInput[]): Promise<UpsertResult[]> {
    return this.call('upsert', { inputs });
  }
  changes(query: { since: number; limit: number }): Promise<ChangesPage> {
    return this.call('changes', query);
  }
  read(ids: string[]): Promise<MemoryRecord[]> {
    return this.call('read', { ids });
  }
  find(refs: MemoryRef[]): Promise<(MemoryRecord | null)[]> {
    return this.call('find', { refs });
  }
  search(queries: SearchQuery[]): Promise<SearchHit[][]> {
    return this.call('search', { queries });
  }
  erase(refs: MemoryRef[]): Promise<EraseResult[]> {
    return this.call('erase', { refs });
  }
  erasures(tickets: string[]): Promise<ErasureStatus[]> {
    return this.call('erasures', { tickets });
  }

  private async call<T>(op: Operation, args: unknown): Promise<T> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.base}/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(args),
      });
      text = await res.text();
    } catch {
      throw new MemoryNetworkError();
    }
    const body = (text === '' ? null : JSON.parse(text)) as Json;
    if (!res.ok) throw new MemoryApiError(res.status, body, Object.fromEntries(res.headers.entries()));
    return body as T;
  }
}

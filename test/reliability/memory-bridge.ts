/**
 * Lets a child process talk to in-memory systems that live in the test process: the test
 * serves each system's API over loopback HTTP, and the child registers a client under the
 * same name, so the ordinary `memory` connector finds it in its registry. Failures travel as
 * they would over HTTP (status, headers, body; or a connection reset).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from '../../src/profile/schema.js';
import { MemoryApiError } from '../../connectors/memory/index.js';
import type { MemorySystem, MemorySystemApi } from '../../connectors/memory/index.js';

type Operation = 'upsert' | 'changes' | 'read' | 'find' | 'search' | 'erase' | 'erasures';
const OPERATIONS: readonly Operation[] = ['upsert', 'changes', 'read', 'find', 'search', 'erase', 'erasures'];

interface BridgeReply {
  ok?: unknown;
  error?: { status: number; headers: Record<string, string>; body: Json } | { code: string; message: string };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

export interface Bridge {
  url: string;
  /** Called when a call arrives, before the system runs it (e.g. to kill the caller). */
  onCall?: (system: string, operation: Operation) => void;
  /** Called after the system ran a call and before the answer is sent. */
  afterCall?: (system: string, operation: Operation) => Promise<void> | void;
  close(): Promise<void>;
}

/** Serves the systems' APIs on 127.0.0.1 (a random port). */
export async function serveSystems(systems: Record<string, MemorySystem>): Promise<Bridge> {
  const bridge: Bridge = { url: '', close: async () => undefined };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const [, rawName, op] = (req.url ?? '').split('/');
    const name = decodeURIComponent(rawName ?? '');
    const system = systems[name];
    const operation = OPERATIONS.find((o) => o === op);
    if (!system || !operation) {
      res.writeHead(404).end();
      return;
    }
    const input = await readBody(req);
    bridge.onCall?.(name, operation);
    let reply: BridgeReply;
    try {
      // The payload shapes are the API's own; this is a transparent pipe.
      const call = system[operation].bind(system) as (arg: unknown) => Promise<unknown>;
      reply = { ok: await call(input) };
    } catch (err) {
      if (err instanceof MemoryApiError) reply = { error: { status: err.status, headers: err.headers, body: err.body } };
      else {
        const e = err as { code?: unknown; message?: unknown };
        reply = { error: { code: typeof e.code === 'string' ? e.code : 'EUNKNOWN', message: String(e.message) } };
      }
    }
    await bridge.afterCall?.(name, operation);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  bridge.url = `http://127.0.0.1:${port}`;
  bridge.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return bridge;
}

/** A client for one bridged system; register it under the system's name in the child. */
export function bridgedSystem(url: string, name: string): MemorySystemApi {
  const call = async (operation: Operation, input: unknown): Promise<unknown> => {
    const res = await fetch(`${url}/${encodeURIComponent(name)}/${operation}`, { method: 'POST', body: JSON.stringify(input) });
    const reply = (await res.json()) as BridgeReply;
    if (reply.error && 'status' in reply.error) throw new MemoryApiError(reply.error.status, reply.error.body, reply.error.headers);
    if (reply.error) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.ok;
  };
  return {
    upsert: async (inputs) => (await call('upsert', inputs)) as Awaited<ReturnType<MemorySystemApi['upsert']>>,
    changes: async (query) => (await call('changes', query)) as Awaited<ReturnType<MemorySystemApi['changes']>>,
    read: async (ids) => (await call('read', ids)) as Awaited<ReturnType<MemorySystemApi['read']>>,
    find: async (refs) => (await call('find', refs)) as Awaited<ReturnType<MemorySystemApi['find']>>,
    search: async (queries) => (await call('search', queries)) as Awaited<ReturnType<MemorySystemApi['search']>>,
    erase: async (refs) => (await call('erase', refs)) as Awaited<ReturnType<MemorySystemApi['erase']>>,
    erasures: async (tickets) => (await call('erasures', tickets)) as Awaited<ReturnType<MemorySystemApi['erasures']>>,
  };
}

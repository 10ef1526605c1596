import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CallLedger } from './controls.js';
import { WebhookDeliveryLoop, type DeliveryAttempt } from './delivery.js';
import { startEmulatorServer, type EmulatorServer } from './server.js';
import { EmulatorSideDoor } from './side-door.js';

interface Item {
  id: string;
  group: string;
}

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});

/** A receiver that answers each request with `status(body)` (default 200), recording the bodies. */
async function receiver(status: (body: string) => number = () => 200): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      res.writeHead(status(body)).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  closing.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`, bodies };
}

/** A receiver that holds its first request until `answer` is called; `received` resolves once the request was read. */
async function heldReceiver(): Promise<{ url: string; received: Promise<void>; answer: (status: number) => void }> {
  let answer: (status: number) => void = () => undefined;
  let received: () => void = () => undefined;
  const read = new Promise<void>((resolve) => (received = resolve));
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      answer = (status) => void res.writeHead(status).end('ok');
      received();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  closing.push(() => new Promise((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`,
    received: read,
    answer: (status) => answer(status),
  };
}

function loop(url: string, overrides: { maxAttempts?: number; now?: () => number } = {}) {
  const l = new WebhookDeliveryLoop<Item, string, DeliveryAttempt<Item>>({
    url,
    idOf: (i) => i.id,
    groupOf: (i) => i.group,
    maxPerRequest: 2,
    batchMs: 5,
    maxAttempts: overrides.maxAttempts ?? 3,
    retryBaseMs: 1,
    timeoutMs: 2_000,
    sign: (items, attempt) => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ attempt, ids: items.map((i) => i.id) }),
    }),
    logEntry: (a) => a,
    now: overrides.now ?? Date.now,
  });
  closing.push(() => l.close());
  return l;
}

describe('CallLedger', () => {
  it('counts calls per endpoint, lists some without counting them, and queues injected rate limits', () => {
    const ledger = new CallLedger();
    ledger.count('GET /a');
    ledger.count('GET /a');
    ledger.count('POST /token', { total: false });
    ledger.rateLimitNextCall(3);
    ledger.rateLimitNextCall();
    expect(ledger.takeInjected()).toEqual({ retryAfterSeconds: 3 });
    expect(ledger.takeInjected()).toEqual({});
    expect(ledger.takeInjected()).toBeUndefined();
    expect(ledger.calls()).toEqual({ total: 2, byEndpoint: { 'GET /a': 2, 'POST /token': 1 }, rateLimited: 2 });
    ledger.reset();
    expect(ledger.calls()).toEqual({ total: 0, byEndpoint: {}, rateLimited: 0 });
  });
});

describe('WebhookDeliveryLoop', () => {
  it('batches per group in requests of at most maxPerRequest, and retries until acknowledged', async () => {
    const r = await receiver((body) => (body === '{"attempt":1,"ids":["1","3"]}' ? 500 : 200));
    const l = loop(r.url);
    for (const [id, group] of [
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'a'],
      ['4', 'a'],
    ] as const)
      l.enqueue({ id, group });
    await l.idle();
    const sent = r.bodies.map((b) => JSON.parse(b) as { attempt: number; ids: string[] });
    expect(
      sent
        .filter((s) => s.attempt === 1)
        .map((s) => s.ids)
        .sort(),
    ).toEqual([['1', '3'], ['2'], ['4']]);
    expect(sent.filter((s) => s.attempt === 2).map((s) => s.ids)).toEqual([['1', '3']]);
    expect(l.log().map((d) => [d.attempt, d.status, d.acked])).toContainEqual([1, 500, false]);
  });

  it('holds deliveries while paused, redelivers by id and sends nothing without a URL', async () => {
    const r = await receiver();
    const l = loop(r.url);
    l.pause();
    l.enqueue({ id: 'x', group: 'a' });
    await l.idle();
    expect(r.bodies).toEqual([]);
    l.resume();
    await l.idle();
    l.redeliver(['x', 'unknown']);
    await l.idle();
    expect(r.bodies.map((b) => (JSON.parse(b) as { ids: string[] }).ids)).toEqual([['x'], ['x']]);
    l.setUrl(undefined);
    l.enqueue({ id: 'y', group: 'a' });
    expect(l.items().map((i) => i.id)).toEqual(['x']);
  });

  // Chaos (d) counted the deliveries made while Redis was away by the time their answer was
  // logged: a delivery the hub answered 200 just before Redis died, logged just after, was
  // taken for one answered 200 while Redis was away. The log says when each request was sent.
  it('logs when each request was sent as well as when its answer came', async () => {
    const r = await heldReceiver();
    let clock = 1;
    const l = loop(r.url, { now: () => clock });
    l.enqueue({ id: 'a', group: 'g' });
    await r.received;
    // The request was handled; the clock moves on before its answer reaches the sender.
    clock = 2;
    r.answer(200);
    await l.idle();
    expect(l.log().map((d) => ({ sentAt: d.sentAt, at: d.at, status: d.status }))).toEqual([{ sentAt: 1, at: 2, status: 200 }]);
  });

  it('gives up after maxAttempts', async () => {
    const r = await receiver(() => 503);
    const l = loop(r.url, { maxAttempts: 2 });
    l.enqueue({ id: 'z', group: 'a' });
    await l.idle();
    expect(l.log().map((d) => [d.attempt, d.status])).toEqual([
      [1, 503],
      [2, 503],
    ]);
  });
});

describe('startEmulatorServer', () => {
  class Door extends EmulatorSideDoor<Item, string, DeliveryAttempt<Item>> {
    poisoned: string[] = [];
    poison(email: string): void {
      this.poisoned.push(email);
    }
    userChange(): void {}
  }

  async function start(): Promise<{ server: EmulatorServer; door: Door }> {
    const ledger = new CallLedger();
    const door = new Door(ledger, loop(''));
    const server = await startEmulatorServer({
      host: '127.0.0.1',
      port: 0,
      ledger,
      controls: door,
      authenticate: (req, reply) => (req.headers.authorization ? undefined : reply.code(401).send({ error: 'auth' })),
      refuseInjected: (reply, forced) => reply.code(429).send({ retryAfterSeconds: forced.retryAfterSeconds ?? null }),
      admit: (req, reply) => (req.url === '/limited' ? reply.code(429).send({ error: 'limit' }) : undefined),
      routes: (app) => {
        app.get('/thing/:id', async () => ({ ok: true }));
        app.get('/limited', async () => ({ ok: true }));
      },
    });
    closing.push(() => server.close());
    return { server, door };
  }

  it('counts API calls per route, answers injected and vendor limits, and serves the shared side door', async () => {
    const { server, door } = await start();
    const auth = { authorization: 'Bearer t' };
    expect((await server.app.inject({ url: '/thing/1' })).statusCode).toBe(401);
    expect((await server.app.inject({ url: '/thing/2', headers: auth })).statusCode).toBe(200);
    await server.app.inject({ method: 'POST', url: '/_emulator/rate-limit-next-call', payload: { retryAfterSeconds: 4 } });
    const limited = await server.app.inject({ url: '/thing/3', headers: auth });
    expect([limited.statusCode, limited.json()]).toEqual([429, { retryAfterSeconds: 4 }]);
    expect((await server.app.inject({ url: '/limited', headers: auth })).statusCode).toBe(429);
    await server.app.inject({ method: 'POST', url: '/_emulator/poison', payload: { email: 'a@example.com' } });
    expect(door.poisoned).toEqual(['a@example.com']);
    const calls = (await server.app.inject({ url: '/_emulator/calls' })).json();
    expect(calls).toEqual({ total: 4, byEndpoint: { 'GET /thing/:id': 3, 'GET /limited': 1 }, rateLimited: 2 });
    expect((await server.app.inject({ method: 'POST', url: '/_emulator/webhooks/flush' })).statusCode).toBe(204);
    expect((await server.app.inject({ url: '/_emulator/webhooks' })).json()).toEqual([]);
  });
});

/** Operations endpoints, security headers, rate limits and the queue board. */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startServerHub, KEYS } from './harness.js';
import type { ServerHub } from './harness.js';

describe('operations endpoints', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('/healthz is live and /readyz checks Redis and the database', async () => {
    s = await startServerHub({ roles: false });
    const root = await s.app.inject({ method: 'GET', url: '/' });
    expect(root.json()).toMatchObject({ name: 'Concord', links: { docs: '/api/v1/docs', metrics: '/metrics' } });
    const health = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: [
        { name: 'redis', ok: true },
        { name: 'database', ok: true },
      ],
    });
  });

  it('/readyz answers 503 when Redis does not', async () => {
    const dead = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => undefined);
    s = await startServerHub({ roles: false, redis: dead, server: { queueBoard: false } });
    const ready = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({
      status: 'not_ready',
      checks: [
        { name: 'redis', ok: false },
        { name: 'database', ok: true },
      ],
    });
    dead.disconnect();
  });

  it('/metrics exposes ingest, push, API call, 429, queue-depth and lag metrics for Prometheus', async () => {
    s = await startServerHub();
    s.hub.systems['crm']?.change({ email: 'ada@example.com', first_name: 'Ada' });
    await s.hub.settle();
    const response = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    const text = response.body;
    expect(text).toMatch(/concord_sync_changes_ingested_total\{connector="crm"\} 1/);
    expect(text).toMatch(/concord_sync_pushes_total\{connector="shop",outcome="ok"\} 1/);
    expect(text).toMatch(/concord_sync_api_calls_total\{connector="shop",operation="push"\} \d+/);
    expect(text).toContain('# TYPE concord_sync_rate_limited_total counter');
    expect(text).toMatch(/concord_sync_queue_jobs\{queue="ingest",state="wait"\} 0/);
    expect(text).toMatch(/concord_sync_webhook_to_delivered_seconds_count\{connector="shop"\} 1/);
    expect(text).toMatch(/concord_http_webhooks_total\{connector="crm",status="200"\} 1/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('/metrics asks for hub.metrics.token as a bearer token when one is set (an API key is not it)', async () => {
    const token = 'metrics-token-0123456789abcdef0123456789';
    s = await startServerHub({ roles: false, metrics: { token } });
    const anonymous = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="concord metrics"');
    expect(anonymous.headers['content-type']).toContain('application/problem+json');
    expect(anonymous.json()).toMatchObject({ status: 401, code: 'unauthenticated' });
    for (const authorization of [
      `Bearer ${token}x`,
      `Bearer ${token.slice(1)}`,
      `Bearer ${KEYS.admin}`,
      `Basic ${Buffer.from(`prometheus:${token}`).toString('base64')}`,
    ]) {
      expect((await s.app.inject({ method: 'GET', url: '/metrics', headers: { authorization } })).statusCode).toBe(401);
    }
    const scraped = await s.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toContain('process_cpu_user_seconds_total');
  });

  it('sets security headers', async () => {
    s = await startServerHub({ roles: false });
    const response = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    // An http hub: HSTS only over https (https-headers.test.ts).
    expect(response.headers['strict-transport-security']).toBeUndefined();
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('rate-limits the preference center and the admin API per client', async () => {
    s = await startServerHub({ roles: false, server: { preferencesRateLimit: 2, apiRateLimit: 2 } });
    const pages = [];
    for (let i = 0; i < 3; i++) pages.push((await s.app.inject({ method: 'GET', url: '/preferences/x.y' })).statusCode);
    expect(pages).toEqual([403, 403, 429]);
    const api = [];
    for (let i = 0; i < 3; i++)
      api.push((await s.app.inject({ method: 'GET', url: '/api/v1/connectors', headers: s.bearer('admin') })).statusCode);
    expect(api).toEqual([200, 200, 429]);
  });
});

describe('behind a reverse proxy (hub.trustProxy)', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const PROXY = '10.0.0.7';
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  /** Withdraws Ada's marketing e-mail consent from `remoteAddress`, saying `forwardedFor`; returns the IP recorded as evidence. */
  async function withdrawFrom(hub: ServerHub, profileId: string, remoteAddress: string, forwardedFor: string): Promise<unknown> {
    const issued = await hub.app.inject({
      method: 'POST',
      url: `/api/v1/profiles/${profileId}/preference-link`,
      headers: hub.bearer('writer'),
    });
    const link = new URL((issued.json() as { url: string }).url).pathname;
    const headers = { 'x-forwarded-for': forwardedFor };
    const page = await hub.app.inject({ method: 'GET', url: link, remoteAddress, headers });
    const cookie = String(page.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    // Granted first, then withdrawn, so each call records a fresh ledger entry.
    for (const payload of [`_csrf=${encodeURIComponent(csrf)}&consent=marketing.email`, `_csrf=${encodeURIComponent(csrf)}`]) {
      const saved = await hub.app.inject({ method: 'POST', url: link, remoteAddress, headers: { ...headers, ...form, cookie }, payload });
      expect(saved.statusCode).toBe(303);
    }
    return (await hub.hub.store.getProfile(profileId))?.consents['marketing']?.['email']?.evidence.ip;
  }

  it('takes the client address from X-Forwarded-For only when the request comes from a trusted proxy: consent evidence and rate limits', async () => {
    s = await startServerHub({ trustProxy: [PROXY, '192.168.0.0/16'], server: { preferencesRateLimit: 3 } });
    s.hub.systems['crm']?.change({ email: 'ada@example.com', first_name: 'Ada' });
    await s.hub.settle();
    const adaId = (await s.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' }))?.id ?? '';

    // Through the proxy, the evidence names the person's address, not the proxy's.
    expect(await withdrawFrom(s, adaId, PROXY, '203.0.113.7')).toBe('203.0.113.7');
    // Anyone else's X-Forwarded-For is a claim, not evidence.
    expect(await withdrawFrom(s, adaId, '198.51.100.9', '203.0.113.8')).toBe('198.51.100.9');

    // Rate limits count per client behind the proxies (each client has its own budget of 3)...
    const page = (remoteAddress: string, client: string): Promise<number> =>
      s!.app
        .inject({ method: 'GET', url: '/preferences/x.y', remoteAddress, headers: { 'x-forwarded-for': client } })
        .then((r) => r.statusCode);
    const client = [
      await page('192.168.1.20', '203.0.113.20'),
      await page(PROXY, '203.0.113.20'),
      await page(PROXY, '203.0.113.20'),
      await page(PROXY, '203.0.113.20'),
    ];
    expect(client).toEqual([403, 403, 403, 429]);
    expect(await page(PROXY, '203.0.113.21')).toBe(403);
    // ...and a client that is not a proxy cannot get a fresh budget by inventing addresses.
    const liar = [];
    for (let i = 0; i < 4; i++) liar.push(await page('198.51.100.30', `203.0.113.${30 + i}`));
    expect(liar).toEqual([403, 403, 403, 429]);
  });
});

describe('queue board /admin/queues', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const basic = (key: string): { authorization: string } => ({ authorization: `Basic ${Buffer.from(`ops:${key}`).toString('base64')}` });

  it('asks browsers for the admin key, refuses other scopes and shows the engine queues to admins', async () => {
    s = await startServerHub({ roles: false });
    const anonymous = await s.app.inject({ method: 'GET', url: '/admin/queues' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toContain('Basic realm="Concord queues"');
    expect((await s.app.inject({ method: 'GET', url: '/admin/queues', headers: basic(KEYS.reader) })).statusCode).toBe(403);
    expect((await s.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: basic('wrong') })).statusCode).toBe(401);

    const page = await s.app.inject({ method: 'GET', url: '/admin/queues', headers: basic(KEYS.admin) });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Concord queues');
    const api = await s.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=ingest&status=latest&page=1',
      headers: s.bearer('admin'),
    });
    expect(api.statusCode).toBe(200);
    const names = (api.json() as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['ingest', 'pull.crm', 'pull.shop', 'push.crm', 'push.shop', 'read.crm', 'read.shop', 'relay']);
  });

  it('shows the board read-only to a queues:read key and refuses it every action (retry, clean, pause...); admin keeps them', async () => {
    s = await startServerHub({ roles: false });
    const page = await s.app.inject({ method: 'GET', url: '/admin/queues', headers: basic(KEYS.queues) });
    expect(page.statusCode).toBe(200);
    const list = await s.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=ingest&status=failed&page=1',
      headers: s.bearer('queues'),
    });
    expect(list.statusCode).toBe(200);
    const queues = (list.json() as { queues: { name: string; readOnlyMode: boolean }[] }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual([
      'ingest',
      'pull.crm',
      'pull.shop',
      'push.crm',
      'push.shop',
      'read.crm',
      'read.shop',
      'relay',
    ]);
    // The board's own UI hides its buttons for it...
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    // ...and the server refuses the actions whatever the client sends.
    const actions: ['PUT' | 'POST' | 'PATCH', string][] = [
      ['PUT', '/admin/queues/api/queues/ingest/retry/failed'],
      ['PUT', '/admin/queues/api/queues/ingest/clean/failed'],
      ['PUT', '/admin/queues/api/queues/ingest/pause'],
      ['PUT', '/admin/queues/api/queues/pause'],
      ['PUT', '/admin/queues/api/queues/ingest/some-job/retry'],
      ['POST', '/admin/queues/api/queues/ingest/add'],
      ['PATCH', '/admin/queues/api/queues/ingest/some-job/update-data'],
    ];
    for (const [method, url] of actions) {
      const refused = await s.app.inject({ method, url, headers: s.bearer('queues'), payload: {} });
      expect(`${method} ${url} -> ${refused.statusCode}`).toBe(`${method} ${url} -> 403`);
      expect(refused.json()).toMatchObject({ code: 'forbidden' });
    }
    expect((await s.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: s.bearer('queues') })).json()).toMatchObject({
      queues: expect.any(Array),
    });
    // An admin sees the actions and may use them.
    const adminList = await s.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=ingest&status=failed&page=1',
      headers: s.bearer('admin'),
    });
    expect((adminList.json() as { queues: { readOnlyMode: boolean }[] }).queues.every((q) => !q.readOnlyMode)).toBe(true);
    const retried = await s.app.inject({ method: 'PUT', url: '/admin/queues/api/queues/ingest/retry/failed', headers: s.bearer('admin') });
    expect(retried.statusCode).toBeLessThan(300);
    // Keys without a queue scope still see nothing.
    expect((await s.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: s.bearer('reader') })).statusCode).toBe(403);
  });
});

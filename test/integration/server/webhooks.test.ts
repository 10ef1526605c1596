/** Webhook ingress through the real server: accepted events are processed, refused ones enqueue nothing. */
import { afterEach, describe, expect, it } from 'vitest';
import { redactUrl } from '../../../src/server/build.js';
import type { ServerEngine } from '../../../src/server/deps.js';
import type { Engine } from '../../../src/sync/engine.js';
import { signMemoryWebhook } from '../../../connectors/memory/signature.js';
import { startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

const SECRET = 'test-webhook-secret-0123456789abcdef';

function payload(eventId: string, email: string, extra: Record<string, unknown> = {}): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    eventId,
    occurredAt: now,
    kind: 'changed',
    records: [{ id: `rec-${eventId}`, modstamp: 1, updatedAt: now, fields: { email, first_name: 'Ada', ...extra } }],
  });
}

function signed(body: string, at = Date.now()): Record<string, string> {
  return { 'content-type': 'application/json', 'x-memory-signature': signMemoryWebhook(SECRET, body, at) };
}

/** The engine as the server sees it, with some of its methods replaced. */
function serverEngine(engine: Engine, overrides: Partial<ServerEngine>): ServerEngine {
  return {
    prefix: engine.prefix,
    deadLetters: engine.deadLetters,
    connectorStatus: (id, now) => engine.connectorStatus(id, now),
    changesPerMinute: (minutes, now) => engine.changesPerMinute(minutes, now),
    receiveWebhook: (id, raw) => engine.receiveWebhook(id, raw),
    unpark: (id) => engine.unpark(id),
    instance: (id) => engine.instance(id),
    pullNow: (id, options) => engine.pullNow(id, options),
    pullProgress: (id, jobId) => engine.pullProgress(id, jobId),
    pushAgain: (profileId) => engine.pushAgain(profileId),
    pushHeld: (profileId) => engine.pushHeld(profileId),
    ...overrides,
  };
}

/**
 * A hub whose connector `crm` admits only the URL token `let-me-in`, with `more` on its instance;
 * `seen` gets the URL token of every webhook the engine receives.
 */
function tokenHub(
  seen: (string | undefined)[],
  more: Partial<Awaited<ReturnType<ServerEngine['instance']>>>,
  server?: { webhookRateLimit: number },
): Promise<ServerHub> {
  return startServerHub({
    roles: false,
    ...(server ? { server } : {}),
    engine: (engine) =>
      serverEngine(engine, {
        receiveWebhook: (id, raw) => {
          seen.push(raw.urlToken);
          return engine.receiveWebhook(id, raw);
        },
        instance: async (id) => {
          const instance = await engine.instance(id);
          if (id !== 'crm') return instance;
          return {
            ...instance,
            admit: (head) =>
              head.urlToken === 'let-me-in' ? { ok: true } : { ok: false, status: 401, reason: 'wrong or missing URL token' },
            ...more,
          };
        },
      }),
  });
}

async function ingestJobs(s: ServerHub): Promise<number> {
  const status = await s.hub.engine.status();
  const q = status.queues.find((x) => x.queue === 'ingest');
  return (q?.wait ?? 0) + (q?.active ?? 0) + (q?.delayed ?? 0);
}

describe('POST /webhooks/:connectorId', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('accepts a signed webhook with 200, dedupes a redelivery on its event id, and the change is ingested', async () => {
    s = await startServerHub({ roles: false });
    const body = payload('evt-1', 'ada@example.com');
    const first = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(body), payload: body });
    expect(first.statusCode).toBe(200);
    const again = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(body), payload: body });
    expect(again.statusCode).toBe(200);
    // One job for two deliveries of the same event.
    expect(await ingestJobs(s)).toBe(1);

    await s.hub.engine.start();
    await s.hub.settle();
    const profile = await s.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
    expect(profile?.attributes['firstName']).toMatchObject({ value: 'Ada', source: 'crm' });
    // ...and it reached the other system.
    expect(s.hub.systems['shop']?.get({ email: 'ada@example.com' })?.fields['first_name']).toBe('Ada');
  });

  it('reads any content type as raw bytes (e.g. SOAP XML) and hands them to the connector untouched', async () => {
    s = await startServerHub({ roles: false });
    const body = payload('evt-xml', 'grace@example.com');
    const response = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm',
      headers: { ...signed(body), 'content-type': 'text/xml; charset=utf-8' },
      payload: body,
    });
    expect(response.statusCode).toBe(200);
    expect(await ingestJobs(s)).toBe(1);
  });

  it('refuses a bad signature (401), a malformed body (400), an unknown connector (404) and an oversized body (413), enqueueing nothing', async () => {
    s = await startServerHub({ roles: false, server: { webhookBodyLimit: 2_048 } });
    const body = payload('evt-2', 'ada@example.com');

    const tampered = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm',
      headers: signed(body),
      payload: body.replace('Ada', 'Eve'),
    });
    expect(tampered.statusCode).toBe(401);
    expect(tampered.json()).toMatchObject({ status: 401, code: 'bad_signature' });
    const unsigned = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm',
      headers: { 'content-type': 'application/json' },
      payload: body,
    });
    expect(unsigned.statusCode).toBe(401);
    const stale = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm',
      headers: signed(body, Date.now() - 3_600_000),
      payload: body,
    });
    expect(stale.statusCode).toBe(401);

    const junk = '{"not":"a webhook"}';
    const malformed = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(junk), payload: junk });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ status: 400, code: 'malformed_body' });
    const notJson = 'hello';
    expect((await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(notJson), payload: notJson })).statusCode).toBe(400);

    const unknown = await s.app.inject({ method: 'POST', url: '/webhooks/nope', headers: signed(body), payload: body });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'unknown_connector' });

    const big = payload('evt-big', 'ada@example.com', { notes: 'x'.repeat(4_000) });
    const oversized = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(big), payload: big });
    expect(oversized.statusCode).toBe(413);
    expect(oversized.json()).toMatchObject({ status: 413, code: 'body_too_large' });

    expect(await ingestJobs(s)).toBe(0);
    const metrics = await s.metrics.getSingleMetricAsString('concord_http_webhooks_total');
    for (const status of ['401', '400', '404', '413']) expect(metrics).toContain(`status="${status}"`);
  });

  it("answers a refused webhook in the sender's own format when the connector has refuse (e.g. a SOAP fault)", async () => {
    s = await startServerHub({
      roles: false,
      engine: (engine) =>
        serverEngine(engine, {
          instance: async (id) => ({
            ...(await engine.instance(id)),
            refuse: (failure) => ({ status: 500, contentType: 'text/xml', body: `<fault>${failure.status}</fault>` }),
          }),
        }),
    });
    const body = payload('evt-3', 'ada@example.com');
    const refused = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: { 'content-type': 'text/xml' }, payload: body });
    expect(refused.statusCode).toBe(500);
    expect(refused.headers['content-type']).toContain('text/xml');
    expect(refused.body).toBe('<fault>401</fault>');
    expect(await ingestJobs(s)).toBe(0);
  });

  it('takes a URL token only for a connector that admits by one, and refuses before reading the body when it does not admit', async () => {
    const seen: (string | undefined)[] = [];
    s = await tokenHub(seen, {
      refuse: (failure) => ({ status: 500, contentType: 'text/xml', body: `<fault>${failure.status} ${failure.reason}</fault>` }),
    });
    const body = payload('evt-token', 'ada@example.com');
    // Refused in onRequest: the engine never sees the request.
    for (const url of ['/webhooks/crm', '/webhooks/crm/wrong']) {
      const refused = await s.app.inject({ method: 'POST', url, headers: signed(body), payload: body });
      expect(refused.statusCode).toBe(500);
      expect(refused.body).toBe('<fault>401 wrong or missing URL token</fault>');
    }
    expect(seen).toEqual([]);
    const admitted = await s.app.inject({ method: 'POST', url: '/webhooks/crm/let-me-in', headers: signed(body), payload: body });
    expect(admitted.statusCode).toBe(200);
    expect(seen).toEqual(['let-me-in']);
    // A connector that does not admit by a token has nothing at such an address.
    const other = await s.app.inject({ method: 'POST', url: '/webhooks/shop/let-me-in', headers: signed(body), payload: body });
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ code: 'unknown_connector' });
    expect(await ingestJobs(s)).toBe(1);
    const metrics = await s.metrics.getSingleMetricAsString('concord_http_webhooks_total');
    expect(metrics).toMatch(/connector="crm",status="401"\} 2/);
  });

  it("answers a sender's validation GET (Mailchimp checks the URL before it saves a webhook) only for a connector that validates, after admission", async () => {
    const seen: (string | undefined)[] = [];
    s = await tokenHub(seen, {
      validation: (head) => ({ status: 200, contentType: 'text/plain', body: `ok ${head.urlToken ?? 'no token'}` }),
    });
    const ok = await s.app.inject({ method: 'GET', url: '/webhooks/crm/let-me-in' });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('ok let-me-in');
    // The URL token is checked as for a delivery: a wrong one learns nothing.
    const wrong = await s.app.inject({ method: 'GET', url: '/webhooks/crm/wrong' });
    expect(wrong.statusCode).toBe(401);
    // A connector without `validation` has no GET address.
    const other = await s.app.inject({ method: 'GET', url: '/webhooks/shop' });
    expect(other.statusCode).toBe(404);
    expect(seen).toEqual([]);
    expect(await ingestJobs(s)).toBe(0);
  });

  it('answers any other method or path under /webhooks with the same problem document as an unknown connector', async () => {
    s = await startServerHub({ roles: false });
    for (const [method, url] of [
      ['GET', '/webhooks/crm'],
      ['PUT', '/webhooks/crm'],
      ['POST', '/webhooks'],
      ['POST', '/webhooks/crm/a/b'],
    ] as const) {
      const res = await s.app.inject({
        method,
        url,
        ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, payload: '{}' }),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.headers['content-type'], `${method} ${url}`).toContain('application/problem+json');
      expect(res.json()).toEqual({
        type: 'about:blank',
        title: 'no connector takes webhooks at this address',
        status: 404,
        code: 'unknown_connector',
      });
    }
    expect(await ingestJobs(s)).toBe(0);
  });

  it('keeps URL tokens out of request logs', () => {
    expect(redactUrl('/webhooks/salesforce/s3cr3t-token?x=1')).toBe('/webhooks/salesforce/[token]?x=1');
    expect(redactUrl('/webhooks/hubspot')).toBe('/webhooks/hubspot');
    expect(redactUrl('/preferences/abc.def')).toBe('/preferences/[token]');
  });

  it('hands the connector the URL the sender was given, publicUrl plus the path and query, never one built from Host or X-Forwarded-* (signatures cover it)', async () => {
    const seen: string[] = [];
    s = await startServerHub({
      roles: false,
      publicUrl: 'https://hub.example.com/concord',
      trustProxy: ['127.0.0.1'],
      engine: (engine) =>
        serverEngine(engine, {
          receiveWebhook: (id, raw) => {
            seen.push(raw.url);
            return engine.receiveWebhook(id, raw);
          },
        }),
    });
    const body = payload('evt-url', 'ada@example.com');
    const forged = { host: 'staging.example.net', 'x-forwarded-host': 'staging.example.net', 'x-forwarded-proto': 'http' };
    const response = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm?portal=42',
      headers: { ...signed(body), ...forged },
      payload: body,
    });
    expect(response.statusCode).toBe(200);
    expect(seen).toEqual(['https://hub.example.com/concord/webhooks/crm?portal=42']);
  });

  it('caps bodies at 1 MB by default', async () => {
    s = await startServerHub({ roles: false });
    const big = payload('evt-huge', 'ada@example.com', { notes: 'x'.repeat(1024 * 1024) });
    const response = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(big), payload: big });
    expect(response.statusCode).toBe(413);
    const fits = payload('evt-fits', 'ada@example.com', { notes: 'x'.repeat(900 * 1024) });
    expect((await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(fits), payload: fits })).statusCode).toBe(200);
  });

  it('rate-limits webhook requests per client and connector', async () => {
    s = await startServerHub({ roles: false, server: { webhookRateLimit: 3 } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const body = payload(`evt-rl-${i}`, `p${i}@example.com`);
      codes.push((await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: signed(body), payload: body })).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const other = payload('evt-other', 'q@example.com');
    expect((await s.app.inject({ method: 'POST', url: '/webhooks/shop', headers: signed(other), payload: other })).statusCode).toBe(200);
  });

  it('rate-limits validation GETs like deliveries, so URL tokens cannot be tried at will', async () => {
    const seen: (string | undefined)[] = [];
    s = await tokenHub(seen, { validation: () => ({ status: 200 }) }, { webhookRateLimit: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await s.app.inject({ method: 'GET', url: `/webhooks/crm/guess-${i}` })).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
  });
});

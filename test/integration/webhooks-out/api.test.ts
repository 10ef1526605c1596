/**
 * Outbound webhooks through the hub: the engine hands `ctx.outboundWebhooks` to an instance whose
 * definition declares an endpoint and delivers with the `push` role; the admin API routes and
 * `concord webhooks-out` show and act on the endpoint.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import memoryConnector from '../../../connectors/memory/connector.js';
import type { OutboundWebhookEndpoint, OutboundWebhooks } from '../../../src/connector/define.js';
import { actOnWebhooksOut } from '../../../src/cli/commands/webhooks-out.js';
import { WebhooksOutAdmin } from '../../../src/sync/index.js';
import { hubYaml, hubspotYaml } from '../../../harness/hub-config.js';
import { REDIS_URL, waitFor } from '../../../harness/sync-hub.js';
import { captureIo as capture, runConcord } from '../../helpers/cli.js';
import { startServerHub } from '../server/harness.js';
import type { ServerHub } from '../server/harness.js';
import { SECRET, startSignedReceiver } from './receiver.js';
import type { SignedReceiver } from './receiver.js';

const message = (id: string) => ({ id, type: 'contact.updated', data: { id }, at: '2026-01-01T00:00:00.000Z' });

describe('outbound webhooks in a hub', () => {
  let receiver: SignedReceiver;
  let s: ServerHub;
  let outbound: OutboundWebhooks | undefined;

  beforeEach(async () => {
    receiver = await startSignedReceiver([SECRET]);
    const endpoint: OutboundWebhookEndpoint = {
      url: receiver.url,
      secrets: [SECRET],
      retryScheduleMs: [],
      timeoutMs: 5_000,
      allowPrivateNetwork: true,
    };
    outbound = undefined;
    s = await startServerHub({
      systems: [
        {
          id: 'crm',
          definition: {
            ...memoryConnector,
            outboundWebhooks: () => endpoint,
            create: (ctx) => {
              outbound = ctx.outboundWebhooks;
              return memoryConnector.create(ctx);
            },
          },
        },
        { id: 'shop' },
      ],
      tuning: { webhooksOut: { pollMs: 20 } },
    });
  });
  afterEach(async () => {
    await s.close();
    await receiver.close();
  });

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown, key: 'admin' | 'reader' = 'admin') => {
    const response = await s.app.inject({
      method,
      url: `/api/v1/connectors/${path}`,
      headers: s.bearer(key),
      ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { ...s.bearer(key), 'content-type': 'application/json' } }),
    });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };

  it('gives the instance ctx.outboundWebhooks, and the push role delivers what it enqueues', async () => {
    expect(s.hub.connectors.map((c) => [c.id, c.outboundWebhooks?.url])).toEqual([
      ['crm', receiver.url],
      ['shop', undefined],
    ]);
    await s.hub.engine.instance('crm');
    if (!outbound) throw new Error('the crm instance got no outboundWebhooks');
    await outbound.enqueue([message('m1'), message('m2')]);
    await waitFor(async () => (await outbound?.status(['m1', 'm2']))?.every((st) => st === 'delivered') ?? false, 10_000, 'delivered');
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    const metrics = await s.metrics.metrics();
    expect(metrics).toContain('concord_webhooks_out_delivered_total{endpoint="crm"} 2');
    expect(metrics).toContain('concord_webhooks_out_pending{endpoint="crm"} 0');
  });

  it('serves the endpoint state, dead letters, redelivery and enabling on the admin API', async () => {
    await s.hub.engine.instance('crm');
    // The bad one is answered last: the good one's success keeps the endpoint enabled.
    receiver.answer(({ id }) => (id === 'bad' ? { status: 500, delayMs: 300 } : { status: 204 }));
    await outbound?.enqueue([message('good'), message('bad')]);
    await waitFor(async () => (await outbound?.status(['bad']))?.[0] === 'failed', 10_000, 'a dead letter');
    await waitFor(async () => (await outbound?.status(['good']))?.[0] === 'delivered', 10_000, 'a delivery');

    const state = await api('GET', 'crm/webhooks-out');
    expect(state).toMatchObject({
      status: 200,
      body: { connector: 'crm', url: receiver.url, state: 'enabled', counts: { pending: 0, delivered: 1, dead: 1 } },
    });
    const dead = await api('GET', 'crm/webhooks-out/dead-letters?limit=10');
    expect(dead).toMatchObject({
      status: 200,
      body: { deadLetters: [{ id: 'bad', type: 'contact.updated', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' }] },
    });

    // A 410 disables the endpoint; the operator enables it again.
    receiver.answer(() => ({ status: 410 }));
    await outbound?.enqueue([message('gone')]);
    await waitFor(async () => (await api('GET', 'crm/webhooks-out')).body['state'] === 'disabled_gone', 10_000, 'disabled');
    receiver.answer(() => ({ status: 204 }));
    expect(await api('POST', 'crm/webhooks-out/redeliver', { ids: ['bad', 'nosuch'] })).toEqual({ status: 202, body: { redelivered: 1 } });
    expect(await api('POST', 'crm/webhooks-out/enable')).toEqual({
      status: 200,
      body: { connector: 'crm', previousState: 'disabled_gone', state: 'enabled' },
    });
    await waitFor(async () => (await outbound?.status(['bad', 'gone']))?.every((st) => st === 'delivered') ?? false, 10_000, 'redelivered');
    expect(await api('POST', 'crm/webhooks-out/redeliver')).toEqual({ status: 202, body: { redelivered: 0 } });

    expect((await api('GET', 'shop/webhooks-out')).status).toBe(404);
    expect((await api('GET', 'nosuch/webhooks-out/dead-letters')).status).toBe(404);
    expect((await api('POST', 'crm/webhooks-out/enable', undefined, 'reader')).status).toBe(403);
    expect((await api('POST', 'crm/webhooks-out/redeliver', { ids: 'bad' })).status).toBe(400);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await s.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const paths = Object.keys(doc.json<{ paths: Record<string, unknown> }>().paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/api/v1/connectors/{id}/webhooks-out',
        '/api/v1/connectors/{id}/webhooks-out/dead-letters',
        '/api/v1/connectors/{id}/webhooks-out/redeliver',
        '/api/v1/connectors/{id}/webhooks-out/enable',
      ]),
    );
  });

  it('concord webhooks-out enables, redelivers and lists dead letters', async () => {
    await s.hub.engine.instance('crm');
    receiver.answer(() => ({ status: 500 }));
    await outbound?.enqueue([message('x')]);
    await waitFor(async () => (await outbound?.status(['x']))?.[0] === 'failed', 10_000, 'a dead letter');
    const admin = new WebhooksOutAdmin(s.hub.store, s.hub.connectors);
    const listed = capture();
    await actOnWebhooksOut(listed.io, admin, 'crm', { dead: true });
    expect(listed.out()).toContain('  state: disabled_exhausted since');
    expect(listed.out()).toContain('  messages: 0 pending, 0 delivered, 1 dead');
    expect(listed.out()).toMatch(/ {2}dead x contact\.updated: 1 attempts, last HTTP 500 \(HTTP 500\), enqueued /);

    receiver.answer(() => ({ status: 204 }));
    const acted = capture();
    await actOnWebhooksOut(acted.io, admin, 'crm', { enable: true, redeliver: true });
    expect(acted.out()).toContain('crm: endpoint enabled (it was disabled_exhausted)');
    expect(acted.out()).toContain('crm: 1 dead letter(s) pending again');
    await waitFor(async () => (await outbound?.status(['x']))?.[0] === 'delivered', 10_000, 'redelivered');
    const json = capture();
    await actOnWebhooksOut(json.io, admin, 'crm', { json: true });
    expect(JSON.parse(json.out())).toMatchObject({ connector: 'crm', state: 'enabled', counts: { delivered: 1, dead: 0 } });
  });
});

describe('concord webhooks-out', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'concord-wo-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a connector that sends no outbound webhooks, and an unknown one', async () => {
    const file = join(dir, 'concord.yaml');
    writeFileSync(
      file,
      hubYaml({ redisUrl: REDIS_URL, databaseUrl: `sqlite:${join(dir, 'c.db')}`, prefix: '{wo-cli}' }) +
        'connectors:\n' +
        hubspotYaml({ baseUrl: 'http://127.0.0.1:1', appId: 1 }),
    );
    const env = {
      T_SIGNING: 's'.repeat(40),
      T_HASH: 'h'.repeat(40),
      T_HS_TOKEN: 'token',
      T_HS_SECRET: 'secret-0123456789abcdef',
    };
    const refused = await runConcord(['webhooks-out', 'hubspot', '--config', file], env);
    expect(refused).toMatchObject({ code: 1, stderr: 'concord webhooks-out: connector "hubspot" sends no outbound webhooks\n' });
    const unknown = await runConcord(['webhooks-out', 'nosuch', '--config', file], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no enabled connector "nosuch"');
  });
});

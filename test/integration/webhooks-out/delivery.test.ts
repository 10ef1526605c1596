/**
 * Outbound Standard Webhooks, store and delivery worker together, on SQLite and PostgreSQL: a
 * loopback receiver verifies every request with the official `standardwebhooks` library.
 */
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboundWebhookEndpoint, OutboundWebhookMessage } from '../../../src/connector/define.js';
import type { Store } from '../../../src/store/index.js';
import { createWebhooksOutMetrics, storeOutboundWebhooks, WebhookDeliveryWorker, WebhooksOutAdmin } from '../../../src/sync/index.js';
import type { WebhooksOutTuningInput } from '../../../src/sync/index.js';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { testLogger, waitFor } from '../../../harness/sync-hub.js';
import { openTestStore } from '../store/fixtures.js';
import { SECRET, startSignedReceiver } from './receiver.js';
import type { SignedReceiver } from './receiver.js';

const NEXT_SECRET = `whsec_${Buffer.from('outbound-test-secret-rotated-0123456789').toString('base64')}`;
const ENDPOINT_ID = 'crm';

function messages(n: number, prefix = 'msg'): OutboundWebhookMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}_${i}`,
    type: 'profile.updated',
    data: { n: i },
    at: '2026-01-01T00:00:00.000Z',
  }));
}

describe.each(TEST_DIALECTS)('outbound webhooks (%s)', (dialect) => {
  let db: TestDatabase;
  let store: Store;
  let receiver: SignedReceiver;
  let registry: Registry;
  const workers: WebhookDeliveryWorker[] = [];
  const stores: Store[] = [];

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = await openTestStore(db.url);
    receiver = await startSignedReceiver([SECRET]);
    registry = new Registry();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    for (const other of stores.splice(0)) await other.close();
    await store.close();
    await receiver.close();
    await db.drop();
  });

  function endpoint(overrides: Partial<OutboundWebhookEndpoint> = {}): OutboundWebhookEndpoint {
    return { url: receiver.url, secrets: [SECRET], retryScheduleMs: [10, 10], timeoutMs: 5_000, allowPrivateNetwork: true, ...overrides };
  }

  async function startWorker(
    config: OutboundWebhookEndpoint = endpoint(),
    tuning: WebhooksOutTuningInput = {},
    on: Store = store,
  ): Promise<WebhookDeliveryWorker> {
    const worker = new WebhookDeliveryWorker({
      store: on,
      endpoints: [{ id: ENDPOINT_ID, endpoint: config }],
      metrics: createWebhooksOutMetrics(registry, () => on.pendingWebhookCounts(), [ENDPOINT_ID]),
      logger: testLogger(),
      tuning: { pollMs: 20, leaseMarginMs: 2_000, ...tuning },
    });
    workers.push(worker);
    await worker.start();
    return worker;
  }

  const outbound = (worker?: WebhookDeliveryWorker) => storeOutboundWebhooks(store, ENDPOINT_ID, () => worker?.nudge(ENDPOINT_ID));
  const admin = () => new WebhooksOutAdmin(store, [{ id: ENDPOINT_ID, outboundWebhooks: endpoint() }]);
  const allStatus = async (ids: string[]) => outbound().status(ids);

  it('delivers each message signed (Standard Webhooks verify), with the body {type, timestamp, data}', async () => {
    const worker = await startWorker();
    await outbound(worker).enqueue(messages(3));
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.counts.delivered === 3, 10_000, 'three deliveries');
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    const first = receiver.received.find((r) => r.id === 'msg_0');
    expect(first?.body).toEqual({ type: 'profile.updated', timestamp: '2026-01-01T00:00:00.000Z', data: { n: 0 } });
    expect(await allStatus(['msg_0', 'msg_1', 'msg_2', 'msg_9'])).toEqual(['delivered', 'delivered', 'delivered', 'unknown']);
    const metrics = await registry.getSingleMetricAsString('concord_webhooks_out_delivered_total');
    expect(metrics).toContain('concord_webhooks_out_delivered_total{endpoint="crm"} 3');
    expect(await registry.getSingleMetricAsString('concord_webhooks_out_delivery_seconds')).toContain(
      'concord_webhooks_out_delivery_seconds_count{endpoint="crm"} 3',
    );
  });

  it('signs with every secret during a rotation: a receiver with either secret verifies', async () => {
    const rotated = await startSignedReceiver([SECRET, NEXT_SECRET]);
    try {
      const worker = await startWorker(endpoint({ url: rotated.url, secrets: [NEXT_SECRET, SECRET] }));
      await outbound(worker).enqueue(messages(1));
      await waitFor(() => rotated.delivered().length === 1, 10_000, 'a delivery');
      expect(rotated.received[0]).toMatchObject({ verified: true, signatures: 2 });
    } finally {
      await rotated.close();
    }
  });

  it('stores a message once per id (enqueue is idempotent), and delivers it once', async () => {
    await outbound().enqueue(messages(2));
    await outbound().enqueue([
      { id: 'msg_0', type: 'profile.deleted', data: { other: true }, at: '2026-02-01T00:00:00.000Z' },
      ...messages(2),
    ]);
    expect(await db.count('webhook_deliveries')).toBe(2);
    expect(await allStatus(['msg_0', 'msg_1'])).toEqual(['pending', 'pending']);
    await startWorker();
    await waitFor(async () => (await allStatus(['msg_0', 'msg_1'])).every((s) => s === 'delivered'), 10_000, 'both delivered');
    expect(receiver.delivered().sort()).toEqual(['msg_0', 'msg_1']);
    expect(receiver.received.find((r) => r.id === 'msg_0')?.body.type).toBe('profile.updated');
  });

  it('retries failures on the schedule with the same webhook-id, each attempt signed afresh', async () => {
    receiver.answer(({ attempt }) => ({ status: attempt < 3 ? 500 : 204 }));
    const worker = await startWorker(endpoint({ retryScheduleMs: [5, 5, 5] }));
    await outbound(worker).enqueue(messages(1));
    await waitFor(async () => (await allStatus(['msg_0']))[0] === 'delivered', 10_000, 'a delivery');
    expect(receiver.received.map((r) => [r.id, r.attempt, r.status, r.verified])).toEqual([
      ['msg_0', 1, 500, true],
      ['msg_0', 2, 500, true],
      ['msg_0', 3, 204, true],
    ]);
    const [row] = await db.query<{ attempts: number; status: string; last_status: number }>(
      'select attempts, status, last_status from webhook_deliveries',
    );
    expect(row).toMatchObject({ attempts: 3, status: 'delivered', last_status: 204 });
    expect(await registry.getSingleMetricAsString('concord_webhooks_out_failed_attempts_total')).toContain('{endpoint="crm"} 2');
  });

  it('waits for Retry-After when it is longer than the schedule step', async () => {
    receiver.answer(({ attempt }) => (attempt === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
    const worker = await startWorker(endpoint({ retryScheduleMs: [5] }));
    await outbound(worker).enqueue(messages(1));
    await waitFor(() => receiver.delivered().length === 1, 10_000, 'a delivery');
    const [first, second] = receiver.received;
    expect(first?.status).toBe(429);
    // The schedule said 5 ms; the receiver asked for a second.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
    // Signed again when sent, with its own webhook-timestamp, under the same webhook-id.
    expect(second).toMatchObject({ id: 'msg_0', verified: true });
    expect(second?.timestamp).toBeGreaterThan(first?.timestamp ?? Number.POSITIVE_INFINITY);
  });

  it('a 410 disables the endpoint: nothing more is sent until it is enabled, then everything waiting goes', async () => {
    receiver.answer(() => ({ status: 410 }));
    const counted = countingClaims(store);
    const worker = await startWorker(endpoint(), {}, counted.store);
    await outbound(worker).enqueue(messages(1, 'first'));
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.state === 'disabled_gone', 10_000, 'endpoint disabled');
    expect(await allStatus(['first_0'])).toEqual(['failed']);
    receiver.answer(() => ({ status: 204 }));
    await outbound(worker).enqueue(messages(2, 'later'));
    // The worker looked for due messages twice since then, and sent nothing.
    const claims = counted.claims();
    await waitFor(() => counted.claims() >= claims + 2, 10_000, 'two claims');
    expect(receiver.received.map((r) => r.id)).toEqual(['first_0']);
    expect(await admin().report(ENDPOINT_ID)).toMatchObject({
      state: 'disabled_gone',
      reason: 'the receiver answered 410 Gone',
      counts: { pending: 3, delivered: 0, dead: 0 },
    });

    expect(await admin().enable(ENDPOINT_ID, 'test')).toBe('disabled_gone');
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.counts.delivered === 3, 10_000, 'three deliveries');
    expect(receiver.delivered().sort()).toEqual(['first_0', 'later_0', 'later_1']);
    expect(await allStatus(['first_0', 'later_0', 'later_1'])).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('an attempt that began before an operator enabled the endpoint does not disable it again', async () => {
    await store.registerWebhookEndpoint(ENDPOINT_ID, receiver.url);
    await outbound().enqueue(messages(2));
    const [gone, dead] = await store.claimWebhookDeliveries(ENDPOINT_ID, 2, 60_000);
    const startedAt = new Date(Date.now() - 1_000).toISOString();
    // Both answers came before the operator's enable, and are recorded after it.
    await admin().enable(ENDPOINT_ID, 'test');
    await store.recordWebhookAttempts([
      { endpoint: ENDPOINT_ID, messageId: gone?.messageId ?? '', claimId: gone?.claimId ?? '', startedAt, outcome: { kind: 'gone' } },
      {
        endpoint: ENDPOINT_ID,
        messageId: dead?.messageId ?? '',
        claimId: dead?.claimId ?? '',
        startedAt,
        outcome: { kind: 'dead', status: 500, error: 'HTTP 500' },
      },
    ]);
    expect((await store.webhookEndpoint(ENDPOINT_ID))?.state).toBe('enabled');
    // The same answers to attempts begun after the enable disable it.
    await store.redeliverWebhooks(ENDPOINT_ID);
    const [again] = await store.claimWebhookDeliveries(ENDPOINT_ID, 1, 60_000);
    await store.recordWebhookAttempts([
      {
        endpoint: ENDPOINT_ID,
        messageId: again?.messageId ?? '',
        claimId: again?.claimId ?? '',
        startedAt: new Date().toISOString(),
        outcome: { kind: 'gone' },
      },
    ]);
    expect((await store.webhookEndpoint(ENDPOINT_ID))?.state).toBe('disabled_gone');
  });

  it('a new URL in the config enables an endpoint the old URL disabled', async () => {
    receiver.answer(() => ({ status: 410 }));
    const first = await startWorker();
    await outbound(first).enqueue(messages(1));
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.state === 'disabled_gone', 10_000, 'endpoint disabled');
    await first.stop();
    const moved = await startSignedReceiver([SECRET]);
    try {
      // A process started with the new URL registers it.
      await startWorker(endpoint({ url: moved.url }));
      await waitFor(async () => (await allStatus(['msg_0']))[0] === 'delivered', 10_000, 'delivered to the new URL');
      expect(moved.delivered()).toEqual(['msg_0']);
      expect(await store.webhookEndpoint(ENDPOINT_ID)).toMatchObject({ state: 'enabled', reason: null });
      expect(JSON.stringify(await db.query('select * from webhook_endpoints'))).not.toContain('127.0.0.1');
    } finally {
      await moved.close();
    }
  });

  it('deletes delivered rows past their retention (their status then reads unknown), never pending or dead ones', async () => {
    receiver.answer(({ id }) => ({ status: id === 'msg_1' ? 400 : 204 }));
    await outbound().enqueue(messages(2));
    const worker = await startWorker(endpoint({ retryScheduleMs: [] }));
    await waitFor(async () => (await allStatus(['msg_0', 'msg_1'])).every((st) => st !== 'pending'), 10_000, 'both settled');
    await worker.stop();
    await outbound().enqueue(messages(1, 'waiting'));
    expect(await store.purgeDeliveredWebhooks(new Date(Date.now() - 60_000).toISOString())).toBe(0);
    expect(await store.purgeDeliveredWebhooks(new Date(Date.now() + 60_000).toISOString())).toBe(1);
    expect(await allStatus(['msg_0', 'msg_1', 'waiting_0'])).toEqual(['unknown', 'failed', 'pending']);
  });

  it('never follows a redirect: a 3xx is a failed attempt', async () => {
    const elsewhere = await startSignedReceiver([SECRET]);
    try {
      receiver.answer(() => ({ status: 307, headers: { location: elsewhere.url } }));
      const worker = await startWorker(endpoint({ retryScheduleMs: [] }));
      await outbound(worker).enqueue(messages(1));
      await waitFor(async () => (await allStatus(['msg_0']))[0] === 'failed', 10_000, 'dead letter');
      expect(elsewhere.received).toEqual([]);
      const [dead] = await store.webhookDeadLetters(ENDPOINT_ID);
      expect(dead).toMatchObject({ messageId: 'msg_0', attempts: 1, lastStatus: 307, lastError: 'redirect not followed (HTTP 307)' });
    } finally {
      await elsewhere.close();
    }
  });

  it('dead-letters after the last step (disabling an endpoint that never got through), then redelivers', async () => {
    receiver.answer(() => ({ status: 500 }));
    const worker = await startWorker(endpoint({ retryScheduleMs: [5, 5] }));
    await outbound(worker).enqueue(messages(2));
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.state === 'disabled_exhausted', 10_000, 'endpoint disabled');
    // The first message to die disabled the endpoint: the other one waits (pending) or died too.
    // Nothing is claimed any more once the attempts in flight are recorded.
    await waitFor(
      async () =>
        (await db.query<{ n: number }>('select count(*) as n from webhook_deliveries where claim_id is not null')).every(
          (r) => Number(r.n) === 0,
        ),
      10_000,
      'attempts in flight recorded',
    );
    const dead = await store.webhookDeadLetters(ENDPOINT_ID);
    expect(dead.length).toBeGreaterThanOrEqual(1);
    for (const d of dead) expect(d).toMatchObject({ attempts: 3, lastStatus: 500, lastError: 'HTTP 500' });
    expect(await allStatus(['msg_0', 'msg_1'])).toEqual(['failed', 'failed']);
    const report = await admin().report(ENDPOINT_ID);
    expect(report).toMatchObject({ state: 'disabled_exhausted', lastSuccessAt: null });
    expect(report.counts.pending + report.counts.dead).toBe(2);
    expect(await registry.getSingleMetricAsString('concord_webhooks_out_dead_total')).toContain(`{endpoint="crm"} ${dead.length}`);

    receiver.answer(() => ({ status: 204 }));
    const [firstDead] = dead;
    expect(await admin().redeliver(ENDPOINT_ID, 'test', [firstDead?.messageId ?? ''])).toBe(1);
    // Pending again, but on a disabled endpoint: still failed, nothing sent.
    expect(await allStatus([firstDead?.messageId ?? ''])).toEqual(['failed']);
    await admin().enable(ENDPOINT_ID, 'test');
    await waitFor(async () => (await allStatus([firstDead?.messageId ?? '']))[0] === 'delivered', 10_000, 'redelivered');
    expect(await admin().redeliver(ENDPOINT_ID, 'test')).toBe(dead.length - 1);
    await waitFor(async () => (await allStatus(['msg_0', 'msg_1'])).every((s) => s === 'delivered'), 10_000, 'both delivered');
    expect(receiver.delivered().sort()).toEqual(['msg_0', 'msg_1']);
    const audit = await store.listAudit();
    expect(audit.map((a) => a.action).filter((a) => a.startsWith('webhooks_out.'))).toEqual(
      expect.arrayContaining(['webhooks_out.redelivered', 'webhooks_out.enabled']),
    );
  });

  it('keeps an endpoint that delivers enabled when one message dies', async () => {
    // The poison message is answered last, so the other one's success comes first.
    receiver.answer(({ id }) => (id === 'msg_1' ? { status: 400, delayMs: 300 } : { status: 204 }));
    const worker = await startWorker(endpoint({ retryScheduleMs: [] }));
    await outbound(worker).enqueue(messages(3));
    await waitFor(async () => (await allStatus(['msg_1']))[0] === 'failed', 10_000, 'msg_1 dead');
    expect(await allStatus(['msg_0', 'msg_1', 'msg_2'])).toEqual(['delivered', 'failed', 'delivered']);
    expect((await store.webhookEndpoint(ENDPOINT_ID))?.state).toBe('enabled');
  });

  it('a worker stopped half-way loses nothing: another one delivers the rest, none twice', async () => {
    receiver.answer(() => ({ status: 204, delayMs: 15 }));
    await outbound().enqueue(messages(40));
    const first = await startWorker(endpoint(), { concurrency: 2 });
    await waitFor(() => receiver.received.length >= 6, 10_000, 'some deliveries');
    await first.stop();
    const pending = (await store.webhookEndpoint(ENDPOINT_ID))?.counts.pending ?? 0;
    expect(pending).toBeGreaterThan(0);
    expect(receiver.delivered().length).toBe(40 - pending);

    const second = await openTestStore(db.url);
    stores.push(second);
    await startWorker(endpoint(), { concurrency: 4 }, second);
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.counts.delivered === 40, 20_000, 'every delivery');
    expect(new Set(receiver.delivered()).size).toBe(40);
    expect(receiver.delivered().length).toBe(40);
  });

  it('rows claimed by a worker that died are delivered by another after the lease, once', async () => {
    await outbound().enqueue(messages(5));
    await store.registerWebhookEndpoint(ENDPOINT_ID, receiver.url);
    // A worker claims them and dies before sending anything.
    const claimed = await store.claimWebhookDeliveries(ENDPOINT_ID, 5, 300);
    expect(claimed).toHaveLength(5);
    const survivor = await openTestStore(db.url);
    stores.push(survivor);
    await startWorker(endpoint(), {}, survivor);
    await waitFor(
      async () => (await store.webhookEndpoint(ENDPOINT_ID))?.counts.delivered === 5,
      10_000,
      'five deliveries after the lease',
    );
    // The dead worker's late outcome changes nothing: its claim no longer holds the rows.
    const late = await store.recordWebhookAttempts(
      claimed.map((c) => ({
        endpoint: ENDPOINT_ID,
        messageId: c.messageId,
        claimId: c.claimId,
        startedAt: new Date().toISOString(),
        outcome: { kind: 'dead', status: null, error: 'late' },
      })),
    );
    expect(late.dead).toEqual([]);
    expect(new Set(receiver.delivered()).size).toBe(5);
    expect(await allStatus(claimed.map((c) => c.messageId))).toEqual(Array(5).fill('delivered'));
  });

  it('two workers on one database deliver every message once', async () => {
    await outbound().enqueue(messages(60));
    const other = await openTestStore(db.url);
    stores.push(other);
    await Promise.all([startWorker(endpoint(), { concurrency: 4 }), startWorker(endpoint(), { concurrency: 4 }, other)]);
    await waitFor(async () => (await store.webhookEndpoint(ENDPOINT_ID))?.counts.delivered === 60, 20_000, 'every delivery');
    expect(receiver.delivered().length).toBe(60);
    expect(new Set(receiver.delivered()).size).toBe(60);
  });

  it('reports the URL without credentials, query or fragment', async () => {
    const secretive = new WebhooksOutAdmin(store, [
      { id: ENDPOINT_ID, outboundWebhooks: endpoint({ url: 'https://user:pw@hooks.example.com/in/concord?token=abc#frag' }) },
    ]);
    expect(await secretive.report(ENDPOINT_ID)).toMatchObject({ url: 'https://hooks.example.com/in/concord', state: 'enabled' });
  });

  it('serves the pending gauge per endpoint', async () => {
    createWebhooksOutMetrics(registry, () => store.pendingWebhookCounts(), [ENDPOINT_ID, 'idle']);
    await outbound().enqueue(messages(3));
    const text = await registry.getSingleMetricAsString('concord_webhooks_out_pending');
    expect(text).toContain('concord_webhooks_out_pending{endpoint="crm"} 3');
    expect(text).toContain('concord_webhooks_out_pending{endpoint="idle"} 0');
  });
});

/** The store, counting the worker's claims. */
function countingClaims(store: Store): { store: Store; claims(): number } {
  let claims = 0;
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === 'claimWebhookDeliveries')
        return (endpoint: string, limit: number, leaseMs: number) => {
          claims += 1;
          return target.claimWebhookDeliveries(endpoint, limit, leaseMs);
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: counted, claims: () => claims };
}

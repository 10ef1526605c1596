/**
 * `POST /api/v1/plans` and `GET /api/v1/plans/{planId}` through HTTP (`inject`) on a server built
 * from the plan hub's config, against the HubSpot and Salesforce emulators: the plan runs in the
 * background and its report says what `concord plan` says; it writes nothing (no write call in
 * either emulator's counters, the database's rows and cursors unchanged, in Redis only the plan's
 * own key, under the hub's prefix); one plan at a time per hub; a plan whose process went away is
 * failed; unknown plans and connectors are 404, a key without `admin` 403.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../../connectors/index.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { toMergePolicy } from '../../../src/config/policy.js';
import { silentLogger } from '../../../src/log/logger.js';
import { apiKeyRecords } from '../../../src/server/api-keys.js';
import { build } from '../../../src/server/build.js';
import { PlanView } from '../../../src/server/plans.js';
import { queueNames, queuePrefix } from '../../../src/queue/keys.js';
import type { Store } from '../../../src/store/index.js';
import { connectorsFromConfig } from '../../../src/sync/index.js';
import type { Engine } from '../../../src/sync/index.js';
import { startPlanHub, writeCalls } from './setup.js';
import type { PlanHub } from './setup.js';

const ADMIN = 'plan-admin-key-0123456789abcdef012345';
const READER = 'plan-reader-key-0123456789abcdef01234';

let hub: PlanHub;
let store: Store;
let engine: Engine;
let redis: Redis;
let app: FastifyInstance;

beforeEach(async () => {
  hub = await startPlanHub();
  hub.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.createContact({ email: 'bob@example.com', firstname: 'Bob', lastname: 'Byron' });
  await sleep(20);
  hub.salesforce.sideDoor.create('Contact', { Email: 'ada@example.com', FirstName: 'Augusta', LastName: 'Lovelace' });
  hub.salesforce.sideDoor.create('Contact', { Email: 'dan@example.com', FirstName: 'Dan', LastName: 'Brown' });
  store = await hub.store();
  // No workers: nothing but the plan could touch the systems.
  engine = await hub.engine(store, {});
  redis = new Redis(REDIS_URL);
  const { config } = hub;
  app = await build({
    hub: {
      publicUrl: config.hub.publicUrl,
      mode: config.hub.mode,
      secrets: config.hub.secrets,
      preferenceCenter: config.hub.preferenceCenter,
    },
    catalog: config.catalog,
    policy: toMergePolicy(config),
    store,
    engine,
    connectors: connectorsFromConfig(config, builtinConnectors),
    ingestPatch: () => Promise.reject(new Error('not in this test')),
    redis,
    metrics: engine.metrics.registry,
    apiKeys: apiKeyRecords([
      { id: 'ops', key: ADMIN, scopes: ['admin'] },
      { id: 'reader', key: READER, scopes: ['profiles:read'] },
    ]),
    logger: silentLogger(),
    options: { queueBoard: false },
  });
});
afterEach(async () => {
  await app.close();
  await engine.close();
  await store.close();
  redis.disconnect();
  await hub.close();
});

async function call(method: 'GET' | 'POST', url: string, body?: unknown, key = ADMIN): Promise<{ status: number; body: unknown }> {
  const res = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() };
}

/** Polls the plan until it is no longer running. */
async function finished(planId: string): Promise<PlanView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await call('GET', `/api/v1/plans/${planId}`);
    expect(res.status).toBe(200);
    const view = PlanView.parse(res.body);
    if (view.state !== 'running') return view;
    if (Date.now() > deadline) throw new Error('plan still running');
    await sleep(50);
  }
}

async function tableCounts(): Promise<Record<string, number>> {
  const tables = await hub.db.query<{ name: string }>(`select name from sqlite_master where type = 'table' order by name`);
  const out: Record<string, number> = {};
  for (const { name } of tables) out[name] = await hub.db.count(name);
  return out;
}

describe('POST /api/v1/plans, GET /api/v1/plans/{planId}', () => {
  it('makes the plan in the background and answers its report; nothing is written but the plan’s own Redis key', async () => {
    const before = await tableCounts();
    const cursorsBefore = await hub.db.query('select * from cursors');
    const keysBefore = new Set(await hub.redisKeys());
    hub.hubspot.sideDoor.resetCalls();
    hub.salesforce.sideDoor.resetCalls();

    const started = await call('POST', '/api/v1/plans');
    expect(started.status).toBe(202);
    const { planId } = started.body as { planId: string };
    const view = await finished(planId);
    expect(view).toMatchObject({ planId, connector: null, state: 'done', error: null });
    expect(view.endedAt).not.toBeNull();
    const report = view.report;
    expect(report?.sources.find((s) => s.connector === 'hubspot')).toMatchObject({ firstPull: true, records: 2, created: 2 });
    expect(report?.sources.find((s) => s.connector === 'salesforce')).toMatchObject({
      firstPull: true,
      records: 2,
      created: 1,
      updated: 1,
    });
    // HubSpot: Dan is new there, Ada's first name changes; Salesforce: Bob is new there.
    expect(report?.targets.find((t) => t.connector === 'hubspot')).toMatchObject({ create: 1, update: 1, unchanged: 1 });
    expect(report?.targets.find((t) => t.connector === 'salesforce')).toMatchObject({ create: 1, update: 0, unchanged: 2 });
    expect(view.progress.map((p) => p.connector).sort()).toEqual(['hubspot', 'salesforce']);
    expect(JSON.stringify(view)).not.toMatch(/@example\.com/);

    // One connector read, named in the body; one plan after the other is fine (the lock was freed).
    const one = await call('POST', '/api/v1/plans', { connector: 'salesforce' });
    expect(one.status).toBe(202);
    const second = await finished((one.body as { planId: string }).planId);
    expect(second).toMatchObject({ connector: 'salesforce', state: 'done' });
    expect(second.report?.sources.map((s) => s.connector)).toEqual(['salesforce']);

    expect(hub.hubspot.sideDoor.calls().total).toBeGreaterThan(0);
    expect(hub.salesforce.sideDoor.calls().total).toBeGreaterThan(0);
    expect(writeCalls(hub.hubspot.sideDoor.calls())).toEqual({});
    expect(writeCalls(hub.salesforce.sideDoor.calls())).toEqual({});
    expect(await tableCounts()).toEqual(before);
    expect(await hub.db.query('select * from cursors')).toEqual(cursorsBefore);
    // The engine's own relay sweep runs on the clock (a BullMQ repeat job: its next run, and while
    // one runs the queue's `active` list and `marker`): not the plan's. Seen in CI on a loaded machine.
    const added = (await hub.redisKeys())
      .filter((k) => !keysBefore.has(k) && !k.startsWith(`${queuePrefix(hub.prefix, queueNames.relay)}:relay:`))
      .sort();
    expect(added).toEqual([`${hub.prefix}:plan:${planId}`, `${hub.prefix}:plan:${second.planId}`].sort());
    expect(await redis.pttl(added[0] ?? '')).toBeGreaterThan(0);
  });

  it('answers running while the plan waits out a 429, refuses a second plan meanwhile, and ends plan_interrupted when the server shuts down', async () => {
    // HubSpot asks to wait 60 s: the plan waits (it is read first), running.
    hub.hubspot.sideDoor.rateLimitNextCall(60);
    const started = await call('POST', '/api/v1/plans');
    expect(started.status).toBe(202);
    const { planId } = started.body as { planId: string };
    const deadline = Date.now() + 20_000;
    while (hub.hubspot.sideDoor.calls().rateLimited === 0) {
      if (Date.now() > deadline) throw new Error('no 429 met');
      await sleep(20);
    }
    expect((await call('GET', `/api/v1/plans/${planId}`)).body).toMatchObject({ planId, state: 'running', endedAt: null, report: null });
    const second = await call('POST', '/api/v1/plans', { connector: 'salesforce' });
    expect(second).toMatchObject({ status: 409, body: { code: 'plan_running', detail: expect.stringContaining(planId) } });

    await app.close();
    const view = PlanView.parse(JSON.parse((await redis.get(`${hub.prefix}:plan:${planId}`)) ?? 'null'));
    expect(view).toMatchObject({ state: 'failed', error: { code: 'plan_interrupted' } });
    expect(await redis.exists(`${hub.prefix}:plan-lock`)).toBe(0);
    expect(writeCalls(hub.hubspot.sideDoor.calls())).toEqual({});
  });

  it('answers 409 plan_running while another process of the hub makes a plan', async () => {
    await redis.set(`${hub.prefix}:plan-lock`, 'elsewhere', 'PX', 60_000);
    const res = await call('POST', '/api/v1/plans');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'plan_running', detail: expect.stringContaining('elsewhere') });
    expect(writeCalls(hub.hubspot.sideDoor.calls())).toEqual({});
  });

  it('answers a running plan whose process went away (its lock lapsed) as failed, plan_abandoned', async () => {
    const planId = 'gone-0001';
    const running: PlanView = {
      planId,
      connector: null,
      state: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      progress: [{ connector: 'hubspot', pages: 1, records: 2 }],
      report: null,
      error: null,
    };
    await redis.set(`${hub.prefix}:plan:${planId}`, JSON.stringify(running), 'PX', 60_000);
    const view = await finished(planId);
    expect(view).toMatchObject({ state: 'failed', error: { code: 'plan_abandoned' }, progress: running.progress });
  });

  it('answers 404 for an unknown plan or connector, 400 for a bad body, 403 for a key without admin', async () => {
    expect((await call('GET', '/api/v1/plans/nosuch')).status).toBe(404);
    const unknown = await call('POST', '/api/v1/plans', { connector: 'nosuch' });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect((await call('POST', '/api/v1/plans', { connector: 7 })).status).toBe(400);
    expect((await call('POST', '/api/v1/plans', undefined, READER)).status).toBe(403);
    expect((await call('GET', '/api/v1/plans/nosuch', undefined, READER)).status).toBe(403);
    expect(await hub.redisKeys().then((keys) => keys.filter((k) => k.includes(':plan')))).toEqual([]);
  });

  it('documents both operations in the OpenAPI document with the PlanReport schema', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json<{
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    }>();
    expect(doc.paths['/api/v1/plans']?.['post']?.operationId).toBe('startPlan');
    expect(Object.keys(doc.paths['/api/v1/plans']?.['post']?.responses ?? {})).toEqual(
      expect.arrayContaining(['202', '403', '404', '409']),
    );
    expect(doc.paths['/api/v1/plans/{planId}']?.['get']?.operationId).toBe('getPlan');
    expect(JSON.stringify(doc.components.schemas['GetPlanResponse'])).toContain('#/components/schemas/PlanReport');
    expect(JSON.stringify(doc.components.schemas['PlanReport'])).toContain('waitsForFirstPull');
  });
});

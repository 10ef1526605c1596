/**
 * Data-subject requests through the admin API (`/api/v1/dsr`): keys and the `dsr` scope,
 * creating requests and following their status per system, overdue lists and extensions,
 * retrying a failed system, and the export as JSON and CSV; the OpenAPI document covers it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, describe, expect, it } from 'vitest';
import { EXPORT_SCHEMA_PATH } from '../../../src/privacy/index.js';
import type { DsrView } from '../../../src/privacy/index.js';
import { ADMIN_KEY, DSR_KEY, READ_KEY, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

type Json = Record<string, unknown>;
const ADA = 'ada@example.com';
const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function call(hub: PrivacyHub, method: 'GET' | 'POST', url: string, key: string | null, payload?: unknown) {
  const response = await hub.app.inject({
    method,
    url: `/api/v1${url}`,
    headers: key ? auth(key) : {},
    ...(payload === undefined ? {} : { payload: payload as Json }),
  });
  return {
    status: response.statusCode,
    body: String(response.headers['content-type'] ?? '').includes('json') ? (response.json() as Json) : {},
    text: response.body,
    headers: response.headers,
  };
}

async function until(hub: PrivacyHub, id: string, done: (v: DsrView) => boolean): Promise<DsrView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await call(hub, 'GET', `/dsr/${id}`, DSR_KEY);
    expect(r.status).toBe(200);
    const view = r.body as unknown as DsrView;
    if (done(view)) return view;
    if (Date.now() > deadline) throw new Error(`request ${id} stuck: ${JSON.stringify(view)}`);
    await sleep(50);
  }
}

async function seed(hub: PrivacyHub): Promise<void> {
  hub.hubspot.sideDoor.createContact({ email: ADA, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(ADA, 101);
  await hub.settle();
}

describe('admin API: data-subject requests', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('needs a key with the dsr scope, and answers erase and export requests with their status per system', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    await seed(h);
    expect((await call(h, 'POST', '/dsr', null, { kind: 'erase', subject: { email: ADA } })).status).toBe(401);
    expect((await call(h, 'POST', '/dsr', READ_KEY, { kind: 'erase', subject: { email: ADA } })).status).toBe(403);
    const invalid = await call(h, 'POST', '/dsr', DSR_KEY, { kind: 'erase', subject: { email: ADA, phone: '+442071234567' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ code: 'invalid_body' });
    const unknown = await call(h, 'POST', '/dsr', DSR_KEY, { kind: 'restrict', subject: { email: 'nobody@example.com' } });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'subject_not_found' } });

    const exported = await call(h, 'POST', '/dsr', ADMIN_KEY, { kind: 'export', subject: { email: ADA }, includeLive: true });
    expect(exported.status).toBe(202);
    const exportId = String(exported.body['id']);
    const exportView = await until(h, exportId, (v) => v.status === 'completed');
    expect(exportView).toMatchObject({ kind: 'export', origin: 'api', export: { ready: true } });
    const json = await call(h, 'GET', `/dsr/${exportId}/export`, DSR_KEY);
    expect(json.status).toBe(200);
    const ajv = new Ajv2020({ strict: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(await readFile(EXPORT_SCHEMA_PATH, 'utf8')) as Json);
    expect(validate(json.body), JSON.stringify(validate.errors)).toBe(true);
    const csv = await call(h, 'GET', `/dsr/${exportId}/export.csv`, DSR_KEY);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toBe('section,item,value,source,at,detail');
    expect(csv.text).toContain(`identity,email,${ADA}`);
    expect((await call(h, 'GET', `/dsr/${exportId}/export.csv`, READ_KEY)).status).toBe(403);
    const page = await call(h, 'GET', `/dsr/${exportId}/export.html`, DSR_KEY);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain(ADA);
    expect((await call(h, 'GET', `/dsr/${exportId}/export.html`, READ_KEY)).status).toBe(403);
    expect((await call(h, 'GET', `/dsr/${exportId}/export.html`, null)).status).toBe(401);

    const erased = await call(h, 'POST', '/dsr', DSR_KEY, { kind: 'erase', subject: { email: ADA } });
    expect(erased.status).toBe(202);
    expect(erased.body).toMatchObject({ kind: 'erase', status: 'in_progress', overdue: false, origin: 'api' });
    const done = await until(h, String(erased.body['id']), (v) => v.status === 'completed');
    expect(done.systems.map((s) => [s.connector, s.status])).toEqual([
      ['hubspot', 'completed'],
      ['salesforce', 'completed'],
    ]);
    // Not an export: no export to fetch; an unknown id is a 404.
    expect(await call(h, 'GET', `/dsr/${done.id}/export`, DSR_KEY)).toMatchObject({ status: 409, body: { code: 'wrong_kind' } });
    expect((await call(h, 'GET', '/dsr/0190ffff-0000-7000-8000-000000000000', DSR_KEY)).status).toBe(404);
    const audit = await h.store.listAudit({ limit: 500 });
    expect(audit.find((a) => a.action === 'dsr.received' && a.detail['dsrId'] === done.id)?.actor).toBe('api-key:privacy-team');
  });

  it('lists overdue requests, and an extension (with when the person was told) takes one off the list', async () => {
    let now = Date.parse('2026-01-10T09:00:00.000Z');
    hub = await startPrivacyHub({ dialect: 'sqlite', clock: () => now });
    const h = hub;
    await seed(h);
    h.hubspotProxy.fail(/gdpr-delete/);
    const created = await call(h, 'POST', '/dsr', DSR_KEY, { kind: 'erase', subject: { email: ADA } });
    const id = String(created.body['id']);
    expect(created.body).toMatchObject({ receivedAt: '2026-01-10T09:00:00.000Z', dueAt: '2026-02-10T09:00:00.000Z' });
    expect((await call(h, 'GET', '/dsr?overdue=true', DSR_KEY)).body['requests']).toEqual([]);

    now = Date.parse('2026-02-11T09:00:00.000Z');
    const overdue = await call(h, 'GET', '/dsr?overdue=true', DSR_KEY);
    expect((overdue.body['requests'] as DsrView[]).map((r) => [r.id, r.overdue])).toEqual([[id, true]]);
    expect(await h.engine.metrics.registry.metrics()).toMatch(/concord_dsr_overdue\{kind="erase"\} 1/);

    const late = await call(h, 'POST', `/dsr/${id}/extend`, DSR_KEY, {
      extendedTo: '2026-04-10T09:00:00.000Z',
      subjectToldAt: '2026-02-11T08:00:00.000Z',
      reason: 'HubSpot is down',
    });
    expect(late).toMatchObject({ status: 422, body: { code: 'invalid_extension' } });
    const tooLong = await call(h, 'POST', `/dsr/${id}/extend`, DSR_KEY, {
      extendedTo: '2026-04-11T09:00:00.000Z',
      subjectToldAt: '2026-02-01T08:00:00.000Z',
      reason: 'HubSpot is down',
    });
    expect(tooLong.status).toBe(422);
    const extended = await call(h, 'POST', `/dsr/${id}/extend`, DSR_KEY, {
      extendedTo: '2026-04-10T09:00:00.000Z',
      subjectToldAt: '2026-02-01T08:00:00.000Z',
      reason: 'HubSpot is down',
    });
    expect(extended.status).toBe(200);
    expect(extended.body).toMatchObject({
      extendedTo: '2026-04-10T09:00:00.000Z',
      subjectToldAt: '2026-02-01T08:00:00.000Z',
      overdue: false,
    });
    expect((await call(h, 'GET', '/dsr?overdue=true', DSR_KEY)).body['requests']).toEqual([]);
    expect(
      (await h.store.listAudit({ limit: 200 })).some((a) => a.action === 'dsr.extended' && a.detail['reason'] === 'HubSpot is down'),
    ).toBe(true);
    h.hubspotProxy.recover();
    await until(h, id, (v) => v.status === 'completed');
  });

  it('a system that keeps failing fails the request; retrying it once the system is back completes it', async () => {
    hub = await startPrivacyHub({ dialect: 'postgres', privacy: { tuning: { eraseMaxAttempts: 2 } } });
    const h = hub;
    await seed(h);
    h.hubspotProxy.fail(/gdpr-delete/);
    const created = await call(h, 'POST', '/dsr', DSR_KEY, { kind: 'erase', subject: { email: ADA } });
    const id = String(created.body['id']);
    const failed = await until(h, id, (v) => v.status === 'failed');
    expect(failed.failure).toBe('hubspot failed');
    expect(failed.systems.find((s) => s.connector === 'hubspot')).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: expect.stringContaining('gave up after 2 attempts'),
    });
    expect(failed.systems.find((s) => s.connector === 'salesforce')?.status).toBe('completed');
    // Failed, so the store still holds the person (suppressed) for the retry.
    expect(await h.profileByEmail(ADA)).not.toBeNull();

    h.hubspotProxy.recover();
    const retried = await call(h, 'POST', `/dsr/${id}/retry`, DSR_KEY);
    expect(retried.status).toBe(202);
    const done = await until(h, id, (v) => v.status === 'completed');
    expect(done.failure).toBeNull();
    expect(done.systems.find((s) => s.connector === 'hubspot')).toMatchObject({ status: 'completed', error: null });
    expect(await h.profileByEmail(ADA)).toBeNull();
    expect(await call(h, 'POST', `/dsr/${id}/retry`, DSR_KEY)).toMatchObject({ status: 409, body: { code: 'request_closed' } });
  });

  it('documents the operations in a valid OpenAPI 3.1 document', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const doc = (await hub.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as Json & {
      paths: Record<string, Record<string, Json>>;
    };
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op['operationId']));
    expect(operations).toEqual(
      expect.arrayContaining([
        'createDsr',
        'getDsr',
        'listDsr',
        'extendDsr',
        'retryDsr',
        'getDsrExport',
        'getDsrExportCsv',
        'getDsrExportHtml',
      ]),
    );
    // The export's renditions: the same resource, in CSV and as a readable page.
    expect(doc.paths['/api/v1/dsr/{dsrId}/export.html']?.['get']).toMatchObject({
      'x-required-scope': 'dsr',
      responses: { '200': { content: { 'text/html': { schema: { type: 'string' } } } } },
    });
    expect(doc.paths['/api/v1/dsr/{dsrId}/export.csv']?.['get']).toMatchObject({ responses: { '200': { content: { 'text/csv': {} } } } });
    expect(doc.paths['/api/v1/dsr']?.['post']).toMatchObject({ security: [{ apiKey: ['dsr'] }], 'x-required-scope': 'dsr' });
  });
});

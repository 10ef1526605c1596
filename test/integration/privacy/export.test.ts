/**
 * Access and portability end to end: the export holds every field with its source and time,
 * every consent receipt, every system with its record id, the history, and the live records
 * read from HubSpot and Salesforce; it validates against its own published JSON Schema.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, describe, expect, it } from 'vitest';
import { EXPORT_SCHEMA_PATH, exportCsv } from '../../../src/privacy/index.js';
import type { ExportDocument } from '../../../src/privacy/index.js';
import { ADMIN_KEY, DSR_KEY, HUBSPOT_SECRET, SIGNING_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';
import { EXPORT_HTML_CSP } from '../../../src/server/export-html.js';

const ADA = 'ada@example.com';

async function validator() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);
  return ajv.compile(JSON.parse(await readFile(EXPORT_SCHEMA_PATH, 'utf8')) as Record<string, unknown>);
}

describe('export (access and portability)', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('contains every field, consent receipt and system, with live records, and validates against the published schema', async () => {
    hub = await startPrivacyHub({ dialect: 'postgres' });
    const h = hub;
    const contact = h.hubspot.sideDoor.createContact({ email: ADA, firstname: 'Ada', lastname: 'Lovelace', country: 'GB' });
    h.hubspot.sideDoor.subscribe(ADA, 101);
    h.hubspot.sideDoor.subscribe(ADA, 103);
    await h.settle();
    // A choice made in the preference center, with its evidence.
    const profile = await h.profileByEmail(ADA);
    const now = new Date().toISOString();
    await h.hubIngest.ingest({
      id: `preference_center:${now}`,
      source: 'preference_center',
      at: now,
      receivedAt: now,
      identities: profile?.identities ?? [],
      attributes: {},
      consents: {
        personalisation: {
          email: { status: 'granted', evidence: { method: 'preference_center', noticeVersion: '2026-01', ip: '203.0.113.7' } },
        },
      },
      subscriptions: {},
      rights: { objections: {} },
    });
    await h.settle();
    const sfId = String(h.salesforce.sideDoor.findByEmail(ADA)?.['Id']);

    const submitted = await h.privacy.submit(
      { kind: 'export', subject: { email: ADA }, includeLive: true },
      { origin: 'api', actor: 'test' },
    );
    if (!submitted.ok) throw submitted.error;
    const view = await h.waitFor(submitted.value.id, (v) => v.status === 'completed');
    expect(view.export?.ready).toBe(true);
    expect(view.systems.map((s) => [s.connector, s.outcome?.outcome])).toEqual([
      ['hubspot', 'exported'],
      ['salesforce', 'exported'],
    ]);
    const result = await h.privacy.exportDocument(view.id);
    if (!result.ok) throw result.error;
    const doc: ExportDocument = result.value;

    const validate = await validator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    const latest = await h.profileByEmail(ADA);
    // Every field, with its source and time.
    expect(doc.profile?.attributes.map((a) => a.path).sort()).toEqual(Object.keys(latest?.attributes ?? {}).sort());
    expect(doc.profile?.attributes.find((a) => a.path === 'firstName')).toMatchObject({ value: 'Ada', source: 'hubspot' });
    expect(doc.profile?.consents.map((c) => `${c.purpose}.${c.channel}:${c.status}:${c.source}`).sort()).toEqual([
      'marketing.email:granted:hubspot',
      'personalisation.email:granted:preference_center',
    ]);
    expect(doc.profile?.subscriptions).toEqual([expect.objectContaining({ topic: 'newsletter', subscribed: true, source: 'hubspot' })]);
    // Every consent receipt: one per ledger entry.
    const ledger = await h.store.consentHistory(latest?.id ?? '');
    expect(doc.consentReceipts.map((r) => r.consentReceiptID)).toEqual(ledger.map((e) => e.id));
    expect(doc.consentReceipts.find((r) => r.collectionMethod === 'preference_center')).toMatchObject({
      piiControllers: [expect.objectContaining({ piiController: 'Acme Ltd' })],
      services: [{ service: 'email', purposes: [expect.objectContaining({ purpose: 'Personalised content', consentType: 'EXPLICIT' })] }],
      concord: expect.objectContaining({ noticeVersion: '2026-01', evidence: expect.objectContaining({ ip: '203.0.113.7' }) }),
    });
    // Every system with its record id, and what was sent there and when.
    expect(doc.systems.map((s) => [s.connector, s.externalId])).toEqual([
      ['hubspot', contact.id],
      ['salesforce', sfId],
    ]);
    expect(doc.systems.find((s) => s.connector === 'salesforce')?.lastSentAt).not.toBeNull();
    expect(doc.history.some((e) => e.action === 'profile.created' && e.source === 'hubspot')).toBe(true);
    // The live records, as each system holds them now.
    expect(doc.live?.find((l) => l.connector === 'hubspot')).toMatchObject({
      status: 'read',
      records: [expect.objectContaining({ externalId: contact.id, fields: expect.objectContaining({ email: ADA }) })],
    });
    expect(
      doc.live?.find((l) => l.connector === 'salesforce')?.records.some((r) => r.externalId === sfId && r.fields['Email'] === ADA),
    ).toBe(true);
    // And its CSV form.
    const csv = exportCsv(doc);
    expect(csv).toContain(`identity,email,${ADA}`);
    expect(csv).toContain('consent,personalisation.email,granted,preference_center');

    // The request itself keeps only the export's digest and size.
    const row = await h.store.getDsr(view.id);
    expect(JSON.stringify(row)).not.toContain(ADA);
    expect(row?.detail['export']).toMatchObject({ bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('holds each system’s whole record with labels and related records, the recipients and the retention, in JSON, CSV and HTML; no secret and nobody else’s data', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const contact = h.hubspot.sideDoor.createContact({
      email: ADA,
      firstname: 'Ada',
      lastname: 'Lovelace',
      jobtitle: 'Analyst',
      city: 'London',
    });
    h.hubspot.sideDoor.subscribe(ADA, 101);
    h.hubspot.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper', city: 'Arlington' });
    await h.settle();
    const submitted = await h.privacy.submit(
      { kind: 'export', subject: { email: ADA }, includeLive: true },
      { origin: 'api', actor: 'test' },
    );
    if (!submitted.ok) throw submitted.error;
    const view = await h.waitFor(submitted.value.id, (v) => v.status === 'completed');
    const result = await h.privacy.exportDocument(view.id);
    if (!result.ok) throw result.error;
    const doc = result.value;
    const validate = await validator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);

    // HubSpot's whole contact: unmapped properties too, with their labels, and the subscription statuses.
    const hubspot = doc.live?.find((l) => l.connector === 'hubspot')?.records.find((r) => r.externalId === contact.id);
    expect(hubspot?.fields).toMatchObject({ jobtitle: 'Analyst', city: 'London', hs_object_id: contact.id });
    expect(hubspot?.labels).toMatchObject({ jobtitle: 'Job Title', city: 'City' });
    expect(hubspot?.related?.['subscriptionStatuses']).toEqual(
      expect.arrayContaining([expect.objectContaining({ subscriptionId: 101, status: 'SUBSCRIBED' })]),
    );
    const salesforce = doc.live?.find((l) => l.connector === 'salesforce')?.records[0];
    expect(salesforce?.labels).toMatchObject({ Email: 'Email', LastName: 'Last Name' });
    // The hub created her in Salesforce: a recipient, with what its mappings send.
    expect(doc.recipients.find((r) => r.connector === 'salesforce')).toMatchObject({
      type: 'salesforce',
      deliveries: expect.any(Number),
      data: expect.arrayContaining(['identity:email']),
    });
    expect(doc.recipients.find((r) => r.connector === 'salesforce')?.deliveries).toBeGreaterThan(0);
    expect(doc.retention).toMatchObject({ rules: [], export: { expiresAt: expect.any(String) } });
    // Her audit history is there: changes received, and this very request.
    expect(doc.history.some((e) => e.action === 'profile.created')).toBe(true);
    expect(doc.history.some((e) => e.action === 'dsr.received')).toBe(true);

    const json = JSON.stringify(doc);
    const csv = exportCsv(doc);
    const page = await h.app.inject({
      method: 'GET',
      url: `/api/v1/dsr/${view.id}/export.html`,
      headers: { authorization: `Bearer ${DSR_KEY}` },
    });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toBe(EXPORT_HTML_CSP);
    expect(page.body).toContain('Job Title');
    for (const text of [json, csv, page.body]) {
      // Nobody else's data: Grace lives in the same systems.
      expect(text).not.toMatch(/grace|Hopper|Arlington/i);
      // No secret of the hub or its connectors.
      for (const secret of [HUBSPOT_SECRET, 'pat-privacy', SIGNING_SECRET, DSR_KEY, ADMIN_KEY, 'k'.repeat(32), 'privacy-salesforce-secret'])
        expect(text).not.toContain(secret);
    }
  });

  it('gives the sync history: every push to each system, what was sent and when, in the JSON (schema-valid) and CSV downloads', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const t0 = new Date().toISOString();
    // Created in HubSpot: the hub creates her in Salesforce.
    const contact = h.hubspot.sideDoor.createContact({ email: ADA, firstname: 'Ada', lastname: 'Lovelace' });
    h.hubspot.sideDoor.subscribe(ADA, 101);
    await h.settle();
    const t1 = new Date().toISOString();
    const sfId = String(h.salesforce.sideDoor.findByEmail(ADA)?.['Id']);
    // A rectification reaches both systems.
    const rectify = await h.privacy.submit(
      { kind: 'rectify', subject: { email: ADA }, attributes: { lastName: 'Byron' } },
      { origin: 'api', actor: 'test' },
    );
    if (!rectify.ok) throw rectify.error;
    await h.waitFor(rectify.value.id, (v) => v.status === 'completed');
    await h.settle();
    const t2 = new Date().toISOString();

    const submitted = await h.privacy.submit({ kind: 'export', subject: { email: ADA } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    const view = await h.waitFor(submitted.value.id, (v) => v.status === 'completed');
    const res = await fetch(`${h.url}/api/v1/dsr/${view.id}/export`, { headers: { authorization: `Bearer ${DSR_KEY}` } });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as ExportDocument;
    const validate = await validator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);

    // Exactly what the push log holds, oldest first, with each system's type and record id.
    const profile = await h.profileByEmail(ADA);
    const log = await h.store.pushHistory(profile?.id ?? '');
    expect(log.length).toBeGreaterThanOrEqual(2);
    expect(doc.syncHistory.map((d) => [d.connector, d.sentAt, d.values])).toEqual(log.map((e) => [e.connector, e.pushedAt, e.values]));
    expect(doc.syncHistory.map((d) => d.sentAt)).toEqual(doc.syncHistory.map((d) => d.sentAt).sort());
    // And every value systems sent about her, as her profile's history holds it.
    const values = await h.store.profileHistory(profile?.id ?? '');
    expect(values.length).toBeGreaterThan(0);
    expect(doc.valueHistory.map((e) => [e.kind, e.path, e.value, e.outcome])).toEqual(
      values.map((e) => [e.kind, e.path, e.offered.value, e.outcome]),
    );
    const to = (connector: string) => doc.syncHistory.filter((d) => d.connector === connector);
    // Salesforce: created with her e-mail after she appeared in HubSpot, then given the corrected name.
    expect(to('salesforce')[0]).toMatchObject({ type: 'salesforce', externalId: sfId, values: expect.objectContaining({ Email: ADA }) });
    expect(to('salesforce')[0]?.sentAt).toBeDefined();
    expect((to('salesforce')[0]?.sentAt ?? '') >= t0 && (to('salesforce')[0]?.sentAt ?? '') <= t1).toBe(true);
    const sfRectified = to('salesforce').find((d) => d.values['LastName'] === 'Byron');
    expect(sfRectified).toBeDefined();
    expect((sfRectified?.sentAt ?? '') >= t1 && (sfRectified?.sentAt ?? '') <= t2).toBe(true);
    // HubSpot: the corrected name, sent to her contact after the rectification.
    const hsRectified = to('hubspot').find((d) => d.values['lastname'] === 'Byron');
    expect(hsRectified).toMatchObject({ type: 'hubspot', externalId: contact.id });
    expect((hsRectified?.sentAt ?? '') >= t1 && (hsRectified?.sentAt ?? '') <= t2).toBe(true);
    // What the systems hold agrees with what the history says was sent.
    expect(h.salesforce.sideDoor.get('Contact', sfId)).toMatchObject({ LastName: 'Byron' });
    expect(h.hubspot.sideDoor.getContact(contact.id)?.properties).toMatchObject({ lastname: 'Byron' });

    // The CSV download: one flat row per field sent, with the system and the time.
    const csvRes = await fetch(`${h.url}/api/v1/dsr/${view.id}/export.csv`, { headers: { authorization: `Bearer ${DSR_KEY}` } });
    expect(csvRes.status).toBe(200);
    const lines = (await csvRes.text()).split('\r\n');
    expect(lines).toContain(`sync,hubspot.lastname,Byron,hubspot,${hsRectified?.sentAt ?? ''},externalId=${contact.id}`);
    expect(lines).toContain(`sync,salesforce.LastName,Byron,salesforce,${sfRectified?.sentAt ?? ''},externalId=${sfId}`);
    expect(lines.filter((l) => l.startsWith('sync,'))).toHaveLength(
      doc.syncHistory.reduce((n, d) => n + Math.max(1, Object.keys(d.values).length), 0),
    );
  });

  it('searches every system for someone the hub holds nothing on, and says when an export is not ready or gone', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', privacy: { exportTtlMs: 1_000 } });
    const h = hub;
    const submitted = await h.privacy.submit(
      { kind: 'export', subject: { email: 'nobody@example.com' } },
      { origin: 'api', actor: 'test' },
    );
    if (!submitted.ok) throw submitted.error;
    // Not "completed with no systems": every system is asked (find before you act).
    expect(submitted.value.systems.map((s) => [s.connector, s.status])).toEqual([
      ['hubspot', 'pending'],
      ['salesforce', 'pending'],
    ]);
    const view = await h.waitFor(submitted.value.id, (v) => v.status === 'completed');
    expect(view.systems.map((s) => [s.connector, s.status])).toEqual([
      ['hubspot', 'completed'],
      ['salesforce', 'completed'],
    ]);
    const result = await h.privacy.exportDocument(view.id);
    if (!result.ok) throw result.error;
    expect(result.value).toMatchObject({ subject: { profileId: null }, profile: null, systems: [], syncHistory: [] });
    expect(result.value.live?.map((l) => [l.connector, l.status, l.records.length, l.search?.found])).toEqual([
      ['hubspot', 'read', 0, 0],
      ['salesforce', 'read', 0, 0],
    ]);
    await sleep(1_100);
    const gone = await h.privacy.exportDocument(view.id);
    expect(gone.ok ? null : gone.error.code).toBe('export_unavailable');
    expect((await h.privacy.get(view.id)).ok && (await h.privacy.get(view.id))).toMatchObject({ value: { export: { ready: false } } });
  });
});

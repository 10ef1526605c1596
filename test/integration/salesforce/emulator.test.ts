/**
 * The Salesforce emulator over raw HTTP: what jsforce and the connector rely on (OAuth,
 * Salesforce's error format, Sforce-Limit-Info, query paging, collections limits, Bulk API
 * 2.0 paging) and Outbound Messages retried until they are acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseCsv } from '../../../connectors/salesforce/csv.js';
import { CLIENT_ID, CLIENT_SECRET, ORG_ID, startTestOrg, type SalesforceTestOrg } from './harness.js';

let org: SalesforceTestOrg | undefined;
afterEach(async () => {
  await org?.close();
  org = undefined;
});

async function token(o: SalesforceTestOrg): Promise<string> {
  const res = await fetch(`${o.emulator.url}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }).toString(),
  });
  const body = (await res.json()) as { access_token: string; instance_url: string; id: string };
  expect(body.instance_url).toBe(o.emulator.url);
  expect(body.id).toBe(`${o.emulator.url}/id/${ORG_ID}/${o.emulator.options.integrationUserId}`);
  return body.access_token;
}

/** The integration user's API on one Contact: a SOQL read of it, and an update (each asserted to succeed). */
async function contactApi(
  o: SalesforceTestOrg,
  id: string,
): Promise<{ read(): Promise<void>; update(fields: Record<string, unknown>): Promise<void> }> {
  const auth = { Authorization: `Bearer ${await token(o)}`, 'Content-Type': 'application/json' };
  const base = `${o.emulator.url}/services/data/v62.0`;
  return {
    async read() {
      const q = encodeURIComponent(`SELECT Id, LastName, HasOptedOutOfEmail FROM Contact WHERE Id = '${id}'`);
      expect((await fetch(`${base}/query?q=${q}`, { headers: auth })).status).toBe(200);
    },
    async update(fields) {
      const res = await fetch(`${base}/sobjects/Contact/${id}`, { method: 'PATCH', headers: auth, body: JSON.stringify(fields) });
      expect(res.status).toBe(204);
    },
  };
}

describe('Salesforce emulator', () => {
  it('issues tokens for the client credentials only, and refuses calls without a valid one', async () => {
    org = await startTestOrg({ outbound: false });
    const bad = await fetch(`${org.emulator.url}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=x&client_secret=y',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
    const res = await fetch(`${org.emulator.url}/services/data/v62.0/query?q=SELECT+Id+FROM+Contact`, {
      headers: { Authorization: 'Bearer nope' },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
  });

  it('treats a field hidden by field-level security as no column in SOQL, as Salesforce does', async () => {
    org = await startTestOrg({ outbound: false, emulator: { fieldSecurity: { 'Contact.MobilePhone': 'hidden' } } });
    const auth = { Authorization: `Bearer ${await token(org)}` };
    const query = (soql: string) =>
      fetch(`${org?.emulator.url}/services/data/v62.0/query?q=${encodeURIComponent(soql)}`, { headers: auth });
    const hidden = await query("SELECT Id FROM Contact WHERE MobilePhone IN ('+15550100')");
    expect(hidden.status).toBe(400);
    expect(await hidden.json()).toEqual([expect.objectContaining({ errorCode: 'INVALID_FIELD' })]);
    expect((await query('SELECT Id, Phone FROM Contact')).status).toBe(200);
  });

  it("answers in Salesforce's error format, counts calls in Sforce-Limit-Info and pages queries by nextRecordsUrl", async () => {
    org = await startTestOrg({ outbound: false, emulator: { dailyApiLimit: 50 } });
    org.emulator.sideDoor.seed(
      'Contact',
      Array.from({ length: 450 }, (_, i) => ({ LastName: `L${i}` })),
    );
    const auth = { Authorization: `Bearer ${await token(org)}` };
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${org?.emulator.url}/services/data/v62.0${path}`, { headers: { ...auth, ...headers } });

    const first = await get(`/query?q=${encodeURIComponent('SELECT Id, LastName FROM Contact ORDER BY Id')}`, {
      'Sforce-Query-Options': 'batchSize=200',
    });
    expect(first.headers.get('sforce-limit-info')).toBe('api-usage=1/50');
    const page1 = (await first.json()) as { totalSize: number; done: boolean; records: Record<string, unknown>[]; nextRecordsUrl: string };
    expect(page1).toMatchObject({ totalSize: 450, done: false });
    expect(page1.records).toHaveLength(200);
    expect(page1.records[0]).toEqual({
      attributes: { type: 'Contact', url: expect.stringMatching(/^\/services\/data\/v62\.0\/sobjects\/Contact\/003/) },
      Id: expect.any(String),
      LastName: expect.any(String),
    });
    const page2 = (await (await fetch(`${org.emulator.url}${page1.nextRecordsUrl}`, { headers: auth })).json()) as {
      done: boolean;
      nextRecordsUrl: string;
    };
    const page3 = (await (await fetch(`${org.emulator.url}${page2.nextRecordsUrl}`, { headers: auth })).json()) as {
      done: boolean;
      records: unknown[];
      nextRecordsUrl?: string;
    };
    expect(page3).toMatchObject({ done: true });
    expect(page3.records).toHaveLength(50);
    expect(page3.nextRecordsUrl).toBeUndefined();

    const malformed = await get(`/query?q=${encodeURIComponent('SELECT Id FROM Contact WHERE')}`);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual([{ message: expect.stringContaining('unexpected end of query'), errorCode: 'MALFORMED_QUERY' }]);
    const unknownField = await get(`/query?q=${encodeURIComponent('SELECT Nope FROM Contact')}`);
    expect(await unknownField.json()).toEqual([
      { message: expect.stringContaining("No such column 'Nope' on entity 'Contact'"), errorCode: 'INVALID_FIELD' },
    ]);

    const tooMany = await fetch(`${org.emulator.url}/services/data/v62.0/composite/sobjects`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        allOrNone: false,
        records: Array.from({ length: 201 }, () => ({ attributes: { type: 'Contact' }, LastName: 'X' })),
      }),
    });
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toEqual([
      { message: expect.stringContaining('cannot submit more than 200'), errorCode: 'EXCEEDED_ID_LIMIT' },
    ]);

    const mixed = (await (
      await fetch(`${org.emulator.url}/services/data/v62.0/composite/sobjects`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          allOrNone: false,
          records: [
            { attributes: { type: 'Contact' }, LastName: 'Ok' },
            { attributes: { type: 'Contact' }, Email: 'not-an-address' },
          ],
        }),
      })
    ).json()) as unknown[];
    expect(mixed).toEqual([
      { id: expect.stringMatching(/^003/), success: true, errors: [] },
      {
        id: null,
        success: false,
        errors: [
          { statusCode: 'INVALID_EMAIL_ADDRESS', message: 'Email: invalid email address: not-an-address', fields: ['Email'] },
          { statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName'] },
        ],
      },
    ]);

    org.emulator.sideDoor.setDailyLimit(50, 50);
    const over = await get('/limits');
    expect(over.status).toBe(403);
    expect(await over.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
  });

  it('pages Bulk API 2.0 query results with Sforce-Locator, null on the last page, and refuses results before the job completes', async () => {
    let clock = Date.parse('2026-05-01T00:00:00.000Z');
    org = await startTestOrg({ outbound: false, emulator: { bulkJobDelayMs: 1_000 }, runtime: { now: () => clock } });
    org.emulator.sideDoor.seed(
      'Contact',
      Array.from({ length: 25 }, (_, i) => ({ LastName: `Bulk${i}`, Email: `b${i}@example.com` })),
    );
    const auth = { Authorization: `Bearer ${await token(org)}` };
    const base = `${org.emulator.url}/services/data/v62.0/jobs/query`;
    const job = (await (
      await fetch(base, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Email FROM Contact' }),
      })
    ).json()) as { id: string; state: string };
    expect(job.state).toBe('UploadComplete');
    const early = await fetch(`${base}/${job.id}/results`, { headers: auth });
    expect(early.status).toBe(412);
    expect(((await early.json()) as { errorCode: string }[])[0]?.errorCode).toBe('JOB_NOT_COMPLETE');
    clock += 1_000;
    expect(((await (await fetch(`${base}/${job.id}`, { headers: auth })).json()) as { state: string }).state).toBe('JobComplete');
    const rows: Record<string, string>[] = [];
    const locators: string[] = [];
    let locator: string | undefined;
    do {
      const res = await fetch(`${base}/${job.id}/results?maxRecords=10${locator ? `&locator=${locator}` : ''}`, { headers: auth });
      expect(res.headers.get('content-type')).toContain('text/csv');
      const next = res.headers.get('sforce-locator') ?? '';
      locators.push(next);
      rows.push(...parseCsv(await res.text()).records);
      locator = next === 'null' ? undefined : next;
    } while (locator);
    expect(locators.at(-1)).toBe('null');
    expect(locators).toHaveLength(3);
    expect(rows).toHaveLength(25);
    expect(Object.keys(rows[0] ?? {})).toEqual(['Id', 'Email']);
  });

  it("runs an armed race: the rep's edit is saved just before the next API write, which lands on top of it", async () => {
    org = await startTestOrg();
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Race', Email: 'race@example.com' })['Id']);
    // Armed over HTTP, as a test in another process does.
    const armed = await fetch(`${org.emulator.url}/_emulator/records/Contact/${id}/race`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ fields: { HasOptedOutOfEmail: true } }),
    });
    expect(armed.status).toBe(204);
    expect(await (await fetch(`${org.emulator.url}/_emulator/races`)).json()).toEqual({ armed: 1 });
    // A rep's own save does not set it off.
    door.update('Contact', id, { Title: 'Rep' });
    expect(door.armedRaces()).toBe(1);
    await door.flushWebhooks();
    const before = org.listener.received.length;
    const res = await fetch(`${org.emulator.url}/services/data/v62.0/sobjects/Contact/${id}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${await token(org)}`, 'Content-Type': 'application/json', 'Sforce-Call-Options': 'client=concord' },
      body: JSON.stringify({ FirstName: 'Hub' }),
    });
    expect(res.status).toBe(204);
    expect(door.armedRaces()).toBe(0);
    const record = door.get('Contact', id);
    expect(record).toMatchObject({
      FirstName: 'Hub',
      HasOptedOutOfEmail: true,
      Title: 'Rep',
      LastModifiedById: org.emulator.options.integrationUserId,
    });
    const [rep, hub] = door.changes().slice(-2);
    expect(rep).toMatchObject({ id, userId: org.emulator.options.repUserId });
    expect(hub).toMatchObject({ id, userId: org.emulator.options.integrationUserId, client: 'concord' });
    expect(Date.parse(rep?.at ?? '')).toBeLessThanOrEqual(Date.parse(hub?.at ?? ''));
    // The Outbound Messages carry the record as it is when sent: the rep's opt-out, under our name.
    await door.flushWebhooks();
    const bodies = org.listener.received
      .slice(before)
      .map((m) => m.body.toString('utf8'))
      .join('');
    expect(bodies).toContain('<sf:HasOptedOutOfEmail>true</sf:HasOptedOutOfEmail>');
    expect(bodies).not.toContain(`<sf:LastModifiedById>${org.emulator.options.repUserId}</sf:LastModifiedById>`);
  });

  // Chaos (e): a rep set the value the hub was about to write, between the hub's read of the
  // record and its update (Salesforce has no conditional write): the idle write is "crossed",
  // not the hub writing back what Salesforce had told it.
  it('marks an idle write crossed when someone else changed the record after the API last read it', async () => {
    org = await startTestOrg({ outbound: false });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Cross', Email: 'cross@example.com' })['Id']);
    const api = await contactApi(org, id);
    await api.read();
    door.update('Contact', id, { HasOptedOutOfEmail: true });
    await api.update({ HasOptedOutOfEmail: true });
    // Read since, and written again with nothing new in between: that one is the hub's to avoid.
    await api.read();
    await api.update({ HasOptedOutOfEmail: true });
    expect(door.idleWrites().map((w) => w.crossed ?? false)).toEqual([true, false]);
  });

  // Chaos (e): the same window with another value: the rep's save is overwritten unseen.
  it('records an update over a value another user set since the API last read the record (a blind overwrite)', async () => {
    org = await startTestOrg({ outbound: false });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Blind', Email: 'blind@example.com' })['Id']);
    const api = await contactApi(org, id);
    await api.read();
    door.update('Contact', id, { LastName: 'Rep' });
    await api.update({ LastName: 'Hub' });
    // Read first (the rep's value seen), then written over: an ordinary update.
    await api.read();
    door.update('Contact', id, { Title: 'Other field' });
    await api.update({ LastName: 'Hub again' });
    expect(door.blindOverwrites()).toEqual([expect.objectContaining({ id, fields: ['LastName'] })]);
  });

  it('sends Outbound Messages until they are acknowledged, with the same notification ids', async () => {
    org = await startTestOrg({ emulator: { outboundRetryBaseMs: 20 } });
    org.listener.answerWith({ status: 500, body: 'down' });
    org.emulator.sideDoor.create('Contact', { LastName: 'Retry' });
    await new Promise((r) => setTimeout(r, 150));
    org.listener.answerWith(undefined);
    await org.emulator.sideDoor.flushWebhooks();
    const deliveries = org.emulator.sideDoor.webhookDeliveries();
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    expect(deliveries.at(-1)?.acked).toBe(true);
    expect(deliveries.slice(0, -1).every((d) => !d.acked)).toBe(true);
    expect(new Set(deliveries.map((d) => d.notificationIds.join(','))).size).toBe(1);
    const message = org.listener.received.at(-1);
    expect(message?.headers['content-type']).toContain('text/xml');
    expect(message?.headers['soapaction']).toBe('""');
  });
});

/**
 * The HubSpot emulator, driven through the official client (`@hubspot/api-client` with
 * `basePath`), behaves like HubSpot's public API: shapes, status codes, limits and webhooks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@hubspot/api-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startHubSpotEmulator, type RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { signV3 } from '../../../connectors/hubspot/signature.js';
import { secretsEqual } from '../../../src/connector/kit/index.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

const SECRET = 'test-client-secret';

interface ErrorLike {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

async function failure(p: Promise<unknown>): Promise<ErrorLike> {
  try {
    await p;
  } catch (e) {
    return e as ErrorLike;
  }
  throw new Error('expected the call to fail');
}

function parseEvents(receiver: WebhookReceiver): Record<string, unknown>[] {
  return receiver.received.flatMap((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>[]);
}

describe('HubSpot emulator', () => {
  let emu: RunningHubSpotEmulator;
  let receiver: WebhookReceiver;
  let client: Client;

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
    emu = await startHubSpotEmulator({ clientSecret: SECRET, webhookUrl: receiver.url, accessToken: 'pat-test', searchResultCap: 30 });
    client = new Client({ accessToken: 'pat-test', basePath: emu.url });
  });
  afterEach(async () => {
    await emu.close();
    await receiver.close();
  });

  it('upserts contacts by e-mail, reporting new ones, and bumps lastmodifieddate only on a real change', async () => {
    const first = await client.crm.contacts.batchApi.upsert({
      inputs: [
        { id: 'Ada@Example.com', idProperty: 'email', properties: { firstname: 'Ada' } },
        { id: 'bob@example.com', idProperty: 'email', properties: { firstname: 'Bob' } },
      ],
    });
    expect(first.status).toBe('COMPLETE');
    expect(first.results).toHaveLength(2);
    const ada = first.results.find((r) => r.properties.email === 'ada@example.com');
    expect(ada?._new).toBe(true);
    expect(ada?.properties.firstname).toBe('Ada');
    const modified = emu.sideDoor.getContact(ada?.id ?? '')?.properties.lastmodifieddate;

    await sleep(5);
    const same = await client.crm.contacts.batchApi.upsert({
      inputs: [{ id: 'ada@example.com', idProperty: 'email', properties: { firstname: 'Ada' } }],
    });
    expect(same.results[0]?._new).toBe(false);
    expect(emu.sideDoor.getContact(ada?.id ?? '')?.properties.lastmodifieddate).toBe(modified);

    await client.crm.contacts.batchApi.upsert({
      inputs: [{ id: 'ada@example.com', idProperty: 'email', properties: { firstname: 'Augusta' } }],
    });
    const after = emu.sideDoor.getContact(ada?.id ?? '');
    expect(after?.properties.firstname).toBe('Augusta');
    expect(Date.parse(after?.properties.lastmodifieddate ?? '')).toBeGreaterThan(Date.parse(modified ?? ''));
  });

  it('answers 207 with per-input errors for a partial failure, and 400 for more than 100 inputs', async () => {
    const res = await client.crm.contacts.batchApi.upsertWithHttpInfo({
      inputs: [
        { id: 'good@example.com', idProperty: 'email', properties: { firstname: 'G' } },
        { id: 'not-an-email', idProperty: 'email', properties: { firstname: 'N' } },
      ],
    });
    expect(res.httpStatusCode).toBe(207);
    const body = res.data as { results: unknown[]; errors?: { category: string; context: Record<string, string[]> }[]; numErrors?: number };
    expect(body.results).toHaveLength(1);
    expect(body.numErrors).toBe(1);
    expect(body.errors?.[0]?.category).toBe('VALIDATION_ERROR');
    expect(body.errors?.[0]?.context.ids).toEqual(['not-an-email']);

    const inputs = Array.from({ length: 101 }, (_, i) => ({ id: `p${i}@example.com`, idProperty: 'email', properties: {} }));
    const err = await failure(client.crm.contacts.batchApi.upsert({ inputs }));
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(typeof (err.body as { correlationId?: unknown }).correlationId).toBe('string');
  });

  it('rejects unknown properties for the whole batch, as HubSpot does', async () => {
    const err = await failure(
      client.crm.contacts.batchApi.upsert({ inputs: [{ id: 'x@example.com', idProperty: 'email', properties: { no_such_prop: '1' } }] }),
    );
    expect(err.code).toBe(400);
    expect((err.body as { message: string }).message).toContain('PROPERTY_DOESNT_EXIST');
    expect(emu.sideDoor.contacts()).toHaveLength(0);
  });

  it('pages the contact list forward through paging.next.after', async () => {
    for (let i = 0; i < 25; i++) emu.sideDoor.createContact({ email: `c${i}@example.com`, firstname: `C${i}` });
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await client.crm.contacts.basicApi.getPage(10, after, ['email', 'firstname']);
      pages += 1;
      for (const c of page.results) seen.push(c.properties.email ?? '');
      after = page.paging?.next?.after;
    } while (after);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(25);
  });

  it('searches on lastmodifieddate, caps limit at 200 and refuses to page past the result cap', async () => {
    for (let i = 0; i < 40; i++) emu.sideDoor.createContact({ email: `s${i}@example.com` });
    const res = await client.crm.contacts.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE' as never, value: '0' }] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' } as never],
      properties: ['email'],
      limit: 20,
    });
    expect(res.total).toBe(40);
    expect(res.results).toHaveLength(20);
    expect(res.paging?.next?.after).toBe('20');

    const tooBig = await failure(client.crm.contacts.searchApi.doSearch({ limit: 201 }));
    expect(tooBig.code).toBe(400);
    const pastCap = await failure(client.crm.contacts.searchApi.doSearch({ limit: 10, after: '30' }));
    expect(pastCap.code).toBe(400);
    expect(pastCap.body).toMatchObject({ category: 'VALIDATION_ERROR' });
  });

  it('reads contacts in batch with 207 for missing ids', async () => {
    const a = emu.sideDoor.createContact({ email: 'a@example.com', firstname: 'A' });
    const res = await client.crm.contacts.batchApi.readWithHttpInfo({
      inputs: [{ id: a.id }, { id: '999999' }],
      properties: ['firstname'],
      propertiesWithHistory: [],
    });
    expect(res.httpStatusCode).toBe(207);
    expect(res.data.results[0]?.properties.firstname).toBe('A');
    const errors = (res.data as { errors?: { category: string; context: Record<string, string[]> }[] }).errors;
    expect(errors?.[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { ids: ['999999'] } });
  });

  it('reads properties with their history (newest first, with time and source), at most 50 objects per read', async () => {
    const a = emu.sideDoor.createContact({ email: 'h@example.com', lastname: 'One' });
    await sleep(5);
    await client.crm.contacts.batchApi.update({ inputs: [{ id: a.id, properties: { lastname: 'Two' } }] });
    await client.crm.contacts.batchApi.update({ inputs: [{ id: a.id, properties: { lastname: 'Two', firstname: 'F' } }] });
    const res = await client.crm.contacts.batchApi.read({
      inputs: [{ id: a.id }],
      properties: ['lastname'],
      propertiesWithHistory: ['lastname'],
    });
    const [contact] = res.results;
    const versions = contact?.propertiesWithHistory?.['lastname'] ?? [];
    // Writing the value it already had added no version.
    expect(versions.map((v) => [v.value, v.sourceType])).toEqual([
      ['Two', 'INTEGRATION'],
      ['One', 'CRM_UI'],
    ]);
    expect(versions[0]?.timestamp.getTime()).toBeGreaterThan(versions[1]?.timestamp.getTime() ?? Number.POSITIVE_INFINITY);
    expect(contact?.propertiesWithHistory).not.toHaveProperty('firstname');
    const page = await client.crm.contacts.basicApi.getPage(50, undefined, ['lastname'], ['lastname']);
    expect(page.results[0]?.propertiesWithHistory?.['lastname']).toHaveLength(2);

    const many = Array.from({ length: 51 }, (_, i) => ({ id: String(i + 1) }));
    const err = await failure(client.crm.contacts.batchApi.read({ inputs: many, properties: [], propertiesWithHistory: ['lastname'] }));
    expect(err.code).toBe(400);
    expect((await failure(client.crm.contacts.basicApi.getPage(51, undefined, [], ['lastname']))).code).toBe(400);
  });

  it('writes and reads v4 subscription statuses, and needs a legal basis to subscribe', async () => {
    emu.sideDoor.createContact({ email: 'sub@example.com' });
    const write = await client.apiRequest({
      method: 'POST',
      path: '/communication-preferences/v4/statuses/batch/write',
      body: {
        inputs: [
          {
            subscriberIdString: 'sub@example.com',
            subscriptionId: 101,
            channel: 'EMAIL',
            statusState: 'SUBSCRIBED',
            legalBasis: 'CONSENT_WITH_NOTICE',
          },
          { subscriberIdString: 'sub@example.com', subscriptionId: 103, channel: 'EMAIL', statusState: 'SUBSCRIBED' },
        ],
      },
    });
    expect(write.status).toBe(200);
    const written = (await write.json()) as {
      results: { subscriptionId: number; status: string; legalBasis: string }[];
      numErrors?: number;
    };
    expect(written.results).toEqual([
      expect.objectContaining({ subscriptionId: 101, status: 'SUBSCRIBED', legalBasis: 'CONSENT_WITH_NOTICE' }),
    ]);
    expect(written.numErrors).toBe(1);

    const read = await client.apiRequest({
      method: 'POST',
      path: '/communication-preferences/v4/statuses/batch/read',
      qs: { channel: 'EMAIL' },
      body: { inputs: ['sub@example.com'] },
    });
    const body = (await read.json()) as {
      results: { subscriberIdString: string; statuses: { subscriptionId: number; status: string }[] }[];
    };
    const statuses = body.results[0]?.statuses ?? [];
    expect(statuses.find((s) => s.subscriptionId === 101)?.status).toBe('SUBSCRIBED');
    expect(statuses.find((s) => s.subscriptionId === 103)?.status).toBe('NOT_SPECIFIED');
    expect(emu.sideDoor.findByEmail('sub@example.com')?.properties.hs_email_optout_101).toBe('false');

    const noChannel = await client.apiRequest({
      method: 'POST',
      path: '/communication-preferences/v4/statuses/batch/read',
      body: { inputs: [] },
    });
    expect(noChannel.status).toBe(400);
  });

  it('answers 429 TEN_SECONDLY_ROLLING and DAILY with the rate-limit headers and body', async () => {
    emu.sideDoor.setRateLimit({ max: 3, intervalMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      const ok = await client.crm.contacts.basicApi.getPageWithHttpInfo(1);
      expect(ok.headers['x-hubspot-ratelimit-remaining']).toBe(String(2 - i));
      expect(ok.headers['x-hubspot-ratelimit-max']).toBe('3');
      expect(ok.headers['x-hubspot-ratelimit-interval-milliseconds']).toBe('60000');
    }
    const limited = await failure(client.crm.contacts.basicApi.getPage(1));
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });

    emu.sideDoor.setRateLimit({ max: 100, intervalMs: 10_000, daily: 3 }); // three were already used today
    const daily = await failure(client.crm.contacts.basicApi.getPage(1));
    expect(daily.code).toBe(429);
    expect(daily.body).toMatchObject({ policyName: 'DAILY' });
    expect(daily.headers['x-hubspot-ratelimit-daily-remaining']).toBe('0');
    expect(emu.sideDoor.calls().rateLimited).toBe(2);
  });

  it('refuses requests without the bearer token', async () => {
    const anonymous = new Client({ accessToken: 'wrong', basePath: emu.url });
    const err = await failure(anonymous.crm.contacts.basicApi.getPage(1));
    expect(err.code).toBe(401);
    expect(err.body).toMatchObject({ category: 'INVALID_AUTHENTICATION' });
  });

  it('sends signed v3 webhooks for API writes (the echo) and for side-door changes', async () => {
    await client.crm.contacts.batchApi.upsert({
      inputs: [{ id: 'echo@example.com', idProperty: 'email', properties: { firstname: 'E' } }],
    });
    const contact = emu.sideDoor.findByEmail('echo@example.com');
    emu.sideDoor.unsubscribe('echo@example.com', 101);
    await emu.sideDoor.flushWebhooks();

    for (const r of receiver.received) {
      const timestamp = String(r.headers['x-hubspot-request-timestamp']);
      const expected = signV3({ clientSecret: SECRET, method: 'POST', uri: receiver.url, body: r.body, timestamp });
      expect(secretsEqual(String(r.headers['x-hubspot-signature-v3']), expected)).toBe(true);
    }
    const events = parseEvents(receiver);
    const creation = events.find((e) => e.subscriptionType === 'contact.creation');
    expect(creation).toMatchObject({ objectId: Number(contact?.id), changeSource: 'INTEGRATION', sourceId: '1234567', attemptNumber: 0 });
    const optout = events.find((e) => e.propertyName === 'hs_email_optout_101');
    expect(optout).toMatchObject({ subscriptionType: 'contact.propertyChange', propertyValue: 'true', changeSource: 'CRM_UI' });
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('merges contacts (contact.merge, old id resolves to the winner) and GDPR-deletes (privacyDeletion, blocklist)', async () => {
    const a = emu.sideDoor.createContact({ email: 'one@example.com', firstname: 'One' });
    const b = emu.sideDoor.createContact({ email: 'two@example.com', lastname: 'Two' });
    const merged = await client.crm.contacts.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: b.id });
    expect(merged.properties.lastname).toBe('Two');
    const read = await client.crm.contacts.batchApi.read({ inputs: [{ id: b.id }], properties: ['email'], propertiesWithHistory: [] });
    expect(read.results[0]?.id).toBe(a.id);

    await client.crm.contacts.basicApi.purge({ objectId: a.id });
    expect(emu.sideDoor.getContact(a.id)).toBeUndefined();
    await client.crm.contacts.basicApi.purge({ objectId: 'nobody@example.com', idProperty: 'email' });
    expect(emu.sideDoor.isBlocklisted('nobody@example.com')).toBe(true);
    const missing = await failure(client.crm.contacts.basicApi.purge({ objectId: '424242' }));
    expect(missing.code).toBe(404);

    await emu.sideDoor.flushWebhooks();
    const events = parseEvents(receiver);
    expect(events.find((e) => e.subscriptionType === 'contact.merge')).toMatchObject({
      primaryObjectId: Number(a.id),
      mergedObjectIds: [Number(b.id)],
    });
    expect(events.find((e) => e.subscriptionType === 'contact.privacyDeletion')).toMatchObject({ objectId: Number(a.id) });
  });

  it('retries failed webhook deliveries with the same event ids and a higher attemptNumber', async () => {
    receiver.respondWith(500);
    emu.sideDoor.createContact({ email: 'retry@example.com' });
    // The first delivery (refused with 500) must have happened before the receiver recovers.
    await vi.waitFor(() => expect(receiver.received.length).toBeGreaterThanOrEqual(1), { timeout: 5_000, interval: 20 });
    receiver.respondWith(204);
    await emu.sideDoor.flushWebhooks();
    const attempts = receiver.received.map((r) => JSON.parse(r.body.toString('utf8')) as { eventId: number; attemptNumber: number }[]);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts[1]?.map((e) => e.eventId)).toEqual(attempts[0]?.map((e) => e.eventId));
    expect(attempts[1]?.[0]?.attemptNumber).toBe(1);
  });

  it('counts calls per endpoint', async () => {
    await client.crm.contacts.basicApi.getPage(1);
    await client.crm.contacts.searchApi.doSearch({ limit: 1 });
    expect(emu.sideDoor.calls().byEndpoint).toEqual({
      'GET /crm/v3/objects/contacts': 1,
      'POST /crm/v3/objects/contacts/search': 1,
    });
  });
});

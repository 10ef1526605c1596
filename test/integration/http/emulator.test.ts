/**
 * The generic HTTP emulator over real HTTP: the CRM's routes, errors and cursor paging
 * (`next_cursor` and `links.next`) with strictly increasing `updated_at`; the newsletter tool's
 * offset paging with its `Link` header, batch upserts (ok / created / error per operation, 413 past
 * 500) and errors; credentials, rate windows, injected 429s and poison; Standard Webhooks out on
 * user edits and API writes, verified with the official `standardwebhooks` library (rotation:
 * each secret alone), retried under the same id and re-signed, and a 410 that disables the URL;
 * the `concord-events` inboxes (verification, dedupe, answer status); the `/_emulator` side door;
 * the emulator's declaration and the demo's shared server.
 */
import { freePort } from '../../../src/app/free-port.js';
import { describe, expect, it } from 'vitest';
import definition, {
  DEV_WEBHOOK_SECRET,
  type Contact,
  type InboxMessage,
  type RunningHttpEmulator,
  type Subscriber,
  type WebhookDelivery,
} from '../../../connectors/http/emulator/index.js';
import { call, crm, type Answer, emulator, newSecret, newsletter, receiver, signedDelivery, verified } from './emulator-helpers.js';

interface One<T> {
  data: T;
}
interface ContactPage {
  data: Contact[];
  next_cursor: string | null;
  links: { next: string | null };
}
interface CrmError {
  error: { code: string; message: string; field?: string; existing_id?: string };
}
interface SubscriberPage {
  subscribers: Subscriber[];
  total: number;
}
interface BatchAnswer {
  results: { ref: string; status: string; subscriber_id?: string; created?: boolean; error?: { code: string; message: string } }[];
}
interface Envelope {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** A clock the test moves; it starts at a fixed time. */
function clock(start = Date.parse('2026-12-05T10:00:00.000Z')): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

const create = async (e: RunningHttpEmulator, email: string, fields: Record<string, unknown> = {}): Promise<Contact> => {
  const res = await crm<One<Contact>>(e, 'POST', '/contacts', { data: { email, ...fields } });
  expect(res.status).toBe(201);
  return res.body.data;
};

describe('CRM (/crm/v1)', () => {
  it('refuses calls without the bearer token: 401 {error: {code: unauthorized}}', async () => {
    const e = await emulator();
    for (const token of [null, 'wrong']) {
      const res = await crm<CrmError>(e, 'GET', '/contacts', undefined, token);
      expect([res.status, res.body.error.code]).toEqual([401, 'unauthorized']);
    }
    expect((await crm(e, 'GET', '/contacts')).status).toBe(200);
  });

  it('creates, reads, patches (consents merged key by key), exports and deletes contacts, with each error body', async () => {
    const e = await emulator();
    const ada = await create(e, 'Ada@Example.com', { first_name: 'Ada', consents: { email_marketing: true } });
    expect(ada).toMatchObject({
      id: 'c_1',
      email: 'Ada@Example.com',
      first_name: 'Ada',
      last_name: null,
      phone: null,
      consents: { email_marketing: true, sms_marketing: null },
      newsletter: false,
    });
    expect(ada.created_at).toBe(ada.updated_at);
    expect((await crm<One<Contact>>(e, 'GET', `/contacts/${ada.id}`)).body.data).toEqual(ada);

    const duplicate = await crm<CrmError>(e, 'POST', '/contacts', { data: { email: 'ada@example.com' } });
    expect([duplicate.status, duplicate.body.error]).toEqual([409, expect.objectContaining({ code: 'duplicate', existing_id: ada.id })]);
    const noEmail = await crm<CrmError>(e, 'POST', '/contacts', { data: { first_name: 'X' } });
    expect([noEmail.status, noEmail.body.error]).toEqual([422, expect.objectContaining({ code: 'invalid', field: 'email' })]);
    const badEmail = await crm<CrmError>(e, 'POST', '/contacts', { data: { email: 'not-an-address' } });
    expect([badEmail.status, badEmail.body.error.field]).toEqual([422, 'email']);
    const noData = await crm<CrmError>(e, 'POST', '/contacts', { email: 'a@example.com' });
    expect([noData.status, noData.body.error.field]).toEqual([422, 'data']);
    const malformed = await call<CrmError>(`${e.url}/crm/v1/contacts`, {
      method: 'POST',
      headers: { authorization: 'Bearer dev-only-http-token', 'content-type': 'application/json' },
      body: '{"data":',
    });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'bad_request']);

    const patched = await crm<One<Contact>>(e, 'PATCH', `/contacts/${ada.id}`, {
      data: { last_name: 'Lovelace', consents: { sms_marketing: false } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ last_name: 'Lovelace', consents: { email_marketing: true, sms_marketing: false } });
    const badPatch = await crm<CrmError>(e, 'PATCH', `/contacts/${ada.id}`, { data: { newsletter: 'yes' } });
    expect([badPatch.status, badPatch.body.error]).toEqual([422, expect.objectContaining({ code: 'invalid', field: 'newsletter' })]);
    const grace = await create(e, 'grace@example.com');
    const taken = await crm<CrmError>(e, 'PATCH', `/contacts/${grace.id}`, { data: { email: 'ADA@example.com' } });
    expect([taken.status, taken.body.error.existing_id]).toEqual([409, ada.id]);

    const exported = await crm<{ data: Contact; notes: { at: string; text: string }[] }>(e, 'GET', `/contacts/${ada.id}/export`);
    expect(exported.body.data.last_name).toBe('Lovelace');
    expect(exported.body.notes.map((n) => n.text)).toEqual([
      'created through the API',
      'updated through the API (last_name, consents.sms_marketing)',
    ]);

    expect((await crm(e, 'DELETE', `/contacts/${ada.id}`)).status).toBe(204);
    for (const [method, path] of [
      ['GET', `/contacts/${ada.id}`],
      ['GET', `/contacts/${ada.id}/export`],
      ['DELETE', `/contacts/${ada.id}`],
    ] as const) {
      const gone = await crm<CrmError>(e, method, path);
      expect([gone.status, gone.body.error.code]).toEqual([404, 'not_found']);
    }
    const patchGone = await crm<CrmError>(e, 'PATCH', `/contacts/${ada.id}`, { data: { first_name: 'A' } });
    expect([patchGone.status, patchGone.body.error.code]).toEqual([404, 'not_found']);
  });

  it('stamps every write with a strictly increasing updated_at, even when the clock stands still', async () => {
    const t = clock();
    const e = await emulator({ now: t.now });
    const a = await create(e, 'a@example.com');
    const b = await create(e, 'b@example.com');
    const a2 = (await crm<One<Contact>>(e, 'PATCH', `/contacts/${a.id}`, { data: { first_name: 'A' } })).body.data;
    expect([a.updated_at, b.updated_at, a2.updated_at]).toEqual([
      '2026-12-05T10:00:00.000Z',
      '2026-12-05T10:00:00.001Z',
      '2026-12-05T10:00:00.002Z',
    ]);
    t.advance(60_000);
    const b2 = (await crm<One<Contact>>(e, 'PATCH', `/contacts/${b.id}`, { data: { first_name: 'B' } })).body.data;
    expect(b2.updated_at).toBe('2026-12-05T10:01:00.000Z');
    expect(b2.created_at).toBe(b.created_at);
  });

  it('pages by cursor and by links.next in (updated_at, id) order, from updated_since, for one e-mail', async () => {
    const t = clock();
    const e = await emulator({ now: t.now });
    const made: Contact[] = [];
    for (let i = 1; i <= 5; i++) made.push(await create(e, `p${i}@example.com`));
    // Edit the first: it moves to the end of the order.
    const first = (await crm<One<Contact>>(e, 'PATCH', `/contacts/${made[0]?.id ?? ''}`, { data: { phone: '+441' } })).body.data;
    const order = [...made.slice(1).map((c) => c.id), first.id];

    const byCursor: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: ContactPage = (
        await crm<ContactPage>(e, 'GET', `/contacts?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      ).body;
      byCursor.push(...page.data.map((c) => c.id));
      expect(page.links.next === null).toBe(page.next_cursor === null);
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    expect(byCursor).toEqual(order);

    const byLink: string[] = [];
    let next: string | null = `${e.url}/crm/v1/contacts?limit=2`;
    const seen: string[] = [];
    while (next !== null) {
      seen.push(next);
      const page: ContactPage = (await call<ContactPage>(next, { headers: { authorization: 'Bearer dev-only-http-token' } })).body;
      byLink.push(...page.data.map((c) => c.id));
      next = page.links.next;
    }
    expect(byLink).toEqual(order);
    expect(seen).toHaveLength(3);
    expect(seen[1]).toMatch(new RegExp(`^${e.url}/crm/v1/contacts\\?limit=2&cursor=`));

    const since = await crm<ContactPage>(e, 'GET', `/contacts?updated_since=${encodeURIComponent(made[3]?.updated_at ?? '')}`);
    expect(since.body.data.map((c) => c.id)).toEqual([made[3]?.id, made[4]?.id, first.id]);
    expect(since.body).toMatchObject({ next_cursor: null, links: { next: null } });
    const one = await crm<ContactPage>(e, 'GET', '/contacts?email=P3@EXAMPLE.com');
    expect(one.body.data.map((c) => c.email)).toEqual(['p3@example.com']);

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['cursor=nonsense', 'cursor'],
      ['updated_since=yesterday', 'updated_since'],
    ]) {
      const bad = await crm<CrmError>(e, 'GET', `/contacts?${query}`);
      expect([bad.status, bad.body.error.code, bad.body.error.field]).toEqual([422, 'invalid', field]);
    }
  });
});

describe('Newsletter (/newsletter/api)', () => {
  it('refuses calls without the API key: 401 {message}', async () => {
    const e = await emulator();
    for (const key of [null, 'wrong']) {
      const res = await newsletter<{ message: string }>(e, 'GET', '/subscribers', undefined, key);
      expect(res.status).toBe(401);
      expect(Object.keys(res.body)).toEqual(['message']);
    }
  });

  it('upserts in batches: ok with created true/false, or an error (invalid, not_found, duplicate) per operation, in order', async () => {
    const e = await emulator();
    const first = await newsletter<BatchAnswer>(e, 'POST', '/subscribers/batch', {
      operations: [
        { ref: 'a', email_address: 'ada@example.com', name: { first: 'Ada' }, status: 'subscribed', lists: { weekly: true } },
        { ref: 'b', email_address: 'grace@example.com' },
        { ref: 'c', email_address: 'broken' },
        { ref: 'd', subscriber_id: 's99', status: 'subscribed' },
        { ref: 'e', name: { first: 'No address' } },
        { ref: 'f', email_address: 'x@example.com', status: 'maybe' },
      ],
    });
    expect(first.status).toBe(200);
    expect(first.body.results).toEqual([
      { ref: 'a', status: 'ok', subscriber_id: 's1', created: true },
      { ref: 'b', status: 'ok', subscriber_id: 's2', created: true },
      { ref: 'c', status: 'error', error: { code: 'invalid', message: expect.stringContaining('email_address') } },
      { ref: 'd', status: 'error', error: { code: 'not_found', message: 'no subscriber s99' } },
      { ref: 'e', status: 'error', error: { code: 'invalid', message: expect.stringContaining('email_address') } },
      { ref: 'f', status: 'error', error: { code: 'invalid', message: expect.stringContaining('status') } },
    ]);
    const second = await newsletter<BatchAnswer>(e, 'POST', '/subscribers/batch', {
      operations: [
        { ref: 'by-email', email_address: 'ADA@example.com', lists: { offers: true } },
        { ref: 'by-id', subscriber_id: 's2', status: 'subscribed' },
        { ref: 'taken', subscriber_id: 's2', email_address: 'ada@example.com' },
      ],
    });
    expect(second.body.results).toEqual([
      { ref: 'by-email', status: 'ok', subscriber_id: 's1', created: false },
      { ref: 'by-id', status: 'ok', subscriber_id: 's2', created: false },
      { ref: 'taken', status: 'error', error: { code: 'duplicate', message: expect.any(String) } },
    ]);
    const ada = await newsletter<Subscriber>(e, 'GET', '/subscribers/s1');
    // Matched case-insensitively; the address is then the one the write sent.
    expect(ada.body).toEqual({
      subscriber_id: 's1',
      email_address: 'ADA@example.com',
      name: { first: 'Ada', last: '' },
      status: 'subscribed',
      lists: { weekly: true, offers: true },
      modified: expect.any(Number),
    });
    expect((await newsletter<Subscriber>(e, 'GET', '/subscribers/s2')).body.status).toBe('subscribed');
    // Created without a status: nobody is subscribed unless a write says so.
    expect(
      (await newsletter<BatchAnswer>(e, 'POST', '/subscribers/batch', { operations: [{ ref: 'n', email_address: 'n@example.com' }] })).body,
    ).toEqual({ results: [{ ref: 'n', status: 'ok', subscriber_id: 's3', created: true }] });
    expect((await newsletter<Subscriber>(e, 'GET', '/subscribers/s3')).body.status).toBe('unsubscribed');
  });

  it('refuses a batch over 500 operations (413) or without operations (400), and answers 404 {message} for unknown subscribers', async () => {
    const e = await emulator();
    const operations = Array.from({ length: 501 }, (_, i) => ({ ref: String(i), email_address: `u${i}@example.com` }));
    const tooMany = await newsletter<{ message: string }>(e, 'POST', '/subscribers/batch', { operations });
    expect([tooMany.status, Object.keys(tooMany.body)]).toEqual([413, ['message']]);
    expect(
      (await newsletter<BatchAnswer>(e, 'POST', '/subscribers/batch', { operations: operations.slice(0, 500) })).body.results,
    ).toHaveLength(500);
    expect((await newsletter(e, 'POST', '/subscribers/batch', { operations: [{ email_address: 'x@example.com' }] })).status).toBe(400);
    expect((await newsletter(e, 'POST', '/subscribers/batch', {})).status).toBe(400);
    const missing = await newsletter<{ message: string }>(e, 'GET', '/subscribers/s9999');
    expect([missing.status, missing.body]).toEqual([404, { message: 'no subscriber s9999' }]);
    expect((await newsletter(e, 'DELETE', '/subscribers/s1')).status).toBe(204);
    expect((await newsletter(e, 'DELETE', '/subscribers/s1')).status).toBe(404);
    expect((await newsletter(e, 'GET', '/subscribers/s1')).status).toBe(404);
  });

  it('pages by offset with a Link rel="next" header in (modified, subscriber_id) order, from modified_after, for one e-mail', async () => {
    const t = clock();
    const e = await emulator({ now: t.now });
    const upsert = (email: string) =>
      newsletter<BatchAnswer>(e, 'POST', '/subscribers/batch', { operations: [{ ref: email, email_address: email }] });
    for (let i = 1; i <= 12; i++) await upsert(`n${i}@example.com`);
    t.advance(5000);
    await upsert('n1@example.com'); // s1 moves to the end
    const expected = [...Array.from({ length: 11 }, (_, i) => `s${i + 2}`), 's1'];

    const walked: string[] = [];
    let next: string | null = `${e.url}/newsletter/api/subscribers?limit=5`;
    let pages = 0;
    while (next !== null) {
      const res: Answer<SubscriberPage> = await call<SubscriberPage>(next, { headers: { 'x-api-key': 'dev-only-http-api-key' } });
      pages += 1;
      expect(res.body.total).toBe(12);
      walked.push(...res.body.subscribers.map((s) => s.subscriber_id));
      const link: string | null = res.headers.get('link');
      next = link === null ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? 'unparsed');
    }
    expect([pages, walked]).toEqual([3, expected]);

    const since = Math.floor(t.now() / 1000);
    const after = await newsletter<SubscriberPage>(e, 'GET', `/subscribers?modified_after=${since}`);
    expect([after.body.subscribers.map((s) => s.subscriber_id), after.body.total, after.headers.get('link')]).toEqual([['s1'], 1, null]);
    const one = await newsletter<SubscriberPage>(e, 'GET', '/subscribers?email=N7@example.com');
    expect(one.body.subscribers.map((s) => s.email_address)).toEqual(['n7@example.com']);
    for (const query of ['limit=0', 'limit=201', 'offset=-1', 'modified_after=soon']) {
      const bad = await newsletter<{ message: string }>(e, 'GET', `/subscribers?${query}`);
      expect([bad.status, Object.keys(bad.body)]).toEqual([400, ['message']]);
    }
  });
});

describe('limits and poison', () => {
  it('answers 429 with Retry-After past each system rate window, and again once the window has passed', async () => {
    const t = clock();
    const e = await emulator({ now: t.now, rateLimit: { crm: { max: 2, intervalMs: 2000 }, newsletter: { max: 1, intervalMs: 1000 } } });
    expect((await crm(e, 'GET', '/contacts')).status).toBe(200);
    t.advance(500);
    expect((await crm(e, 'GET', '/contacts')).status).toBe(200);
    const limited = await crm<CrmError>(e, 'GET', '/contacts');
    expect([limited.status, limited.headers.get('retry-after'), limited.body.error.code]).toEqual([429, '2', 'rate_limited']);
    // The newsletter's window is its own.
    expect((await newsletter(e, 'GET', '/subscribers')).status).toBe(200);
    const nl = await newsletter<{ message: string }>(e, 'GET', '/subscribers');
    expect([nl.status, nl.headers.get('retry-after'), Object.keys(nl.body)]).toEqual([429, '1', ['message']]);
    t.advance(1500);
    expect((await crm(e, 'GET', '/contacts')).status).toBe(200);
    expect((await newsletter(e, 'GET', '/subscribers')).status).toBe(200);
    expect(e.sideDoor.calls()).toMatchObject({ total: 7, rateLimited: 2 });
  });

  it('answers the 429 rateLimitNextCall queued, with Retry-After when given, in each system shape', async () => {
    const e = await emulator();
    e.sideDoor.rateLimitNextCall(7);
    const limited = await crm<CrmError>(e, 'GET', '/contacts');
    expect([limited.status, limited.headers.get('retry-after'), limited.body.error.code]).toEqual([429, '7', 'rate_limited']);
    e.sideDoor.rateLimitNextCall();
    const nl = await newsletter<{ message: string }>(e, 'GET', '/subscribers');
    expect([nl.status, nl.headers.get('retry-after'), Object.keys(nl.body)]).toEqual([429, null, ['message']]);
    expect((await crm(e, 'GET', '/contacts')).status).toBe(200);
    expect(e.sideDoor.calls()).toEqual({
      total: 3,
      byEndpoint: { 'GET /crm/v1/contacts': 2, 'GET /newsletter/api/subscribers': 1 },
      rateLimited: 2,
    });
  });

  it('refuses every API write of a poisoned address (CRM 422 field email, newsletter result invalid), not a user edit', async () => {
    const e = await emulator();
    const ok = await create(e, 'fine@example.com');
    e.sideDoor.poison('Poison@Example.com');
    const created = await crm<CrmError>(e, 'POST', '/contacts', { data: { email: 'poison@example.com' } });
    expect([created.status, created.body.error.code, created.body.error.field]).toEqual([422, 'invalid', 'email']);
    const patched = await crm<CrmError>(e, 'PATCH', `/contacts/${ok.id}`, { data: { email: 'POISON@example.com' } });
    expect([patched.status, patched.body.error.field]).toEqual([422, 'email']);
    const batch = await newsletter<BatchAnswer>(e, 'POST', '/subscribers/batch', {
      operations: [
        { ref: 'p', email_address: 'poison@example.com' },
        { ref: 'q', email_address: 'fine@example.com' },
      ],
    });
    expect(batch.body.results.map((r) => [r.ref, r.status, r.error?.code])).toEqual([
      ['p', 'error', 'invalid'],
      ['q', 'ok', undefined],
    ]);
    // A user of the CRM is not the API: the address is taken there.
    expect(e.sideDoor.userChange('poison@example.com').email).toBe('poison@example.com');
  });
});

describe('webhooks out (Standard Webhooks)', () => {
  it('sends a signed message on user edits and on API writes, one per request, verified by the official library', async () => {
    const secret = newSecret();
    const crmHook = await receiver('/webhooks/crm');
    const nlHook = await receiver('/webhooks/newsletter');
    const e = await emulator({ webhookSecret: secret, crmWebhookUrl: crmHook.url, newsletterWebhookUrl: nlHook.url });

    const user = e.sideDoor.userChange('ada@example.com');
    await e.sideDoor.flushWebhooks();
    e.sideDoor.crmUserEdit(user.id, { consents: { email_marketing: false } });
    await e.sideDoor.flushWebhooks();
    const api = await create(e, 'grace@example.com');
    await e.sideDoor.flushWebhooks();
    await crm(e, 'PATCH', `/contacts/${api.id}`, { data: { newsletter: true } });
    await e.sideDoor.flushWebhooks();
    await crm(e, 'DELETE', `/contacts/${api.id}`);
    await e.sideDoor.flushWebhooks();

    const messages = crmHook.received.map((r) => verified(secret, r) as Envelope);
    expect(messages.map((m) => [m.type, m.data['id']])).toEqual([
      ['contact.created', user.id],
      ['contact.updated', user.id],
      ['contact.created', api.id],
      ['contact.updated', api.id],
      ['contact.deleted', api.id],
    ]);
    expect(messages[1]?.data).toMatchObject({ email: 'ada@example.com', consents: { email_marketing: false } });
    expect(messages[4]?.data).toEqual({ id: api.id });
    expect(messages.every((m) => !Number.isNaN(Date.parse(m.timestamp)))).toBe(true);
    const ids = crmHook.received.map((r) => String(r.headers['webhook-id']));
    expect(new Set(ids).size).toBe(5);
    expect(ids.every((id) => /^msg_[0-9a-f]+$/.test(id))).toBe(true);

    await newsletter(e, 'POST', '/subscribers/batch', { operations: [{ ref: 'a', email_address: 'ada@example.com' }] });
    await e.sideDoor.flushWebhooks();
    e.sideDoor.newsletterUserEdit('s1', { status: 'subscribed' });
    await e.sideDoor.flushWebhooks();
    expect(nlHook.received.map((r) => verified(secret, r))).toEqual([
      { type: 'subscriber.changed', timestamp: expect.any(String), data: { subscriber_id: 's1' } },
      { type: 'subscriber.changed', timestamp: expect.any(String), data: { subscriber_id: 's1' } },
    ]);
    // A forged message (another secret) fails verification.
    expect(() => verified(newSecret(), crmHook.received[0] ?? { headers: {}, body: Buffer.from('') })).toThrow();
  });

  it('signs with both secrets during a rotation: two v1 entries, each secret verifies alone', async () => {
    const current = newSecret();
    const previous = newSecret();
    const hook = await receiver();
    const e = await emulator({ webhookSecret: current, previousWebhookSecret: previous, crmWebhookUrl: hook.url });
    e.sideDoor.userChange('ada@example.com');
    await e.sideDoor.flushWebhooks();
    const [request] = hook.received;
    if (!request) throw new Error('no webhook received');
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verified(current, request)).toMatchObject({ type: 'contact.created' });
    expect(verified(previous, request)).toMatchObject({ type: 'contact.created' });
    expect(() => verified(newSecret(), request)).toThrow('No matching signature found');

    // The rotation ends: only the new secret signs.
    e.sideDoor.setWebhookSecrets('crm', [current]);
    e.sideDoor.userChange('grace@example.com');
    await e.sideDoor.flushWebhooks();
    const last = hook.received[1];
    if (!last) throw new Error('no second webhook');
    expect(verified(current, last)).toMatchObject({ type: 'contact.created' });
    expect(() => verified(previous, last)).toThrow();
  });

  it('retries a non-2xx under the same webhook-id, re-signed with the attempt time', async () => {
    const secret = newSecret();
    const hook = await receiver();
    let offset = 0;
    // The first attempt is answered 500, and the emulator's clock moves a minute before the retry.
    hook.respondWith((_request, index) => {
      if (index > 0) return 204;
      offset = 60_000;
      return 500;
    });
    const e = await emulator({ webhookSecret: secret, crmWebhookUrl: hook.url, webhookRetryBaseMs: 1, now: () => Date.now() + offset });
    e.sideDoor.userChange('ada@example.com');
    await e.sideDoor.flushWebhooks();
    const [first, second] = hook.received;
    if (!first || !second) throw new Error('expected two attempts');
    expect(hook.received).toHaveLength(2);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body.equals(first.body)).toBe(true);
    expect(Number(second.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(60);
    expect(second.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    expect(verified(secret, second)).toMatchObject({ type: 'contact.created' });
    expect(e.sideDoor.webhookDeliveries().map((d: WebhookDelivery) => [d.system, d.attempt, d.status, d.acked])).toEqual([
      ['crm', 1, 500, false],
      ['crm', 2, 204, true],
    ]);
  });

  it('stops sending to a URL that answered 410 (no retry, nothing more) until the URL is set again', async () => {
    const hook = await receiver();
    hook.respondWith(410);
    const e = await emulator({ crmWebhookUrl: hook.url, webhookRetryBaseMs: 1 });
    e.sideDoor.userChange('a@example.com');
    await e.sideDoor.flushWebhooks();
    expect(hook.received).toHaveLength(1);
    expect(e.sideDoor.webhookEndpoints().crm).toEqual({ url: hook.url, disabled: true });
    hook.respondWith(204);
    e.sideDoor.userChange('b@example.com');
    await create(e, 'c@example.com');
    await e.sideDoor.flushWebhooks();
    expect(hook.received).toHaveLength(1);
    expect(e.sideDoor.webhookDeliveries().map((d) => [d.attempt, d.status, d.acked])).toEqual([[1, 410, false]]);

    e.sideDoor.setWebhookUrl(hook.url);
    expect(e.sideDoor.webhookEndpoints().crm.disabled).toBe(false);
    e.sideDoor.userChange('d@example.com');
    await e.sideDoor.flushWebhooks();
    expect(hook.received).toHaveLength(2);
  });
});

describe('concord-events inboxes', () => {
  it('verifies the hub webhooks with standardwebhooks, records each webhook-id once and answers the status set', async () => {
    const e = await emulator();
    const inbox = `${e.url}/crm/v1/concord-events`;
    const payload = { type: 'profile.updated', timestamp: new Date().toISOString(), data: { id: 'p1' } };
    expect((await call(inbox, signedDelivery(DEV_WEBHOOK_SECRET, 'msg_1', payload))).status).toBe(204);
    expect((await call(inbox, signedDelivery(DEV_WEBHOOK_SECRET, 'msg_1', payload))).status).toBe(204);
    e.sideDoor.setInboxStatus('crm', 500);
    expect((await call(inbox, signedDelivery(DEV_WEBHOOK_SECRET, 'msg_2', payload))).status).toBe(500);
    e.sideDoor.setInboxStatus('crm', 410);
    expect((await call(inbox, signedDelivery(DEV_WEBHOOK_SECRET, 'msg_2', payload))).status).toBe(410);
    expect(e.sideDoor.inbox('crm')).toEqual<InboxMessage[]>([
      { id: 'msg_1', type: 'profile.updated', payload, receivedAt: expect.any(String), attempts: 2, acknowledged: true },
      { id: 'msg_2', type: 'profile.updated', payload, receivedAt: expect.any(String), attempts: 2, acknowledged: false },
    ]);
    expect(e.sideDoor.inbox('newsletter')).toEqual([]);
    // Not API calls: listed per endpoint, outside the total, never rate-limited.
    expect(e.sideDoor.calls()).toEqual({ total: 0, byEndpoint: { 'POST /crm/v1/concord-events': 4 }, rateLimited: 0 });
  });

  it('refuses a bad signature, a stale timestamp or missing headers with 401 in each system shape, recording nothing', async () => {
    const inboxSecret = newSecret();
    const e = await emulator({ inboxSecret });
    const payload = { type: 'profile.updated', timestamp: new Date().toISOString(), data: {} };
    const forged = await call<CrmError>(`${e.url}/crm/v1/concord-events`, signedDelivery(DEV_WEBHOOK_SECRET, 'msg_x', payload));
    expect([forged.status, forged.body.error.code]).toEqual([401, 'unauthorized']);
    const stale = await call<{ message: string }>(
      `${e.url}/newsletter/api/concord-events`,
      signedDelivery(inboxSecret, 'msg_y', payload, new Date(Date.now() - 10 * 60_000)),
    );
    expect([stale.status, stale.body]).toEqual([401, { message: 'Message timestamp too old' }]);
    const bare = await call(`${e.url}/newsletter/api/concord-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    expect(bare.status).toBe(401);
    const tampered = signedDelivery(inboxSecret, 'msg_z', payload);
    const altered = await call(`${e.url}/newsletter/api/concord-events`, { ...tampered, body: JSON.stringify({ ...payload, type: 'x' }) });
    expect(altered.status).toBe(401);
    expect([e.sideDoor.inbox('crm'), e.sideDoor.inbox('newsletter')]).toEqual([[], []]);
    const good = await call(`${e.url}/newsletter/api/concord-events`, signedDelivery(inboxSecret, 'msg_ok', payload));
    expect(good.status).toBe(204);
    expect(e.sideDoor.inbox('newsletter').map((m) => m.id)).toEqual(['msg_ok']);
  });
});

describe('side door over HTTP (/_emulator)', () => {
  it('serves user edits, views, inbox controls and webhook controls', async () => {
    const hook = await receiver();
    const e = await emulator({ crmWebhookUrl: hook.url });
    const door = (method: string, path: string, body?: unknown) =>
      call(
        `${e.url}/_emulator${path}`,
        body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      );

    const made = await door('POST', '/user-change', { email: 'ada@example.com' });
    expect(made.body).toMatchObject({ id: 'c_1', email: 'ada@example.com' });
    expect((await door('PATCH', '/crm/contacts/c_1', { first_name: 'Ada' })).body).toMatchObject({ first_name: 'Ada' });
    expect((await door('PATCH', '/crm/contacts/c_9', { first_name: 'X' })).status).toBe(400);
    expect((await door('GET', '/crm/contacts?email=ADA@example.com')).body).toEqual([
      expect.objectContaining({ id: 'c_1', first_name: 'Ada' }),
    ]);
    expect((await door('GET', '/crm/contacts/c_1/notes')).body).toEqual([
      { at: expect.any(String), text: 'created by a user' },
      { at: expect.any(String), text: 'updated by a user (first_name)' },
    ]);
    expect((await door('POST', '/newsletter/subscribers', { email_address: 'ada@example.com', status: 'subscribed' })).body).toMatchObject({
      subscriber_id: 's1',
      status: 'subscribed',
    });
    expect((await door('PATCH', '/newsletter/subscribers/s1', { lists: { weekly: true } })).body).toMatchObject({
      lists: { weekly: true },
    });
    expect((await door('GET', '/newsletter/subscribers')).body).toEqual([expect.objectContaining({ subscriber_id: 's1' })]);

    await door('POST', '/webhooks/flush');
    expect(hook.received.map((r) => (JSON.parse(r.body.toString('utf8')) as Envelope).type)).toEqual([
      'contact.created',
      'contact.updated',
    ]);
    expect((await door('GET', '/webhooks')).body).toHaveLength(2);
    await door('POST', '/webhooks/pause');
    expect((await door('DELETE', '/crm/contacts/c_1')).status).toBe(204);
    await door('POST', '/webhooks/flush');
    expect(hook.received).toHaveLength(2);
    await door('POST', '/webhooks/resume');
    await door('POST', '/webhooks/flush');
    expect(hook.received).toHaveLength(3);

    const nlHook = await receiver('/webhooks/nl');
    expect((await door('POST', '/webhooks/url', { system: 'newsletter', url: nlHook.url })).status).toBe(204);
    expect((await door('GET', '/webhooks/endpoints')).body).toEqual({
      crm: { url: hook.url, disabled: false },
      newsletter: { url: nlHook.url, disabled: false },
    });
    await door('PATCH', '/newsletter/subscribers/s1', { status: 'unsubscribed' });
    await door('POST', '/webhooks/flush');
    expect(nlHook.received).toHaveLength(1);

    expect((await door('POST', '/inbox/newsletter/status', { status: 503 })).status).toBe(204);
    const delivered = await call(
      `${e.url}/newsletter/api/concord-events`,
      signedDelivery(DEV_WEBHOOK_SECRET, 'msg_h', { type: 't', data: {} }),
    );
    expect(delivered.status).toBe(503);
    expect((await door('GET', '/inbox/newsletter')).body).toEqual([
      expect.objectContaining({ id: 'msg_h', attempts: 1, acknowledged: false }),
    ]);
    expect((await door('GET', '/inbox/other')).status).toBe(400);

    expect((await door('POST', '/poison', { email: 'bad@example.com' })).status).toBe(204);
    expect((await crm(e, 'POST', '/contacts', { data: { email: 'bad@example.com' } })).status).toBe(422);
    expect((await door('POST', '/rate-limit-next-call', { retryAfterSeconds: 3 })).status).toBe(204);
    expect((await crm(e, 'GET', '/contacts')).status).toBe(429);
    expect((await door('GET', '/calls')).body).toMatchObject({ total: 2, rateLimited: 1 });
  });
});

describe('declaration and demo', () => {
  it('is declared as http on port 4050 with its secret variable and the baseUrl demo key', () => {
    expect([definition.id, definition.defaultPort, definition.secretEnv, definition.demo.urlKey]).toEqual([
      'http',
      4050,
      'HTTP_EMULATOR_WEBHOOK_SECRET',
      'baseUrl',
    ]);
    expect(Buffer.from(DEV_WEBHOOK_SECRET.slice('whsec_'.length), 'base64').toString('utf8')).toContain('dev-only');
  });

  it('starts for concord emulate: --secret signs, --webhook-url is the CRM one, --rate-limit applies to each system', async () => {
    const secret = newSecret();
    const hook = await receiver();
    const e = await definition.start({
      port: 0,
      host: '127.0.0.1',
      secret,
      webhookUrl: hook.url,
      rateLimit: { max: 1, intervalMs: 60_000 },
    });
    try {
      e.sideDoor.userChange('ada@example.com');
      await e.sideDoor.flushWebhooks();
      expect(hook.received.map((r) => verified(secret, r))).toEqual([expect.objectContaining({ type: 'contact.created' })]);
      expect(e.sideDoor.webhookEndpoints().newsletter.url).toBeUndefined();
      for (const ask of [() => crm(e, 'GET', '/contacts'), () => newsletter(e, 'GET', '/subscribers')]) {
        expect((await ask()).status).toBe(200);
        expect((await ask()).status).toBe(429);
      }
    } finally {
      await e.close();
    }
  });

  it('runs one server for a CRM instance and a newsletter instance on the same port, each with its secret and webhook URL', async () => {
    const port = await freePort();
    const crmSecret = newSecret();
    const nlSecret = newSecret();
    const hub = await receiver('/');
    const publicUrl = hub.url.replace(/\/$/, '');
    const crmRun = await definition.demo.start({
      instanceId: 'crm',
      config: { baseUrl: `http://localhost:${port}/crm/v1`, webhooks: { secrets: [crmSecret] } },
      port,
      publicUrl,
    });
    const nlRun = await definition.demo.start({
      instanceId: 'news',
      config: { baseUrl: `http://localhost:${port}/newsletter/api`, webhooks: { secrets: [nlSecret] } },
      port,
      publicUrl,
    });
    try {
      expect([crmRun.url, nlRun.url]).toEqual([`http://127.0.0.1:${port}/crm/v1`, `http://127.0.0.1:${port}/newsletter/api`]);
      expect(nlRun.sideDoor).toBe(crmRun.sideDoor);
      crmRun.sideDoor.userChange('ada@example.com');
      crmRun.sideDoor.newsletterUserCreate('ada@example.com');
      await crmRun.sideDoor.flushWebhooks();
      const byPath = Object.fromEntries(hub.received.map((r) => [r.url, r]));
      const toCrm = byPath['/webhooks/crm'];
      const toNews = byPath['/webhooks/news'];
      if (!toCrm || !toNews) throw new Error('expected a webhook for each instance');
      expect(verified(crmSecret, toCrm)).toMatchObject({ type: 'contact.created' });
      expect(verified(nlSecret, toNews)).toMatchObject({ type: 'subscriber.changed' });
      expect(() => verified(crmSecret, toNews)).toThrow('No matching signature found');
    } finally {
      await crmRun.close();
      // The newsletter instance still holds the server.
      expect((await call(`${nlRun.url}/subscribers`, { headers: { 'x-api-key': 'dev-only-http-api-key' } })).status).toBe(200);
      await nlRun.close();
    }
  });
});

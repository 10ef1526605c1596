/**
 * The Mailchimp emulator over real HTTP: auth, member JSON, Mailchimp's status rules, tags only
 * on create, delete-permanent then "Forgotten Email Not Subscribed", batch subscribe, /batches and
 * its .tar.gz, the 10-connection ceiling, and webhooks (form body, signature, sources, 410).
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INTEREST_IDS, DEFAULT_LIST_ID, DEFAULT_PERMISSION_IDS, emailHash } from '../../../connectors/mailchimp/emulator/index.js';
import definition from '../../../connectors/mailchimp/emulator/index.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';
import {
  api,
  basic,
  emulator,
  KEY,
  untarGz,
  type Batch,
  type BatchSubscribeAnswer,
  type Member,
  type Problem,
} from './emulator-helpers.js';

const L = `/lists/${DEFAULT_LIST_ID}`;
const md5 = (email: string): string => createHash('md5').update(email.toLowerCase()).digest('hex');

describe('auth and errors', () => {
  it('takes Basic auth with any user and the API key as password; anything else is a 401 problem+json', async () => {
    const e = await emulator({ apiKey: KEY });
    expect((await api(e, 'GET', '/lists')).status).toBe(200);
    const wrong = await api<Problem>(e, 'GET', '/lists', undefined, 'other-key-us1');
    expect([wrong.status, wrong.contentType, wrong.body.title]).toEqual([
      401,
      'application/problem+json; charset=utf-8',
      'API Key Invalid',
    ]);
    const none = await fetch(`${e.apiUrl}/lists`);
    expect(none.status).toBe(401);
    const open = await emulator();
    expect((await api(open, 'GET', '/lists', undefined, 'whatever-us9')).status).toBe(200);
  });

  it('answers an unknown member with 404 problem+json and the injected rate limit with 429 and Retry-After', async () => {
    const e = await emulator();
    const missing = await api<Problem>(e, 'GET', `${L}/members/${md5('nobody@example.com')}`);
    expect(missing.body).toMatchObject({ status: 404, title: 'Resource Not Found' });
    expect(Object.keys(missing.body).sort()).toEqual(['detail', 'instance', 'status', 'title', 'type']);
    e.sideDoor.rateLimitNextCall(7);
    const limited = await api<Problem>(e, 'GET', '/lists');
    expect([limited.status, limited.headers.get('retry-after'), limited.body.title]).toEqual([429, '7', 'Too Many Requests']);
    expect(e.sideDoor.calls().rateLimited).toBe(1);
  });
});

describe('members', () => {
  it('creates with status_if_new and answers the member as Mailchimp does', async () => {
    const e = await emulator();
    const res = await api(e, 'PUT', `${L}/members/${md5('Ada@Example.com')}`, {
      email_address: 'Ada@Example.com',
      status_if_new: 'transactional',
      merge_fields: { FNAME: 'Ada' },
      interests: { [DEFAULT_INTEREST_IDS.offers]: true },
      marketing_permissions: [{ marketing_permission_id: DEFAULT_PERMISSION_IDS.email, enabled: true }],
    });
    expect(res.status).toBe(200);
    const m = res.body;
    expect(m).toMatchObject({
      id: md5('ada@example.com'),
      email_address: 'Ada@Example.com',
      status: 'transactional',
      merge_fields: { FNAME: 'Ada', LNAME: '', PHONE: '', ADDRESS: '' },
      interests: { [DEFAULT_INTEREST_IDS.newsletter]: false, [DEFAULT_INTEREST_IDS.offers]: true, [DEFAULT_INTEREST_IDS.events]: false },
      timestamp_opt: '',
      ip_opt: '',
      timestamp_signup: '',
      ip_signup: '',
      list_id: DEFAULT_LIST_ID,
    });
    expect(m.marketing_permissions).toEqual([
      { marketing_permission_id: DEFAULT_PERMISSION_IDS.email, text: 'Email', enabled: true },
      { marketing_permission_id: DEFAULT_PERMISSION_IDS.directMail, text: 'Direct Mail', enabled: false },
      { marketing_permission_id: DEFAULT_PERMISSION_IDS.customizedAds, text: 'Customized Online Advertising', enabled: false },
    ]);
    expect(m.last_changed).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
    expect(m.contact_id).toMatch(/^[0-9a-f]{32}$/);
    // The e-mail, the hash and the contact_id all name the member.
    for (const key of ['ada@example.com', m.id, m.contact_id]) {
      expect((await api(e, 'GET', `${L}/members/${encodeURIComponent(key)}`)).body.contact_id).toBe(m.contact_id);
    }
  });

  it('a PUT needs status_if_new (or status) for a new member; POST needs status; bad addresses and merge tags are 400s', async () => {
    const e = await emulator();
    const noStatus = await api<Problem>(e, 'PUT', `${L}/members/x`, { email_address: 'new@example.com' });
    expect([noStatus.status, noStatus.body.errors?.[0]?.field]).toEqual([400, 'status_if_new']);
    const post = await api<Problem>(e, 'POST', `${L}/members`, { email_address: 'new@example.com' });
    expect([post.status, post.body.errors?.[0]?.field]).toEqual([400, 'status']);
    const invalid = await api<Problem>(e, 'POST', `${L}/members`, { email_address: 'not-an-address', status: 'subscribed' });
    expect([invalid.status, invalid.body.title, invalid.body.detail]).toEqual([
      400,
      'Invalid Resource',
      'Please provide a valid email address.',
    ]);
    const merge = await api<Problem>(e, 'POST', `${L}/members`, {
      email_address: 'm@example.com',
      status: 'subscribed',
      merge_fields: { NOPE: 'x' },
    });
    expect([merge.status, merge.body.title, merge.body.errors]).toEqual([
      400,
      'Invalid Resource',
      [{ field: 'NOPE', message: 'Merge field NOPE does not exist on this list.' }],
    ]);
    const exists = await api<Problem>(e, 'POST', `${L}/members`, { email_address: 'm@example.com', status: 'subscribed' });
    expect(exists.status).toBe(200);
    expect((await api<Problem>(e, 'POST', `${L}/members`, { email_address: 'm@example.com', status: 'subscribed' })).body.title).toBe(
      'Member Exists',
    );
    const patch = await api<Problem>(e, 'PATCH', `${L}/members/m@example.com`, { status: 'transactional' });
    expect([patch.status, patch.body.errors?.[0]?.field]).toEqual([400, 'status']);
  });

  it('applies tags in a PUT body only on create; the tags endpoint changes them (204)', async () => {
    const e = await emulator();
    const path = `${L}/members/${md5('t@example.com')}`;
    await api(e, 'PUT', path, { email_address: 't@example.com', status_if_new: 'subscribed', tags: ['vip'] });
    const updated = await api(e, 'PUT', path, { email_address: 't@example.com', status_if_new: 'subscribed', tags: ['ignored'] });
    expect(updated.body.tags.map((t) => t.name)).toEqual(['vip']);
    const tagged = await api(e, 'POST', `${path}/tags`, {
      tags: [
        { name: 'vip', status: 'inactive' },
        { name: 'donor', status: 'active' },
      ],
      is_syncing: true,
    });
    expect(tagged.status).toBe(204);
    const tags = await api<{ tags: { id: number; name: string; date_added: string }[]; total_items: number }>(e, 'GET', `${path}/tags`);
    expect(tags.body.tags.map((t) => t.name)).toEqual(['donor']);
    expect(tags.body.total_items).toBe(1);
  });

  it('an e-mail change keeps the contact_id and changes the id', async () => {
    const e = await emulator();
    const created = await api(e, 'POST', `${L}/members`, { email_address: 'old@example.com', status: 'subscribed' });
    const changed = await api(e, 'PATCH', `${L}/members/${created.body.contact_id}`, { email_address: 'new@example.com' });
    expect(changed.body).toMatchObject({
      contact_id: created.body.contact_id,
      id: md5('new@example.com'),
      email_address: 'new@example.com',
    });
    expect((await api(e, 'GET', `${L}/members/${md5('old@example.com')}`)).status).toBe(404);
  });

  it('a member who unsubscribed themselves, bounced or is under review cannot be subscribed again', async () => {
    const e = await emulator();
    for (const [email, act] of [
      ['self@example.com', (x: string) => e.sideDoor.unsubscribe(x)],
      ['bounce@example.com', (x: string) => e.sideDoor.clean(x)],
      [
        'review@example.com',
        (x: string) => {
          e.sideDoor.unsubscribe(x, { by: 'admin' });
          return e.sideDoor.complianceReview(x);
        },
      ],
    ] as const) {
      await api(e, 'POST', `${L}/members`, { email_address: email, status: 'subscribed' });
      act(email);
      const res = await api<Problem>(e, 'PUT', `${L}/members/${md5(email)}`, { email_address: email, status: 'subscribed' });
      expect([res.status, res.body.title]).toEqual([400, 'Member In Compliance State']);
      expect(res.body.detail).toContain('compliance state');
      expect((await api<Problem>(e, 'PATCH', `${L}/members/${md5(email)}`, { status: 'subscribed' })).body.title).toBe(
        'Member In Compliance State',
      );
    }
    // A bounce reported through the API locks the address too.
    await api(e, 'POST', `${L}/members`, { email_address: 'api-bounce@example.com', status: 'subscribed' });
    expect((await api(e, 'PATCH', `${L}/members/api-bounce@example.com`, { status: 'cleaned' })).body.status).toBe('cleaned');
    expect((await api<Problem>(e, 'PATCH', `${L}/members/api-bounce@example.com`, { status: 'subscribed' })).body.title).toBe(
      'Member In Compliance State',
    );
    // A marketer's unsubscribe is no compliance state; pending (double opt-in) is always allowed.
    await api(e, 'POST', `${L}/members`, { email_address: 'admin@example.com', status: 'subscribed' });
    e.sideDoor.unsubscribe('admin@example.com', { by: 'admin' });
    expect((await api(e, 'PATCH', `${L}/members/admin@example.com`, { status: 'subscribed' })).body.status).toBe('subscribed');
    expect((await api(e, 'PATCH', `${L}/members/self@example.com`, { status: 'pending' })).body.status).toBe('pending');
  });

  it('archive: DELETE archives, a PUT with only status_if_new leaves it archived, an explicit status un-archives; 405 when archived or pending', async () => {
    const e = await emulator();
    const path = `${L}/members/${md5('arch@example.com')}`;
    await api(e, 'PUT', path, { email_address: 'arch@example.com', status_if_new: 'subscribed' });
    expect((await api(e, 'DELETE', path)).status).toBe(204);
    expect((await api(e, 'GET', path)).body.status).toBe('archived');
    const again = await api<Problem>(e, 'DELETE', path);
    expect([again.status, again.body.title]).toEqual([405, 'Method Not Allowed']);
    const stays = await api(e, 'PUT', path, {
      email_address: 'arch@example.com',
      status_if_new: 'subscribed',
      merge_fields: { FNAME: 'A' },
    });
    expect([stays.body.status, stays.body.merge_fields['FNAME']]).toEqual(['archived', 'A']);
    expect((await api(e, 'PUT', path, { email_address: 'arch@example.com', status: 'unsubscribed' })).body.status).toBe('unsubscribed');
    await api(e, 'POST', `${L}/members`, { email_address: 'pend@example.com', status: 'pending' });
    expect((await api(e, 'DELETE', `${L}/members/pend@example.com`)).status).toBe(405);
  });

  it('delete-permanent: 404 as if never there, then every add is "Forgotten Email Not Subscribed" until a form sign-up', async () => {
    const e = await emulator();
    const path = `${L}/members/${md5('gone@example.com')}`;
    await api(e, 'PUT', path, { email_address: 'gone@example.com', status_if_new: 'subscribed' });
    expect((await api(e, 'POST', `${path}/actions/delete-permanent`)).status).toBe(204);
    expect((await api(e, 'GET', path)).status).toBe(404);
    for (const [method, p, body] of [
      ['PUT', path, { email_address: 'gone@example.com', status_if_new: 'pending' }],
      ['POST', `${L}/members`, { email_address: 'gone@example.com', status: 'pending' }],
    ] as const) {
      const res = await api<Problem>(e, method, p, body);
      expect([res.status, res.body.title]).toEqual([400, 'Forgotten Email Not Subscribed']);
    }
    e.sideDoor.userChange('gone@example.com');
    expect((await api(e, 'GET', path)).body.status).toBe('subscribed');
  });

  it('refuses a re-subscribe after quick unsubscribe/resubscribe churn', async () => {
    const e = await emulator({ churnFlips: 3 });
    const path = `${L}/members/churn@example.com`;
    await api(e, 'POST', `${L}/members`, { email_address: 'churn@example.com', status: 'subscribed' });
    for (const status of ['unsubscribed', 'subscribed', 'unsubscribed']) expect((await api(e, 'PATCH', path, { status })).status).toBe(200);
    const res = await api<Problem>(e, 'PATCH', path, { status: 'subscribed' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('signed up to a lot of lists very recently');
  });

  it('lists members with count, offset, status and since_last_changed, and fields', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const e = await emulator({}, { now: () => clock });
    for (let i = 0; i < 5; i++) {
      await api(e, 'POST', `${L}/members`, { email_address: `p${i}@example.com`, status: i % 2 === 0 ? 'subscribed' : 'unsubscribed' });
      clock += 60_000;
    }
    type Page = { members: Member[]; total_items: number; list_id: string };
    const page = await api<Page>(e, 'GET', `${L}/members?count=2&offset=1`);
    expect([page.body.total_items, page.body.members.map((m) => m.email_address)]).toEqual([5, ['p1@example.com', 'p2@example.com']]);
    expect((await api<Page>(e, 'GET', `${L}/members?status=unsubscribed`)).body.total_items).toBe(2);
    const since = await api<Page>(e, 'GET', `${L}/members?since_last_changed=${encodeURIComponent('2026-01-01T00:03:00+00:00')}`);
    expect(since.body.members.map((m) => m.email_address)).toEqual(['p3@example.com', 'p4@example.com']);
    const fields = await api<Page>(e, 'GET', `${L}/members?fields=members.email_address,total_items&count=1`);
    expect(fields.body).toEqual({ members: [{ email_address: 'p0@example.com' }], total_items: 5 });
    const unencoded = await api<Page>(e, 'GET', `${L}/members?since_last_changed=2026-01-01T00:03:00+00:00`);
    expect(unencoded.body.total_items).toBe(2);
    const before = await api<Page>(e, 'GET', `${L}/members?before_last_changed=${encodeURIComponent('2026-01-01T00:01:00+00:00')}`);
    expect(before.body.members.map((m) => m.email_address)).toEqual(['p0@example.com']);
    const excluded = await api<Page>(e, 'GET', `${L}/members?exclude_fields=members._links,members.merge_fields&count=1`);
    expect(excluded.body.members[0]).not.toHaveProperty('merge_fields');
    expect(excluded.body.members[0]).toHaveProperty('email_address', 'p0@example.com');
    expect((await api(e, 'GET', `${L}/members?count=1001`)).status).toBe(400);
  });

  it('answers merge fields with their limit, interest categories and interests', async () => {
    const e = await emulator();
    const merge = await api<{ merge_fields: { tag: string }[]; merge_field_limit: number }>(e, 'GET', `${L}/merge-fields`);
    expect([merge.body.merge_fields.map((f) => f.tag), merge.body.merge_field_limit]).toEqual([['FNAME', 'LNAME', 'PHONE', 'ADDRESS'], 30]);
    const cats = await api<{ categories: { id: string }[] }>(e, 'GET', `${L}/interest-categories`);
    const cat = cats.body.categories[0]?.id ?? '';
    const interests = await api<{ interests: { id: string; name: string }[] }>(e, 'GET', `${L}/interest-categories/${cat}/interests`);
    expect(interests.body.interests.map((i) => i.name)).toEqual(['Newsletter', 'Offers', 'Events']);
  });
});

describe('batch subscribe', () => {
  it('creates, reports existing members and per-member refusals without failing the call', async () => {
    const e = await emulator();
    await api(e, 'POST', `${L}/members`, { email_address: 'exists@example.com', status: 'subscribed' });
    await api(e, 'POST', `${L}/members`, { email_address: 'locked@example.com', status: 'subscribed' });
    e.sideDoor.unsubscribe('locked@example.com');
    const first = await api<BatchSubscribeAnswer>(e, 'POST', L, {
      members: [
        { email_address: 'fresh@example.com', status: 'subscribed', tags: ['a'] },
        { email_address: 'exists@example.com', status: 'subscribed' },
      ],
    });
    expect(first.status).toBe(200);
    expect([first.body.total_created, first.body.total_updated, first.body.error_count]).toEqual([1, 0, 1]);
    expect(first.body.errors[0]).toMatchObject({ email_address: 'exists@example.com', error_code: 'ERROR_CONTACT_EXISTS' });
    const second = await api<BatchSubscribeAnswer>(e, 'POST', L, {
      update_existing: true,
      members: [
        { email_address: 'exists@example.com', status: 'unsubscribed', tags: ['ignored'] },
        { email_address: 'locked@example.com', status: 'subscribed' },
        { email_address: 'bad', status: 'subscribed' },
      ],
    });
    expect(second.body.updated_members.map((m) => [m.email_address, m.status, m.tags.length])).toEqual([
      ['exists@example.com', 'unsubscribed', 0],
    ]);
    expect(second.body.errors.map((x) => [x.email_address, x.error_code])).toEqual([
      ['locked@example.com', 'ERROR_GENERIC'],
      ['bad', 'ERROR_GENERIC'],
    ]);
    expect(second.body.errors[0]?.error).toContain('compliance state');
    const synced = await api<BatchSubscribeAnswer>(e, 'POST', L, {
      update_existing: true,
      sync_tags: true,
      members: [{ email_address: 'fresh@example.com', status: 'subscribed', tags: ['b'] }],
    });
    expect(synced.body.updated_members[0]?.tags.map((t) => t.name)).toEqual(['b']);
  });

  it('takes at most 500 members, each with a status', async () => {
    const e = await emulator();
    const many = Array.from({ length: 501 }, (_, i) => ({ email_address: `m${i}@example.com`, status: 'subscribed' }));
    expect((await api(e, 'POST', L, { members: many })).status).toBe(400);
    const noStatus = await api<Problem>(e, 'POST', L, { members: [{ email_address: 'a@example.com' }] });
    expect([noStatus.status, noStatus.body.errors?.[0]?.field]).toEqual([400, 'members.0.status']);
  });
});

describe('batch operations', () => {
  async function until(e: Awaited<ReturnType<typeof emulator>>, id: string): Promise<{ batch: Batch; seen: string[] }> {
    const seen: string[] = [];
    for (;;) {
      const batch = (await api<Batch>(e, 'GET', `/batches/${id}`)).body;
      if (seen.at(-1) !== batch.status) seen.push(batch.status);
      if (batch.status === 'finished') return { batch, seen };
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('runs operations through the API, moves through the statuses and serves a real .tar.gz from a short-lived URL', async () => {
    let clock = Date.now();
    const e = await emulator({ batchStepMs: 5, batchResultTtlMs: 60_000 }, { now: () => clock });
    await api(e, 'POST', `${L}/members`, { email_address: 'b1@example.com', status: 'subscribed' });
    const started = await api<Batch>(e, 'POST', '/batches', {
      operations: [
        {
          method: 'PATCH',
          path: `${L}/members/${md5('b1@example.com')}`,
          body: JSON.stringify({ merge_fields: { FNAME: 'B' } }),
          operation_id: 'op-1',
        },
        { method: 'PATCH', path: `${L}/members/${md5('nobody@example.com')}`, body: '{}', operation_id: 'op-2' },
        { method: 'GET', path: `${L}/members`, params: { count: 1 }, operation_id: 'op-3' },
      ],
    });
    expect(started.body).toMatchObject({ status: 'pending', total_operations: 3, finished_operations: 0, response_body_url: '' });
    const callsBefore = e.sideDoor.calls().total;
    const { batch, seen } = await until(e, started.body.id);
    expect(seen[seen.length - 1]).toBe('finished');
    expect(['pending', 'preprocessing', 'started', 'finalizing', 'finished']).toEqual(expect.arrayContaining(seen));
    expect([batch.finished_operations, batch.errored_operations]).toEqual([3, 1]);
    expect((await api(e, 'GET', `${L}/members/b1@example.com`)).body.merge_fields['FNAME']).toBe('B');
    // The operations are not API calls of the caller (only its status polls are).
    expect(e.sideDoor.calls().byEndpoint['PATCH /3.0/lists/:list_id/members/:subscriber_hash']).toBeUndefined();
    expect(e.sideDoor.calls().total).toBeGreaterThan(callsBefore);

    const download = await fetch(batch.response_body_url);
    expect(download.status).toBe(200);
    const files = untarGz(Buffer.from(await download.arrayBuffer()));
    const results = files.flatMap((f) => JSON.parse(f.content) as { status_code: number; operation_id: string; response: string }[]);
    expect(results.map((r) => [r.operation_id, r.status_code])).toEqual([
      ['op-1', 200],
      ['op-2', 404],
      ['op-3', 200],
    ]);
    expect((JSON.parse(results[0]?.response ?? '{}') as Member).merge_fields['FNAME']).toBe('B');
    expect((JSON.parse(results[1]?.response ?? '{}') as Problem).title).toBe('Resource Not Found');

    clock += 61_000;
    expect((await fetch(batch.response_body_url)).status).toBe(403);
    const batches = await api<{ batches: Batch[]; total_items: number }>(e, 'GET', '/batches');
    expect(batches.body.total_items).toBe(1);
  });

  it('refuses more pending batches than the ceiling with 429', async () => {
    const e = await emulator({ maxPendingBatches: 2, batchStepMs: 60_000 });
    const op = { operations: [{ method: 'GET', path: '/lists' }] };
    expect((await api(e, 'POST', '/batches', op)).status).toBe(200);
    expect((await api(e, 'POST', '/batches', op)).status).toBe(200);
    const third = await api<Problem>(e, 'POST', '/batches', op);
    expect([third.status, third.contentType]).toEqual([429, 'application/problem+json; charset=utf-8']);
    expect((await api(e, 'POST', '/batches', op, 'another-key-us1')).status).toBe(200);
  });
});

describe('the 10-connection ceiling', () => {
  it('answers the 11th request in flight for a key with 429 and records the peak', async () => {
    const e = await emulator();
    e.sideDoor.holdRequests();
    const calls = Array.from({ length: 11 }, () => api<Problem>(e, 'GET', '/lists'));
    const first = await Promise.race(calls);
    expect([first.status, first.body.detail]).toEqual([429, 'You have exceeded the limit of 10 simultaneous connections.']);
    e.sideDoor.releaseRequests();
    const statuses = (await Promise.all(calls)).map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
    expect(e.sideDoor.peakInFlight()).toBe(10);
    expect(e.sideDoor.calls().rateLimited).toBe(1);
    expect((await api(e, 'GET', '/lists')).status).toBe(200);
  });
});

describe('webhooks', () => {
  const SECRET = 'test-signing-secret';

  it('sends one signed form-encoded POST per event from user and admin sources, not from API writes', async () => {
    const receiver = await startWebhookReceiver('/hook');
    const e = await emulator({ webhookUrl: receiver.url, webhookSigningSecret: SECRET });
    e.sideDoor.userChange('w@example.com', { FNAME: 'Wu' });
    await e.sideDoor.flushWebhooks();
    await api(e, 'PATCH', `${L}/members/w@example.com`, {
      merge_fields: { LNAME: 'Api' },
      interests: { [DEFAULT_INTEREST_IDS.offers]: true },
    });
    await e.sideDoor.flushWebhooks();
    e.sideDoor.edit('w@example.com', { FNAME: 'Wen' });
    e.sideDoor.changeEmail('w@example.com', 'w2@example.com');
    e.sideDoor.unsubscribe('w2@example.com');
    await e.sideDoor.flushWebhooks();

    const forms = receiver.received.map((r) => new URLSearchParams(r.body.toString('utf8')));
    expect(forms.map((f) => f.get('type'))).toEqual(['subscribe', 'profile', 'upemail', 'unsubscribe']);
    const [subscribe, profile, upemail, unsubscribe] = forms;
    expect(subscribe?.get('fired_at')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(Object.fromEntries(subscribe ?? [])).toMatchObject({
      'data[id]': emailHash('w@example.com'),
      'data[list_id]': DEFAULT_LIST_ID,
      'data[email]': 'w@example.com',
      'data[email_type]': 'html',
      'data[ip_opt]': '203.0.113.7',
      'data[merges][FNAME]': 'Wu',
      'data[merges][INTERESTS]': '',
    });
    expect([profile?.get('data[merges][FNAME]'), profile?.get('data[merges][LNAME]'), profile?.get('data[merges][INTERESTS]')]).toEqual([
      'Wen',
      'Api',
      'Offers',
    ]);
    expect(Object.fromEntries(upemail ?? [])).toMatchObject({
      'data[old_email]': 'w@example.com',
      'data[new_email]': 'w2@example.com',
      'data[new_id]': emailHash('w2@example.com'),
    });
    expect([unsubscribe?.get('data[action]'), unsubscribe?.get('data[reason]')]).toEqual(['unsub', 'manual']);

    for (const r of receiver.received) {
      expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
      const [t, v1] = String(r.headers['x-mailchimp-signature']).split(',');
      const ts = (t ?? '').replace('t=', '');
      expect(v1).toBe(
        `v1=${createHmac('sha256', SECRET)
          .update(`${ts}.${r.body.toString('utf8')}`)
          .digest('hex')}`,
      );
    }
    await receiver.close();
  });

  it('a webhook created through the API answers its signing secret once, honours its sources, and a 410 disables it', async () => {
    const receiver = await startWebhookReceiver('/api-hook');
    const e = await emulator({ validateWebhookUrl: true });
    const created = await api<{ id: string; signing_secret?: string; sources: Record<string, boolean> }>(e, 'POST', `${L}/webhooks`, {
      url: receiver.url,
      events: { subscribe: true, unsubscribe: true, profile: true },
      sources: { api: true, admin: false, user: false },
    });
    expect(created.status).toBe(200);
    expect(receiver.received.map((r) => r.method)).toEqual(['GET']);
    expect(created.body.signing_secret).toMatch(/^[0-9a-f]{64}$/);
    const listed = await api<{ webhooks: Record<string, unknown>[] }>(e, 'GET', `${L}/webhooks`);
    expect(listed.body.webhooks[0]).not.toHaveProperty('signing_secret');

    await api(e, 'POST', `${L}/members`, { email_address: 'h@example.com', status: 'subscribed' });
    e.sideDoor.edit('h@example.com', { FNAME: 'Admin' }); // admin source: off
    await e.sideDoor.flushWebhooks();
    const posts = () => receiver.received.filter((r) => r.method === 'POST');
    expect(posts().map((r) => new URLSearchParams(r.body.toString('utf8')).get('type'))).toEqual(['subscribe']);
    const signed = posts()[0];
    const header = String(signed?.headers['x-mailchimp-signature']);
    const ts = header.split(',')[0]?.slice(2) ?? '';
    expect(header).toBe(
      `t=${ts},v1=${createHmac('sha256', created.body.signing_secret ?? '')
        .update(`${ts}.${signed?.body.toString('utf8') ?? ''}`)
        .digest('hex')}`,
    );

    receiver.respondWith(410);
    await api(e, 'PATCH', `${L}/members/h@example.com`, { merge_fields: { FNAME: 'Api' } });
    await e.sideDoor.flushWebhooks();
    expect(e.sideDoor.webhookDisabled(DEFAULT_LIST_ID, created.body.id)).toBe(true);
    expect(e.sideDoor.webhookDeliveries().at(-1)).toMatchObject({ status: 410, attempt: 1 });
    receiver.respondWith(204);
    await api(e, 'PATCH', `${L}/members/h@example.com`, { status: 'unsubscribed' });
    await e.sideDoor.flushWebhooks();
    expect(posts()).toHaveLength(2);
    await receiver.close();
  });

  it('retries a failed delivery with backoff, then gives up; redelivers by id', async () => {
    const receiver = await startWebhookReceiver('/retry');
    receiver.respondWith(503);
    const e = await emulator({ webhookUrl: receiver.url, webhookMaxAttempts: 2, webhookRetryBaseMs: 1 });
    e.sideDoor.userChange('r@example.com');
    await e.sideDoor.flushWebhooks();
    expect(e.sideDoor.webhookDeliveries().map((d) => [d.attempt, d.status, d.types])).toEqual([
      [1, 503, ['subscribe']],
      [2, 503, ['subscribe']],
    ]);
    receiver.respondWith(200);
    e.sideDoor.redeliverWebhooks(e.sideDoor.webhookDeliveries()[0]?.eventIds ?? []);
    await e.sideDoor.flushWebhooks();
    expect(e.sideDoor.webhookDeliveries().at(-1)).toMatchObject({ status: 200, acked: true });
    expect(receiver.received).toHaveLength(3);
    await receiver.close();
  });

  it('concord emulate mailchimp: the definition signs the pre-registered webhook with --secret', async () => {
    const receiver = await startWebhookReceiver('/webhooks/mc/token');
    const running = await definition.start({ port: 0, host: '127.0.0.1', secret: 'dev-only-cli-secret', webhookUrl: receiver.url });
    try {
      running.sideDoor.userChange('cli@example.com');
      running.sideDoor.unsubscribe('cli@example.com', { reason: 'abuse' });
      await running.sideDoor.flushWebhooks();
      const forms = receiver.received.map((r) => new URLSearchParams(r.body.toString('utf8')));
      expect(forms.map((f) => [f.get('type'), f.get('data[reason]')])).toEqual([
        ['subscribe', null],
        ['unsubscribe', 'abuse'],
      ]);
      expect(String(receiver.received[0]?.headers['x-mailchimp-signature'])).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect((await fetch(`${running.apiUrl}/lists`, { headers: { authorization: basic('any-key-us1') } })).status).toBe(200);
    } finally {
      await running.close();
      await receiver.close();
    }
  });

  it('serves its side door over HTTP', async () => {
    const e = await emulator();
    const post = (path: string, body: unknown) =>
      fetch(`${e.url}/_emulator/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('signup', { email: 's@example.com', merges: { FNAME: 'S' } })).status).toBe(200);
    expect((await post('archive', { email: 's@example.com' })).status).toBe(200);
    const member = (await (await fetch(`${e.url}/_emulator/member?email=s@example.com`)).json()) as Member;
    expect(member.status).toBe('archived');
    const refused = await post('archive', { email: 'nobody@example.com' });
    expect([refused.status, await refused.json()]).toEqual([400, { message: 'no such member' }]);
    await fetch(`${e.apiUrl}/lists`, { headers: { authorization: basic(KEY) } });
    expect(((await (await fetch(`${e.url}/_emulator/peak-in-flight`)).json()) as { peakInFlight: number }).peakInFlight).toBe(1);
  });
});

/**
 * The Segment emulator over real HTTP: the Tracking API's limits, drops and messageId dedupe, the
 * Profile API's paging, lookups, errors and per-space rate, regulations (status on the clock,
 * effects when finished, forced outcomes, the subject cap, the per-quota create limit and its
 * headers), and the Webhooks (Actions) destination (body, X-Signature, retries).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import definition, { segmentSignature, type SegmentMessage } from '../../../connectors/segment/emulator/index.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';
import {
  clock,
  closeAfterTest,
  emulator,
  profiles,
  PROFILE_TOKEN,
  PUBLIC_TOKEN,
  publicApi,
  SECRET,
  track,
  until,
  WRITE_KEY,
} from './emulator-helpers.js';

const identify = (userId: string, traits: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'identify',
  userId,
  traits,
  messageId: `m-${userId}-${Object.keys(traits).join('-')}-${String(Math.random()).slice(2)}`,
  ...extra,
});

interface TraitsPage {
  traits: Record<string, unknown>;
  cursor: { url: string; has_more: boolean; next: string; limit: number };
}
interface Errors {
  errors: { type: string; message: string; field?: string; data?: Record<string, number> }[];
}

describe('Tracking API', () => {
  it('takes a batch with the write key as Basic user or in the body, answers {success:true}, and builds the profile', async () => {
    const t = clock();
    const e = await emulator({}, { now: t.now });
    const first = await track(e, '/v1/batch', {
      batch: [identify('u1', { email: 'Ada@Example.com', first_name: 'Ada' }, { timestamp: '2026-12-04T11:00:00.000Z' })],
      sentAt: '2026-12-04T12:00:00.000Z',
      context: { library: { name: 'test' } },
    });
    expect([first.status, first.body]).toEqual([200, { success: true }]);
    t.advance(1000);
    const second = await track(
      e,
      '/v1/identify',
      { userId: 'u1', traits: { first_name: null, city: 'Paris' }, writeKey: 'body-key' },
      null,
    );
    expect(second.status).toBe(200);

    const [a, b] = e.sideDoor.events();
    expect(a?.writeKey).toBe(WRITE_KEY);
    expect(a?.message).toMatchObject({
      type: 'identify',
      userId: 'u1',
      timestamp: '2026-12-04T11:00:00.000Z',
      sentAt: '2026-12-04T12:00:00.000Z',
      receivedAt: '2026-12-04T12:00:00.000Z',
      context: { library: { name: 'test' } },
    });
    expect(b?.writeKey).toBe('body-key');
    expect(b?.message).not.toHaveProperty('writeKey');
    // No timestamp: Segment stamps it with the receive time.
    expect(b?.message.timestamp).toBe('2026-12-04T12:00:01.000Z');

    const p = e.sideDoor.profile('u1');
    expect(p?.traits).toEqual({
      email: expect.objectContaining({ value: 'Ada@Example.com', updatedAt: '2026-12-04T11:00:00.000Z' }),
      city: expect.objectContaining({ value: 'Paris', updatedAt: '2026-12-04T12:00:01.000Z' }),
    });
    expect(e.sideDoor.profileByEmail('ada@example.com')?.segmentId).toBe(p?.segmentId);
    expect(p?.externalIds.map((x) => [x.type, x.id])).toEqual([
      ['user_id', 'u1'],
      ['email', 'ada@example.com'],
    ]);
  });

  it('refuses a missing or wrong write key with 401, bad JSON and a batch over 500 KB with 400', async () => {
    const e = await emulator({ writeKey: WRITE_KEY });
    expect((await track(e, '/v1/batch', { batch: [] }, null)).status).toBe(401);
    expect((await track(e, '/v1/batch', { batch: [] }, 'other')).status).toBe(401);
    expect((await track(e, '/v1/batch', '{"batch": [')).status).toBe(400);
    const big = Array.from({ length: 20 }, (_, i) => identify(`u${i}`, { bio: 'x'.repeat(30 * 1024) }));
    const tooBig = await track(e, '/v1/batch', { batch: big });
    expect(tooBig.status).toBe(400);
    const huge = await track(e, '/v1/batch', { batch: [identify('u1', { bio: 'x'.repeat(5 * 1024 * 1024) })] });
    expect(huge.status).toBe(400);
    expect(e.sideDoor.events()).toHaveLength(0);
  });

  it('drops events past the 2,500th of a batch and still answers 200', async () => {
    const e = await emulator();
    const batch = Array.from({ length: 2600 }, (_, i) => ({ type: 'identify', userId: `u${i}`, messageId: `m${i}` }));
    const res = await track(e, '/v1/batch', { batch });
    expect(res.status).toBe(200);
    expect(e.sideDoor.events()).toHaveLength(2500);
    const dropped = e.sideDoor.dropped();
    expect(dropped).toHaveLength(100);
    expect(new Set(dropped.map((d) => d.reason))).toEqual(new Set(['over_batch_limit']));
    expect(dropped[0]?.messageId).toBe('m2500');
  });

  it('answers 400 to a batch holding an event over 32 KB (as documented), or drops the event with oversizedBatchEvent: drop', async () => {
    const batch = [identify('small', { a: 1 }), identify('large', { bio: 'x'.repeat(33 * 1024) })];
    const strict = await emulator();
    expect((await track(strict, '/v1/batch', { batch })).status).toBe(400);
    expect(strict.sideDoor.events()).toHaveLength(0);

    const lenient = await emulator({ oversizedBatchEvent: 'drop' });
    expect((await track(lenient, '/v1/batch', { batch })).status).toBe(200);
    expect(lenient.sideDoor.events().map((x) => x.message.userId)).toEqual(['small']);
    expect(lenient.sideDoor.dropped()).toEqual([expect.objectContaining({ reason: 'oversized', userId: 'large' })]);

    // A single call over 32 KB is a 400.
    const single = await track(lenient, '/v1/identify', { userId: 'large', traits: { bio: 'x'.repeat(33 * 1024) } });
    expect(single.status).toBe(400);
  });

  it('accepts with 200 but drops events without userId or anonymousId and track calls without event', async () => {
    const e = await emulator();
    expect(
      (
        await track(e, '/v1/batch', {
          batch: [
            { type: 'identify', traits: { a: 1 } },
            { type: 'track', userId: 'u1' },
          ],
        })
      ).status,
    ).toBe(200);
    expect((await track(e, '/v1/identify', { traits: { a: 1 } })).status).toBe(200);
    expect(e.sideDoor.events()).toHaveLength(0);
    expect(e.sideDoor.dropped().map((d) => d.reason)).toEqual(['no_identity', 'missing_event', 'no_identity']);
  });

  it('delivers an identify with 300 traits or more but leaves the profile as it was (Engage rejects it)', async () => {
    const receiver = await startWebhookReceiver('/webhooks/segment');
    closeAfterTest(receiver);
    const e = await emulator({ webhookUrl: receiver.url });
    await track(e, '/v1/batch', { batch: [identify('u1', { plan: 'basic' })] });
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    expect((await track(e, '/v1/batch', { batch: [identify('u1', { ...many, plan: 'pro' })] })).status).toBe(200);
    await e.sideDoor.flushWebhooks();
    expect(receiver.received).toHaveLength(2);
    expect(e.sideDoor.profile('u1')?.traits['plan']?.value).toBe('basic');
    expect(e.sideDoor.dropped().map((d) => d.reason)).toEqual(['too_many_traits']);
  });

  it('dedupes on messageId across write keys for 24 h of emulator time', async () => {
    const t = clock();
    const e = await emulator({}, { now: t.now });
    const event = { type: 'identify', userId: 'u1', traits: { n: 1 }, messageId: 'same' };
    await track(e, '/v1/batch', { batch: [event] });
    await track(e, '/v1/batch', { batch: [{ ...event, traits: { n: 2 } }] }, 'another-source');
    expect(e.sideDoor.events()).toHaveLength(1);
    expect(e.sideDoor.duplicates()).toBe(1);
    expect(e.sideDoor.profile('u1')?.traits['n']?.value).toBe(1);
    t.advance(24 * 3600 * 1000 + 1);
    await track(e, '/v1/batch', { batch: [{ ...event, traits: { n: 3 } }] });
    expect(e.sideDoor.events()).toHaveLength(2);
    expect(e.sideDoor.profile('u1')?.traits['n']?.value).toBe(3);
  });

  it('drops identify calls of a poisoned address (Segment has no per-record error)', async () => {
    const e = await emulator();
    e.sideDoor.poison('Bad@Example.com');
    const res = await track(e, '/v1/batch', {
      batch: [identify('u1', { email: 'bad@example.com' }), identify('u2', { email: 'ok@example.com' })],
    });
    expect(res.status).toBe(200);
    expect(e.sideDoor.events().map((x) => x.message.userId)).toEqual(['u2']);
    expect(e.sideDoor.dropped()).toEqual([expect.objectContaining({ reason: 'poisoned', userId: 'u1' })]);
  });

  it('answers the injected 429 with Retry-After and the injected 503s', async () => {
    const e = await emulator();
    e.sideDoor.rateLimitNextCall(3);
    const limited = await track(e, '/v1/batch', { batch: [identify('u1', {})] });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '3']);
    e.sideDoor.failNextTrackingCalls(2, 503);
    expect((await track(e, '/v1/batch', { batch: [identify('u1', {})] })).status).toBe(503);
    expect((await track(e, '/v1/batch', { batch: [identify('u1', {})] })).status).toBe(503);
    expect((await track(e, '/v1/batch', { batch: [identify('u1', {})] })).status).toBe(200);
    expect(e.sideDoor.events()).toHaveLength(1);
    expect(e.sideDoor.calls()).toMatchObject({ total: 4, rateLimited: 1 });
  });
});

describe('Profile API', () => {
  const seed = async (e: Awaited<ReturnType<typeof emulator>>, traits: Record<string, unknown>, userId = 'u1'): Promise<void> => {
    expect((await track(e, '/v1/batch', { batch: [identify(userId, traits)] })).status).toBe(200);
  };

  it('pages traits in key order with limit, next and has_more; include and verbose', async () => {
    const t = clock();
    const e = await emulator({}, { now: t.now });
    const traits = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`t${String(i).padStart(2, '0')}`, i]));
    await seed(e, traits);
    const seen: string[] = [];
    const pages: boolean[] = [];
    let next: string | undefined;
    do {
      const res = await profiles<TraitsPage>(e, `user_id:u1/traits?limit=10${next ? `&next=${encodeURIComponent(next)}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.cursor.limit).toBe(10);
      seen.push(...Object.keys(res.body.traits));
      pages.push(res.body.cursor.has_more);
      next = res.body.cursor.has_more ? res.body.cursor.next : undefined;
    } while (next);
    expect(pages).toEqual([true, true, false]);
    expect(seen).toEqual(Object.keys(traits).sort());

    const byDefault = await profiles<TraitsPage>(e, 'user_id:u1/traits');
    expect(Object.keys(byDefault.body.traits)).toHaveLength(10);
    const some = await profiles<TraitsPage>(e, 'user_id:u1/traits?include=t03,t17,nope&verbose=true');
    expect(some.body.traits).toEqual({
      t03: { value: 3, source_id: expect.stringMatching(/^src_/), updated_at: '2026-12-04T12:00:00.000Z' },
      t17: { value: 17, source_id: expect.stringMatching(/^src_/), updated_at: '2026-12-04T12:00:00.000Z' },
    });
    expect(some.body.cursor).toMatchObject({ has_more: false, next: '' });
  });

  it('finds a profile by email (a + sent as %2B) and anonymous_id; answers external_ids and metadata', async () => {
    const t = clock();
    const e = await emulator({}, { now: t.now });
    await track(e, '/v1/batch', { batch: [identify('u1', { email: 'ada+news@example.com' }, { anonymousId: 'anon-1' })] });
    t.advance(5000);
    await seed(e, { city: 'Paris' });
    const byEmail = await profiles<TraitsPage>(e, 'email:ada%2Bnews@example.com/traits');
    expect(byEmail.body.traits).toEqual({ email: 'ada+news@example.com', city: 'Paris' });
    expect((await profiles(e, 'anonymous_id:anon-1/traits')).status).toBe(200);

    const ids = await profiles<{ data: Record<string, unknown>[]; cursor: { has_more: boolean; next: string } }>(
      e,
      'user_id:u1/external_ids?limit=2',
    );
    expect(ids.body.data.map((x) => [x['type'], x['id'], x['collection'], x['encoding']])).toEqual([
      ['user_id', 'u1', 'users', 'none'],
      ['anonymous_id', 'anon-1', 'users', 'none'],
    ]);
    expect(ids.body.cursor.has_more).toBe(true);
    const rest = await profiles<{ data: Record<string, unknown>[]; cursor: { has_more: boolean } }>(
      e,
      `user_id:u1/external_ids?limit=2&next=${ids.body.cursor.next}`,
    );
    expect([rest.body.data.map((x) => x['type']), rest.body.cursor.has_more]).toEqual([['email'], false]);

    const meta = await profiles<{ metadata: Record<string, unknown> }>(e, 'user_id:u1/metadata');
    expect(meta.body.metadata).toMatchObject({
      created_at: '2026-12-04T12:00:00.000Z',
      updated_at: '2026-12-04T12:00:05.000Z',
      expires_at: null,
    });
  });

  it('answers 404 with Segment’s body for an unknown profile and space, 400 for limit over 200, 401 without the token', async () => {
    const e = await emulator({ profileToken: PROFILE_TOKEN });
    await seed(e, { a: 1 });
    const missing = await profiles(e, 'user_id:nobody/traits');
    expect([missing.status, missing.body]).toEqual([404, { error: { code: 'not_found', message: 'Profile was not found.' } }]);
    expect((await profiles(e, 'user_id:u1/traits', { space: 'other' })).status).toBe(404);
    const tooMany = await profiles<{ error: { code: string } }>(e, 'user_id:u1/traits?limit=201');
    expect([tooMany.status, tooMany.body.error.code]).toEqual([400, 'invalid_request_error']);
    expect((await profiles(e, 'user_id:u1/traits?limit=200')).status).toBe(200);
    const anonymous = await profiles<{ error: { code: string } }>(e, 'user_id:u1/traits', { token: undefined });
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'authentication_error']);
    expect((await profiles(e, 'user_id:u1/traits', { token: 'wrong' })).status).toBe(401);
  });

  it('limits requests per space per rolling second: 429 rate_limit_error with Retry-After', async () => {
    const t = clock();
    const e = await emulator({ profileRatePerSecond: 3 }, { now: t.now });
    await seed(e, { a: 1 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await profiles(e, 'user_id:u1/traits')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await profiles(e, 'user_id:u1/traits');
    expect(limited.body).toEqual({ error: { code: 'rate_limit_error', message: expect.any(String) } });
    expect(limited.headers.get('retry-after')).toBe('1');
    t.advance(1000);
    expect((await profiles(e, 'user_id:u1/traits')).status).toBe(200);
    expect(e.sideDoor.calls().rateLimited).toBe(2);
  });
});

describe('Public API regulations', () => {
  type Regulation = { data: { regulation: { id: string; overallStatus: string; finishedAt?: string; workspaceId: string } } };
  const create = (e: Awaited<ReturnType<typeof emulator>>, regulationType: string, subjectIds: string[]) =>
    publicApi<{ data: { regulateId: string } } & Errors>(e, 'POST', '/regulations', { regulationType, subjectType: 'USER_ID', subjectIds });

  it('creates a regulation that goes INITIALIZED, RUNNING, FINISHED on the clock and then deletes the profile', async () => {
    const t = clock();
    const e = await emulator({ regulationStepMs: 1000 }, { now: t.now });
    await track(e, '/v1/batch', { batch: [identify('u1', { email: 'ada@example.com' })] });
    const created = await create(e, 'SUPPRESS_WITH_DELETE', ['u1']);
    expect(created.status).toBe(200);
    expect(created.headers.get('content-type')).toContain('application/vnd.segment.v1+json');
    const id = created.body.data.regulateId;
    const status = async (): Promise<string> =>
      (await publicApi<Regulation>(e, 'GET', `/regulations/${id}`)).body.data.regulation.overallStatus;
    expect(await status()).toBe('INITIALIZED');
    expect((await profiles(e, 'user_id:u1/traits')).status).toBe(200);
    t.advance(1000);
    expect(await status()).toBe('RUNNING');
    t.advance(1000);
    const done = await publicApi<Regulation>(e, 'GET', `/regulations/${id}`);
    expect(done.body.data.regulation).toMatchObject({
      overallStatus: 'FINISHED',
      finishedAt: '2026-12-04T12:00:02.000Z',
      workspaceId: 'wks_dev',
    });
    expect((await profiles(e, 'user_id:u1/traits')).status).toBe(404);
    expect((await profiles(e, 'email:ada@example.com/traits')).status).toBe(404);
    // SUPPRESS_WITH_DELETE also suppresses: the user's later events are dropped.
    await track(e, '/v1/batch', { batch: [identify('u1', { back: true })] });
    expect(e.sideDoor.dropped()).toEqual([expect.objectContaining({ reason: 'suppressed', userId: 'u1' })]);
    await create(e, 'UNSUPPRESS', ['u1']);
    t.advance(2000);
    await track(e, '/v1/batch', { batch: [identify('u1', { back: true })] });
    expect(e.sideDoor.profile('u1')?.traits['back']?.value).toBe(true);
  });

  it('ends a regulation FAILED (nothing deleted) or PARTIAL_SUCCESS (deleted) as the side door says', async () => {
    const t = clock();
    const e = await emulator({ regulationStepMs: 10 }, { now: t.now });
    await track(e, '/v1/batch', { batch: [identify('u1', { a: 1 }), identify('u2', { a: 1 })] });
    e.sideDoor.failNextRegulation('FAILED');
    const failed = await create(e, 'DELETE_INTERNAL', ['u1']);
    const partial = await create(e, 'DELETE_INTERNAL', ['u2']);
    e.sideDoor.setRegulationOutcome(partial.body.data.regulateId, 'PARTIAL_SUCCESS');
    t.advance(20);
    const statusOf = async (id: string): Promise<string> =>
      (await publicApi<Regulation>(e, 'GET', `/regulations/${id}`)).body.data.regulation.overallStatus;
    expect(await statusOf(failed.body.data.regulateId)).toBe('FAILED');
    expect(await statusOf(partial.body.data.regulateId)).toBe('PARTIAL_SUCCESS');
    expect(e.sideDoor.profile('u1')).toBeDefined();
    expect(e.sideDoor.profile('u2')).toBeUndefined();
    expect(() => e.sideDoor.setRegulationOutcome(failed.body.data.regulateId, 'FINISHED')).toThrow(/already ended/);
    const list = await publicApi<{ data: { regulations: unknown[]; pagination: { totalEntries: number } } }>(
      e,
      'GET',
      '/regulations?status=FAILED',
    );
    expect(list.body.data.pagination.totalEntries).toBe(1);
  });

  it('takes at most 5,000 subject ids and refuses invalid input with 422 and the Public API error body', async () => {
    const e = await emulator();
    const ids = Array.from({ length: 5001 }, (_, i) => `u${i}`);
    const over = await create(e, 'SUPPRESS_WITH_DELETE', ids);
    expect(over.status).toBe(422);
    expect(over.body.errors[0]).toMatchObject({ type: 'input-validation', field: 'subjectIds' });
    expect((await create(e, 'SUPPRESS_WITH_DELETE', ids.slice(0, 5000))).status).toBe(200);
    expect((await create(e, 'FORGET_EVERYTHING', ['u1'])).status).toBe(422);
    expect((await create(e, 'DELETE_ONLY', [])).status).toBe(422);
  });

  it('limits creates per minute in two quotas, with X-RateLimit headers on every answer and the RequestError 429 body', async () => {
    const t = clock();
    const e = await emulator({ regulationCreatesPerMinute: 2 }, { now: t.now });
    const a = await create(e, 'SUPPRESS_ONLY', ['u1']);
    expect([a.headers.get('x-ratelimit-remaining'), a.headers.get('x-ratelimit-consumed')]).toEqual(['1', '1']);
    // X-RateLimit-Reset is a timestamp in RFC 5322 format (docs.segmentapis.com/tag/Rate-Limits).
    expect(a.headers.get('x-ratelimit-reset')).toBe('Fri, 04 Dec 2026 12:01:00 GMT');
    expect((await create(e, 'DELETE_INTERNAL', ['u1'])).status).toBe(200);
    t.advance(15_000);
    const refused = await create(e, 'SUPPRESS_ONLY', ['u1']);
    expect(refused.status).toBe(429);
    expect(refused.body.errors).toEqual([
      { type: 'RequestError', message: 'Too many requests', data: { msBeforeNext: 45_000, remainingPoints: 0, consumedPoints: 2 } },
    ]);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    // The destination types have their own quota.
    expect((await create(e, 'SUPPRESS_WITH_DELETE', ['u1'])).status).toBe(200);
    t.advance(45_000);
    expect((await create(e, 'SUPPRESS_ONLY', ['u1'])).status).toBe(200);
    expect(e.sideDoor.calls().rateLimited).toBe(1);
  });

  it('requires a bearer token (the configured one when set) and answers plain JSON to a plain JSON request', async () => {
    const e = await emulator({ publicApiToken: PUBLIC_TOKEN });
    const none = await publicApi<Errors>(
      e,
      'POST',
      '/regulations',
      { regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: ['u'] },
      null,
    );
    expect([none.status, none.body.errors[0]?.type]).toEqual([401, 'unauthorized']);
    expect((await publicApi(e, 'GET', '/regulations/nope', undefined, 'wrong')).status).toBe(401);
    expect((await publicApi<Errors>(e, 'GET', '/regulations/nope')).status).toBe(404);
    const plain = await fetch(`${e.url}/regulations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PUBLIC_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: ['u'] }),
    });
    expect([plain.status, plain.headers.get('content-type')]).toEqual([200, expect.stringContaining('application/json')]);
  });
});

describe('Webhooks (Actions) destination', () => {
  it('delivers every accepted identify as the Segment message, signed X-Signature = hex HMAC-SHA1(secret, body)', async () => {
    const receiver = await startWebhookReceiver('/webhooks/segment');
    closeAfterTest(receiver);
    const e = await emulator({ webhookUrl: receiver.url });
    await track(e, '/v1/batch', {
      batch: [identify('u1', { email: 'ada@example.com' }), { type: 'track', userId: 'u1', event: 'Clicked', messageId: 't1' }],
    });
    const sent = e.sideDoor.userChange('grace@example.com');
    await e.sideDoor.flushWebhooks();
    expect(receiver.received).toHaveLength(2);
    const bodies = receiver.received.map((r) => JSON.parse(r.body.toString('utf8')) as SegmentMessage);
    expect(bodies[0]).toMatchObject({
      type: 'identify',
      userId: 'u1',
      traits: { email: 'ada@example.com' },
      receivedAt: expect.any(String),
    });
    expect(bodies[1]).toMatchObject({
      type: 'identify',
      userId: sent.userId,
      traits: { email: 'grace@example.com' },
      messageId: sent.messageId,
    });
    for (const r of receiver.received) {
      const expected = createHmac('sha1', SECRET).update(r.body).digest('hex');
      expect(r.headers['x-signature']).toBe(expected);
      expect(segmentSignature(SECRET, r.body)).toBe(expected);
    }
    expect(
      createHmac('sha1', 'other')
        .update(receiver.received[0]?.body ?? '')
        .digest('hex'),
    ).not.toBe(receiver.received[0]?.headers['x-signature']);
  });

  it('retries a delivery until the receiver acknowledges it with a 2xx', async () => {
    const receiver = await startWebhookReceiver('/webhooks/segment');
    closeAfterTest(receiver);
    receiver.respondWith(500);
    const e = await emulator({ webhookUrl: receiver.url, webhookRetryBaseMs: 5, webhookMaxAttempts: 10 });
    e.sideDoor.downstreamIdentify('u9', { plan: 'pro' });
    await until(() => receiver.received.length >= 2, 5000, 'two failed attempts');
    receiver.respondWith(200);
    await e.sideDoor.flushWebhooks();
    const log = e.sideDoor.webhookDeliveries();
    expect(log.at(-1)).toMatchObject({ acked: true, status: 200 });
    expect(log.filter((d) => !d.acked).length).toBeGreaterThanOrEqual(2);
    expect(new Set(receiver.received.map((r) => r.body.toString('utf8'))).size).toBe(1);
  });

  it('sends a JSON array per request when batching is on', async () => {
    const receiver = await startWebhookReceiver('/webhooks/segment');
    closeAfterTest(receiver);
    const e = await emulator({ webhookUrl: receiver.url, webhookBatchSize: 50 });
    await track(e, '/v1/batch', { batch: [identify('u1', { a: 1 }), identify('u2', { a: 2 }), identify('u3', { a: 3 })] });
    await e.sideDoor.flushWebhooks();
    const bodies = receiver.received.map((r) => JSON.parse(r.body.toString('utf8')) as SegmentMessage[]);
    expect(bodies.flat().map((m) => m.userId)).toEqual(['u1', 'u2', 'u3']);
    expect(Array.isArray(bodies[0])).toBe(true);
  });
});

describe('side door over HTTP and the definition', () => {
  it('serves profiles, drops, identify, user-change and fault injection under /_emulator', async () => {
    const e = await emulator();
    const post = (path: string, body: unknown) =>
      fetch(`${e.url}/_emulator/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('identify', { userId: 'u1', traits: { email: 'ada@example.com' } })).status).toBe(200);
    const p = (await (await fetch(`${e.url}/_emulator/profile?email=ada@example.com`)).json()) as { userId: string };
    expect(p.userId).toBe('u1');
    expect((await fetch(`${e.url}/_emulator/profile?userId=nobody`)).status).toBe(404);
    expect((await post('tracking/fail-next', { count: 1, status: 500 })).status).toBe(204);
    expect((await track(e, '/v1/batch', { batch: [] })).status).toBe(500);
    expect((await post('regulations/fail-next', { outcome: 'PARTIAL_SUCCESS' })).status).toBe(204);
    const created = await publicApi<{ data: { regulateId: string } }>(e, 'POST', '/regulations', {
      regulationType: 'DELETE_INTERNAL',
      subjectType: 'USER_ID',
      subjectIds: ['u1'],
    });
    expect(created.status).toBe(200);
    expect((await post(`regulations/${created.body.data.regulateId}/outcome`, { outcome: 'BOGUS' })).status).toBe(400);
    const dropped = (await (await fetch(`${e.url}/_emulator/dropped`)).json()) as { duplicates: number };
    expect(dropped.duplicates).toBe(0);
    const calls = (await (await fetch(`${e.url}/_emulator/calls`)).json()) as { total: number };
    expect(calls.total).toBe(2);
  });

  it('defines the emulator for concord emulate and the demo', async () => {
    expect([definition.id, definition.defaultPort, definition.secretEnv]).toEqual(['segment', 4040, 'SEGMENT_WEBHOOK_SECRET']);
    const running = await definition.demo.start({
      instanceId: 'segment-demo',
      config: {
        baseUrl: 'http://127.0.0.1:4040',
        writeKey: WRITE_KEY,
        spaceId: 'spa_x',
        profileToken: PROFILE_TOKEN,
        publicApiToken: PUBLIC_TOKEN,
        webhookSecret: SECRET,
      },
      port: 0,
      publicUrl: 'http://127.0.0.1:1',
    });
    closeAfterTest(running);
    const res = await fetch(`${running.url}/v1/spaces/spa_x/collections/users/profiles/user_id:x/traits`, {
      headers: { authorization: `Basic ${Buffer.from(`${PROFILE_TOKEN}:`).toString('base64')}` },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('Profile was not found.');
  });
});

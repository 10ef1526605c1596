import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance, RawWebhook } from '../../src/connector/define.js';
import { AuthError, RateLimitedError, RejectedError, TransientError } from '../../src/connector/errors.js';
import memoryConnector from './connector.js';
import type { MemoryCursor } from './connector.js';
import { createMemorySystem, getMemorySystem, unregisterMemorySystem } from './registry.js';
import { SIGNATURE_HEADER, signMemoryWebhook, verifyMemoryWebhook } from './signature.js';
import { serveMemorySystems } from './remote.js';
import { MemoryApiError } from './system.js';
import type { MemorySystem, MemorySystemOptions, WebhookDelivery, WebhookPayload } from './system.js';

const names: string[] = [];
afterEach(() => {
  for (const n of names.splice(0)) unregisterMemorySystem(n);
});

function system(options: MemorySystemOptions = {}): { sys: MemorySystem; name: string } {
  const name = `sys-${randomUUID()}`;
  names.push(name);
  return { sys: createMemorySystem(name, options), name };
}

async function connector(name: string, sys: MemorySystem, extra: Record<string, unknown> = {}): Promise<ConnectorInstance<MemoryCursor>> {
  const config = memoryConnector.configSchema.parse({ system: name, webhookSecret: sys.webhookSecret, ...extra });
  return memoryConnector.create({ instanceId: name, config, logger: pino({ level: 'silent' }) });
}

const signal = () => new AbortController().signal;
const payload = (d: WebhookDelivery): WebhookPayload => JSON.parse(d.body.toString()) as WebhookPayload;

describe('MemorySystem', () => {
  it('upserts by e-mail (case-insensitive) and by id, with one result per input', async () => {
    const { sys } = system();
    const r1 = await sys.upsert([{ fields: { email: 'Ann@Example.com', first_name: 'Ann' } }, { fields: { first_name: 'NoMail' } }]);
    expect(r1).toEqual([
      { status: 'ok', id: 'rec_1', created: true, changed: true },
      { status: 'error', retryable: false, code: 'MISSING_EMAIL', message: expect.stringMatching(/^/) },
    ]);
    const r2 = await sys.upsert([
      { fields: { email: 'ann@example.com', last_name: 'Lee' } },
      { id: 'rec_1', fields: { first_name: 'Anna' } },
    ]);
    expect(r2.map((r) => r.status === 'ok' && r.created)).toEqual([false, false]);
    expect(sys.get('rec_1')?.fields).toEqual({ email: 'ann@example.com', first_name: 'Anna', last_name: 'Lee' });
    expect(await sys.upsert([{ id: 'rec_404', fields: { a: 1 } }])).toMatchObject([
      { status: 'error', code: 'NOT_FOUND', retryable: false },
    ]);
  });

  it('does not bump the modstamp or send a webhook when nothing changes', async () => {
    const { sys } = system();
    const sent: WebhookDelivery[] = [];
    sys.onWebhook(async (d) => {
      sent.push(d);
    });
    await sys.upsert([{ fields: { email: 'a@x.io', n: 1 } }]);
    const before = sys.get('rec_1')?.modstamp;
    expect(await sys.upsert([{ fields: { email: 'a@x.io', n: 1 } }])).toMatchObject([{ status: 'ok', changed: false }]);
    await sys.flushWebhooks();
    expect(sys.get('rec_1')?.modstamp).toBe(before);
    expect(sent).toHaveLength(1);
  });

  it('refuses an e-mail owned by another record and batches over maxBatch', async () => {
    const { sys } = system({ maxBatch: 2 });
    await sys.upsert([{ fields: { email: 'a@x.io' } }, { fields: { email: 'b@x.io' } }]);
    expect(await sys.upsert([{ id: 'rec_2', fields: { email: 'A@x.io' } }])).toMatchObject([{ code: 'DUPLICATE_EMAIL' }]);
    await expect(
      sys.upsert([{ fields: { email: 'c@x.io' } }, { fields: { email: 'd@x.io' } }, { fields: { email: 'e@x.io' } }]),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('keeps a change feed in strictly increasing modstamp order, paged', async () => {
    let now = 1_000;
    const { sys } = system({ clock: () => now });
    await sys.upsert([{ fields: { email: 'a@x.io' } }, { fields: { email: 'b@x.io' } }, { fields: { email: 'c@x.io' } }]);
    now = 5_000;
    sys.change({ first_name: 'A' }, { id: 'rec_1' });
    const page1 = await sys.changes({ since: 0, limit: 2 });
    expect(page1.records.map((r) => [r.id, r.modstamp])).toEqual([
      ['rec_2', 1001],
      ['rec_3', 1002],
    ]);
    expect(page1.hasMore).toBe(true);
    const page2 = await sys.changes({ since: 1002, limit: 2 });
    expect(page2.records.map((r) => [r.id, r.modstamp])).toEqual([['rec_1', 5000]]);
    expect(page2.hasMore).toBe(false);
  });

  it('lets tests set the change time of a user change, keeping the modstamp increasing', () => {
    const { sys } = system();
    const r = sys.change({ email: 'a@x.io' }, { at: Date.parse('2020-01-01T00:00:00.000Z') });
    expect(r.updatedAt).toBe('2020-01-01T00:00:00.000Z');
    expect(r.modstamp).toBeGreaterThan(Date.parse('2020-01-01T00:00:00.000Z'));
  });

  it('poisons a record permanently until unpoisoned, and fails records retryably a set number of times', async () => {
    const { sys } = system();
    sys.poison('Bad@x.io', 'invalid postal code');
    sys.failRecord('flaky@x.io', 2);
    const batch = [{ fields: { email: 'bad@x.io' } }, { fields: { email: 'flaky@x.io' } }, { fields: { email: 'ok@x.io' } }];
    expect((await sys.upsert(batch)).map((r) => (r.status === 'ok' ? 'ok' : `${r.code}:${r.retryable}`))).toEqual([
      'INVALID_RECORD:false',
      'TEMPORARILY_UNAVAILABLE:true',
      'ok',
    ]);
    expect((await sys.upsert(batch)).map((r) => r.status)).toEqual(['error', 'error', 'ok']);
    expect((await sys.upsert(batch)).map((r) => r.status)).toEqual(['error', 'ok', 'ok']);
    sys.unpoison('bad@x.io');
    expect((await sys.upsert(batch)).map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('answers 429 with Retry-After beyond N requests in a rolling window, and counts calls', async () => {
    let now = 10_000;
    const { sys } = system({ clock: () => now, rateLimit: { requests: 3, windowMs: 2_000 } });
    for (let i = 0; i < 3; i++) await sys.read([]);
    now = 10_500;
    const err = await sys.read([]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemoryApiError);
    expect(err).toMatchObject({ status: 429, headers: { 'retry-after': '2' } });
    now = 12_001;
    await expect(sys.read([])).resolves.toEqual([]);
    const stats = sys.getStats();
    expect(stats.calls).toMatchObject({ read: 5, total: 5 });
    expect(stats.rateLimited).toBe(1);
    expect(stats.peakRequestsInWindow).toBe(3);
  });

  it('supports fixed windows aligned on multiples of the window', async () => {
    let now = 10_900;
    const { sys } = system({ clock: () => now, rateLimit: { requests: 2, windowMs: 1_000, mode: 'fixed' } });
    await sys.read([]);
    await sys.read([]);
    await expect(sys.read([])).rejects.toMatchObject({ status: 429 });
    now = 11_000;
    await sys.read([]);
    await sys.read([]);
    expect(sys.getStats().rateLimited).toBe(1);
    // Four requests within 100 ms across the boundary: the rolling peak shows it.
    expect(sys.getStats().peakRequestsInWindow).toBe(4);
  });

  it('fails whole calls on demand: 503, connection reset, 401, 429 with a chosen Retry-After', async () => {
    const { sys } = system();
    sys.failNextCalls('server_error', 'reset', 'unauthorized');
    sys.rateLimitNextCall(7);
    await expect(sys.read([])).rejects.toMatchObject({ status: 503 });
    await expect(sys.read([])).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(sys.read([])).rejects.toMatchObject({ status: 401 });
    await expect(sys.read([])).rejects.toMatchObject({ status: 429, headers: { 'retry-after': '7' } });
    await expect(sys.read([])).resolves.toEqual([]);
  });

  it('sends a signed webhook for every change, API writes included, without an origin marker by default', async () => {
    const { sys } = system();
    const sent: WebhookDelivery[] = [];
    sys.onWebhook(async (d) => {
      sent.push(d);
    });
    await sys.upsert([{ fields: { email: 'a@x.io' } }, { fields: { email: 'b@x.io' } }]);
    sys.change({ email: 'a@x.io', first_name: 'A' });
    await sys.erase([{ email: 'b@x.io' }]);
    await sys.flushWebhooks();
    expect(sent).toHaveLength(3);
    const [api, user, erased] = sent.map(payload);
    expect(api?.records?.map((r) => r.fields['email'])).toEqual(['a@x.io', 'b@x.io']);
    expect(api).not.toHaveProperty('fromApi');
    expect(user?.records?.[0]?.fields).toEqual({ email: 'a@x.io', first_name: 'A' });
    expect(erased).toMatchObject({ kind: 'deleted', ids: ['rec_2'] });
    expect(erased).not.toHaveProperty('records');
    for (const d of sent) {
      expect(d.eventId).toBe(payload(d).eventId);
      expect(verifyMemoryWebhook(sys.webhookSecret, d.headers[SIGNATURE_HEADER], d.body, Date.now())).toEqual({ ok: true });
    }
    expect(sys.getStats().webhooksSent).toBe(3);
  });

  it('marks API writes with fromApi when the echo marker is on', async () => {
    const { sys } = system({ echoMarker: true });
    const sent: WebhookDelivery[] = [];
    sys.onWebhook(async (d) => {
      sent.push(d);
    });
    await sys.upsert([{ fields: { email: 'a@x.io' } }]);
    sys.change({ email: 'a@x.io', first_name: 'A' });
    await sys.flushWebhooks();
    expect(sent.map((d) => payload(d).fromApi)).toEqual([true, false]);
  });

  it('retries a failing sink, counts deliveries that fail for good, and redelivers byte for byte', async () => {
    const { sys } = system({ webhookAttempts: 3, webhookRetryDelayMs: 1 });
    let calls = 0;
    const got: Buffer[] = [];
    sys.onWebhook(async (d) => {
      calls += 1;
      if (calls <= 2) throw new Error('receiver down');
      got.push(d.body);
    });
    sys.change({ email: 'a@x.io' });
    await sys.flushWebhooks();
    expect(calls).toBe(3);
    expect(sys.getStats()).toMatchObject({ webhooksSent: 1, webhooksFailed: 0 });
    const [eventId] = sys.webhookEventIds();
    await sys.redeliver(eventId ?? '');
    expect(got).toHaveLength(2);
    expect(got[1]?.equals(got[0] ?? Buffer.alloc(0))).toBe(true);
    sys.onWebhook(async () => {
      throw new Error('down for good');
    });
    sys.change({ email: 'b@x.io' });
    await sys.flushWebhooks();
    expect(sys.getStats().webhooksFailed).toBe(1);
  });

  it('erases later under a ticket with asyncErase: the records go at the steps-th question, a held or failing ticket keeps them', async () => {
    const { sys } = system({ asyncErase: { steps: 2, checkAfterMs: 7 } });
    const ann = sys.change({ email: 'ann@example.com' });
    sys.change({ email: 'bob@example.com' });
    expect(await sys.erase([{ id: ann.id }, { email: 'nobody@example.com' }])).toEqual([
      { status: 'pending', ticket: 'erq_1', checkAfterMs: 7 },
      { status: 'not_found' },
    ]);
    expect(await sys.erase([{ email: 'nobody@example.com' }])).toEqual([{ status: 'not_found' }]);
    sys.holdErasures();
    expect((await sys.erasures(['erq_1', 'erq_9'])).map((e) => e.state)).toEqual(['RUNNING', 'UNKNOWN']);
    expect((await sys.erasures(['erq_1'])).map((e) => e.state)).toEqual(['RUNNING']);
    sys.holdErasures(false);
    expect((await sys.erasures(['erq_1'])).map((e) => e.state)).toEqual(['RUNNING']);
    expect(sys.get(ann.id)).toBeDefined();
    expect(await sys.erasures(['erq_1'])).toEqual([{ ticket: 'erq_1', state: 'FINISHED', checkAfterMs: 7 }]);
    expect(sys.get(ann.id)).toBeUndefined();
    sys.failNextErasure('quota exceeded', false);
    await sys.erase([{ email: 'bob@example.com' }]);
    await sys.erasures(['erq_2']);
    expect(await sys.erasures(['erq_2'])).toEqual([
      { ticket: 'erq_2', state: 'FAILED', reason: 'quota exceeded', retryable: false, checkAfterMs: 7 },
    ]);
    expect(sys.get({ email: 'bob@example.com' })).toBeDefined();
    expect(sys.erasureTickets()).toEqual([
      { ticket: 'erq_1', state: 'FINISHED', records: 1 },
      { ticket: 'erq_2', state: 'FAILED', records: 1 },
    ]);
    expect(sys.getStats().calls).toMatchObject({ erase: 3, erasures: 6 });
  });

  it('signatures: reject a wrong secret, a malformed header and an old timestamp', () => {
    const body = Buffer.from('{"a":1}');
    const header = signMemoryWebhook('s3cret', body, 1_000_000);
    expect(verifyMemoryWebhook('s3cret', header, body, 1_000_000)).toEqual({ ok: true });
    expect(verifyMemoryWebhook('other', header, body, 1_000_000)).toMatchObject({ ok: false, reason: 'signature mismatch' });
    expect(verifyMemoryWebhook('s3cret', 'v1=zz', body, 1_000_000)).toMatchObject({ ok: false, reason: 'malformed signature header' });
    expect(verifyMemoryWebhook('s3cret', header, body, 1_000_000 + 6 * 60_000)).toMatchObject({ ok: false });
    expect(verifyMemoryWebhook('s3cret', undefined, body, 1_000_000)).toMatchObject({ ok: false });
  });
});

describe('memory connector', () => {
  it('refuses to start without a registered system', async () => {
    await expect(
      Promise.resolve().then(() =>
        memoryConnector.create({
          instanceId: 'x',
          config: memoryConnector.configSchema.parse({ system: 'nobody-registered-this', webhookSecret: 's' }),
          logger: pino({ level: 'silent' }),
        }),
      ),
    ).rejects.toMatchObject({ code: 'config' });
    expect(getMemorySystem('nobody-registered-this')).toBeUndefined();
  });

  it('maps per-record results to push outcomes and whole-call failures to connector errors', async () => {
    const { sys, name } = system();
    const c = await connector(name, sys);
    sys.poison('bad@x.io');
    sys.failRecord('flaky@x.io');
    const outcomes = await c.push?.(
      [
        { profileId: 'p1', fields: { email: 'bad@x.io' } },
        { profileId: 'p2', fields: { email: 'flaky@x.io' } },
        { profileId: 'p3', fields: { email: 'ok@x.io' } },
      ],
      signal(),
    );
    expect(outcomes).toEqual([
      { status: 'rejected', profileId: 'p1', reason: expect.stringContaining('INVALID_RECORD'), code: 'INVALID_RECORD' },
      { status: 'retryable', profileId: 'p2', reason: expect.stringContaining('TEMPORARILY_UNAVAILABLE') },
      { status: 'ok', profileId: 'p3', externalId: 'rec_1' },
    ]);
    sys.failNextCalls('server_error', 'reset', 'unauthorized');
    await expect(c.push?.([{ profileId: 'p', fields: { email: 'a@x.io' } }], signal())).rejects.toBeInstanceOf(TransientError);
    await expect(c.push?.([{ profileId: 'p', fields: { email: 'a@x.io' } }], signal())).rejects.toBeInstanceOf(TransientError);
    await expect(c.push?.([{ profileId: 'p', fields: { email: 'a@x.io' } }], signal())).rejects.toBeInstanceOf(AuthError);
    await expect(
      c.push?.(
        Array.from({ length: 101 }, (_, i) => ({ profileId: `p${i}`, fields: { email: `${i}@x.io` } })),
        signal(),
      ),
    ).rejects.toBeInstanceOf(RejectedError);
  });

  it('stops when the signal is aborted', async () => {
    const { sys, name } = system();
    const c = await connector(name, sys);
    const ac = new AbortController();
    ac.abort();
    await expect(c.push?.([{ profileId: 'p', fields: { email: 'a@x.io' } }], ac.signal)).rejects.toThrow();
    expect(sys.getStats().calls.total).toBe(0);
  });

  it('pulls incrementally in pages, re-reading a look-back window behind the cursor', async () => {
    let now = 100_000;
    const { sys, name } = system({ clock: () => now });
    const c = await connector(name, sys, { lookBackMs: 50, pageSize: 2 });
    for (const e of ['a', 'b', 'c']) {
      sys.change({ email: `${e}@x.io` });
      now += 100;
    }
    const pages = [];
    for await (const page of c.pull?.(undefined, signal()) ?? []) pages.push(page);
    expect(pages.map((p) => p.records.map((r) => r.fields['email']))).toEqual([['a@x.io', 'b@x.io'], ['c@x.io']]);
    expect(pages.map((p) => p.cursor)).toEqual([{ modstamp: 100_100 }, { modstamp: 100_200 }]);

    // A change that committed late is stamped 30 ms before the cursor: only the look-back finds it.
    now = 100_300;
    sys.change({ email: 'late@x.io' }, { commitLagMs: 130 });
    now = 100_400;
    sys.change({ email: 'd@x.io' });
    const resume = async (connectorInstance: ConnectorInstance<MemoryCursor>) => {
      const seen: (string | undefined)[] = [];
      let cursor: MemoryCursor | undefined;
      for await (const page of connectorInstance.pull?.({ modstamp: 100_200 }, signal()) ?? []) {
        seen.push(...page.records.map((r) => r.fields['email'] as string | undefined));
        cursor = page.cursor;
      }
      return { seen, cursor };
    };
    const withLookBack = await resume(c);
    // c@x.io (stamped exactly at the cursor) is re-read too: harmless, ingest is idempotent.
    expect(withLookBack.seen).toEqual(['late@x.io', 'c@x.io', 'd@x.io']);
    expect(withLookBack.cursor).toEqual({ modstamp: 100_400 });
    const without = await resume(await connector(name, sys, { lookBackMs: 0, pageSize: 2 }));
    expect(without.seen).toEqual(['d@x.io']);
    expect(sys.getStats().calls.changes).toBeGreaterThanOrEqual(3);
  });

  it('parses webhooks into records and deletions, with the echo flag only when the system gives one', async () => {
    const { sys, name } = system({ echoMarker: true });
    const c = await connector(name, sys);
    const sent: WebhookDelivery[] = [];
    sys.onWebhook(async (d) => {
      sent.push(d);
    });
    await c.push?.([{ profileId: 'p', fields: { email: 'a@x.io', email_opt_out: true } }], signal());
    await c.erase?.([{ externalId: 'rec_1' }], signal());
    await sys.flushWebhooks();
    const raws: RawWebhook[] = sent.map((d) => ({
      method: 'POST',
      url: 'http://127.0.0.1/wh',
      headers: d.headers,
      body: d.body,
      receivedAt: new Date().toISOString(),
    }));
    const [changed, deleted] = await Promise.all(raws.map(async (r) => c.parse?.(r)));
    expect(changed).toEqual([
      {
        kind: 'records',
        eventId: sent[0]?.eventId,
        records: [
          { externalId: 'rec_1', at: expect.stringMatching(/^/), fields: { email: 'a@x.io', email_opt_out: true }, version: 1, echo: true },
        ],
      },
    ]);
    expect(deleted).toEqual([{ kind: 'deleted', eventId: sent[1]?.eventId, externalIds: ['rec_1'], at: expect.stringMatching(/^/) }]);
  });

  it('maps asynchronous erasures to pending outcomes and their progress, an unknown ticket to a retryable failure', async () => {
    const { sys, name } = system({ asyncErase: { steps: 2, checkAfterMs: 7 } });
    const ann = sys.change({ email: 'ann@example.com' });
    const instance = await connector(name, sys);
    const refs = [{ externalId: ann.id }, { email: 'nobody@example.com' }];
    expect(await instance.erase?.(refs, signal())).toEqual([
      { status: 'pending', ref: refs[0], ticket: 'erq_1', checkAfterMs: 7, progress: 'erasure erq_1 INITIALIZED' },
      { status: 'not_found', ref: refs[1] },
    ]);
    expect(await instance.eraseProgress?.(['erq_1', 'erq_7'], signal())).toEqual([
      { ticket: 'erq_1', status: 'pending', progress: 'erasure erq_1 RUNNING', checkAfterMs: 7 },
      { ticket: 'erq_7', status: 'failed', reason: 'erasure erq_7 unknown to the system', retryable: true },
    ]);
    expect(await instance.eraseProgress?.(['erq_1'], signal())).toEqual([
      { ticket: 'erq_1', status: 'done', progress: 'erasure erq_1 FINISHED' },
    ]);
    expect(await instance.eraseProgress?.([], signal())).toEqual([]);
  });

  it('finds records by e-mail, phone and id, one answer per query with what matched, in one call, also over the bridge', async () => {
    const { sys, name } = system();
    const ann = sys.change({ email: 'Ann@Example.com', phone: '+44 20 7946 0000' });
    const bob = sys.change({ email: 'bob@example.com' });
    const bridge = await serveMemorySystems({ [name]: sys });
    try {
      for (const c of [await connector(name, sys), await connector(name, sys, { url: bridge.url })]) {
        sys.resetCalls();
        const queries = [
          { emails: ['ann@example.com'], phones: ['+442079460000'], externalIds: [] },
          { emails: [], phones: [], externalIds: [bob.id, 'rec_404'] },
          { emails: ['nobody@example.com'], phones: ['+15550000'], externalIds: ['rec_404'] },
        ];
        expect(await c.find?.(queries, signal())).toEqual([
          [{ externalId: ann.id, matchedBy: ['email', 'phone'] }],
          [{ externalId: bob.id, matchedBy: ['externalId'] }],
          [],
        ]);
        expect(await c.find?.([], signal())).toEqual([]);
        expect(sys.calls().byEndpoint).toEqual({ search: 1 });
      }
    } finally {
      await bridge.close();
    }
  });

  it('turns a rate-limited call into RateLimitedError with the Retry-After wait', async () => {
    const { sys, name } = system({ rateLimit: { requests: 1, windowMs: 60_000 } });
    const c = await connector(name, sys);
    await c.read?.(['rec_1'], signal());
    const err = await c.read?.(['rec_1'], signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBeGreaterThan(58_000);
    expect((err as RateLimitedError).policy).toBe('ROLLING_WINDOW');
  });

  it('through the loopback bridge, a connection reset and a 503 become TransientError and 400 RejectedError', async () => {
    const { sys, name } = system({ maxBatch: 1 });
    const bridge = await serveMemorySystems({ [name]: sys });
    try {
      const c = await connector(name, sys, { url: bridge.url });
      sys.failNextCalls('reset', 'server_error');
      const one = [{ profileId: 'p', fields: { email: 'a@x.io' } }];
      await expect(c.push?.(one, signal())).rejects.toBeInstanceOf(TransientError);
      await expect(c.push?.(one, signal())).rejects.toBeInstanceOf(TransientError);
      await expect(c.push?.([...one, { profileId: 'q', fields: { email: 'b@x.io' } }], signal())).rejects.toBeInstanceOf(RejectedError);
      await expect(c.push?.(one, signal())).resolves.toEqual([{ status: 'ok', profileId: 'p', externalId: 'rec_1' }]);
    } finally {
      await bridge.close();
    }
  });
});

describe('export', () => {
  it('answers the whole record with every non-empty field', async () => {
    const { sys, name } = system();
    const held = sys.change({ email: 'ada@example.com', firstName: 'Ada', nickname: '', fax: null, tags: [], plan: { tier: 'gold' } });
    sys.change({ email: 'grace@example.com', firstName: 'Grace' });
    const instance = await connector(name, sys);
    const records = (await instance.export?.([{ externalId: held.id }], signal())) ?? [];
    expect(records).toEqual([
      {
        externalId: held.id,
        at: new Date(held.updatedAt).toISOString(),
        fields: { email: 'ada@example.com', firstName: 'Ada', plan: { tier: 'gold' } },
      },
    ]);
  });
});

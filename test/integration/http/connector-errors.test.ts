/**
 * The generic HTTP connector's failures, beyond conformance: a 429 with Retry-After on a read
 * (and the pacer parking the instance until then), a 5xx, calls in flight (the concurrency bound,
 * a waiter that gives up), redirects, a create answered 409 and a record that may exist (found
 * through `read.find` before writing, through create, upsert or batch), a create that failed in
 * transit (looked up once), records a batch endpoint rejects (its message, no e-mail address, not
 * even a cut one; a batch refused as a whole or too large, split), and an answer over `maxResponseBytes`.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectorConfigError, RateLimitedError, ResponseTooLargeError, TransientError } from '../../../src/connector/errors.js';
import { exampleOnEmulator, instanceOf, json, plainConfig, pull, signal, tinyServer } from './connector-helpers.js';

/** A batch endpoint at `/batch` with a result per operation, matched by `ref`. */
const BATCH = {
  path: '/batch',
  maxBatch: 100,
  body: { operations: '{{items}}' },
  item: { ref: '{{ref}}', '...': '{{record}}' },
  results: '$.results[*]',
  resultRef: 'ref',
  resultId: 'id',
  resultStatus: { path: 'status', ok: 'ok' },
  resultError: 'error.message',
};

/** What a promise rejects with (fails the test when it resolves). */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('http connector: rate limits and server errors', () => {
  it('a 429 with Retry-After on a read is a RateLimitedError with the wait, and parks the instance until then', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const crm = instanceOf(config);
    const contact = emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.rateLimitNextCall(120);

    const error = await failureOf(crm.read([contact.id], signal()));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ retryAfterMs: 120_000 });

    // The instance does not call again before the wait is over (a wait this long parks instead of sleeping).
    const calls = emu.sideDoor.calls().total;
    expect(await failureOf(pull(crm))).toBeInstanceOf(RateLimitedError);
    expect(emu.sideDoor.calls().total).toBe(calls);
    // An operator lifts the park: the next call goes out.
    crm.unpark?.();
    expect(await crm.read([contact.id], signal())).toMatchObject([{ externalId: contact.id }]);
  });

  it('a 5xx is a TransientError on reads and a retryable outcome on a write', async () => {
    const server = await tinyServer((_req, res) => json(res, 503, { error: { code: 'internal', message: 'down for maintenance' } }));
    const crm = instanceOf(plainConfig(server.origin));

    expect(await failureOf(crm.read(['1'], signal()))).toBeInstanceOf(TransientError);
    expect(await failureOf(pull(crm))).toBeInstanceOf(TransientError);
    expect(await crm.push([{ profileId: 'p1', externalId: '1', fields: { first_name: 'Ada' } }], signal())).toEqual([
      { status: 'retryable', profileId: 'p1', reason: 'server error (HTTP 503): down for maintenance' },
    ]);
  });
});

describe('http connector: calls in flight', () => {
  /** A system that holds every answer until the test lets them go, and counts calls in flight. */
  async function heldSystem() {
    const held: (() => void)[] = [];
    const flight = { now: 0, max: 0 };
    const server = await tinyServer((_req, res) => {
      flight.now++;
      flight.max = Math.max(flight.max, flight.now);
      held.push(() => {
        flight.now--;
        json(res, 200, { data: { id: '1', updated_at: '2026-11-01T10:00:00.000Z' } });
      });
    });
    const arrived = async (n: number) => {
      while (server.requests.length < n) await new Promise((resolve) => setImmediate(resolve));
    };
    const releaseAll = () => held.splice(0).forEach((answer) => answer());
    return { server, flight, arrived, releaseAll };
  }

  // The window is checked on the arrival times the system saw: a slower machine only widens the
  // gaps, so the test cannot fail for being slow.
  it('sends at most rateLimit.requests calls in any window of rateLimit.per', async () => {
    const arrivals: number[] = [];
    const server = await tinyServer((_req, res) => {
      arrivals.push(performance.now());
      json(res, 200, { data: { id: '1', updated_at: '2026-11-01T10:00:00.000Z' } });
    });
    const crm = instanceOf({ ...plainConfig(server.origin), rateLimit: { requests: 2, per: 300, concurrency: 8 } });
    await crm.read(['1', '2', '3', '4', '5', '6'], signal());
    expect(arrivals).toHaveLength(6);
    // Any three calls in a row are a window apart at the sender; at the system the gap shrinks by
    // the difference in their network time (the first call also opens the connection), so it is
    // checked at two thirds of a window. Unpaced, all six arrive within a few milliseconds.
    for (let i = 2; i < arrivals.length; i++) expect((arrivals[i] ?? 0) - (arrivals[i - 2] ?? 0)).toBeGreaterThanOrEqual(200);
  });

  it('keeps at most rateLimit.concurrency calls in flight', async () => {
    const { server, flight, arrived, releaseAll } = await heldSystem();
    const crm = instanceOf({ ...plainConfig(server.origin), rateLimit: { concurrency: 2 } });
    const reads = ['1', '2', '3', '4', '5'].map((id) => crm.read([id], signal()));
    for (const n of [2, 4, 5]) {
      await arrived(n);
      releaseAll();
    }
    await Promise.all(reads);
    expect(flight.max).toBe(2);
  });

  it('a call aborted while it waits for a slot gives its turn to the next one', async () => {
    const { server, arrived, releaseAll } = await heldSystem();
    const crm = instanceOf({ ...plainConfig(server.origin), rateLimit: { concurrency: 1 } });
    const first = crm.read(['1'], signal());
    await arrived(1);
    const abort = new AbortController();
    const second = crm.read(['2'], abort.signal);
    const third = crm.read(['3'], signal());
    abort.abort();
    await expect(second).rejects.toThrow();
    releaseAll();
    await first;
    await arrived(2);
    releaseAll();
    expect(await third).toHaveLength(1);
    expect(server.requests.map((r) => r.url)).toEqual(['/contacts/1', '/contacts/3']);
  });
});

describe('http connector: redirects (never followed)', () => {
  it('a permanent redirect is a config error that check pins on baseUrl; a temporary one is transient', async () => {
    const server = await tinyServer((req, res) => {
      res.writeHead(req.url.startsWith('/old') ? 301 : 307, { location: `https://crm.example.com/new${req.url}?token=secret` });
      res.end();
    });
    const moved = instanceOf(plainConfig(`${server.origin}/old`));
    const error = await failureOf(pull(moved));
    expect(error).toBeInstanceOf(ConnectorConfigError);
    expect(error).toMatchObject({ message: expect.stringContaining('https://crm.example.com/new/old/contacts') });
    expect(error).not.toMatchObject({ message: expect.stringContaining('secret') });
    expect(await moved.check(signal())).toMatchObject([{ ok: false, path: ['baseUrl'] }]);
    expect(await failureOf(moved.push([{ profileId: 'p1', fields: { email: 'a@example.com' } }], signal()))).toBeInstanceOf(
      ConnectorConfigError,
    );

    expect(await failureOf(pull(instanceOf(plainConfig(`${server.origin}/api`))))).toBeInstanceOf(TransientError);
  });
});

describe('http connector: a record that exists already', () => {
  it('a create answered 409 is retryable with the existing id, found through read.find; nothing is written over', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const crm = instanceOf(config);
    const existing = emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.resetCalls();

    expect(await crm.push([{ profileId: 'p1', fields: { email: 'ada@example.com', first_name: 'Ada' } }], signal())).toEqual([
      { status: 'retryable', profileId: 'p1', reason: 'the record exists: read it first', externalId: existing.id },
    ]);
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ 'POST /crm/v1/contacts': 1, 'GET /crm/v1/contacts': 1 });
    expect(emu.sideDoor.crmContacts('ada@example.com')[0]?.first_name).toBeNull();
  });

  it('a create answered without the record id is looked up through read.find rather than written again', async () => {
    const held: { id: string; email: string }[] = [];
    const server = await tinyServer((req, res) => {
      if (req.method === 'POST') {
        const email = z.object({ data: z.object({ email: z.string() }) }).parse(JSON.parse(req.body)).data.email;
        held.push({ id: `id-${held.length + 1}`, email });
        res.writeHead(204);
        return res.end();
      }
      const email = new URL(req.url, 'http://x').searchParams.get('email');
      return json(res, 200, { data: held.filter((c) => c.email === email).map((c) => ({ ...c, updated_at: '2026-11-01T10:00:00.000Z' })) });
    });
    const crm = instanceOf(plainConfig(server.origin));

    expect(await crm.push([{ profileId: 'p1', fields: { email: 'ada@example.com' } }], signal())).toEqual([
      { status: 'ok', profileId: 'p1', externalId: 'id-1' },
    ]);
    expect(held).toHaveLength(1);
  });

  it('a record that may exist is looked up first: found, it is not written; not found, it is created', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const crm = instanceOf(config);
    const existing = emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.resetCalls();

    const [found, created] = await crm.push(
      [
        { profileId: 'p1', mayExist: true, fields: { email: 'ADA@example.com', first_name: 'Ada' } },
        { profileId: 'p2', mayExist: true, fields: { email: 'grace@example.com', first_name: 'Grace' } },
      ],
      signal(),
    );
    expect(found).toEqual({ status: 'retryable', profileId: 'p1', reason: 'the record may exist: read it first', externalId: existing.id });
    const grace = emu.sideDoor.crmContacts('grace@example.com')[0];
    expect(created).toEqual({ status: 'ok', profileId: 'p2', externalId: grace?.id, created: true });
    // Two look-ups, one create (Grace's): Ada's record was not written.
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ 'GET /crm/v1/contacts': 2, 'POST /crm/v1/contacts': 1 });
    expect(emu.sideDoor.crmContacts('ada@example.com')[0]?.first_name).toBeNull();
  });
});

/** A contacts system that holds records by e-mail: find by `?email=`, create, upsert by e-mail, batch; `onWrite` may fail a write after it landed. */
async function contactsSystem(onWrite: (landed: boolean) => number = () => 200, landed = true) {
  const held = new Map<string, string>();
  const writes: string[] = [];
  const server = await tinyServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET') {
      const email = url.searchParams.get('email') ?? '';
      const id = held.get(email);
      return json(res, 200, { data: id === undefined ? [] : [{ id, email, updated_at: '2026-11-01T10:00:00.000Z' }] });
    }
    if (url.pathname === '/batch') {
      const { operations } = z
        .object({ operations: z.array(z.object({ ref: z.string(), email: z.string() })) })
        .parse(JSON.parse(req.body));
      return json(res, 200, {
        results: operations.map((o) => {
          writes.push(o.email);
          held.set(o.email, held.get(o.email) ?? `id-${held.size + 1}`);
          return { ref: o.ref, status: 'ok', id: held.get(o.email) };
        }),
      });
    }
    const email = z.object({ data: z.object({ email: z.string() }) }).parse(JSON.parse(req.body)).data.email;
    writes.push(email);
    if (landed) held.set(email, held.get(email) ?? `id-${held.size + 1}`);
    const status = onWrite(landed);
    return json(res, status, status < 300 ? { data: { id: held.get(email) } } : { error: { message: 'upstream timed out' } });
  });
  return { server, held, writes };
}

const UPSERT = { upsert: { method: 'PUT' as const, path: '/contacts/by-email/{email}', body: { data: '{{record}}' }, id: '$.data.id' } };

describe('http connector: a record that may exist, through upsert and batch', () => {
  it('an upsert of a record that may exist is looked up first: found, it is not written; not found, it is written', async () => {
    const { server, held, writes } = await contactsSystem();
    held.set('ada@example.com', 'id-ada');
    const crm = instanceOf(plainConfig(server.origin, { write: UPSERT }));

    const outcomes = await crm.push(
      [
        { profileId: 'p1', mayExist: true, fields: { email: 'ada@example.com', first_name: 'Ada' } },
        { profileId: 'p2', mayExist: true, fields: { email: 'grace@example.com', first_name: 'Grace' } },
      ],
      signal(),
    );
    expect(outcomes).toEqual([
      { status: 'retryable', profileId: 'p1', reason: 'the record may exist: read it first', externalId: 'id-ada' },
      { status: 'ok', profileId: 'p2', externalId: held.get('grace@example.com') },
    ]);
    expect(writes).toEqual(['grace@example.com']);
  });

  it('a batch leaves out the records that may exist and are found; the others are written in one call', async () => {
    const { server, held, writes } = await contactsSystem();
    held.set('ada@example.com', 'id-ada');
    const batch = instanceOf(plainConfig(server.origin, { write: { batch: { ...BATCH, item: { ref: '{{ref}}', email: '{{email}}' } } } }));

    const outcomes = await batch.push(
      [
        { profileId: 'p1', mayExist: true, fields: { email: 'ada@example.com' } },
        { profileId: 'p2', mayExist: true, fields: { email: 'grace@example.com' } },
        { profileId: 'p3', fields: { email: 'linus@example.com' } },
      ],
      signal(),
    );
    expect(outcomes).toEqual([
      { status: 'retryable', profileId: 'p1', reason: 'the record may exist: read it first', externalId: 'id-ada' },
      { status: 'ok', profileId: 'p2', externalId: held.get('grace@example.com') },
      { status: 'ok', profileId: 'p3', externalId: held.get('linus@example.com') },
    ]);
    expect(writes).toEqual(['grace@example.com', 'linus@example.com']);
    expect(server.requests.filter((r) => r.url === '/batch')).toHaveLength(1);
  });
});

describe('http connector: a create that failed in transit', () => {
  it('a create answered 5xx after it landed is looked up through read.find: found, retryable with its id, not written again', async () => {
    const { server, writes } = await contactsSystem(() => 504, true);
    const crm = instanceOf(plainConfig(server.origin));

    expect(await crm.push([{ profileId: 'p1', fields: { email: 'ada@example.com' } }], signal())).toEqual([
      { status: 'retryable', profileId: 'p1', reason: 'the create may have landed: read it first', externalId: 'id-1' },
    ]);
    expect(writes).toEqual(['ada@example.com']);
  });

  it('a create that did not land stays retryable with its failure, after one look-up', async () => {
    const { server } = await contactsSystem(() => 503, false);
    const crm = instanceOf(plainConfig(server.origin));

    expect(await crm.push([{ profileId: 'p1', fields: { email: 'ada@example.com' } }], signal())).toEqual([
      { status: 'retryable', profileId: 'p1', reason: 'server error (HTTP 503): upstream timed out' },
    ]);
    expect(server.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
  });
});

describe('http connector: rejected records', () => {
  it('a record the batch endpoint rejects carries the system’s message; the others are written', async () => {
    const { emu, config } = await exampleOnEmulator('newsletter');
    const newsletter = instanceOf(config);
    emu.sideDoor.poison('blocked@example.com');

    const outcomes = await newsletter.push(
      [
        { profileId: 'p1', fields: { email_address: 'ada@example.com', 'name.first': 'Ada' } },
        { profileId: 'p2', fields: { email_address: 'blocked@example.com', 'name.first': 'Bob' } },
      ],
      signal(),
    );
    expect(outcomes).toEqual([
      { status: 'ok', profileId: 'p1', externalId: expect.any(String), created: true },
      { status: 'rejected', profileId: 'p2', reason: 'email_address is not accepted (the address is blocked)' },
    ]);
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ 'POST /newsletter/api/subscribers/batch': 1 });
  });

  it('keeps e-mail addresses out of a rejection’s reason, from a batch result or a single write’s 4xx', async () => {
    const server = await tinyServer((req, res) => {
      if (req.url === '/batch') {
        return json(res, 200, {
          results: [{ ref: '0', status: 'error', error: { message: 'bob@example.com is already on another list' } }],
        });
      }
      return json(res, 422, { error: { code: 'invalid', message: 'bob@example.com: this address bounced' } });
    });
    const batch = instanceOf(
      plainConfig(server.origin, {
        write: { batch: BATCH },
      }),
    );
    const single = instanceOf(plainConfig(server.origin));
    const record = { profileId: 'p1', fields: { email: 'bob@example.com' } };

    const [fromBatch] = await batch.push([record], signal());
    const [fromSingle] = await single.push([record], signal());
    expect(fromBatch).toMatchObject({ status: 'rejected', reason: expect.stringContaining('is already on another list') });
    expect(fromSingle).toMatchObject({ status: 'rejected', reason: expect.stringContaining('this address bounced') });
    expect(JSON.stringify([fromBatch, fromSingle])).not.toContain('bob@example.com');
  });

  it('removes an e-mail address before cutting a long message, so the cut leaves no part of it', async () => {
    const message = `${'x'.repeat(190)} ann.smith@example.com is invalid`;
    const server = await tinyServer((_req, res) => json(res, 200, { results: [{ ref: '0', status: 'error', error: { message } }] }));
    const batch = instanceOf(plainConfig(server.origin, { write: { batch: BATCH } }));

    const [outcome] = await batch.push([{ profileId: 'p1', fields: { email: 'ann.smith@example.com' } }], signal());
    expect(outcome).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^x{190} /) });
    expect(JSON.stringify(outcome)).not.toContain('ann.smith');
  });

  it('a batch over maxRequestBytes is split until it fits; a record too large alone is rejected, the others are written', async () => {
    const { emu, config } = await exampleOnEmulator('newsletter');
    const newsletter = instanceOf({ ...config, maxRequestBytes: 1500 });
    const records = Array.from({ length: 10 }, (_, i) => ({
      profileId: `p${i}`,
      fields: { email_address: `n${i}@example.com`, 'name.first': i === 6 ? 'x'.repeat(2000) : `N${i}` },
    }));

    const outcomes = await newsletter.push(records, signal());
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'rejected', 'ok', 'ok', 'ok']);
    expect(outcomes[6]).toMatchObject({ reason: expect.stringContaining('1500 byte limit') });
    expect(emu.sideDoor.newsletterSubscribers()).toHaveLength(9);
  });

  it('a batch the system refuses as a whole (a 4xx) is split until the record it refuses is alone', async () => {
    const server = await tinyServer((req, res) => {
      const operations = z
        .object({ operations: z.array(z.object({ ref: z.string(), email: z.string() })) })
        .parse(JSON.parse(req.body)).operations;
      if (operations.some((o) => o.email.startsWith('bad'))) return json(res, 400, { message: 'operations: an address is malformed' });
      return json(res, 200, { results: operations.map((o) => ({ ref: o.ref, status: 'ok', id: `id-${o.email}` })) });
    });
    const batch = instanceOf(plainConfig(server.origin, { write: { batch: BATCH } }));
    const emails = ['a', 'b', 'bad', 'c', 'd'].map((n) => `${n}@example.com`);

    const outcomes = await batch.push(
      emails.map((email, i) => ({ profileId: `p${i}`, fields: { email } })),
      signal(),
    );
    expect(outcomes).toEqual([
      { status: 'ok', profileId: 'p0', externalId: 'id-a@example.com' },
      { status: 'ok', profileId: 'p1', externalId: 'id-b@example.com' },
      { status: 'rejected', profileId: 'p2', reason: 'rejected (HTTP 400): operations: an address is malformed' },
      { status: 'ok', profileId: 'p3', externalId: 'id-c@example.com' },
      { status: 'ok', profileId: 'p4', externalId: 'id-d@example.com' },
    ]);
  });

  it('fails a read whose answer is over maxResponseBytes cleanly: the next call goes through', async () => {
    const big = Array.from({ length: 100 }, (_, i) => ({ id: String(i), updated_at: '2026-11-01T10:00:00.000Z', note: 'x'.repeat(100) }));
    const server = await tinyServer((req, res) =>
      req.url?.startsWith('/contacts/') === true
        ? json(res, 200, { data: { id: '1', updated_at: '2026-11-01T10:00:00.000Z' } })
        : json(res, 200, { data: big }),
    );
    const crm = instanceOf({ ...plainConfig(server.origin), maxResponseBytes: 4096, rateLimit: { concurrency: 1 } });

    const error = await failureOf(pull(crm));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(error).toMatchObject({ limitBytes: 4096, retryable: false });
    expect(await crm.read(['1'], signal())).toMatchObject([{ externalId: '1' }]);
  });
});

/**
 * The push side: coalescing, per-record outcomes (ok, retryable, rejected -> dead letter and
 * replay), transient failures, and gating by restriction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { engineKeys } from '../../../src/queue/keys.js';
import { WorkSets } from '../../../src/queue/work-sets.js';
import { StoreError } from '../../../src/store/index.js';
import { memoryConnector, type UpsertInput } from '../../../connectors/memory/index.js';
import type { PushRecord } from '../../../src/connector/define.js';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { REDIS_URL, startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

/** Records every upsert call a system receives. */
function recordCalls(system: MemorySystem): UpsertInput[][] {
  const calls: UpsertInput[][] = [];
  const original = system.upsert.bind(system);
  system.upsert = async (inputs) => {
    calls.push(structuredClone(inputs));
    return original(inputs);
  };
  return calls;
}

/** The hub's systems by id. */
function systemsOf<K extends string>(hub: Hub, ...ids: K[]): Record<K, MemorySystem> {
  const out: Partial<Record<K, MemorySystem>> = {};
  for (const id of ids) {
    const system = hub.systems[id];
    if (!system) throw new Error(`no system ${id}`);
    out[id] = system;
  }
  return out as Record<K, MemorySystem>;
}

describe.each(TEST_DIALECTS)('push (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('coalesces: five changes to one profile before a flush make one record in one call', async () => {
    // The five come within idleAfterMs of Ada's change: the stage is busy and they wait as a batch.
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], tuning: { flushDelayMs: 600, idleAfterMs: 60_000 } });
    const { a, b } = systemsOf(hub, 'a', 'b');
    a.change({ email: 'ada@example.com', first_name: 'Ada' });
    await hub.settle();
    const calls = recordCalls(b);
    for (const name of ['A1', 'A2', 'A3', 'A4', 'A5']) {
      a.change({ email: 'ada@example.com', first_name: name });
      await sleep(15);
    }
    await hub.settle();
    expect(calls).toEqual([[{ id: b.get({ email: 'ada@example.com' })?.id, fields: { first_name: 'A5' } }]]);
    const [profile] = await hub.profiles();
    expect(profile?.attributes['firstName']?.value).toBe('A5');
  });

  it('context fields (ConnectorDefinition.contextFields) go with every write that changes anything, unchanged or not', async () => {
    const withContext: typeof memoryConnector = { ...memoryConnector, type: 'memory-context', contextFields: () => ['newsletter'] };
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b', definition: withContext }, { id: 'c' }] });
    const { a, b, c } = systemsOf(hub, 'a', 'b', 'c');
    a.change({ email: 'ctx@example.com', first_name: 'Ctx', newsletter: true });
    await hub.settle();
    const [callsB, callsC] = [recordCalls(b), recordCalls(c)];
    a.change({ email: 'ctx@example.com', first_name: 'Ctx2' });
    await hub.settle();
    expect(callsB.flat().map((input) => input.fields)).toEqual([{ first_name: 'Ctx2', newsletter: true }]);
    // Without the declaration only the change goes out.
    expect(callsC.flat().map((input) => input.fields)).toEqual([{ first_name: 'Ctx2' }]);
  });

  // A connector that reads before writing judges each held field by when the hub learnt it: a
  // push of another field refreshes the shadow row, not what the hub knows of this one.
  it("gives each held field the time the shadow learnt it (heldFieldsAt), not the row's latest time", async () => {
    const pushed: PushRecord[] = [];
    const capturing: typeof memoryConnector = {
      ...memoryConnector,
      type: 'memory-capturing',
      async create(ctx) {
        const instance = await memoryConnector.create(ctx);
        const push = instance.push?.bind(instance);
        return push === undefined
          ? instance
          : {
              ...instance,
              push: async (batch, signal) => {
                pushed.push(...structuredClone(batch));
                return push(batch, signal);
              },
            };
      },
    };
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b', definition: capturing }] });
    const { a } = systemsOf(hub, 'a');
    a.change({ email: 'times@example.com', first_name: 'F1', last_name: 'L1' });
    await hub.settle();
    await sleep(20);
    a.change({ email: 'times@example.com', first_name: 'F2' });
    await hub.settle();
    const [profile] = await hub.profiles();
    const shadow = profile ? await hub.store.getShadow(profile.id, 'b') : null;
    expect(shadow?.valuesAt['last_name']).toBeDefined();
    expect(Date.parse(shadow?.valuesAt['last_name'] ?? '')).toBeLessThan(Date.parse(shadow?.valuesAt['first_name'] ?? ''));
    pushed.length = 0;
    a.change({ email: 'times@example.com', last_name: 'L2' });
    await hub.settle();
    const record = pushed.find((r) => Object.hasOwn(r.fields, 'last_name'));
    expect(record).toMatchObject({
      held: { last_name: 'L1' },
      heldAt: shadow?.updatedAt,
      heldFieldsAt: { last_name: shadow?.valuesAt['last_name'] },
    });
  });

  it('a rejected record goes to the dead-letter view with its reason, the rest of its batch goes through, and replay delivers it once fixed', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
    const { a, b, c } = systemsOf(hub, 'a', 'b', 'c');
    b.poison('bad@example.com', 'email domain not allowed');
    const calls = recordCalls(b);
    for (const email of ['good1@example.com', 'bad@example.com', 'good2@example.com']) a.change({ email, first_name: 'X' });
    await hub.settle();

    expect(b.get({ email: 'good1@example.com' })).toBeDefined();
    expect(b.get({ email: 'good2@example.com' })).toBeDefined();
    expect(b.get({ email: 'bad@example.com' })).toBeUndefined();
    expect(c.size).toBe(3);
    // The poison record travelled in the same call as the good ones and did not hold them up.
    const withBad = calls.find((call) => call.some((input) => input.fields['email'] === 'bad@example.com'));
    expect(withBad?.map((input) => input.fields['email']).sort()).toEqual(['bad@example.com', 'good1@example.com', 'good2@example.com']);

    const letters = await hub.engine.deadLetters.list('b');
    expect(letters).toHaveLength(1);
    const [letter] = letters;
    expect(letter).toMatchObject({ connector: 'b', kind: 'rejected', code: 'INVALID_RECORD' });
    expect(letter?.reason).toContain('email domain not allowed');
    expect(await hub.engine.deadLetters.list('c')).toEqual([]);

    // The dead letter stays put until it is replayed, even through sweeps.
    await sleep(700);
    expect(b.get({ email: 'bad@example.com' })).toBeUndefined();

    b.unpoison('bad@example.com');
    expect(await hub.engine.deadLetters.replay('b', letter?.profileId ?? '')).toBe(true);
    await hub.settle();
    expect(b.get({ email: 'bad@example.com' })?.fields).toEqual({ email: 'bad@example.com', first_name: 'X' });
    expect(await hub.engine.deadLetters.list()).toEqual([]);
    expect(await hub.engine.deadLetters.replay('b', letter?.profileId ?? '')).toBe(false);
  });

  it('replayAll replays every dead letter of a connector', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }] });
    const { a, b } = systemsOf(hub, 'a', 'b');
    b.poison('x1@example.com');
    b.poison('x2@example.com');
    a.change({ email: 'x1@example.com', last_name: 'One' });
    a.change({ email: 'x2@example.com', last_name: 'Two' });
    await hub.settle();
    expect((await hub.engine.deadLetters.list('b')).map((l) => l.kind)).toEqual(['rejected', 'rejected']);
    b.unpoison('x1@example.com');
    b.unpoison('x2@example.com');
    expect(await hub.engine.deadLetters.replayAll('b')).toBe(2);
    await hub.settle();
    expect(b.size).toBe(2);
    expect(await hub.engine.deadLetters.list('b')).toEqual([]);
  });

  it('a retryable record backs off and is delivered, without holding up the others', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }] });
    const { a, b } = systemsOf(hub, 'a', 'b');
    b.failRecord('slow@example.com', 2);
    const calls = recordCalls(b);
    a.change({ email: 'slow@example.com', first_name: 'S' });
    a.change({ email: 'fast@example.com', first_name: 'F' });
    await hub.settle();
    expect(b.get({ email: 'slow@example.com' })?.fields['first_name']).toBe('S');
    expect(b.get({ email: 'fast@example.com' })?.fields['first_name']).toBe('F');
    // fast went out once; slow went three times (two retryable outcomes, then ok).
    const sent = calls.flat().map((input) => input.fields['email'] ?? input.id);
    expect(sent.filter((e) => e === 'fast@example.com')).toHaveLength(1);
    expect(calls.flat().filter((input) => input.fields['first_name'] === 'S')).toHaveLength(3);
    expect(await hub.engine.deadLetters.list()).toEqual([]);
  });

  it('a record that stays retryable past its attempts is dead-lettered as exhausted', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }], tuning: { profileMaxAttempts: 3 } });
    const { a, b } = systemsOf(hub, 'a', 'b');
    b.failRecord('stuck@example.com', 100);
    a.change({ email: 'stuck@example.com', first_name: 'S' });
    await hub.settle();
    const letters = await hub.engine.deadLetters.list('b');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ kind: 'exhausted', attempts: 3 });
    expect(letters[0]?.reason).toContain('TEMPORARILY_UNAVAILABLE');
  });

  it('a connection reset inside one call is retried at once; a server error past the retries fails the job, which BullMQ retries', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }], tuning: { callRetries: 1 } });
    const { a, b } = systemsOf(hub, 'a', 'b');
    b.failNextCalls('reset');
    a.change({ email: 'r@example.com', first_name: 'R' });
    await hub.settle();
    expect(b.get({ email: 'r@example.com' })).toBeDefined();
    expect(b.getStats().calls.upsert).toBe(2);

    b.failNextCalls('server_error', 'server_error', 'server_error');
    a.change({ email: 'r@example.com', first_name: 'R2' });
    await hub.settle();
    expect(b.get({ email: 'r@example.com' })?.fields['first_name']).toBe('R2');
    // Two calls in the first attempt (one p-retry), then the job's second attempt: one more 503, then ok.
    expect(b.getStats().calls.upsert).toBe(2 + 4);
    const status = await hub.engine.status();
    expect(status.queues.find((q) => q.queue === 'push.b')?.failed).toBe(0);
  });

  it('a write conflict recording the outcome of a call the system took is retried: the batch is not sent again', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }] });
    const { a, b } = systemsOf(hub, 'a', 'b');
    a.change({ email: 'lock@example.com', first_name: 'L' });
    await hub.settle();
    // The next outcome to record loses against another writer (SQLite: `database is locked`
    // past the store's own retries), as with several hub processes on one file.
    const store = hub.store;
    const record = store.recordPushes.bind(store);
    let failures = 0;
    store.recordPushes = async (entries) => {
      if (failures++ === 0) throw new StoreError('write_conflict', 'transaction still conflicting after 5 attempts');
      return record(entries);
    };
    const calls = recordCalls(b);
    a.change({ email: 'lock@example.com', first_name: 'L2' });
    await hub.settle();
    expect(failures).toBeGreaterThan(1);
    expect(b.get({ email: 'lock@example.com' })?.fields['first_name']).toBe('L2');
    expect(calls.flat().map((input) => input.fields)).toEqual([{ first_name: 'L2' }]);
    const [profile] = await hub.profiles();
    expect((await hub.store.getShadow(profile?.id ?? '', 'b'))?.values['first_name']).toBe('L2');
  });

  it('a restricted profile: only consent and rights go out, to records that exist; none is created', async () => {
    const rights = [{ right: 'restricted' as const, external: 'restricted' }];
    hub = await startHub({
      dialect,
      systems: [
        { id: 'a', mappings: rights },
        { id: 'b', mappings: rights },
      ],
    });
    const { a, b } = systemsOf(hub, 'a', 'b');
    a.change({ email: 'r@example.com', first_name: 'Rita', email_opt_out: false, newsletter: true });
    await hub.settle();
    expect(b.get({ email: 'r@example.com' })?.fields).toMatchObject({ first_name: 'Rita', email_opt_out: false, newsletter: true });

    a.change({ email: 'r@example.com', restricted: true, first_name: 'Rita M.' });
    await hub.settle();
    // Consent goes out as denied (opt-out), the restriction itself goes out, the name does not.
    expect(b.get({ email: 'r@example.com' })?.fields).toEqual({
      email: 'r@example.com',
      first_name: 'Rita',
      email_opt_out: true,
      newsletter: true,
      restricted: true,
    });

    // A person restricted from the start is not created anywhere.
    a.change({ email: 'q@example.com', first_name: 'Quiet', restricted: true });
    await hub.settle();
    expect(b.get({ email: 'q@example.com' })).toBeUndefined();
  });

  it('a batch whose profiles have nothing new is topped up from the dirty set before the call', async () => {
    const systems = [{ id: 'a' }, { id: 'b', limits: { maxBatch: 3 } }];
    const first = await startHub({ dialect, systems, tuning: { flushDelayMs: 300 } });
    hub = first;
    const { a, b } = systemsOf(first, 'a', 'b');
    const emails = ['s1', 's2', 'f1', 'f2', 'f3'].map((name) => `${name}@example.com`);
    for (const email of emails) a.change({ email, first_name: 'Old' });
    await first.settle();
    const ids = new Map<string, string>();
    for (const email of emails) ids.set(email, (await first.store.findProfile({ kind: 'email', value: email }))?.id ?? '');

    // A second process without push: s1 and s2 are dirty for b though b holds their latest
    // values (as when a push already carried a change whose dirty mark came later); then
    // f1..f3 really change. Dirty order: s1, s2, f1, f2, f3.
    await first.close({ keepData: true });
    const second = await startHub({ dialect, systems, tuning: { flushDelayMs: 300 }, shared: first, roles: { push: false } });
    hub = second;
    second.systems = { a, b };
    a.onWebhook(async (delivery) => {
      const receivedAt = new Date().toISOString();
      await second.engine.receiveWebhook('a', {
        method: 'POST',
        url: 'http://127.0.0.1/webhooks/a',
        headers: delivery.headers,
        body: delivery.body,
        receivedAt,
      });
    });
    const redis = new Redis(REDIS_URL);
    try {
      const work = new WorkSets(redis, engineKeys(first.prefix));
      await work.markDirty(new Map([['b', [ids.get('s1@example.com') ?? '', ids.get('s2@example.com') ?? '']]]));
      for (const email of emails.slice(2)) {
        await sleep(5);
        a.change({ email, first_name: 'New' });
      }
      const dirty = engineKeys(first.prefix).dirty('b');
      for (let i = 0; i < 200 && (await redis.zcard(dirty)) < 5; i++) await sleep(25);
      expect(await redis.zcard(dirty)).toBe(5);
    } finally {
      await redis.quit();
    }

    const calls = recordCalls(b);
    await hub.engine.start({ ingest: false, relay: false, pull: false, push: true });
    await hub.settle();
    // One call with the three real changes, not one with f1 and another with f2 and f3.
    expect(calls).toHaveLength(1);
    expect(calls[0]?.map((input) => input.id).sort()).toEqual(
      emails
        .slice(2)
        .map((email) => b.get({ email })?.id)
        .sort(),
    );
    expect(calls[0]?.every((input) => input.fields['first_name'] === 'New')).toBe(true);
  });
});

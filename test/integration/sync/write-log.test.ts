/**
 * The write log against Redis, where ingest and a push meet. The system's first record of a
 * person is ingested without holding the profile against pushes (its profile is only known
 * once the record is applied); a push of the same profile to that system may run meanwhile.
 * Whatever ingest learnt about the values the push's write replaced (`prev`) must survive the
 * push's own bookkeeping, or a later snapshot taken before the write counts a value the system
 * already held as a change, stamped with that snapshot's (newer) time: the convergence test's
 * "all systems agree on an older value" under load.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { assessRecord, WriteLog } from '../../../src/sync/inbound/write-log.js';
import { deletePrefix, REDIS_URL } from '../../../harness/sync-hub.js';

describe('write log shared by ingest and push', () => {
  const prefix = `{wl-${randomBytes(4).toString('hex')}}`;
  const redis = new Redis(REDIS_URL);
  /** A write log on the test's prefix: a process of its own, as far as the log's memory goes. */
  const newLog = (): WriteLog =>
    new WriteLog(
      redis,
      (connector, profileId) => `${prefix}:w:${connector}:${profileId}`,
      (connector, externalId) => `${prefix}:p:${connector}:${externalId}`,
      60_000,
    );
  const log = newLog();
  /** `log` begins a write of `a: 1` to each profile and the system accepts them all. */
  const beginAccepted = async (ids: readonly string[]): Promise<void> => {
    await log.begin(
      'c',
      ids.map((profileId) => ({ profileId, fields: { a: 1 }, prev: {} })),
    );
    log.settle('c', new Map(ids.map((id) => [id, { ok: true }])));
  };
  afterEach(async () => {
    await deletePrefix(prefix);
  });
  afterAll(() => redis.disconnect());

  it("keeps what ingest learnt about the replaced values while the push's write was open", async () => {
    // The push prepared before the ingest committed: it does not know what `c` held.
    await log.begin('c', [{ profileId: 'p1', fields: { newsletter: false }, prev: {} }]);
    const begunAt = Date.now();
    // The ingest of c's first record (received before the write ended) repairs the entry.
    const [entries = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    const first = entries[0];
    if (!first) throw new Error('no entry');
    first.prev['newsletter'] = true;
    await log.learnPrev('c', 'p1', entries);
    // The push answers and finishes.
    log.settle('c', new Map([['p1', { ok: true }]]));
    await log.finish('c', ['p1'], new Map([['p1', 'rec_1']]));

    const [after = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    expect(after[0]?.prev).toEqual({ newsletter: true });
    // A later snapshot taken before the write still holds c's old value: no change.
    const snapshot = assessRecord({ newsletter: true, email_opt_out: false }, { newsletter: false, email_opt_out: true }, after, {
      recordAt: 0,
      receivedAt: begunAt,
      toleranceMs: 50,
    });
    expect(snapshot.changes).toEqual({ email_opt_out: false });
  });

  it('a push finds the write a dead push left open: closes it and says its outcome is unknown', async () => {
    // A push begins and its process dies: the entry stays open in Redis.
    await log.begin('c', [{ profileId: 'p3', fields: { last_name: 'Hub' }, prev: {} }]);
    const dead = newLog();
    const uncertain = await dead.begin('c', [
      { profileId: 'p3', fields: { last_name: 'Hub' }, prev: {} },
      { profileId: 'p4', fields: { last_name: 'New' }, prev: {} },
    ]);
    expect([...uncertain]).toEqual(['p3']);
    const [entries = []] = await dead.load([{ connector: 'c', profileId: 'p3' }]);
    expect(entries.map((e) => e.to === null)).toEqual([false, true]);
  });

  it('fillPrev gives an open write the values of fields it did not know, and only those', async () => {
    await log.begin('c', [{ profileId: 'p2', fields: { newsletter: false, first_name: 'Ada' }, prev: { first_name: 'Grace' } }]);
    await log.fillPrev('c', new Map([['p2', { newsletter: true, first_name: 'Alan', email: 'x@example.com' }]]));
    const [stored = []] = await log.load([{ connector: 'c', profileId: 'p2' }]);
    expect(stored[0]?.prev).toEqual({ newsletter: true, first_name: 'Grace' });
    log.settle('c', new Map([['p2', { ok: true }]]));
    await log.finish('c', ['p2']);
    const [done = []] = await log.load([{ connector: 'c', profileId: 'p2' }]);
    expect(done[0]?.prev).toEqual({ newsletter: true, first_name: 'Grace' });
  });

  // Convergence under load (issue 14, item 4): ingest of an unheld record loaded the entries
  // while a push ran, the push finished (ok: true, shadowed), then ingest stored its copy with
  // the prev it learned, and the push's outcome was gone: the next push's begin then counted the
  // write as uncertain and a later record compared against the wrong values.
  it('what ingest learns about an entry does not erase the outcome a push stored meanwhile', async () => {
    await log.begin('c', [{ profileId: 'p1', fields: { a: 'new' }, prev: {} }]);
    const [loaded = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    log.settle('c', new Map([['p1', { ok: true }]]));
    await log.finish('c', ['p1'], new Map([['p1', 'ext-1']]));

    // Ingest learns what the record said the field held before the write.
    (loaded[0] as { prev: Record<string, unknown> }).prev.a = 'old';
    await log.learnPrev('c', 'p1', loaded);

    const [after = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ ok: true, shadowed: true, prev: { a: 'old' } });
    expect(after[0]?.to).not.toBeNull();
  });

  it('two updates of one entry at once both land: the second compare-and-set finds the value changed and updates again', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `r${i}`);
    await log.begin(
      'c',
      ids.map((profileId) => ({ profileId, fields: { a: 'new' }, prev: {} })),
    );
    const loaded = await log.load(ids.map((profileId) => ({ connector: 'c', profileId })));
    log.settle('c', new Map(ids.map((id) => [id, { ok: true }])));
    // Both read the entries before either writes: one of the two sets must fail and retry.
    await Promise.all([
      log.finish('c', ids),
      ...ids.map((id, i) => {
        const entries = loaded[i] ?? [];
        (entries[0] as { prev: Record<string, unknown> }).prev.a = `old-${id}`;
        return log.learnPrev('c', id, entries);
      }),
    ]);
    const after = await log.load(ids.map((profileId) => ({ connector: 'c', profileId })));
    expect(after.map((entries) => entries.length)).toEqual(ids.map(() => 1));
    after.forEach((entries, i) => expect(entries[0]).toMatchObject({ ok: true, shadowed: true, prev: { a: `old-${ids[i]}` } }));
  });

  it('a push finishing keeps the prev ingest learned while it ran', async () => {
    await log.begin('c', [{ profileId: 'p1', fields: { a: 'new', b: 1 }, prev: { b: 0 } }]);
    const [loaded = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    (loaded[0] as { prev: Record<string, unknown> }).prev.a = 'old';
    await log.learnPrev('c', 'p1', loaded);
    log.settle('c', new Map([['p1', { ok: true }]]));
    await log.finish('c', ['p1']);

    const [after = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    expect(after[0]).toMatchObject({ ok: true, prev: { a: 'old', b: 0 } });
  });

  it('entries a begin closed are not brought back open by a store from an older load', async () => {
    await log.begin('c', [{ profileId: 'p1', fields: { a: 1 }, prev: {} }]);
    log.settle('c', new Map([['p1', { ok: true }]]));
    await log.finish('c', ['p1']);
    const [loaded = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    await log.begin('c', [{ profileId: 'p1', fields: { a: 2 }, prev: { a: 1 } }]);
    (loaded[0] as { prev: Record<string, unknown> }).prev.a = 0;
    await log.learnPrev('c', 'p1', loaded);

    const [after = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({ ok: true, prev: { a: 0 } });
    expect(after[1]).toMatchObject({ to: null, fields: { a: 2 } });
  });

  it('a push finishes without reading its entries back when nobody stored since its begin', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `q${i}`);
    await beginAccepted(ids);
    await log.finish('c', ids);
    await log.begin(
      'c',
      ids.map((profileId) => ({ profileId, fields: { a: 2 }, prev: { a: 1 } })),
    );
    log.settle('c', new Map(ids.map((id) => [id, { ok: true }])));
    const reads = vi.spyOn(redis, 'mget');
    try {
      await log.finish('c', ids);
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
    const after = await log.load(ids.map((profileId) => ({ connector: 'c', profileId })));
    for (const entries of after) {
      expect(entries).toHaveLength(2);
      expect(entries.map((e) => [e.fields, e.ok, e.shadowed])).toEqual([
        [{ a: 1 }, true, true],
        [{ a: 2 }, true, true],
      ]);
    }
  });

  it('two pushes of one profile begun in the same millisecond each finish, fill and learn into their own entry', async () => {
    // The Node 24 CI run began both within one millisecond: the second finish found the first
    // entry by its start time, overwrote it with its own and left its own without an outcome.
    const clock = vi.spyOn(Date, 'now').mockReturnValue(1_800_000_000_000);
    try {
      await beginAccepted(['s1']);
      await log.finish('c', ['s1']);
      await log.begin('c', [{ profileId: 's1', fields: { a: 2, c: 'new' }, prev: { a: 1 } }]);
      // The push learns the value of a field it did not know (`fillPrev`), ingest in another
      // process what the second write replaced (`learnPrev`): both into the second entry.
      await log.fillPrev('c', new Map([['s1', { c: 'shadow' }]]));
      const other = newLog();
      const [loaded = []] = await other.load([{ connector: 'c', profileId: 's1' }]);
      expect(loaded).toHaveLength(2);
      (loaded[1] as { prev: Record<string, unknown> }).prev.b = 'old';
      await other.learnPrev('c', 's1', loaded);
      log.settle('c', new Map([['s1', { ok: true }]]));
      await log.finish('c', ['s1']);
    } finally {
      clock.mockRestore();
    }
    const [after = []] = await log.load([{ connector: 'c', profileId: 's1' }]);
    expect(after.map((e) => [e.fields, e.prev, e.ok, e.shadowed])).toEqual([
      [{ a: 1 }, {}, true, true],
      [{ a: 2, c: 'new' }, { a: 1, b: 'old', c: 'shadow' }, true, true],
    ]);
  });

  it('a push whose entries Redis lost since its begin stores its own entry again', async () => {
    await log.begin('c', [{ profileId: 'p1', fields: { a: 1 }, prev: {} }]);
    await redis.del(`${prefix}:w:c:p1`);
    log.settle('c', new Map([['p1', { ok: true }]]));
    await log.finish('c', ['p1']);
    const [after = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ fields: { a: 1 }, ok: true, shadowed: true });
  });

  it('a finish after another writer stored reads the entries again and keeps both changes', async () => {
    await log.begin('c', [{ profileId: 'p1', fields: { a: 1 }, prev: {} }]);
    // Ingest, in another process, learns what the write replaced meanwhile.
    const other = newLog();
    const [loaded = []] = await other.load([{ connector: 'c', profileId: 'p1' }]);
    (loaded[0] as { prev: Record<string, unknown> }).prev.a = 0;
    await other.learnPrev('c', 'p1', loaded);
    log.settle('c', new Map([['p1', { ok: true }]]));
    await log.finish('c', ['p1']);
    const [after = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ fields: { a: 1 }, ok: true, shadowed: true, prev: { a: 0 } });
  });

  it("a finish after its own fillPrev takes the fast path, and keeps ingest's prev of a field both filled in", async () => {
    await log.begin('c', [
      { profileId: 'p1', fields: { a: 'new', b: 'new' }, prev: {} },
      { profileId: 'p2', fields: { a: 'neu', b: 'neu' }, prev: {} },
    ]);
    // Ingest learns p1's `a` from the record the write replaced; then the push fills in both
    // profiles' unknown fields from the shadows.
    const [loaded = []] = await log.load([{ connector: 'c', profileId: 'p1' }]);
    (loaded[0] as { prev: Record<string, unknown> }).prev.a = 'ingest';
    await log.learnPrev('c', 'p1', loaded);
    await log.fillPrev(
      'c',
      new Map([
        ['p1', { a: 'shadow', b: 'shadow' }],
        ['p2', { a: 'Zoë', b: '李雷 🙂' }],
      ]),
    );
    log.settle(
      'c',
      new Map([
        ['p1', { ok: true }],
        ['p2', { ok: true }],
      ]),
    );
    const reads = vi.spyOn(redis, 'mget');
    try {
      await log.finish('c', ['p2']);
      expect(reads).not.toHaveBeenCalled();
      await log.finish('c', ['p1']);
    } finally {
      reads.mockRestore();
    }
    const [p1 = [], p2 = []] = await log.load([
      { connector: 'c', profileId: 'p1' },
      { connector: 'c', profileId: 'p2' },
    ]);
    expect(p1[0]).toMatchObject({ ok: true, shadowed: true, prev: { a: 'ingest', b: 'shadow' } });
    expect(p2[0]).toMatchObject({ ok: true, shadowed: true, prev: { a: 'Zoë', b: '李雷 🙂' } });
  });

  it('remembers a bounded number of keys: a finish whose entries were dropped reads them again', async () => {
    const ids = Array.from({ length: 4_200 }, (_, i) => `m${i}`);
    await beginAccepted(ids);
    const reads = vi.spyOn(redis, 'mget');
    try {
      await log.finish('c', ids);
      // The oldest 104 were dropped to keep 4,096: only they are read.
      expect(reads.mock.calls.flat()).toEqual(ids.slice(0, 104).map((id) => `${prefix}:w:c:${id}`));
    } finally {
      reads.mockRestore();
    }
    const after = await log.load(ids.map((profileId) => ({ connector: 'c', profileId })));
    expect(after.every((entries) => entries.length === 1 && entries[0]?.ok === true && entries[0]?.shadowed === true)).toBe(true);
  });
});

/**
 * The sync runs repository on both dialects: a run starts running and finishes once, keeps only
 * the first row errors (with the total), lists newest first with filters and a cursor, the sweep
 * fails runs whose lease passed (and a late finish does not undo it), the purge drops old finished runs.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { MAX_RUN_ERRORS } from '../../../src/store/contracts/runs.js';
import type { NewSyncRun, RunCounts, RunRowError } from '../../../src/store/index.js';
import { StoreError } from '../../../src/store/index.js';
import { patch, profileOf, slowDown, storeEachTest } from './fixtures.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const COUNTS: RunCounts = { read: 10, changed: 4, written: 3, skipped: 6, failed: 1 };

function run(n: number, over: Partial<NewSyncRun> = {}): NewSyncRun {
  return {
    id: `run-${String(n).padStart(3, '0')}`,
    connector: 'hubspot',
    kind: 'pull',
    trigger: 'schedule',
    requestId: `req-${n}`,
    startedAt: iso(T0 + n * 1_000),
    leasedUntil: iso(T0 + n * 1_000 + 60_000),
    ...over,
  };
}

const rowError = (n: number, profileId: string | null = null): RunRowError => ({
  ref: `rec-${n}`,
  profileId,
  code: 'http_400',
  message: 'rejected',
});

describe.each(TEST_DIALECTS)('sync runs (%s)', (dialect) => {
  const current = storeEachTest(dialect);

  it('starts a run running and finishes it once with its counts and its first row errors', async () => {
    const store = current.store();
    const started = await store.startRun(run(1, { kind: 'push', trigger: 'api' }));
    expect(started).toMatchObject({ status: 'running', endedAt: null, errors: [], errorCount: 0, failure: null, requestId: 'req-1' });
    expect(started.counts).toEqual({ read: 0, changed: 0, written: 0, skipped: 0, failed: 0 });

    const errors = Array.from({ length: MAX_RUN_ERRORS + 5 }, (_, i) => rowError(i));
    expect(await store.renewRun('run-001', iso(T0 + 120_000))).toBe(true);
    expect(await store.finishRun('run-001', { status: 'partial', counts: COUNTS, errors, endedAt: iso(T0 + 5_000) })).toBe(true);
    const finished = await store.getRun('run-001');
    expect(finished).toMatchObject({ kind: 'push', trigger: 'api', status: 'partial', endedAt: iso(T0 + 5_000), leasedUntil: null });
    expect(finished?.counts).toEqual(COUNTS);
    expect(finished?.errors).toHaveLength(MAX_RUN_ERRORS);
    expect(finished?.errors[0]).toEqual(rowError(0));
    expect(finished?.errorCount).toBe(MAX_RUN_ERRORS + 5);

    expect(await store.finishRun('run-001', { status: 'succeeded', counts: COUNTS, errors: [] })).toBe(false);
    expect(await store.renewRun('run-001', iso(T0 + 200_000))).toBe(false);
    expect((await store.getRun('run-001'))?.status).toBe('partial');
    expect(await store.getRun('run-999')).toBeNull();
  });

  it.each(['erase', 'push'] as const)(
    "%s run: drops the row errors of profiles erased while it ran (the count stays); a merged profile's are kept",
    async (kind) => {
      const store = current.store();
      const kept = await profileOf(store, 'kept@example.com');
      const a = await profileOf(store, 'a@example.com');
      const b = await profileOf(store, 'b@example.com');
      // One source record names both: the two profiles merge, one id lives on as an alias.
      await profileOf(store, 'a@example.com', 'b@example.com');
      const gone = await profileOf(store, 'gone@example.com');
      await store.startRun(run(1, { kind }));
      await store.deleteProfileData(gone);
      const errors = [rowError(1, kept), rowError(2, a), rowError(3, b), rowError(4, gone), rowError(5, null)];
      expect(await store.finishRun('run-001', { status: 'partial', counts: COUNTS, errors })).toBe(true);
      const finished = await store.getRun('run-001');
      expect(finished?.errors.map((e) => e.ref)).toEqual(['rec-1', 'rec-2', 'rec-3', 'rec-5']);
      expect(finished?.errorCount).toBe(5);
    },
  );

  it.runIf(dialect === 'postgres')(
    "an erasure while an erase run records its row errors waits for it, then removes the erased profile's",
    async () => {
      const store = current.store();
      const result = await store.applyPatch(patch({ identities: [{ kind: 'email', value: 'erased@example.com' }] }));
      if (!('profileId' in result)) throw new Error(result.status);
      await store.startRun(run(1, { kind: 'erase' }));
      // The run's update waits 300 ms inside its transaction, after it looked the profile up.
      await slowDown(current.db().url, 'before update on sync_runs', 0.3);
      const finishing = store.finishRun('run-001', { status: 'partial', counts: COUNTS, errors: [rowError(1, result.profileId)] });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await store.deleteProfileData(result.profileId);
      expect(await finishing).toBe(true);
      const finished = await store.getRun('run-001');
      expect(finished?.errors).toEqual([]);
      expect(finished?.errorCount).toBe(1);
    },
  );

  it.runIf(dialect === 'postgres')(
    "a run finishing while a profile it names merges into another keeps that profile's row errors (merged is not erased)",
    async () => {
      const store = current.store();
      const first = await profileOf(store, 'first@example.com');
      const second = await profileOf(store, 'second@example.com');
      await store.startRun(run(1, { kind: 'push' }));
      // The merge deletes the absorbed profile's row, then waits 400 ms before it records the alias.
      await slowDown(current.db().url, 'before insert on profile_aliases', 0.4);
      const merging = profileOf(store, 'first@example.com', 'second@example.com');
      await new Promise((resolve) => setTimeout(resolve, 150));
      const errors = [rowError(1, first), rowError(2, second)];
      expect(await store.finishRun('run-001', { status: 'partial', counts: COUNTS, errors })).toBe(true);
      await merging;
      expect((await store.getRun('run-001'))?.errors.map((e) => e.ref)).toEqual(['rec-1', 'rec-2']);
    },
  );

  it('lists newest first, filtered, one page at a time', async () => {
    const store = current.store();
    for (let n = 1; n <= 7; n++) {
      await store.startRun(run(n, { connector: n % 2 === 0 ? 'salesforce' : 'hubspot', kind: n === 3 ? 'backfill' : 'pull' }));
    }
    // Two runs started in the same millisecond are ordered by id.
    await store.startRun(run(8, { startedAt: iso(T0 + 7_000) }));
    await store.finishRun('run-005', { status: 'failed', counts: COUNTS, errors: [], failure: { code: 'http_500', message: 'down' } });

    const ids = (page: { runs: { id: string }[] }): string[] => page.runs.map((r) => r.id);
    const first = await store.listRuns({ limit: 3 });
    expect(ids(first)).toEqual(['run-008', 'run-007', 'run-006']);
    const second = await store.listRuns({ limit: 3, cursor: first.next ?? undefined });
    expect(ids(second)).toEqual(['run-005', 'run-004', 'run-003']);
    const third = await store.listRuns({ limit: 3, cursor: second.next ?? undefined });
    expect(ids(third)).toEqual(['run-002', 'run-001']);
    expect(third.next).toBeNull();

    expect(ids(await store.listRuns({ connector: 'salesforce' }))).toEqual(['run-006', 'run-004', 'run-002']);
    expect(ids(await store.listRuns({ connector: 'hubspot', kind: 'backfill' }))).toEqual(['run-003']);
    const failed = await store.listRuns({ status: 'failed' });
    expect(failed.runs).toMatchObject([{ id: 'run-005', failure: { code: 'http_500', message: 'down' } }]);
    await expect(store.listRuns({ cursor: 'not-a-cursor' })).rejects.toThrow(StoreError);
  });

  it('sweeps runs whose lease passed into failed, and purges finished runs past the retention', async () => {
    const store = current.store();
    await store.startRun(run(1, { leasedUntil: iso(T0 + 10_000) }));
    await store.startRun(run(2, { leasedUntil: iso(T0 + 90_000) }));
    expect(await store.failAbandonedRuns(iso(T0 + 30_000))).toBe(1);
    expect(await store.getRun('run-001')).toMatchObject({
      status: 'failed',
      endedAt: iso(T0 + 10_000),
      failure: { code: 'run_abandoned' },
      leasedUntil: null,
    });
    expect((await store.getRun('run-002'))?.status).toBe('running');
    // The process that held it comes back late: the sweep's verdict stands.
    expect(await store.finishRun('run-001', { status: 'succeeded', counts: COUNTS, errors: [] })).toBe(false);

    await store.finishRun('run-002', { status: 'succeeded', counts: COUNTS, errors: [], endedAt: iso(T0 + 50_000) });
    await store.startRun(run(3));
    expect(await store.purgeRuns(iso(T0 + 40_000))).toBe(1);
    expect(await store.getRun('run-001')).toBeNull();
    expect((await store.getRun('run-002'))?.status).toBe('succeeded');
    // A running run is never purged, however old.
    expect(await store.purgeRuns(iso(T0 + 10_000_000))).toBe(1);
    expect((await store.getRun('run-003'))?.status).toBe('running');
  });
});

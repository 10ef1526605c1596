/**
 * A full pull (`pullNow(id, { full: true })`) that stops part-way resumes from the cursor its
 * own pages saved: a 429 mid-way (the queue parked, the job re-queued without spending an
 * attempt) does not start it again from the first page, and a failure before its first page
 * still reads everything from the start rather than from the old incremental cursor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { startHub, waitFor } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

const RECORDS = 6;
const PAGE = 2;

function system(hub: Hub, id: string): MemorySystem {
  const s = hub.systems[id];
  if (!s) throw new Error(`no system ${id}`);
  return s;
}

/** The `since` of every page request b receives from now on; `before(n)` runs before the n-th (0-based). */
function pageRequests(b: MemorySystem, before: (n: number) => void = () => undefined): number[] {
  const since: number[] = [];
  const changes = b.changes.bind(b);
  b.changes = async (query) => {
    before(since.length);
    since.push(query.since);
    return changes(query);
  };
  return since;
}

/** A hub whose system b holds RECORDS people, read once by an incremental pull (its cursor at the end). */
async function seeded(): Promise<{ hub: Hub; b: MemorySystem }> {
  const hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'a' }, { id: 'b', webhooks: false, config: { pageSize: PAGE } }] });
  const b = system(hub, 'b');
  for (let i = 0; i < RECORDS; i++) b.change({ email: `p${i}@example.com`, first_name: `P${i}` });
  await completed(hub, await hub.engine.pullNow('b'));
  await hub.settle();
  return { hub, b };
}

async function completed(hub: Hub, jobId: string): Promise<{ pages: number; records: number }> {
  let result: { pages: number; records: number } | null = null;
  await waitFor(
    async () => {
      const view = await hub.engine.pullProgress('b', jobId);
      if (view?.state === 'failed') throw new Error(`pull failed: ${view.error}`);
      result = view?.state === 'completed' ? view.result : null;
      return result !== null;
    },
    30_000,
    'the pull',
  );
  if (result === null) throw new Error('no result');
  return result;
}

describe('full pull resume', () => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a 429 mid-way resumes from the last saved page instead of reading from page 1 again', async () => {
    const started = await seeded();
    hub = started.hub;
    const { b } = started;
    const callsBefore = b.getStats().calls.changes;
    // The third page request is refused with 429 (Retry-After 1 s).
    const since = pageRequests(b, (n) => {
      if (n === 2) b.rateLimitNextCall(1);
    });
    const result = await completed(hub, await hub.engine.pullNow('b', { full: true }));

    // Pages 1 and 2, the refused request for page 3, then page 3 again: never page 1 twice.
    expect(since.filter((s) => s === 0)).toHaveLength(1);
    expect(since).toHaveLength(RECORDS / PAGE + 1);
    expect(since[3]).toBe(since[2]);
    expect(b.getStats().calls.changes - callsBefore).toBe(RECORDS / PAGE + 1);
    expect(b.getStats().rateLimited).toBe(1);
    expect(result.pages).toBe(1);
  }, 60_000);

  it('a failure before the first page still reads everything from the start on the retry', async () => {
    const started = await seeded();
    hub = started.hub;
    const { b } = started;
    const since = pageRequests(b);
    b.failNextCalls('server_error');
    const result = await completed(hub, await hub.engine.pullNow('b', { full: true }));

    // The failed request, then every page from the start: not the old incremental cursor.
    expect(since.slice(0, 2)).toEqual([0, 0]);
    expect(since).toHaveLength(RECORDS / PAGE + 1);
    expect(result.records).toBe(RECORDS);
  }, 60_000);
});

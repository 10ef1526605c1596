/**
 * How changes come in besides webhooks with payloads: scheduled incremental pulls (cursor
 * saved per page, resumed after a failure) and webhooks that only name the changed records.
 * Also the metrics the engine keeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KnownRecord, WebhookEvent } from '../../../src/connector/define.js';
import { memoryConnector } from '../../../connectors/memory/index.js';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub, waitFor } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

function system(hub: Hub, id: string): MemorySystem {
  const s = hub.systems[id];
  if (!s) throw new Error(`no system ${id}`);
  return s;
}

/** The memory connector, except that its webhooks only say which records changed. */
const idsOnlyConnector: typeof memoryConnector = {
  ...memoryConnector,
  type: 'memory-ids-only',
  async create(ctx) {
    const inner = await memoryConnector.create(ctx);
    const parse = inner.parse?.bind(inner);
    return {
      ...inner,
      async parse(raw) {
        const events = parse ? await parse(raw) : [];
        return events.map((e): WebhookEvent =>
          e.kind === 'records'
            ? { kind: 'changed', eventId: e.eventId, externalIds: e.records.map((r) => r.externalId), at: raw.receivedAt }
            : e,
        );
      },
    };
  },
};

describe.each(TEST_DIALECTS)('sources (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('scheduled pulls bring changes in without webhooks, page by page, saving the cursor', async () => {
    hub = await startHub({
      dialect,
      systems: [{ id: 'a', webhooks: false, schedule: { every: 200 }, config: { pageSize: 2 } }, { id: 'b' }],
    });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    for (let i = 0; i < 5; i++) a.change({ email: `p${i}@example.com`, first_name: `P${i}` });
    const last = a.all().at(-1)?.modstamp;
    await waitFor(() => b.size === 5, 15_000, 'pulled records to reach b');
    await waitFor(async () => JSON.stringify(await hub?.store.getCursor('a')) === JSON.stringify({ modstamp: last }), 5_000, 'cursor');
    // Five records in pages of two: at least three pages.
    expect(a.getStats().calls.changes).toBeGreaterThanOrEqual(3);

    // Later pulls start at the cursor: a new change comes in alone.
    a.change({ email: 'p0@example.com', first_name: 'P0 again' });
    await waitFor(() => b.get({ email: 'p0@example.com' })?.fields['first_name'] === 'P0 again', 10_000, 'second pull');
    expect(b.size).toBe(5);
    // Our writes to b came back by webhook and died there; a got nothing back.
    expect(a.getStats().calls.upsert).toBe(0);
  });

  it('a pull that fails half-way resumes from the last page it saved', async () => {
    hub = await startHub({
      dialect,
      systems: [{ id: 'a', webhooks: false, config: { pageSize: 2 } }, { id: 'b' }],
    });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    for (let i = 0; i < 6; i++) a.change({ email: `q${i}@example.com`, first_name: `Q${i}` });
    const asked: number[] = [];
    const original = a.changes.bind(a);
    let calls = 0;
    a.changes = async (query) => {
      asked.push(query.since);
      calls++;
      if (calls === 2) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return original(query);
    };
    await hub.engine.pullNow('a');
    await waitFor(() => b.size === 6, 15_000, 'all pulled records in b');
    const firstPageEnd = a.all()[1]?.modstamp;
    // Page one, then the failure, then the retry from the end of page one (not from zero).
    expect(asked.slice(0, 3)).toEqual([0, firstPageEnd, firstPageEnd]);
    expect(asked.filter((since) => since === 0)).toHaveLength(1);
  });

  it('a webhook that only names records: the engine reads them, then ingests', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a', definition: idsOnlyConnector }, { id: 'b' }] });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    a.change({ email: 'ids@example.com', first_name: 'Ida' });
    await hub.settle();
    expect(b.get({ email: 'ids@example.com' })?.fields['first_name']).toBe('Ida');
    expect(a.getStats().calls.read).toBe(1);
  });

  it('hands a connector the records the hub holds for it (knownRecords), a page at a time, skipping shadows without an id', async () => {
    let known: ((page: { after?: string; limit: number }) => Promise<KnownRecord[]>) | undefined;
    const capturing: typeof memoryConnector = {
      ...memoryConnector,
      type: 'memory-known',
      async create(ctx) {
        known = ctx.knownRecords?.bind(ctx);
        return memoryConnector.create(ctx);
      },
    };
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b', definition: capturing }] });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    for (let i = 0; i < 5; i++) a.change({ email: `k${i}@example.com`, first_name: `K${i}` });
    await hub.settle();
    expect(b.size).toBe(5);
    await hub.engine.instance('b');
    // A shadow without an external id (a push that never learned one) is no record to walk.
    const profiles = await hub.profiles();
    const sorted = profiles.map((p) => p.id).sort();
    // Two in a row: a whole page of them must not end the walk.
    for (const id of sorted.slice(0, 2)) await hub.store.updateShadow(id, 'b', { externalId: null, values: {} });
    const walked: KnownRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await known?.({ ...(after === undefined ? {} : { after }), limit: 2 })) ?? [];
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(2);
      walked.push(...page);
      after = page.at(-1)?.key;
    }
    expect(walked.map((k) => k.key)).toEqual(sorted.slice(2));
    const ids = new Set(b.all().map((r) => r.id));
    for (const k of walked) expect(ids.has(k.externalId)).toBe(true);
  });

  it('keeps metrics: ingested changes, pushes by outcome, API calls, queue and work depths, delivery lag', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }] });
    const a = system(hub, 'a');
    system(hub, 'b').poison('no@example.com');
    a.change({ email: 'yes@example.com', first_name: 'Y' });
    a.change({ email: 'no@example.com', first_name: 'N' });
    await hub.settle();
    const registry = hub.engine.metrics.registry;
    const text = await registry.metrics();
    expect(text).toMatch(/concord_sync_changes_ingested_total\{connector="a"\} 2/);
    expect(text).toMatch(/concord_sync_pushes_total\{connector="b",outcome="ok"\} 1/);
    expect(text).toMatch(/concord_sync_pushes_total\{connector="b",outcome="rejected"\} 1/);
    expect(text).toMatch(/concord_sync_api_calls_total\{connector="b",operation="push"\} [1-9]/);
    expect(text).toMatch(/concord_sync_profiles\{connector="b",set="dead"\} 1/);
    expect(text).toMatch(/concord_sync_queue_jobs\{queue="ingest",state="wait"\} 0/);
    expect(text).toMatch(/concord_sync_webhook_to_delivered_seconds_count\{connector="b"\} 1/);
  });
});

/**
 * A pull page read before one of the hub's writes to the same record landed, ingested after that
 * write finished: the page still holds the value our write replaced, stamped with an edit of
 * another field made before the write. That old value is no change (the record was taken before
 * our write), or it beats the newer edit our write carried. Chaos (d) lost edits this way: after
 * Redis came back, a pull of HubSpot read a contact while the re-driven push of a Salesforce edit
 * was on its way, and ingested the page after the push.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UpsertInput } from '../../../connectors/memory/index.js';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import type { EngineStatus } from '../../../src/sync/engine.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub, waitFor } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

function system(hub: Hub, id: string): MemorySystem {
  const s = hub.systems[id];
  if (!s) throw new Error(`no system ${id}`);
  return s;
}

/** Nothing left to push and no push running (the pull job itself is still active). */
function pushDone(status: EngineStatus | undefined): boolean {
  if (!status) return false;
  const pushing = status.queues.some((q) => !q.queue.includes('pull') && q.active + q.wait > 0);
  return !pushing && status.connectors.every((c) => c.dirty === 0 && c.inflight === 0 && c.retry === 0);
}

/** A promise with its resolver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe.each(TEST_DIALECTS)('pull racing a push (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a page read before our write landed does not bring back the value the write replaced', async () => {
    // The systems share the hub's clock: a small echo tolerance keeps the hub's first write (of
    // First1) from covering the rep's edit made a few hundred ms later.
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b', webhooks: false }], tuning: { echoToleranceMs: 100 } });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const email = 'race@example.com';
    const created = a.change({ email, first_name: 'First1', last_name: 'Up' });
    await hub.settle();
    expect(b.get({ email })?.fields['first_name']).toBe('First1');

    // The hub's writes to b wait (the outage); a's edit of the first name is made meanwhile.
    const writes = gate();
    const upsert = b.upsert.bind(b);
    let writing = false;
    b.upsert = async (inputs: UpsertInput[]) => {
      writing = true;
      await writes.promise;
      return upsert(inputs);
    };
    a.change({ first_name: 'Burst1' }, { id: created.id });
    await waitFor(() => writing, 10_000, 'the push of Burst1 to reach b');
    // A rep edits another field in b, later than a's edit: b's record is stamped with that time.
    b.change({ email, last_name: 'Down0' });

    // A pull reads b's record (old first name), and is held before it ingests the page.
    const ingest = gate();
    let read = false;
    const changes = b.changes.bind(b);
    b.changes = async (query) => {
      const page = await changes(query);
      if (page.records.length > 0) {
        read = true;
        await ingest.promise;
      }
      return page;
    };
    await hub.engine.pullNow('b');
    await waitFor(() => read, 10_000, 'the pull to read b');

    // Our write of Burst1 lands and the push finishes; then the page is ingested.
    writes.open();
    await waitFor(() => b.get({ email })?.fields['first_name'] === 'Burst1', 10_000, 'Burst1 in b');
    await waitFor(async () => pushDone(await hub?.engine.status()), 10_000, 'the push to finish');
    ingest.open();
    await hub.settle();

    const [profile] = await hub.profiles();
    expect(profile?.attributes['firstName']?.value).toBe('Burst1');
    expect(profile?.attributes['lastName']?.value).toBe('Down0');
    expect(b.get({ email })?.fields['first_name']).toBe('Burst1');
    expect(a.get({ email })?.fields['first_name']).toBe('Burst1');
    expect(a.get({ email })?.fields['last_name']).toBe('Down0');
  });
});

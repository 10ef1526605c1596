/**
 * A push that runs longer than its in-flight lease (a slow system, a loaded database) keeps its
 * profiles: no second push of the same profile to the same system may start beside it. Before,
 * the lease was never renewed: once it expired, the next take put the profile back to dirty and
 * a second push carried the newer value, then the first, slower write landed over it and its
 * shadow update came last. The system kept the older value and nothing was dirty any more: the
 * convergence test lost the latest change in one system this way under load (PostgreSQL).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpsertInput } from '../../../connectors/memory/index.js';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub, waitFor } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

function system(hub: Hub, id: string): MemorySystem {
  const s = hub.systems[id];
  if (!s) throw new Error(`no system ${id}`);
  return s;
}

describe.each(TEST_DIALECTS)('a push outliving its lease (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('keeps its profiles: a newer value is not overtaken by the older, slower write', async () => {
    const leaseMs = 300;
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }], tuning: { inflightLeaseMs: leaseMs } });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const email = 'lease@example.com';
    const created = a.change({ email, first_name: 'Old0' });
    await hub.settle();
    expect(b.get({ email })?.fields['first_name']).toBe('Old0');

    // The next write to b is slow: it is held well beyond the lease.
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const upsert = b.upsert.bind(b);
    let calls = 0;
    b.upsert = async (inputs: UpsertInput[]) => {
      calls++;
      if (calls === 1) await held;
      return upsert(inputs);
    };
    a.change({ first_name: 'Older1' }, { id: created.id });
    await waitFor(() => calls === 1, 10_000, 'the push of Older1 to reach b');
    a.change({ first_name: 'Newer2' }, { id: created.id });
    // Several leases and relay sweeps pass while the first write is held.
    await sleep(leaseMs * 6);
    release();
    await hub.settle();

    expect(a.get({ email })?.fields['first_name']).toBe('Newer2');
    expect(b.get({ email })?.fields['first_name']).toBe('Newer2');
    const [profile] = await hub.profiles();
    expect(profile?.attributes['firstName']?.value).toBe('Newer2');
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

describe.each(TEST_DIALECTS)('no ping-pong (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a change made in A reaches B and C with one push each, and their echoes cause nothing', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
    const { a, b, c } = hub.systems as Record<'a' | 'b' | 'c', NonNullable<Hub['systems'][string]>>;

    a.change({ email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', email_opt_out: false, newsletter: true });
    await hub.settle();

    const expected = { email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', email_opt_out: false, newsletter: true };
    expect(b.get({ email: 'ada@example.com' })?.fields).toEqual(expected);
    expect(c.get({ email: 'ada@example.com' })?.fields).toEqual(expected);
    expect(a.getStats().calls.upsert).toBe(0);
    expect(b.getStats().calls.upsert).toBe(1);
    expect(c.getStats().calls.upsert).toBe(1);
    // B and C sent webhooks for our own writes; they died at the shadow.
    expect(b.getStats().webhooksSent).toBe(1);
    expect(c.getStats().webhooksSent).toBe(1);
    // ...before touching the store: the profile was written once (by A's change).
    const [created] = await hub.profiles();
    expect(created?.version).toBe(1);
    expect(created?.attributes['firstName']).toMatchObject({ value: 'Ada', source: 'a' });

    // A second change in A: again exactly one more push to each of B and C, none to A.
    a.change({ email: 'ada@example.com', first_name: 'Augusta' });
    await hub.settle();
    expect(b.get({ email: 'ada@example.com' })?.fields['first_name']).toBe('Augusta');
    expect(c.get({ email: 'ada@example.com' })?.fields['first_name']).toBe('Augusta');
    expect([a, b, c].map((s) => s.getStats().calls.upsert)).toEqual([0, 2, 2]);
    expect([a, b, c].map((s) => s.getStats().recordsUpserted)).toEqual([0, 2, 2]);

    // Quiet afterwards: nothing left bouncing around.
    await sleep(300);
    expect([a, b, c].map((s) => s.getStats().calls.upsert)).toEqual([0, 2, 2]);
    expect(hub.refused).toEqual([]);
    const profiles = await hub.profiles();
    expect(profiles).toHaveLength(1);
    expect(profiles[0]?.attributes['firstName']).toMatchObject({ value: 'Augusta', source: 'a' });
    expect(profiles[0]?.version).toBe(2);
  });

  it('the second push carries only the field that changed', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }] });
    const { a, b } = hub.systems as Record<'a' | 'b', NonNullable<Hub['systems'][string]>>;
    a.change({ email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper' });
    await hub.settle();
    const upserts: unknown[] = [];
    const original = b.upsert.bind(b);
    b.upsert = async (inputs) => {
      upserts.push(...inputs);
      return original(inputs);
    };
    a.change({ email: 'grace@example.com', last_name: 'Murray Hopper' });
    await hub.settle();
    expect(upserts).toEqual([{ id: b.get({ email: 'grace@example.com' })?.id, fields: { last_name: 'Murray Hopper' } }]);
  });
});

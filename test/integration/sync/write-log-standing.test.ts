/**
 * Ours standing, only while it stands. A value equal to what the hub last wrote to a field, in
 * a record the system stamped after that write ended, is the hub's value still standing (a rep
 * saved another field of the record) — but only while the hub has not seen the system hold
 * another value since. A rep moving the field away and later back to the hub's value, within the
 * write log's retention, made a change the hub dropped as its own: the profile and every other
 * system kept the value in between. The memory systems stamp whole records (like Salesforce),
 * never a field on its own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

/** Past the echo tolerance of the hub's last write, so the next edit cannot be taken for it. */
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 300));

describe.each(TEST_DIALECTS)('the value the hub last wrote, set again by a rep (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('is news once the system was seen holding another value since the write', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a' }, { id: 'b' }], tuning: { echoToleranceMs: 100 } });
    const { a, b } = hub.systems;
    if (!a || !b) throw new Error('no systems a and b');
    const email = 'revert@example.com';
    a.change({ email, first_name: 'First1', last_name: 'Up' });
    await hub.settle();
    // The hub wrote First1 to b (its write log keeps that write for its retention, 10 minutes).
    expect(b.get({ email })?.fields['first_name']).toBe('First1');

    await pause();
    b.change({ email, first_name: 'Other' });
    await hub.settle();
    expect(a.get({ email })?.fields['first_name']).toBe('Other');

    // The rep sets the hub's last value again: a newer edit, not the hub's write still standing.
    await pause();
    b.change({ email, first_name: 'First1' });
    await hub.settle();
    const [profile] = await hub.profiles();
    expect(profile?.attributes['firstName']?.value).toBe('First1');
    expect(a.get({ email })?.fields['first_name']).toBe('First1');
    expect(b.get({ email })?.fields['first_name']).toBe('First1');
  });
});

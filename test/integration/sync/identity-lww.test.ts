/**
 * Identities converge like attributes: the newest e-mail and the newest phone of a person
 * win in every system, whichever system made the change and whatever order the values sort
 * in. Older identities stay on the profile as lookup keys, but are never pushed again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { MemorySystem } from '../../../connectors/memory/index.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub } from '../../../harness/sync-hub.js';
import type { Hub, SystemSpec } from '../../../harness/sync-hub.js';

const OLD_PHONE = '+14155550100';
// Sorts after the old number: a push that takes the first phone of the profile sends the old one.
const NEW_PHONE = '+14155550199';

/** Two systems that both carry e-mail and phone; `a` has the higher source priority. */
const SYSTEMS: SystemSpec[] = ['a', 'b'].map((id) => ({ id, mappings: [{ identity: 'phone', external: 'phone' }] }));

function system(hub: Hub, id: string): MemorySystem {
  const found = hub.systems[id];
  if (!found) throw new Error(`no system ${id}`);
  return found;
}

describe.each(TEST_DIALECTS)('identities are last-writer-wins (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a phone set in a, then edited later in b (the lower priority), ends as the edit in every system', async () => {
    hub = await startHub({ dialect, systems: SYSTEMS });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    a.change({ email: 'ada@example.com', phone: OLD_PHONE, first_name: 'Ada' });
    await hub.settle();
    const inB = b.get({ email: 'ada@example.com' });
    expect(inB?.fields['phone']).toBe(OLD_PHONE);

    b.change({ phone: NEW_PHONE }, { id: inB?.id ?? '' });
    await hub.settle();
    expect(a.get({ email: 'ada@example.com' })?.fields['phone']).toBe(NEW_PHONE);
    expect(b.get({ email: 'ada@example.com' })?.fields['phone']).toBe(NEW_PHONE);

    const [profile, ...others] = await hub.profiles();
    expect(others).toEqual([]);
    const phones = profile?.identities.filter((i) => i.kind === 'phone');
    // The old number stays as a lookup key; each identity says who set it and when.
    expect(phones?.map((i) => [i.value, i.source])).toEqual([
      [OLD_PHONE, 'a'],
      [NEW_PHONE, 'b'],
    ]);
    expect(await hub.store.findProfile({ kind: 'phone', value: OLD_PHONE })).toMatchObject({ id: profile?.id });
  });

  it('an e-mail changed in b ends as the new address in every system, and the old one still finds the person', async () => {
    hub = await startHub({ dialect, systems: SYSTEMS });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const created = a.change({ email: 'ada@example.com', first_name: 'Ada' });
    await hub.settle();
    const inB = b.get({ email: 'ada@example.com' });
    expect(inB).toBeDefined();

    b.change({ email: 'zed@example.com' }, { id: inB?.id ?? '' });
    await hub.settle();
    expect(a.get(created.id)?.fields['email']).toBe('zed@example.com');
    expect(b.get(inB?.id ?? '')?.fields['email']).toBe('zed@example.com');
    expect(a.size + b.size).toBe(2);

    const [profile, ...others] = await hub.profiles();
    expect(others).toEqual([]);
    expect(await hub.store.findProfile({ kind: 'email', value: 'ada@example.com' })).toMatchObject({ id: profile?.id });
  });

  it('a record that still holds the old phone when it changes something else does not bring the old phone back', async () => {
    hub = await startHub({ dialect, systems: SYSTEMS });
    const a = system(hub, 'a');
    const b = system(hub, 'b');
    const inA = a.change({ email: 'ada@example.com', phone: OLD_PHONE, first_name: 'Ada' });
    await hub.settle();
    const inB = b.get({ email: 'ada@example.com' });

    // b's rep edits the phone; a moment later, before the hub has told a, a's user edits the
    // first name: a's record (newer than b's edit) still carries the old phone, unchanged.
    b.change({ phone: NEW_PHONE }, { id: inB?.id ?? '' });
    await sleep(5);
    a.change({ first_name: 'Adele' }, { id: inA.id });
    await hub.settle();
    for (const s of [a, b]) {
      expect(s.get({ email: 'ada@example.com' })?.fields).toMatchObject({ phone: NEW_PHONE, first_name: 'Adele' });
    }
  });
});

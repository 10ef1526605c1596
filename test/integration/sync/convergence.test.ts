/**
 * Convergence: three systems, bidirectional on the same fields. Random change streams are
 * made in every system, in random order, some twice, and some webhooks are delivered twice.
 * At the end every system and the store hold exactly the merge of all changes: per person and
 * field, the value of the change with the latest time (times are distinct). A change counts
 * when it changed the system: one that sets the value the system already holds (because the
 * hub wrote it there first) is no change, and no system reports it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Json } from '../../../src/profile/schema.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';
import { pick, seededRandom, shuffle } from './random.js';

const SYSTEMS = ['a', 'b', 'c'] as const;
const FIELDS = ['first_name', 'last_name', 'email_opt_out', 'newsletter'] as const;
type Field = (typeof FIELDS)[number];

interface Change {
  system: (typeof SYSTEMS)[number];
  email: string;
  field: Field;
  value: Json;
  at: number;
}

function randomChanges(seed: number, count: number, people: number): Change[] {
  const random = seededRandom(seed);
  const base = Date.now() - 3_600_000;
  const ats = shuffle(
    random,
    Array.from({ length: count }, (_, i) => base + i * 1000 + Math.floor(random() * 900)),
  );
  return ats.map((at) => {
    const field = pick(random, FIELDS);
    const value: Json =
      field === 'first_name' || field === 'last_name'
        ? pick(random, ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald'])
        : random() < 0.5;
    return { system: pick(random, SYSTEMS), email: `p${Math.floor(random() * people)}@example.com`, field, value, at };
  });
}

/** The merge of all changes: latest time wins per person and field (times are distinct). */
function expectedState(changes: readonly Change[]): Map<string, Record<string, Json>> {
  const latest = new Map<string, Change>();
  for (const c of changes) {
    const key = `${c.email}|${c.field}`;
    const seen = latest.get(key);
    if (!seen || seen.at < c.at) latest.set(key, c);
  }
  const out = new Map<string, Record<string, Json>>();
  for (const c of latest.values()) {
    const fields = out.get(c.email) ?? { email: c.email };
    fields[c.field] = c.value;
    out.set(c.email, fields);
  }
  return out;
}

/**
 * The seeds: 11, 29 and 7 by default; `CONCORD_CONVERGENCE_SEEDS=50` runs seeds 1..50 and
 * `CONCORD_CONVERGENCE_SEEDS=7,29` exactly those (e.g. to replay a failure under load).
 */
export function convergenceSeeds(text = process.env.CONCORD_CONVERGENCE_SEEDS): number[] {
  if (!text) return [11, 29, 7];
  if (/^\d+$/.test(text.trim())) return Array.from({ length: Number(text) }, (_, i) => i + 1);
  return text
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n));
}

const SEEDS = convergenceSeeds();
const DIALECTS = process.env.CONCORD_CONVERGENCE_DIALECTS
  ? TEST_DIALECTS.filter((d) => process.env.CONCORD_CONVERGENCE_DIALECTS?.split(',').includes(d))
  : TEST_DIALECTS;

describe.each(DIALECTS)('convergence (%s)', (dialect) => {
  let hub: Hub | undefined;
  const ran: number[] = [];
  const failed: number[] = [];
  afterEach(async (context) => {
    const seed = Number(/seed (\d+)/.exec(context.task.name)?.[1]);
    ran.push(seed);
    if (context.task.result?.state === 'fail') failed.push(seed);
    await hub?.close();
    hub = undefined;
  });
  afterAll(() => {
    // The report of a long run (`CONCORD_CONVERGENCE_SEEDS=50`): how many seeds ran and which failed.
    process.stdout.write(
      `convergence: dialect=${dialect} seeds=${ran.length} failed=${failed.length}${failed.length ? ` (${failed.join(',')})` : ''}\n`,
    );
  });

  it.each(SEEDS)('three bidirectional systems converge on the merge of random changes (seed %i)', async (seed) => {
    hub = await startHub({ dialect, systems: SYSTEMS.map((id) => ({ id })) });
    const random = seededRandom(seed * 7919);
    const changes = randomChanges(seed, 80, 6);
    // Some changes are made twice (a person saving the same form again).
    const stream = shuffle(random, [...changes, ...changes.filter(() => random() < 0.2)]);
    // Only effective changes count: setting a field to the value it already holds changes
    // nothing in the system, which then reports nothing (like any real system).
    const effective: Change[] = [];
    for (const [i, c] of stream.entries()) {
      // Changes come in bursts of ten. The hub orders a system's webhooks against its own
      // writes by time, to the millisecond; in this single-threaded simulation a burst could
      // otherwise start in the very millisecond one of our writes ended, which leaves the
      // order of the two undecidable. Starting each burst on a fresh millisecond keeps it
      // decidable (a real change needs longer than that after our write to reach us).
      if (i % 10 === 0) for (const start = Date.now(); Date.now() === start;);
      const system = hub.systems[c.system];
      if (!system) throw new Error('no system');
      const before = system.get({ email: c.email })?.fields[c.field];
      if (JSON.stringify(before) !== JSON.stringify(c.value)) effective.push(c);
      system.change({ email: c.email, [c.field]: c.value }, { at: c.at });
      // Webhooks are delivered at least once: some twice.
      if (random() < 0.15) {
        const ids = system.webhookEventIds();
        const last = ids[ids.length - 1];
        if (last) void system.redeliver(last);
      }
      if (i % 10 === 9) await sleep(Math.floor(random() * 30));
    }
    await hub.settle(40_000);

    const expected = expectedState(effective);
    // Every mismatch, with the history of that person's field, so a failure explains itself.
    const mismatches: string[] = [];
    const history = (email: string, field: string): string =>
      effective
        .filter((c) => c.email === email && c.field === field)
        .sort((x, y) => x.at - y.at)
        .map((c) => `${c.system}:${JSON.stringify(c.value)}@${c.at}`)
        .join(' ');
    for (const id of SYSTEMS) {
      const system = hub.systems[id];
      if (!system) throw new Error('no system');
      expect(system.size, `records in ${id}`).toBe(expected.size);
      for (const [email, want] of expected) {
        const got = system.get({ email })?.fields ?? {};
        for (const field of new Set([...Object.keys(want), ...Object.keys(got)])) {
          if (JSON.stringify(got[field]) !== JSON.stringify(want[field])) {
            mismatches.push(
              `${id} ${email} ${field}: got ${JSON.stringify(got[field])}, want ${JSON.stringify(want[field])}; ${history(email, field)}`,
            );
          }
        }
      }
    }
    expect(mismatches, `seed ${seed}`).toEqual([]);
    const profiles = await hub.profiles();
    expect(profiles).toHaveLength(expected.size);
    for (const profile of profiles) {
      const email = profile.identities.find((i) => i.kind === 'email')?.value ?? '';
      const want = expected.get(email);
      expect(want, `profile for ${email}`).toBeDefined();
      const got: Record<string, Json> = { email };
      if (profile.attributes['firstName']) got['first_name'] = profile.attributes['firstName'].value;
      if (profile.attributes['lastName']) got['last_name'] = profile.attributes['lastName'].value;
      const consent = profile.consents['marketing']?.['email'];
      if (consent) got['email_opt_out'] = consent.value === 'denied';
      if (profile.subscriptions['newsletter']) got['newsletter'] = profile.subscriptions['newsletter'].value;
      expect(got, `store, seed ${seed}`).toEqual(want);
    }
    expect(hub.refused).toEqual([]);
  });
});

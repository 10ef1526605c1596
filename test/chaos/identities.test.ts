/**
 * Chaos scenario (f): identity edits in two systems. People synced everywhere with a phone
 * number get their identities edited in HubSpot and Salesforce, often the same person in both
 * within milliseconds (before the hub has carried the first edit anywhere):
 *   i % 4 = 0  phone edited in HubSpot, then in Salesforce       -> Salesforce's number
 *   i % 4 = 1  phone edited in Salesforce, then in HubSpot       -> HubSpot's number
 *   i % 4 = 2  e-mail changed in HubSpot, then the phone in Salesforce -> both
 *   i % 4 = 3  e-mail changed in Salesforce                      -> the new address
 * The new numbers sort before the old for half of the people and after for the other half (a
 * push that takes the first phone of a profile instead of the newest gets half of them wrong).
 * When the hub is quiet, every system holds the newest e-mail and phone per person (the hub's
 * primary identities), on the same records (one per person per system, one profile), and the
 * old address still finds the person in the hub.
 *
 * Where it runs (the suite must stay under ~6 minutes on 2 cores; about 8 s a run):
 *   all                                 postgres
 *   api+worker                          postgres
 *   api,push+ingest,relay,pull,privacy  sqlite
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestDialect } from '../helpers/db.js';
import { applyEdits, changeEmail, createInHubSpot, edit, emailOf } from './harness/people.js';
import { observableEdits } from './harness/observable.js';
import type { Edit } from './harness/people.js';
import { compare, explain, observe, reportLine } from './harness/state.js';
import type { TopologyName } from './harness/topologies.js';
import { ChaosWorld } from './harness/world.js';

const RUNS: { topology: TopologyName; dialect: TestDialect }[] = [
  { topology: 'all', dialect: 'postgres' },
  { topology: 'api+worker', dialect: 'postgres' },
  { topology: 'api,push+ingest,relay,pull,privacy', dialect: 'sqlite' },
];
const PEOPLE = 24;

/** A US number in E.164 whose 4th-from-last digit is `lead` (so numbers of one person sort by `lead`). */
const phone = (lead: number, i: number): string => `+1415555${lead}${String(100 + i)}`;

describe.each(RUNS)('chaos (f): identity edits in two systems ($topology, $dialect)', ({ topology, dialect }) => {
  let world: ChaosWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('the newest e-mail and phone win in every system, on the same records', async () => {
    world = await ChaosWorld.start({ topology, dialect });
    const w = world;
    const start = createInHubSpot(w, PEOPLE, 'f', { consent: 'none', phone: (i) => phone(5, i) });
    await w.settle();
    const before = compare(w, start, await observe(w), 0);
    expect(before.mismatches, 'the people before the edits').toEqual([]);
    const ids = new Map(
      [...start.keys()].map((email) => [
        email,
        { hubspot: w.hubspot.sideDoor.findByEmail(email)?.id, salesforce: w.salesforce.sideDoor.findByEmail(email)?.['Id'] },
      ]),
    );
    const { store } = await w.observe();
    const profileIds = new Map(
      await Promise.all(
        [...start.keys()].map(async (email) => [email, (await store.findProfile({ kind: 'email', value: email }))?.id] as const),
      ),
    );

    const since = Date.now();
    const edits: Edit[] = [];
    const renamed = new Map<string, string>();
    for (let i = 0; i < PEOPLE; i++) {
      const email = emailOf(i, 'f');
      // The second number sorts after the first and the old one for even i, before both for odd i.
      const [first, second] = i % 2 === 0 ? [phone(6, i), phone(8, i)] : [phone(3, i), phone(1, i)];
      const kind = Math.floor(i / 2) % 4;
      if (kind === 0) {
        edits.push(await edit(w, 'hubspot', email, 'phone', first));
        edits.push(await edit(w, 'salesforce', email, 'phone', second));
      } else if (kind === 1) {
        edits.push(await edit(w, 'salesforce', email, 'phone', first));
        edits.push(await edit(w, 'hubspot', email, 'phone', second));
      } else if (kind === 2) {
        const to = emailOf(i, 'f-new');
        edits.push(changeEmail(w, 'hubspot', email, to));
        renamed.set(email, to);
        edits.push(await edit(w, 'salesforce', email, 'phone', second));
      } else {
        const to = emailOf(i, 'f-new');
        edits.push(changeEmail(w, 'salesforce', email, to));
        renamed.set(email, to);
      }
    }
    await w.settle();

    const expected = applyEdits(start, edits);
    const result = compare(w, expected, await observe(w), since, applyEdits(start, observableEdits(w, edits)));
    // Same records and profile as before, and the old address still finds the person.
    const moved: string[] = [];
    for (const [email, was] of ids) {
      const now = renamed.get(email) ?? email;
      const found = { hubspot: w.hubspot.sideDoor.findByEmail(now)?.id, salesforce: w.salesforce.sideDoor.findByEmail(now)?.['Id'] };
      if (JSON.stringify(found) !== JSON.stringify(was)) moved.push(`${email}: records ${JSON.stringify(was)} -> ${JSON.stringify(found)}`);
      const [byOld, byNew] = await Promise.all([
        store.findProfile({ kind: 'email', value: email }),
        store.findProfile({ kind: 'email', value: now }),
      ]);
      if (byOld?.id !== profileIds.get(email) || byNew?.id !== profileIds.get(email))
        moved.push(`${email}: profile ${profileIds.get(email)} -> by old ${byOld?.id}, by new ${byNew?.id}`);
    }
    console.log(
      reportLine('f', w, result.counts, { people: PEOPLE, edits: edits.length, emailChanges: renamed.size, movedRecords: moved.length }),
    );
    expect(explain(result.mismatches, edits), 'every system against the newest identities').toEqual([]);
    expect(moved, 'records and profiles kept').toEqual([]);
    expect(result.counts).toEqual({ lost: 0, duplicated: 0, disagreements: 0, wrongWinners: 0, echoWrites: 0 });
  });
});

/**
 * Chaos scenario (b): 20 armed races. People synced everywhere (subscribed to marketing
 * e-mail) get, each, a rep's edit in Salesforce armed on their Contact (the emulator's
 * `armRace`): it is saved a moment before the hub's next write to that Contact lands. A
 * marketer's edit in HubSpot then makes the hub write to every one of them, so every write
 * meets its race: Salesforce ends holding the rep's field and the hub's, with the integration
 * user as last modifier, and its Outbound Message carries the record that way. The rep's
 * value is a real change, not an echo: it must reach every system within one sync cycle,
 * WITHOUT a pull (the chaos config schedules none and the test asks for none), and the
 * marketer's too.
 *
 * The races (i % 4): 0 rep opts out + marketer edits lastName; 1 rep opts out + firstName;
 * 2 rep edits FirstName + marketer edits lastName; 3 rep edits LastName + marketer unsubscribes.
 *
 * Where it runs (the suite must stay under ~6 minutes on 2 cores; about 15 s a run):
 *   all                                 sqlite
 *   api+worker                          sqlite    (the api process receives the Outbound Messages and pushes nothing)
 *   api,push+ingest,relay,pull,privacy  postgres  (the report: 8/8 lost there)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestDialect } from '../helpers/db.js';
import { applyEdits, createInHubSpot, edit } from './harness/people.js';
import { observableEdits } from './harness/observable.js';
import type { Edit } from './harness/people.js';
import { nextMillisecond } from './harness/os.js';
import { compare, explain, observe, reportLine } from './harness/state.js';
import type { Field } from './harness/state.js';
import type { TopologyName } from './harness/topologies.js';
import { ChaosWorld, MARKETING_SUBSCRIPTION } from './harness/world.js';

const RUNS: { topology: TopologyName; dialect: TestDialect }[] = [
  { topology: 'all', dialect: 'sqlite' },
  { topology: 'api+worker', dialect: 'sqlite' },
  { topology: 'api,push+ingest,relay,pull,privacy', dialect: 'postgres' },
];
const RACES = 20;

interface Race {
  email: string;
  contactId: string;
  /** The rep's edit, armed in Salesforce: the hub's field and value, and Salesforce's. */
  rep: { field: Field; value: string; salesforce: Record<string, string | boolean> };
  /** The marketer's edit in HubSpot that makes the hub write to the Contact. */
  trigger: { field: Field; value: string };
}

function raceOf(i: number, email: string): Race {
  const kind = i % 4;
  const rep: Race['rep'] =
    kind <= 1
      ? { field: 'marketingEmail', value: 'denied', salesforce: { HasOptedOutOfEmail: true } }
      : kind === 2
        ? { field: 'firstName', value: `RepFirst${i}`, salesforce: { FirstName: `RepFirst${i}` } }
        : { field: 'lastName', value: `RepLast${i}`, salesforce: { LastName: `RepLast${i}` } };
  const trigger: Race['trigger'] =
    kind === 0 || kind === 2
      ? { field: 'lastName', value: `HubLast${i}` }
      : kind === 1
        ? { field: 'firstName', value: `HubFirst${i}` }
        : { field: 'marketingEmail', value: 'denied' };
  return { email, contactId: '', rep, trigger };
}

describe.each(RUNS)('chaos (b): a rep edit raced by the hub write ($topology, $dialect)', ({ topology, dialect }) => {
  let world: ChaosWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it(`${RACES} armed races: none lost, every system ends on the rep value without a pull`, async () => {
    world = await ChaosWorld.start({ topology, dialect });
    const w = world;
    // Everybody subscribed, so a rep's opt-out is a change.
    const start = createInHubSpot(w, RACES, 'b', { consent: 'none' });
    for (const [email, person] of start) {
      w.hubspot.sideDoor.subscribe(email, MARKETING_SUBSCRIPTION);
      person.marketingEmail = 'granted';
    }
    await w.settle();
    const before = compare(w, start, await observe(w), 0);
    expect(before.mismatches, 'the people before the races').toEqual([]);

    const since = Date.now();
    const races = [...start.keys()].map((email, i) => raceOf(i, email));
    for (const race of races) {
      race.contactId = String(w.salesforce.sideDoor.findByEmail(race.email)?.['Id']);
      w.salesforce.sideDoor.armRace('Contact', race.contactId, race.rep.salesforce);
    }
    const edits: Edit[] = [];
    for (const race of races) edits.push(await edit(w, 'hubspot', race.email, race.trigger.field, race.trigger.value));
    const triggeredAt = Date.now();
    await w.settle();
    const syncMs = Date.now() - triggeredAt;
    // The rep's edits were saved when the hub's writes landed, after every trigger.
    nextMillisecond();
    for (const race of races)
      edits.push({ place: 'salesforce', email: race.email, field: race.rep.field, value: race.rep.value, at: nextMillisecond() });

    // Every race ran, and left the record under the integration user's name.
    const integrationUser = w.salesforce.options.integrationUserId;
    const raced = races.filter((r) => w.salesforce.sideDoor.get('Contact', r.contactId)?.['LastModifiedById'] === integrationUser).length;

    const result = compare(w, applyEdits(start, edits), await observe(w), since, applyEdits(start, observableEdits(w, edits)));
    console.log(
      reportLine('b', w, result.counts, {
        races: RACES,
        racesRun: RACES - w.salesforce.sideDoor.armedRaces(),
        racedRecordsByIntegrationUser: raced,
        syncMs,
      }),
    );
    expect({ armed: w.salesforce.sideDoor.armedRaces(), raced }, 'every race ran').toEqual({ armed: 0, raced: RACES });
    expect(explain(result.mismatches, edits), 'every system against the rep and the marketer').toEqual([]);
    expect(result.counts).toEqual({ lost: 0, duplicated: 0, disagreements: 0, wrongWinners: 0, echoWrites: 0 });
  });
});

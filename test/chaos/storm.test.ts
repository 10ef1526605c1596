/**
 * Chaos scenario (e): a storm of conflicting edits in three places at once. People synced
 * everywhere are edited in HubSpot (a marketer), in Salesforce (a rep) and through the hub's
 * admin API (an operator), in bursts, the same person and field often in two or three places
 * within milliseconds. When the hub is quiet, every system holds, per person and field, the
 * newest edit (0 disagreements, 0 wrong winners), and the hub never wrote a value a system
 * already held (0 echo writes). A marketer's HubSpot status set to the very value the hub is
 * writing, between the hub's read of it and its write, is reported as a crossed write, apart:
 * no HubSpot call can make that write conditional. A rep's Salesforce save that the hub's update
 * of the same record restamped before Salesforce reported it is known to everyone only under the
 * hub's stamp (one stamp per record): its order against an edit made elsewhere in between is not
 * knowable, and such a cell may end on either value, the same everywhere (`maskedOrders`,
 * harness/observable.ts). When that update wrote the very field the rep saved (a name: the hub
 * had read the old value and wrote its own), the rep's value is gone unseen (`blindOverwrites`,
 * reported): Salesforce keeps no trace of it for the hub to read.
 *
 * No call of either vendor makes a write conditional (sObject Collections have none; HubSpot's
 * status writes have none), so the hub narrows the window to one call: before writing, each
 * connector reads what the system holds and does not write over a value someone chose after
 * the hub's (Salesforce: a field changed since the hub last saw it; HubSpot: a status stamped
 * after the profile's value and after what the hub last knew), and a value a webhook carries
 * with its own time is ingested with that time (per-field stamps, `ProfilePatch.slotsAt`).
 *
 * What it caught (session 15): a rep's Salesforce name edit, then the same rep's edit of another
 * field before the hub read the record back, dated the name at the second save and beat an admin
 * edit made between the two (5 runs of 12): the connector now reads the field history with the
 * record (`fieldHistory`, on in the chaos world). A failure prints each wrong cell's story
 * (`harness/trace.ts`).
 *
 * What it caught (session 6): a rep's Salesforce name edit overwritten by our push of an older
 * value of the same field; a HubSpot status chosen while our write of an older one was on its
 * way (changed and changed back: equal to the shadow); a status set before a later name edit
 * stamped with the contact's time and winning over a newer opt-out; a marketer's
 * unsubscription taken for our own write (equal to the stale shadow the write left, or to the
 * value our write in flight sent). Earlier: a HubSpot name edit overwritten by our push of an older value in flight (the
 * read-back showed only our value: webhook values are now ingested, `knownOnly`); a refused
 * Salesforce create taken for the echo of a rep's opt-out; a push parked by the HubSpot pacer
 * taken for a write that may have landed (echo writes, a lost denial).
 *
 * Where it runs (the suite must stay under ~6 minutes on 2 cores): each topology once, the
 * dialects alternating; scenario (c) (`worker-crash.test.ts`) takes the other pairings.
 *   all                                 postgres
 *   api+worker                          sqlite
 *   api,push+ingest,relay,pull,privacy  postgres
 */
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom, pick } from '../integration/sync/random.js';
import { applyEdits, createInHubSpot, edit, emailOf, PLACES } from './harness/people.js';
import { observableEdits } from './harness/observable.js';
import type { Edit } from './harness/people.js';
import { sleep } from './harness/os.js';
import { compare, explain, FIELDS, observe, reportLine } from './harness/state.js';
import type { TopologyName } from './harness/topologies.js';
import { traceCells } from './harness/trace.js';
import { ChaosWorld } from './harness/world.js';
import type { TestDialect } from '../helpers/db.js';

const RUNS: { topology: TopologyName; dialect: TestDialect }[] = [
  { topology: 'all', dialect: 'postgres' },
  { topology: 'api+worker', dialect: 'sqlite' },
  { topology: 'api,push+ingest,relay,pull,privacy', dialect: 'postgres' },
];
const PEOPLE = 12;
const EDITS = 90;
const BURST = 6;

describe.each(RUNS)('chaos (e): a storm of conflicting edits ($topology, $dialect)', ({ topology, dialect }) => {
  let world: ChaosWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('every system ends on the newest edit per field, with no echo writes', async () => {
    world = await ChaosWorld.start({ topology, dialect });
    const w = world;
    const start = createInHubSpot(w, PEOPLE, 's');
    await w.settle();
    const before = compare(w, start, await observe(w), 0);
    expect(before.mismatches, 'the people before the storm').toEqual([]);

    const since = Date.now();
    const random = seededRandom(topology.length * 31 + dialect.length);
    const edits: Edit[] = [];
    for (let i = 0; i < EDITS; i++) {
      // Bursts: the same few people edited in several places within milliseconds.
      const email = emailOf(Math.floor(random() * PEOPLE), 's');
      const field = pick(random, FIELDS);
      const value = field === 'marketingEmail' ? 'flip' : `${field === 'firstName' ? 'F' : 'L'}${i}`;
      edits.push(await edit(w, pick(random, PLACES), email, field, value));
      if (i % BURST === BURST - 1) await sleep(Math.floor(random() * 60));
    }
    await w.settle(90_000);

    const expected = applyEdits(start, edits);
    const result = compare(w, expected, await observe(w), since, applyEdits(start, observableEdits(w, edits)));
    console.log(
      reportLine('e', w, result.counts, {
        crossedWrites: result.crossedWrites,
        maskedOrders: result.maskedOrders,
        blindOverwrites: w.salesforce.sideDoor.blindOverwrites().filter((o) => Date.parse(o.at) >= since).length,
        edits: edits.length,
      }),
    );
    if (result.counts.echoWrites > 0)
      console.log(
        `echo writes: ${JSON.stringify({ hubspot: w.hubspot.sideDoor.idleWrites(), salesforce: w.salesforce.sideDoor.idleWrites() })}`,
      );
    if (result.mismatches.length > 0) console.log((await traceCells(w, result.mismatches, observableEdits(w, edits))).join('\n'));
    expect(explain(result.mismatches, edits), 'systems against the newest edit per field').toEqual([]);
    expect(result.counts).toEqual({ lost: 0, duplicated: 0, disagreements: 0, wrongWinners: 0, echoWrites: 0 });
  });
});

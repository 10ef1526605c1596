/**
 * Chaos scenario (c): SIGKILL the process that pushes while a push batch is in flight. A burst
 * of people is created in HubSpot; the moment Salesforce receives the hub's first write call
 * for them, the push process is killed (no clean-up: its BullMQ jobs stay active, its
 * in-flight leases held, its write half-done). While it is down, people keep editing in
 * HubSpot and Salesforce; then it starts again. When the hub is quiet, nothing is lost (every
 * system holds every person with the merge of what was done) and nothing is duplicated (one
 * record per person in each system, one profile in the hub).
 *
 * Where it runs (the suite must stay under ~6 minutes on 2 cores): each topology once, the
 * dialects alternating; scenario (e) (`storm.test.ts`) takes the other pairings.
 *   all                                 sqlite    (the only process: webhooks wait too)
 *   api+worker                          postgres  (the worker is killed)
 *   api,push+ingest,relay,pull,privacy  sqlite    (the api,push process is killed)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestDialect } from '../helpers/db.js';
import { waitFor } from '../integration/sync/harness.js';
import { applyEdits, createInHubSpot, edit, emailOf } from './harness/people.js';
import { observableEdits } from './harness/observable.js';
import type { Edit } from './harness/people.js';
import { sleep } from './harness/os.js';
import { compare, explain, observe, reportLine } from './harness/state.js';
import type { TopologyName } from './harness/topologies.js';
import { ChaosWorld } from './harness/world.js';

const RUNS: { topology: TopologyName; dialect: TestDialect }[] = [
  { topology: 'all', dialect: 'sqlite' },
  { topology: 'api+worker', dialect: 'postgres' },
  { topology: 'api,push+ingest,relay,pull,privacy', dialect: 'sqlite' },
];
const PEOPLE = 150;
const EDITS_WHILE_DOWN = 20;

describe.each(RUNS)('chaos (c): the push process killed mid-batch ($topology, $dialect)', ({ topology, dialect }) => {
  let world: ChaosWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('loses nothing and duplicates nothing', async () => {
    world = await ChaosWorld.start({ topology, dialect });
    const w = world;
    const since = Date.now();
    const start = createInHubSpot(w, PEOPLE, 'c');

    // The first write call for them reaches Salesforce: the batch is in flight. Kill.
    await waitFor(() => w.salesforceWrites() > 0, 60_000, 'the first push to Salesforce');
    const inFlightAt = w.salesforceWrites();
    await w.pusher.kill();
    const killedWith = { sfContacts: w.salesforce.sideDoor.list('Contact').length, sfWriteCalls: inFlightAt };

    // While it is down: edits in HubSpot (people that exist there) and in Salesforce (people
    // the hub had already written there, if any).
    const edits: Edit[] = [];
    for (let i = 0; i < EDITS_WHILE_DOWN; i++) {
      const email = emailOf((i * 7) % PEOPLE, 'c');
      const inSalesforce = w.salesforce.sideDoor.findByEmail(email) !== undefined;
      const place = i % 2 === 1 && inSalesforce ? 'salesforce' : 'hubspot';
      edits.push(await edit(w, place, email, i % 3 === 0 ? 'marketingEmail' : 'lastName', i % 3 === 0 ? 'flip' : `Down${i}`));
    }
    await sleep(200);
    await w.pusher.start();

    await w.settle(120_000);
    const expected = applyEdits(start, edits);
    const result = compare(w, expected, await observe(w), since, applyEdits(start, observableEdits(w, edits)));
    console.log(
      reportLine('c', w, result.counts, {
        people: PEOPLE,
        killedAtSfWriteCalls: killedWith.sfWriteCalls,
        sfContactsAtKill: killedWith.sfContacts,
      }),
    );
    expect(explain(result.mismatches, edits), 'systems against what was done').toEqual([]);
    expect({ lost: result.counts.lost, duplicated: result.counts.duplicated }).toEqual({ lost: 0, duplicated: 0 });
  });
});

/**
 * Chaos scenario (a): consent only from an affirmative act. A burst of people is created in
 * HubSpot with no marketing consent at all (no subscription status); the hub creates them in
 * Salesforce, reads them back (the creates' own Outbound Messages), and then pulls each system
 * twice. Salesforce stores `HasOptedOutOfEmail = false` by default; that default must never
 * become a grant. Afterwards every person is "not subscribed" everywhere:
 *   Salesforce  HasOptedOutOfEmail = true (the hub writes the consent state it knows on create)
 *   HubSpot     not SUBSCRIBED (and the hub never wrote a subscription status at all)
 *   hub         no granted marketing e-mail consent
 * and names, one record per person per system, as created; no echo writes (except in the crash
 * run, where writes whose answer died with the process are sent again).
 *
 * Pulls: the chaos config schedules none; the test asks for them through the hub's queues (the
 * observer's `pullNow`), so the process with the `pull` role runs them.
 *
 * The issue saw every person of a crash run subscribed; so in one run the process that pushes
 * is SIGKILLed as soon as the first write for them reaches Salesforce, and started again.
 *
 * Where it runs (the suite must stay under ~6 minutes on 2 cores; about 17 s a run):
 *   all                                 postgres
 *   api+worker                          sqlite    (the api process only receives the read-back:
 *                                                  it must know the integration user without a token)
 *   api,push+ingest,relay,pull,privacy  postgres  (read-back received where pushes are made, ingested
 *                                                  elsewhere; the api,push process killed mid-batch)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestDialect } from '../helpers/db.js';
import { waitFor } from '../integration/sync/harness.js';
import { sleep } from './harness/os.js';
import { createInHubSpot } from './harness/people.js';
import { compare, explain, mapField, observe, reportLine } from './harness/state.js';
import type { Expected } from './harness/state.js';
import type { TopologyName } from './harness/topologies.js';
import { ChaosWorld } from './harness/world.js';

const RUNS: { topology: TopologyName; dialect: TestDialect; crash: boolean }[] = [
  { topology: 'all', dialect: 'postgres', crash: false },
  { topology: 'api+worker', dialect: 'sqlite', crash: false },
  { topology: 'api,push+ingest,relay,pull,privacy', dialect: 'postgres', crash: true },
];
const PEOPLE = 60;
const STATUS_WRITE = 'POST /communication-preferences/v4/statuses/batch/write';
const NOT_SUBSCRIBED = 'not subscribed';

describe.each(RUNS)(
  'chaos (a): people created in HubSpot with no consent ($topology, $dialect, crash: $crash)',
  ({ topology, dialect, crash }) => {
    let world: ChaosWorld | undefined;
    afterEach(async () => {
      await world?.close();
      world = undefined;
    });

    it('are not subscribed in Salesforce, HubSpot and the hub after the read-back and two pulls of each system', async () => {
      world = await ChaosWorld.start({ topology, dialect });
      const w = world;
      const since = Date.now();
      const created = createInHubSpot(w, PEOPLE, 'a', { consent: 'none' });
      let killedAtSfContacts: number | undefined;
      if (crash) {
        await waitFor(() => w.salesforceWrites() > 0, 60_000, 'the first push to Salesforce');
        await w.pusher.kill();
        killedAtSfContacts = w.salesforce.sideDoor.list('Contact').length;
        await sleep(500);
        await w.pusher.start();
      }
      await w.settle(90_000);
      const { engine } = await w.observe();
      for (let round = 0; round < 2; round++) {
        await engine.pullNow('salesforce');
        await engine.pullNow('hubspot');
        await w.settle();
      }

      // What counts as "not subscribed" differs by system: Salesforce's opt-out flag set,
      // HubSpot's status anything but SUBSCRIBED, the hub's consent anything but granted.
      const observed = mapField(await observe(w), 'marketingEmail', (system, _email, value) => {
        const notSubscribed = system === 'salesforce' ? value === 'denied' : value !== 'granted';
        return notSubscribed ? NOT_SUBSCRIBED : (value ?? 'unset');
      });
      const expected: Expected = new Map([...created].map(([email, person]) => [email, { ...person, marketingEmail: NOT_SUBSCRIBED }]));
      const result = compare(w, expected, observed, since);
      const hubConsents = new Map<string, number>();
      for (const person of (await observe(w)).hub.people.values()) {
        const value = person.marketingEmail ?? 'unknown';
        hubConsents.set(value, (hubConsents.get(value) ?? 0) + 1);
      }
      const statusWrites = w.hubspot.sideDoor.calls().byEndpoint[STATUS_WRITE] ?? 0;
      console.log(
        reportLine('a', w, result.counts, {
          people: PEOPLE,
          hubspotStatusWrites: statusWrites,
          hubConsent: [...hubConsents].map(([k, n]) => `${k}:${n}`).join(','),
          ...(killedAtSfContacts === undefined ? {} : { sfContactsAtKill: killedAtSfContacts }),
        }),
      );
      expect(explain(result.mismatches, []), 'every system against "not subscribed"').toEqual([]);
      // Nothing the hub knew was a subscription status: it never told HubSpot one.
      expect(statusWrites).toBe(0);
      // After a SIGKILL mid-batch, writes that landed but whose answer died with the process are
      // sent again (at least once): echo writes count only in the runs without a crash.
      expect({ ...result.counts, echoWrites: crash ? 0 : result.counts.echoWrites }).toEqual({
        lost: 0,
        duplicated: 0,
        disagreements: 0,
        wrongWinners: 0,
        echoWrites: 0,
      });
    });
  },
);

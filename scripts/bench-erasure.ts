/**
 * Erasure benchmark (prints figures; asserts nothing). Needs Redis and the test database setup
 * (`bash scripts/services.sh`). Run: `npx tsx scripts/bench-erasure.ts`.
 *
 * Erases BENCH_PEOPLE people (default 1,000), each known to HubSpot and Salesforce, through the
 * whole hub (privacy queues, the connectors, the emulators, webhooks back to the hub), and
 * times it from the first request to every request completed (every system erased and
 * verified by reading it back, the store emptied).
 *
 * Rate limits are on: the HubSpot emulator enforces 100 requests per rolling 10 s (the Free/
 * Starter limit) and the connector paces itself under it; Salesforce enforces its daily
 * allowance and the engine's limiter allows 100 calls per 10 s per connector. HubSpot has no
 * batch GDPR delete (one call per contact), so the ceiling those limits allow is
 * 100 requests / 10 s = 10 people/s: 1,000 people take at least 100 s, however the work is
 * organised. The figure is compared with that ceiling, and with the workload's own ceiling
 * (all the HubSpot requests it made, reads and verification included, at 10 per second).
 */
import { doneAt, eraseEveryone, fmt, printClosing, seedPeople, startBenchHub, benchSize } from './bench/erasure-people.js';

const LIMIT = { max: 100, intervalMs: 10_000 };
const HUBSPOT_PER_S = LIMIT.max / (LIMIT.intervalMs / 1000);

const { PEOPLE, SUBMITTERS } = benchSize();
const hub = await startBenchHub(LIMIT);
try {
  // Seed: the people in both systems (side doors, no webhooks) and in the hub, which knows each one's record ids.
  const emails = Array.from({ length: PEOPLE }, (_, i) => `person-${i}@example.com`);
  await seedPeople(hub, emails, PEOPLE, LIMIT.intervalMs);
  console.log(`seeded ${PEOPLE} people in HubSpot, Salesforce and the hub`);

  const run = await eraseEveryone(hub, emails, SUBMITTERS);
  const { totalMs, done } = run;
  const hs = hub.hubspot.sideDoor.calls();
  const sf = hub.salesforce.sideDoor.calls();
  const deletes = hs.byEndpoint['POST /crm/v3/objects/contacts/gdpr-delete'] ?? 0;
  const floorS = PEOPLE / HUBSPOT_PER_S;
  const ownFloorS = hs.total / HUBSPOT_PER_S;

  console.log(`\n[erasure of ${PEOPLE} people across HubSpot and Salesforce, rate limits on]`);
  console.log(`  requests recorded and queued in ${fmt(run.submittedMs / 1000)} s`);
  console.log(
    `  all completed in ${fmt(totalMs / 1000)} s (${done} completed, ${PEOPLE - done} failed): ${fmt(PEOPLE / (totalMs / 1000), 2)} people/s`,
  );
  console.log(`  HubSpot done at ${fmt(doneAt(run, 'hubspot') / 1000)} s, Salesforce done at ${fmt(doneAt(run, 'salesforce') / 1000)} s`);
  console.log(
    `  HubSpot: ${hs.total} requests (${deletes} gdpr-delete, ${hs.total - deletes} batch reads and verification), ${hs.rateLimited} answered 429`,
  );
  for (const [endpoint, n] of Object.entries(hs.byEndpoint).sort()) console.log(`    ${endpoint}: ${n}`);
  console.log(`  Salesforce: ${sf.total} requests, ${sf.rateLimited} refused (429 or REQUEST_LIMIT_EXCEEDED)`);
  for (const [endpoint, n] of Object.entries(sf.byEndpoint).sort()) console.log(`    ${endpoint}: ${n}`);
  console.log(
    `  ceiling allowed by HubSpot's ${LIMIT.max} requests / ${LIMIT.intervalMs / 1000} s at one gdpr-delete per person: ${fmt(floorS)} s (${fmt(HUBSPOT_PER_S, 0)} people/s)`,
  );
  console.log(`  -> measured ${fmt(totalMs / 1000)} s is ${fmt((100 * floorS) / (totalMs / 1000))} % of that ceiling's throughput`);
  console.log(
    `  (this workload's own ${hs.total} HubSpot requests need at least ${fmt(ownFloorS)} s: ${fmt((100 * ownFloorS) / (totalMs / 1000))} % of it)`,
  );
  await printClosing(hub, run, ['hubspot', 'salesforce']);
} finally {
  await hub.close();
}
process.exit(0);

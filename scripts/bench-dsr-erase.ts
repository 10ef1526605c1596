/**
 * Erasure benchmark with search (prints figures; asserts nothing). Needs Redis and the test
 * database setup (`bash scripts/services.sh`). Run: `npx tsx scripts/bench-dsr-erase.ts`
 * (`BENCH_PEOPLE`, default 1,000; `BENCH_DIALECT`, default postgres).
 *
 * Erases BENCH_PEOPLE people through the whole hub (privacy queues, the connectors, the HubSpot
 * and Salesforce emulators): half of them known to the hub (synced: their records in both
 * systems, their record ids in the hub), half created directly in both systems and never synced
 * (the hub knows nothing of them: each erasure must find them by searching). Every system is
 * searched for every person before acting ("find before you act"), with `find` where the
 * connector declares it, else its `export` by ids and addresses (the fallback: the bench does not
 * fail on it).
 *
 * Prints the total time (first request to every request completed: erased, read back, the store
 * emptied), and per system: the HTTP requests the emulator saw, the time those requests need at
 * the system's rate-limit ceiling (requests / limit per window × window) as a share of the time
 * taken, and the search calls per person (one search call carries a whole erase batch; the
 * calls are told apart from the read-backs by the time each request's evidence records for its
 * search).
 */
import hubspotConnector from '../connectors/hubspot/connector.js';
import salesforceConnector from '../connectors/salesforce/connector.js';
import { readDetail } from '../src/privacy/context.js';
import { doneAt, eraseEveryone, fmt, printClosing, seedPeople, startBenchHub, benchSize } from './bench/erasure-people.js';

const HUBSPOT_LIMIT = { max: 100, intervalMs: 10_000 };

const { PEOPLE, SUBMITTERS } = benchSize();
const hub = await startBenchHub(HUBSPOT_LIMIT);
try {
  // Everyone in both systems; the first half also in the hub, with their record ids (synced).
  const emails = Array.from({ length: PEOPLE }, (_, i) => `person-${i}@example.com`);
  const known = Math.floor(PEOPLE / 2);
  await seedPeople(hub, emails, known, HUBSPOT_LIMIT.intervalMs);
  console.log(
    `seeded ${PEOPLE} people in HubSpot and Salesforce, ${known} of them also in the hub (synced), ${PEOPLE - known} never synced`,
  );

  const run = await eraseEveryone(hub, emails, SUBMITTERS);
  const { totalMs, done, failed, requests } = run;
  console.log(`\n[erasure of ${PEOPLE} people (${known} known to the hub, ${PEOPLE - known} found by search), rate limits on]`);
  console.log(`  requests recorded and queued in ${fmt(run.submittedMs / 1000)} s`);
  console.log(
    `  all completed in ${fmt(totalMs / 1000)} s (${done} completed, ${failed} failed): ${fmt(PEOPLE / (totalMs / 1000), 2)} people/s`,
  );
  const systems = [
    {
      id: 'hubspot',
      calls: hub.hubspot.sideDoor.calls(),
      limit: { max: HUBSPOT_LIMIT.max, windowMs: HUBSPOT_LIMIT.intervalMs },
      find: hubspotConnector.capabilities.find,
    },
    {
      id: 'salesforce',
      calls: hub.salesforce.sideDoor.calls(),
      limit: { max: salesforceConnector.limits.requestsPerWindow, windowMs: salesforceConnector.limits.windowMs },
      find: salesforceConnector.capabilities.find,
    },
  ];
  for (const system of systems) {
    const outcomes = requests.map((r) => readDetail(r).outcomes[system.id]);
    // One search call carries a whole batch: its requests share the time their evidence records.
    const searchCalls = new Set(outcomes.flatMap((o) => (o?.evidence?.searched ? [o.evidence.searched.at] : []))).size;
    const byOutcome = new Map<string, number>();
    for (const o of outcomes) byOutcome.set(o?.outcome ?? 'none', (byOutcome.get(o?.outcome ?? 'none') ?? 0) + 1);
    const ceilingMs = (system.calls.total / system.limit.max) * system.limit.windowMs;
    console.log(
      `  ${system.id} (searched by ${system.find ? 'find' : 'export, the fallback'}): done at ${fmt(doneAt(run, system.id) / 1000)} s; ${system.calls.total} HTTP requests, ${system.calls.rateLimited} answered 429`,
    );
    for (const [endpoint, n] of Object.entries(system.calls.byEndpoint).sort()) console.log(`    ${endpoint}: ${n}`);
    console.log(`    outcomes: ${[...byOutcome].map(([o, n]) => `${o} ${n}`).join(', ')}`);
    console.log(
      `    at its ceiling of ${system.limit.max} requests / ${system.limit.windowMs / 1000} s these requests need ${fmt(ceilingMs / 1000)} s: ${fmt((100 * ceilingMs) / totalMs)} % of the ${fmt(totalMs / 1000)} s taken`,
    );
    console.log(`    search: ${searchCalls} connector call(s) for ${PEOPLE} people, ${fmt(searchCalls / PEOPLE, 3)} per person`);
  }
  await printClosing(hub, run, ['hubspot', 'salesforce']);
} finally {
  await hub.close();
}
process.exit(0);

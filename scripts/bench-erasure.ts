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
import { setTimeout as sleep } from 'node:timers/promises';
import { loadavg } from 'node:os';
import { startPrivacyHub } from '../harness/privacy-hub.js';
import type { ProfilePatch } from '../src/profile/schema.js';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 1_000);
const SUBMITTERS = Number(process.env.BENCH_SUBMITTERS ?? 8);
const LIMIT = { max: 100, intervalMs: 10_000 };
const HUBSPOT_PER_S = LIMIT.max / (LIMIT.intervalMs / 1000);

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

const hub = await startPrivacyHub({
  dialect: (process.env.BENCH_DIALECT as 'sqlite' | 'postgres' | undefined) ?? 'postgres',
  hubspotEmulator: { rateLimit: { ...LIMIT, daily: 10_000_000 }, webhookBatchMs: 50 },
  hubspotRequestsPer10Seconds: LIMIT.max,
  privacy: { tuning: { eraseBatchSize: 100, eraseBatchWaitMs: 200, sweepEveryMs: 60_000 } },
});
try {
  // Seed: the people in both systems (side doors, no webhooks) and in the hub, which knows each one's record ids.
  const webhookUrl = `${hub.url}/webhooks/hubspot`;
  hub.hubspot.sideDoor.setWebhookUrl(undefined);
  const emails = Array.from({ length: PEOPLE }, (_, i) => `person-${i}@example.com`);
  const hubspotIds = emails.map(
    (email, i) => hub.hubspot.sideDoor.createContact({ email, firstname: `First${i}`, lastname: `Last${i}` }).id,
  );
  const salesforceIds = hub.salesforce.sideDoor.seed(
    'Contact',
    emails.map((email, i) => ({ Email: email, FirstName: `First${i}`, LastName: `Last${i}` })),
  );
  const now = new Date().toISOString();
  for (let from = 0; from < PEOPLE; from += 200) {
    const items: {
      patch: ProfilePatch;
      options: { observed: { connector: string; externalId: string; values: Record<string, string> } };
    }[] = [];
    for (let i = from; i < Math.min(PEOPLE, from + 200); i++) {
      const email = emails[i] ?? '';
      const base = { at: now, receivedAt: now, attributes: {}, consents: {}, subscriptions: {}, rights: { objections: {} } };
      items.push({
        patch: {
          ...base,
          id: `seed:hs:${i}`,
          source: 'hubspot',
          identities: [
            { kind: 'email', value: email },
            { kind: 'external', system: 'hubspot', value: hubspotIds[i] ?? '' },
          ],
        },
        options: { observed: { connector: 'hubspot', externalId: hubspotIds[i] ?? '', values: { email } } },
      });
      items.push({
        patch: {
          ...base,
          id: `seed:sf:${i}`,
          source: 'salesforce',
          identities: [
            { kind: 'email', value: email },
            { kind: 'external', system: 'salesforce', value: salesforceIds[i] ?? '' },
          ],
        },
        options: { observed: { connector: 'salesforce', externalId: salesforceIds[i] ?? '', values: { Email: email } } },
      });
    }
    await hub.store.applyPatches(items);
  }
  await hub.settle(600_000);
  hub.hubspot.sideDoor.setWebhookUrl(webhookUrl);
  // Let the seeding's own calls leave HubSpot's rolling window, so the measure starts from an empty budget.
  await sleep(LIMIT.intervalMs + 500);
  hub.hubspot.sideDoor.resetCalls();
  hub.salesforce.sideDoor.resetCalls();
  console.log(`seeded ${PEOPLE} people in HubSpot, Salesforce and the hub`);

  const loadAtStart = loadavg();
  const started = Date.now();
  // As the admin API takes them: several requests at once.
  let next = 0;
  const submitter = async (): Promise<void> => {
    while (next < emails.length) {
      const email = emails[next++] ?? '';
      const result = await hub.privacy.submit({ kind: 'erase', subject: { email } }, { origin: 'api', actor: 'bench' });
      if (!result.ok) throw result.error;
    }
  };
  await Promise.all(Array.from({ length: SUBMITTERS }, submitter));
  const submittedMs = Date.now() - started;
  let done = 0;
  for (;;) {
    done = (await hub.store.listDsr({ status: 'completed' })).length;
    const failed = (await hub.store.listDsr({ status: 'failed' })).length;
    if (done + failed >= PEOPLE) break;
    await sleep(250);
  }
  const totalMs = Date.now() - started;
  const requests = await hub.store.listDsr({});
  const lastAt = (connector: string): number =>
    Math.max(...requests.map((r) => Date.parse(r.systems.find((s) => s.connector === connector)?.updatedAt ?? '') || 0)) - started;
  const hs = hub.hubspot.sideDoor.calls();
  const sf = hub.salesforce.sideDoor.calls();
  const deletes = hs.byEndpoint['POST /crm/v3/objects/contacts/gdpr-delete'] ?? 0;
  const floorS = PEOPLE / HUBSPOT_PER_S;
  const ownFloorS = hs.total / HUBSPOT_PER_S;

  console.log(`\n[erasure of ${PEOPLE} people across HubSpot and Salesforce, rate limits on]`);
  console.log(`  requests recorded and queued in ${fmt(submittedMs / 1000)} s`);
  console.log(
    `  all completed in ${fmt(totalMs / 1000)} s (${done} completed, ${PEOPLE - done} failed): ${fmt(PEOPLE / (totalMs / 1000), 2)} people/s`,
  );
  console.log(`  HubSpot done at ${fmt(lastAt('hubspot') / 1000)} s, Salesforce done at ${fmt(lastAt('salesforce') / 1000)} s`);
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
  // A 429 must not count as an attempt: with none refused by HubSpot, every request should have taken one.
  const attempts = (connector: string): number[] => requests.map((r) => r.systems.find((s) => s.connector === connector)?.attempts ?? 0);
  for (const connector of ['hubspot', 'salesforce']) {
    const a = attempts(connector);
    console.log(
      `  ${connector} attempts per request: max ${Math.max(...a)}, ${a.filter((n) => n > 1).length} request(s) with more than one`,
    );
  }
  const load = (l: number[]): string => l.map((n) => fmt(n, 2)).join(' / ');
  console.log(`  machine load (1 / 5 / 15 min averages) at the start ${load(loadAtStart)}, at the end ${load(loadavg())}`);
  console.log(
    `  left in HubSpot: ${hub.hubspot.sideDoor.contacts().length}, in Salesforce: ${hub.salesforce.sideDoor.list('Contact').length}, profiles in the store: ${await hub.db.count('profiles')}`,
  );
} finally {
  await hub.close();
}
process.exit(0);

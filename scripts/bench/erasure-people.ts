/**
 * What the erasure benchmarks (`scripts/bench-erasure.ts`, `scripts/bench-dsr-erase.ts`) share:
 * seeding people in HubSpot and Salesforce (and in the hub, for those it knows), submitting
 * their erasures as the admin API takes them, waiting for every request to end, and the closing
 * figures. Prints nothing but what it is asked to.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadavg } from 'node:os';
import { startPrivacyHub } from '../../harness/privacy-hub.js';
import type { PrivacyHub } from '../../harness/privacy-hub.js';
import type { ProfilePatch } from '../../src/profile/schema.js';
import type { DataSubjectRequest } from '../../src/store/types.js';

export const fmt = (n: number, digits = 1): string => n.toFixed(digits);

/** How many people (`BENCH_PEOPLE`, default 1,000) and requests submitted at once (`BENCH_SUBMITTERS`, default 8). */
export function benchSize(): { PEOPLE: number; SUBMITTERS: number } {
  return { PEOPLE: Number(process.env.BENCH_PEOPLE ?? 1_000), SUBMITTERS: Number(process.env.BENCH_SUBMITTERS ?? 8) };
}

/**
 * The hub under measure (`BENCH_DIALECT`, default postgres): HubSpot's emulator enforcing `limit`
 * (a rolling window) and the connector pacing under it, erase batches of 100.
 */
export function startBenchHub(limit: { max: number; intervalMs: number }): Promise<PrivacyHub> {
  return startPrivacyHub({
    dialect: (process.env.BENCH_DIALECT as 'sqlite' | 'postgres' | undefined) ?? 'postgres',
    hubspotEmulator: { rateLimit: { ...limit, daily: 10_000_000 }, webhookBatchMs: 50 },
    hubspotRequestsPer10Seconds: limit.max,
    privacy: { tuning: { eraseBatchSize: 100, eraseBatchWaitMs: 200, sweepEveryMs: 60_000 } },
  });
}

/**
 * Creates everyone in HubSpot and Salesforce through their side doors with no webhooks, and the
 * first `known` of them in the hub too, with their record ids in both systems (as if synced).
 * Then lets HubSpot's rolling window empty (`windowMs`) and forgets the calls counted so far.
 */
export async function seedPeople(hub: PrivacyHub, emails: readonly string[], known: number, windowMs: number): Promise<void> {
  const webhookUrl = `${hub.url}/webhooks/hubspot`;
  hub.hubspot.sideDoor.setWebhookUrl(undefined);
  const hubspotIds = emails.map(
    (email, i) => hub.hubspot.sideDoor.createContact({ email, firstname: `First${i}`, lastname: `Last${i}` }).id,
  );
  const salesforceIds = hub.salesforce.sideDoor.seed(
    'Contact',
    emails.map((email, i) => ({ Email: email, FirstName: `First${i}`, LastName: `Last${i}` })),
  );
  const now = new Date().toISOString();
  for (let from = 0; from < known; from += 200) {
    const items: {
      patch: ProfilePatch;
      options: { observed: { connector: string; externalId: string; values: Record<string, string> } };
    }[] = [];
    for (let i = from; i < Math.min(known, from + 200); i++) {
      const email = emails[i] ?? '';
      const base = { at: now, receivedAt: now, attributes: {}, consents: {}, subscriptions: {}, rights: { objections: {} } };
      for (const [connector, externalId, values] of [
        ['hubspot', hubspotIds[i] ?? '', { email }],
        ['salesforce', salesforceIds[i] ?? '', { Email: email }],
      ] as const) {
        items.push({
          patch: {
            ...base,
            id: `seed:${connector}:${i}`,
            source: connector,
            identities: [
              { kind: 'email', value: email },
              { kind: 'external', system: connector, value: externalId },
            ],
          },
          options: { observed: { connector, externalId, values } },
        });
      }
    }
    await hub.store.applyPatches(items);
  }
  await hub.settle(600_000);
  hub.hubspot.sideDoor.setWebhookUrl(webhookUrl);
  // Let the seeding's own calls leave HubSpot's rolling window, so the measure starts from an empty budget.
  await sleep(windowMs + 500);
  hub.hubspot.sideDoor.resetCalls();
  hub.salesforce.sideDoor.resetCalls();
}

/** What a run measured: when it started, how long recording took, and how the requests ended. */
export interface ErasureRun {
  started: number;
  submittedMs: number;
  totalMs: number;
  done: number;
  failed: number;
  requests: DataSubjectRequest[];
  loadAtStart: number[];
}

/** Submits one erasure per address, `submitters` at once (as the admin API takes them), and waits until every request has ended. */
export async function eraseEveryone(hub: PrivacyHub, emails: readonly string[], submitters: number): Promise<ErasureRun> {
  const loadAtStart = loadavg();
  const started = Date.now();
  let next = 0;
  const submitter = async (): Promise<void> => {
    while (next < emails.length) {
      const email = emails[next++] ?? '';
      const result = await hub.privacy.submit({ kind: 'erase', subject: { email } }, { origin: 'api', actor: 'bench' });
      if (!result.ok) throw result.error;
    }
  };
  await Promise.all(Array.from({ length: submitters }, submitter));
  const submittedMs = Date.now() - started;
  for (;;) {
    const done = (await hub.store.listDsr({ status: 'completed' })).length;
    const failed = (await hub.store.listDsr({ status: 'failed' })).length;
    if (done + failed >= emails.length) {
      const totalMs = Date.now() - started;
      return { started, submittedMs, totalMs, done, failed, requests: await hub.store.listDsr({}), loadAtStart };
    }
    await sleep(250);
  }
}

/** When the last request's part in `connector` ended, ms after the start. */
export function doneAt(run: ErasureRun, connector: string): number {
  return (
    Math.max(...run.requests.map((r) => Date.parse(r.systems.find((s) => s.connector === connector)?.updatedAt ?? '') || 0)) - run.started
  );
}

/** The closing figures: attempts per request and system (a 429 must not count as one), the machine's load, and what is left. */
export async function printClosing(hub: PrivacyHub, run: ErasureRun, connectors: readonly string[]): Promise<void> {
  for (const connector of connectors) {
    const a = run.requests.map((r) => r.systems.find((s) => s.connector === connector)?.attempts ?? 0);
    console.log(
      `  ${connector} attempts per request: max ${Math.max(...a)}, ${a.filter((n) => n > 1).length} request(s) with more than one`,
    );
  }
  const load = (l: number[]): string => l.map((n) => fmt(n, 2)).join(' / ');
  console.log(`  machine load (1 / 5 / 15 min averages) at the start ${load(run.loadAtStart)}, at the end ${load(loadavg())}`);
  console.log(
    `  left in HubSpot: ${hub.hubspot.sideDoor.contacts().length}, in Salesforce: ${hub.salesforce.sideDoor.list('Contact').length}, profiles in the store: ${await hub.db.count('profiles')}`,
  );
}

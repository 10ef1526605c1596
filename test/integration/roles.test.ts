/**
 * Fine-grained process roles (`concord start --role ...`), through `startHubProcess` as the
 * CLI runs it: two hub processes with different role sets share one Redis prefix and one
 * SQLite file and together carry a change end to end, from a HubSpot webhook into the `api`
 * process to Salesforce, each doing only its own part; with the push process gone, changes
 * wait until a dedicated push process takes them. The systems are the HubSpot and
 * Salesforce emulators (the connectors `startHubProcess` builds from the config are the
 * built-in ones, as in production).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startHubSpotEmulator } from '../../connectors/hubspot/emulator/index.js';
import type { RunningHubSpotEmulator } from '../../connectors/hubspot/emulator/index.js';
import { startSalesforceEmulator } from '../../connectors/salesforce/emulator/index.js';
import type { RunningSalesforceEmulator } from '../../connectors/salesforce/emulator/index.js';
import { startHubProcess } from '../../src/app/hub.js';
import { freePort } from '../../src/app/free-port.js';
import type { HubProcess } from '../../src/app/hub.js';
import { parseRoles } from '../../src/app/roles.js';
import type { RoleSet } from '../../src/app/roles.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createTestDatabase } from '../../harness/db.js';
import type { TestDatabase } from '../../harness/db.js';
import { deletePrefix, REDIS_URL, TEST_TUNING, waitFor } from '../../harness/sync-hub.js';
import { hubspotYaml, hubYaml, salesforceOutboundUrl, salesforceYaml, TEST_SF_OUTBOUND_TOKEN } from '../../harness/hub-config.js';
import { createLogger } from '../../src/log/logger.js';
import { builtinConnectors } from '../../connectors/index.js';

const HUBSPOT_SECRET = 'roles-hubspot-client-secret';
const HUBSPOT_APP_ID = 8090;
const SF_CLIENT = 'roles-connected-app';
const SF_SECRET = 'roles-salesforce-secret';
const SF_ORG = '00D5e000000RolEEAA';
const ADA = 'ada@example.com';

const ENV = {
  T_SIGNING: 'roles-signing-secret-0123456789abcdef0123456789',
  T_HASH: 'k'.repeat(32),
  T_HS_TOKEN: 'pat-roles',
  T_HS_SECRET: HUBSPOT_SECRET,
  T_SF_ID: SF_CLIENT,
  T_SF_SECRET: SF_SECRET,
  T_SF_OM_TOKEN: TEST_SF_OUTBOUND_TOKEN,
};

function configYaml(o: { databaseUrl: string; prefix: string; port: number; hubspot: string; salesforce: string }): string {
  return `${hubYaml({ redisUrl: REDIS_URL, databaseUrl: o.databaseUrl, prefix: o.prefix, port: o.port })}connectors:
${hubspotYaml({ baseUrl: o.hubspot, appId: HUBSPOT_APP_ID })}    subscriptions: [{ id: 101, consent: marketing.email }, { id: 103, topic: newsletter }]
    mappings:
      - consent: marketing.email
        external: "subscription:101"
        transform: [{ type: map, values: { granted: SUBSCRIBED, denied: UNSUBSCRIBED } }]
${salesforceYaml({ loginUrl: o.salesforce, organizationId: SF_ORG })}    channelFlags: { HasOptedOutOfEmail: marketing.email }
    mappings:
      - { consent: marketing.email, external: HasOptedOutOfEmail, transform: [{ type: invert }] }
`;
}

function roles(text: string): RoleSet {
  const parsed = parseRoles(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.roles;
}

/** The sum of a counter of a process's registry, over the label values that match. */
async function counter(hub: HubProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await hub.engine.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Waits until the systems have delivered their webhooks and neither process has work left (three times in a row). */
async function settle(
  processes: HubProcess[],
  hubspot: RunningHubSpotEmulator,
  salesforce: RunningSalesforceEmulator,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 3) {
    if (Date.now() > deadline) throw new Error('the hub processes did not settle');
    await hubspot.sideDoor.flushWebhooks();
    await salesforce.sideDoor.flushWebhooks();
    const idle = await Promise.all(processes.map((p) => p.engine.idle()));
    quiet = idle.every(Boolean) ? quiet + 1 : 0;
    await new Promise((r) => setTimeout(r, 80));
  }
}

describe('hub processes with fine-grained roles', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  });

  it('an api,push and an ingest,relay,pull process together carry a HubSpot webhook to Salesforce, each doing only its part; a push-only process delivers what waited', async () => {
    const hubspot: RunningHubSpotEmulator = await startHubSpotEmulator({
      clientSecret: HUBSPOT_SECRET,
      appId: HUBSPOT_APP_ID,
      accessToken: ENV.T_HS_TOKEN,
      webhookBatchMs: 5,
    });
    cleanup.push(() => hubspot.close());
    const salesforce: RunningSalesforceEmulator = await startSalesforceEmulator({
      clientId: SF_CLIENT,
      clientSecret: SF_SECRET,
      organizationId: SF_ORG,
      outboundBatchMs: 5,
    });
    cleanup.push(() => salesforce.close());
    const db: TestDatabase = await createTestDatabase('sqlite');
    const prefix = `{roles-${randomBytes(5).toString('hex')}}`;
    cleanup.push(() => db.drop());
    cleanup.push(() => deletePrefix(prefix));

    // The api process listens at its public URL: HubSpot signs the URL it delivers to.
    const port = await freePort();
    const loaded = parseConfig(
      configYaml({ databaseUrl: db.url, prefix, port, hubspot: hubspot.url, salesforce: salesforce.url }),
      'roles-test.yaml',
      { connectors: builtinConnectors, env: ENV },
    );
    if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
    const config: Config = loaded.config;
    const common = {
      logger: createLogger({ level: process.env.CONCORD_TEST_LOG ?? 'silent' }),
      tuning: TEST_TUNING,
      server: { queueBoard: false, webhookRateLimit: 0 },
    };
    // One after the other: the first opens (and migrates) the shared SQLite file.
    const front = await startHubProcess(config, { ...common, role: roles('api, push') });
    cleanup.push(() => front.close());
    const back = await startHubProcess(config, { ...common, role: roles('ingest,relay,pull') });
    cleanup.push(() => back.close());

    expect([...front.roles]).toEqual(['api', 'push']);
    expect([...back.roles]).toEqual(['ingest', 'relay', 'pull']);
    // Only the process with the api role has an HTTP server.
    expect(front.app).not.toBeNull();
    expect(front.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(back.app).toBeNull();
    expect(back.url).toBeNull();
    const health = await fetch(`${front.url}/readyz`);
    expect(await health.json()).toMatchObject({ status: 'ready' });

    // The systems deliver their webhooks to the api process.
    hubspot.sideDoor.setWebhookUrl(`${front.url}/webhooks/hubspot`);
    salesforce.sideDoor.setWebhookUrl(salesforceOutboundUrl(front.url ?? ''));

    // A marketer creates Ada in HubSpot and subscribes her: she reaches Salesforce, opted in.
    hubspot.sideDoor.createContact({ email: ADA, firstname: 'Ada', lastname: 'Lovelace' });
    hubspot.sideDoor.subscribe(ADA, 101);
    const consent = async (): Promise<unknown> =>
      (await front.store.findProfile({ kind: 'email', value: ADA }))?.consents['marketing']?.['email'];
    await waitFor(() => salesforce.sideDoor.findByEmail(ADA) !== undefined, 30_000, 'Ada in Salesforce');
    await settle([front, back], hubspot, salesforce);
    expect(await consent()).toMatchObject({ value: 'granted', source: 'hubspot' });
    expect(salesforce.sideDoor.findByEmail(ADA)).toMatchObject({ FirstName: 'Ada', LastName: 'Lovelace', HasOptedOutOfEmail: false });

    // Then she unsubscribes in HubSpot: Salesforce follows.
    hubspot.sideDoor.unsubscribe(ADA, 101);
    await waitFor(() => salesforce.sideDoor.findByEmail(ADA)?.['HasOptedOutOfEmail'] === true, 30_000, 'the opt-out in Salesforce');
    await settle([front, back], hubspot, salesforce);

    // Every webhook went into the api process and was accepted there.
    const deliveries = hubspot.sideDoor.webhookDeliveries();
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.status === 200 || d.status === 204)).toBe(true);
    expect(await consent()).toMatchObject({ value: 'denied', source: 'hubspot' });

    // The ingest process applied HubSpot's changes and pushed nothing; the push process did
    // every push and ingested nothing.
    expect(await counter(back, 'concord_sync_changes_ingested_total', { connector: 'hubspot' })).toBeGreaterThan(0);
    expect(await counter(back, 'concord_sync_pushes_total')).toBe(0);
    expect(await counter(back, 'concord_sync_api_calls_total', { operation: 'push' })).toBe(0);
    expect(await counter(front, 'concord_sync_pushes_total', { connector: 'salesforce', outcome: 'ok' })).toBeGreaterThan(0);
    expect(await counter(front, 'concord_sync_api_calls_total', { connector: 'salesforce', operation: 'push' })).toBeGreaterThan(0);
    expect(await counter(front, 'concord_sync_changes_ingested_total')).toBe(0);

    // With the push process gone, a change made in the hub waits: the ingest,relay,pull process
    // queues it for Salesforce but never writes it there itself.
    await front.close();
    const profile = await back.store.findProfile({ kind: 'email', value: ADA });
    const now = new Date().toISOString();
    const edit = await back.hubIngest.ingest({
      id: `admin:${now}:roles`,
      source: 'admin',
      at: now,
      receivedAt: now,
      identities: profile?.identities ?? [],
      attributes: { lastName: 'King' },
      consents: {},
      subscriptions: {},
      rights: { objections: {} },
    });
    expect(edit.status).toBe('applied');
    const waiting = async (): Promise<number> => {
      const status = await back.engine.status();
      const queued = status.queues.find((q) => q.queue === 'push.salesforce');
      const pending = status.connectors.find((c) => c.connector === 'salesforce');
      return (queued ? queued.wait + queued.delayed + queued.active : 0) + (pending ? pending.dirty + pending.inflight : 0);
    };
    await waitFor(async () => (await waiting()) > 0, 10_000, 'the change queued for Salesforce');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(salesforce.sideDoor.findByEmail(ADA)).toMatchObject({ LastName: 'Lovelace' });
    expect(await counter(back, 'concord_sync_pushes_total')).toBe(0);

    // A dedicated push process (no api: no server) delivers it.
    const pusher = await startHubProcess(config, { ...common, role: 'push' });
    cleanup.push(() => pusher.close());
    expect(pusher.app).toBeNull();
    await waitFor(() => salesforce.sideDoor.findByEmail(ADA)?.['LastName'] === 'King', 30_000, 'the edit in Salesforce');
    // Salesforce holds the edit before the push has read its answer and counted it.
    await waitFor(
      async () => (await counter(pusher, 'concord_sync_pushes_total', { connector: 'salesforce', outcome: 'ok' })) > 0,
      10_000,
      'the push counted by the push process',
    );
    expect(await counter(back, 'concord_sync_pushes_total')).toBe(0);
  }, 60_000);
});

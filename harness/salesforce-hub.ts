/**
 * A hub under test with HubSpot and Salesforce in it: a fresh database and Redis prefix, both
 * emulators, the engine built from `SyncConnector`s as in production, and the HTTP server,
 * listening, so the emulators deliver their webhooks (signed JSON, SOAP Outbound Messages) over
 * HTTP to `POST /webhooks/:connectorId`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { freePort } from '../src/app/free-port.js';
import { Catalog } from '../src/config/schema.js';
import { compileMapping } from '../src/connector/mapping.js';
import { MergePolicy, type Profile } from '../src/profile/schema.js';
import { build, listen } from '../src/server/build.js';
import { openStore, type Store } from '../src/store/index.js';
import { bindConnector } from '../src/sync/bind.js';
import type { Engine } from '../src/sync/engine.js';
import { HubPatchIngest } from '../src/sync/inbound/hub-patch.js';
import type { EngineTuningInput } from '../src/sync/options.js';
import hubspot from '../connectors/hubspot/connector.js';
import { HubSpotConfig, SubscriptionType } from '../connectors/hubspot/config.js';
import { startHubSpotEmulator, type RunningHubSpotEmulator } from '../connectors/hubspot/emulator/index.js';
import { subscriptionMappings } from '../connectors/hubspot/mapping.js';
import salesforce from '../connectors/salesforce/connector.js';
import { SalesforceConfig, type SalesforceConfigInput } from '../connectors/salesforce/config.js';
import {
  startSalesforceEmulator,
  type RunningSalesforceEmulator,
  type SalesforceEmulatorOptionsInput,
} from '../connectors/salesforce/emulator/index.js';
import { salesforceMappings } from '../connectors/salesforce/mapping.js';
import { createTestDatabase, type TestDatabase, type TestDialect } from './db.js';
import { salesforceOutboundUrl, TEST_SF_OUTBOUND_TOKEN } from './hub-config.js';
import { createTestEngine, deletePrefix, REDIS_URL, testLogger } from './sync-hub.js';

const HUBSPOT_SECRET = 'e2e-hubspot-client-secret';
const HUBSPOT_APP_ID = 8087;
const SF_CLIENT = 'e2e-connected-app';
const SF_SECRET = 'e2e-salesforce-secret';
export const SF_ORG = '00D5e000000HubEEAA';
export const SUBSCRIPTIONS = [SubscriptionType.parse({ id: 101, consent: 'marketing.email' })];

const CATALOG = Catalog.parse({
  channels: { email: { title: 'E-mail' } },
  purposes: {
    marketing: {
      title: 'Marketing communications',
      notice: { text: 'We would like to send you offers.', version: '2026-01' },
      objection: 'directMarketing',
      channels: ['email'],
    },
  },
  topics: {},
});

export interface CrmHub {
  store: Store;
  engine: Engine;
  app: FastifyInstance;
  /** Where the server listens. */
  url: string;
  /** The endpoint URL the Salesforce emulator sends its Outbound Messages to. */
  outboundUrl: string;
  hubspot: RunningHubSpotEmulator;
  salesforce: RunningSalesforceEmulator;
  /** Waits until webhooks are delivered and the engine has nothing left to do (three times in a row). */
  settle(timeoutMs?: number): Promise<void>;
  profileByEmail(email: string): Promise<Profile | null>;
  close(): Promise<void>;
}

export interface CrmHubOptions {
  dialect: TestDialect;
  salesforce?: Partial<SalesforceConfigInput>;
  salesforceEmulator?: Partial<SalesforceEmulatorOptionsInput>;
  tuning?: EngineTuningInput;
  /** Pull schedules are off unless asked for (webhooks carry the changes). */
  pullEveryMs?: number;
  /** The hub's logger (engine and server); silent unless CONCORD_TEST_LOG names a level. */
  logger?: Logger;
}

export async function startCrmHub(options: CrmHubOptions): Promise<CrmHub> {
  const db: TestDatabase = await createTestDatabase(options.dialect);
  const prefix = `{sf-${randomBytes(5).toString('hex')}}`;
  const policy = MergePolicy.parse({
    priorities: { hubspot: 2, salesforce: 1 },
    purposes: { marketing: { authorities: ['hubspot', 'salesforce', 'admin', 'preference_center'], objection: 'directMarketing' } },
  });
  const store = await openStore({ url: db.url, policy, outboxTargets: ['hubspot', 'salesforce'], hashKey: 'k'.repeat(32) });
  const hubspotEmulator = await startHubSpotEmulator({
    clientSecret: HUBSPOT_SECRET,
    appId: HUBSPOT_APP_ID,
    accessToken: 'pat-e2e',
    webhookBatchMs: 5,
  });
  const sfEmulator = await startSalesforceEmulator({
    clientId: SF_CLIENT,
    clientSecret: SF_SECRET,
    organizationId: SF_ORG,
    outboundBatchMs: 5,
    ...options.salesforceEmulator,
  });

  const sfConfig = SalesforceConfig.parse({
    loginUrl: sfEmulator.url,
    clientId: SF_CLIENT,
    clientSecret: SF_SECRET,
    organizationId: SF_ORG,
    outboundMessageToken: TEST_SF_OUTBOUND_TOKEN,
    channelFlags: { HasOptedOutOfEmail: 'marketing.email' },
    bulkPollIntervalMs: 20,
    ...options.salesforce,
  });
  const schedule = options.pullEveryMs ? { schedule: { every: options.pullEveryMs } } : {};
  const connectors = [
    bindConnector({
      id: 'hubspot',
      definition: hubspot,
      config: HubSpotConfig.parse({
        accessToken: 'pat-e2e',
        webhookSecret: HUBSPOT_SECRET,
        baseUrl: hubspotEmulator.url,
        subscriptions: SUBSCRIPTIONS,
        appId: HUBSPOT_APP_ID,
      }),
      mapping: compileMapping(hubspot, subscriptionMappings(SUBSCRIPTIONS)),
    }),
    bindConnector({
      id: 'salesforce',
      definition: salesforce,
      config: sfConfig,
      mapping: compileMapping(salesforce, salesforceMappings(sfConfig)),
      ...schedule,
    }),
  ];
  const logger = options.logger ?? testLogger();
  const engine = createTestEngine({ prefix, store, connectors, policy, logger, ...(options.tuning ? { tuning: options.tuning } : {}) });
  const redis = new Redis(REDIS_URL);
  const hubIngest = new HubPatchIngest({ store, redis, prefix: engine.prefix, relayDelayMs: 5 });
  // The public URL is where the server listens: HubSpot signs the URL it was given.
  const port = await freePort();
  const app = await build({
    hub: {
      publicUrl: `http://127.0.0.1:${port}`,
      mode: 'development',
      secrets: { signing: 'e2e-signing-secret-0123456789abcdef0123456789', hashKey: 'k'.repeat(32) },
      preferenceCenter: { brand: 'Acme', accentColor: '#1f5f8b', linkTtl: 3_600_000, supportEmail: 'privacy@acme.example' },
    },
    catalog: CATALOG,
    policy,
    store,
    engine,
    connectors,
    ingestPatch: (patch, o) => hubIngest.ingest(patch, o),
    redis,
    metrics: engine.metrics.registry,
    apiKeys: [],
    logger,
    options: { queueBoard: false, webhookRateLimit: 0 },
  });
  const url = await listen(app, { host: '127.0.0.1', port });
  hubspotEmulator.sideDoor.setWebhookUrl(`${url}/webhooks/hubspot`);
  const outboundUrl = salesforceOutboundUrl(url, sfConfig.outboundMessageToken);
  sfEmulator.sideDoor.setWebhookUrl(outboundUrl);
  await engine.start();

  return {
    store,
    engine,
    app,
    url,
    outboundUrl,
    hubspot: hubspotEmulator,
    salesforce: sfEmulator,
    async settle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 3) {
        if (Date.now() > deadline) throw new Error(`hub did not settle: ${JSON.stringify(await engine.status())}`);
        await hubspotEmulator.sideDoor.flushWebhooks();
        await sfEmulator.sideDoor.flushWebhooks();
        quiet = (await engine.idle()) ? quiet + 1 : 0;
        await sleep(80);
      }
    },
    profileByEmail: (email) => store.findProfile({ kind: 'email', value: email }),
    async close() {
      await engine.close();
      await app.close();
      await hubIngest.close();
      redis.disconnect();
      await hubspotEmulator.close();
      await sfEmulator.close();
      await store.close();
      await deletePrefix(prefix);
      await db.drop();
    },
  };
}

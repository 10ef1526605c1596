/**
 * A hub under test with HubSpot in it: a fresh database and Redis prefix, the HubSpot
 * emulator (its signed webhooks delivered over HTTP to the engine), an in-memory CRM as a
 * second system, and the engine built exactly as in production from `SyncConnector`s.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { compileMapping } from '../src/connector/mapping.js';
import type { MappingEntryInput } from '../src/connector/mapping-schema.js';
import { MergePolicy, type Profile } from '../src/profile/schema.js';
import { openStore, type Store } from '../src/store/index.js';
import { bindConnector } from '../src/sync/bind.js';
import type { Engine } from '../src/sync/engine.js';
import type { EngineTuningInput } from '../src/sync/options.js';
import hubspot from '../connectors/hubspot/connector.js';
import { HubSpotConfig, SubscriptionType } from '../connectors/hubspot/config.js';
import {
  startHubSpotEmulator,
  type HubSpotEmulatorOptionsInput,
  type RunningHubSpotEmulator,
} from '../connectors/hubspot/emulator/index.js';
import { subscriptionMappings } from '../connectors/hubspot/mapping.js';
import { createTestDatabase, type TestDatabase, type TestDialect } from './db.js';
import { createMemorySystem, memoryConnector, unregisterMemorySystem, type MemorySystem } from '../connectors/memory/index.js';
import { createTestEngine, deletePrefix } from './sync-hub.js';

const HUBSPOT_SECRET = 'e2e-hubspot-client-secret';
const MEMORY_SECRET = 'e2e-memory-secret-0123456789abcdef';
export const HUBSPOT_APP_ID = 8086;
export const SUBSCRIPTIONS = [
  SubscriptionType.parse({ id: 101, consent: 'marketing.email' }),
  SubscriptionType.parse({ id: 103, topic: 'newsletter' }),
];

export interface HubSpotHub {
  store: Store;
  engine: Engine;
  hubspot: RunningHubSpotEmulator;
  crm: MemorySystem;
  /** Webhook deliveries the engine refused (should stay empty). */
  refused: string[];
  /** Waits until webhooks are delivered and the engine has nothing left to do (twice in a row). */
  settle(timeoutMs?: number): Promise<void>;
  profileByEmail(email: string): Promise<Profile | null>;
  close(): Promise<void>;
}

export interface HubSpotHubOptions {
  dialect: TestDialect;
  /** Configure the app id, so HubSpot's echoes of our writes are recognised by their change source. */
  echoMarker: boolean;
  /** Emulator options on top of the defaults (e.g. rate limits for a benchmark). */
  emulator?: Partial<HubSpotEmulatorOptionsInput>;
  /** Engine tuning on top of the test defaults. */
  tuning?: EngineTuningInput;
  /** The connector's pace (`requestsPer10Seconds`; its default, HubSpot's Free/Starter limit, otherwise). */
  requestsPer10Seconds?: number;
  /** Mapping entries of the in-memory CRM on top of its defaults (e.g. its phone). */
  crmMappings?: MappingEntryInput[];
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

export async function startHubSpotHub(options: HubSpotHubOptions): Promise<HubSpotHub> {
  const db: TestDatabase = await createTestDatabase(options.dialect);
  const prefix = `{hs-${randomBytes(5).toString('hex')}}`;
  const policy = MergePolicy.parse({
    priorities: { hubspot: 2, crm: 1 },
    purposes: { marketing: { authorities: ['hubspot', 'crm', 'admin'], objection: 'directMarketing' } },
  });
  const store = await openStore({ url: db.url, policy, outboxTargets: ['hubspot', 'crm'], hashKey: 'k'.repeat(32) });

  // The webhook endpoint exists before the emulator, which needs its URL; it forwards to the engine once built.
  let deliver: (raw: { url: string; headers: Record<string, string | string[] | undefined>; body: Buffer }) => Promise<number> = async () =>
    503;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliver({ url: `http://127.0.0.1:${port}${req.url ?? '/'}`, headers: req.headers, body: Buffer.concat(chunks) }).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(500).end(),
      );
    });
  });
  const port = await listen(receiver);
  const emulator = await startHubSpotEmulator({
    clientSecret: HUBSPOT_SECRET,
    appId: HUBSPOT_APP_ID,
    webhookUrl: `http://127.0.0.1:${port}/webhooks/hubspot`,
    accessToken: 'pat-e2e',
    webhookBatchMs: 5,
    ...options.emulator,
  });
  const crmName = `${prefix}-crm`;
  const crm = createMemorySystem(crmName, { webhookSecret: MEMORY_SECRET });

  const config = HubSpotConfig.parse({
    accessToken: 'pat-e2e',
    webhookSecret: HUBSPOT_SECRET,
    baseUrl: emulator.url,
    ...(options.requestsPer10Seconds === undefined ? {} : { requestsPer10Seconds: options.requestsPer10Seconds }),
    subscriptions: SUBSCRIPTIONS,
    ...(options.echoMarker ? { appId: HUBSPOT_APP_ID } : {}),
  });
  const connectors = [
    bindConnector({ id: 'hubspot', definition: hubspot, config, mapping: compileMapping(hubspot, subscriptionMappings(SUBSCRIPTIONS)) }),
    bindConnector({
      id: 'crm',
      definition: memoryConnector,
      config: memoryConnector.configSchema.parse({ system: crmName, webhookSecret: MEMORY_SECRET }),
      mapping: compileMapping(memoryConnector, options.crmMappings ?? []),
    }),
  ];
  const engine = createTestEngine({
    prefix,
    store,
    connectors,
    policy,
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  const refused: string[] = [];
  deliver = async (raw) => {
    const result = await engine.receiveWebhook('hubspot', { method: 'POST', ...raw, receivedAt: new Date().toISOString() });
    if (!result.ok) {
      refused.push(`hubspot: ${result.reason}`);
      return result.status;
    }
    return result.reply.status;
  };
  crm.onWebhook(async (delivery) => {
    const result = await engine.receiveWebhook('crm', {
      method: 'POST',
      url: 'http://127.0.0.1/webhooks/crm',
      headers: delivery.headers,
      body: delivery.body,
      receivedAt: new Date().toISOString(),
    });
    if (!result.ok) refused.push(`crm: ${result.reason}`);
  });
  await engine.start();

  return {
    store,
    engine,
    hubspot: emulator,
    crm,
    refused,
    async settle(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 3) {
        if (Date.now() > deadline) throw new Error(`hub did not settle: ${JSON.stringify(await engine.status())}`);
        await emulator.sideDoor.flushWebhooks();
        await crm.flushWebhooks();
        quiet = (await engine.idle()) ? quiet + 1 : 0;
        await sleep(80);
      }
    },
    profileByEmail: (email) => store.findProfile({ kind: 'email', value: email }),
    async close() {
      crm.onWebhook(undefined);
      await engine.close();
      await emulator.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
      await store.close();
      unregisterMemorySystem(crmName);
      await deletePrefix(prefix);
      await db.drop();
    },
  };
}

/**
 * A chaos world: a private Redis, a fresh database (SQLite or PostgreSQL), the HubSpot and
 * Salesforce emulators (in this process, so their side doors can act as people and read every
 * record), a YAML config that points the built-in connectors at them, and the hub as separate
 * OS processes of the real CLI in one of the documented topologies.
 *
 * The test process also opens the store and an engine that never starts a worker (the
 * *observer*): it reads the hub's profiles and tells when the hub has nothing left to do.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import type { RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { startSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';
import type { RunningSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';
import { notificationsEnvelope } from '../../../connectors/salesforce/emulator/outbound.js';
import { signV3 } from '../../../connectors/hubspot/signature.js';
import { parseConfig } from '../../../src/config/load.js';
import { toMergePolicy } from '../../../src/config/policy.js';
import type { Config, LimitsOverride } from '../../../src/config/schema.js';
import { openStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/index.js';
import { privacyQueues } from '../../../src/privacy/keys.js';
import { createEngine } from '../../../src/sync/engine.js';
import type { Engine } from '../../../src/sync/engine.js';
import { connectorsFromConfig } from '../../../src/sync/from-config.js';
import { queueNames, queuePrefix } from '../../../src/queue/keys.js';
import type { EngineTuningInput } from '../../../src/sync/options.js';
import { createTestDatabase } from '../../helpers/db.js';
import type { TestDatabase, TestDialect } from '../../helpers/db.js';
import { HubProcess } from './hub-process.js';
import { freePort } from '../../../src/app/free-port.js';
import { sleep } from './os.js';
import { killableRedis } from '../../helpers/private-redis.js';
import type { KillableRedis } from '../../helpers/private-redis.js';
import { TOPOLOGIES } from './topologies.js';
import type { TopologyName } from './topologies.js';
import { hubspotYaml, hubYaml, salesforceOutboundUrl, salesforceYaml, TEST_SF_OUTBOUND_TOKEN } from '../../helpers/hub-config.js';
import { builtinConnectors } from '../../../connectors/index.js';

const HUBSPOT_SECRET = 'chaos-hubspot-client-secret';
const HUBSPOT_APP_ID = 8091;
const SF_CLIENT = 'chaos-connected-app';
const SF_SECRET = 'chaos-salesforce-secret';
const SF_ORG = '00D5e000000ChaoSAA';
/** HubSpot's subscription that carries marketing e-mail consent. */
export const MARKETING_SUBSCRIPTION = 101;
export const ADMIN_API_KEY = 'chaos-admin-api-key-0123456789abcdef';

const ENV: Record<string, string> = {
  T_SIGNING: 'chaos-signing-secret-0123456789abcdef0123456789',
  T_HASH: 'c'.repeat(32),
  T_HS_TOKEN: 'pat-chaos',
  T_HS_SECRET: HUBSPOT_SECRET,
  T_SF_ID: SF_CLIENT,
  T_SF_SECRET: SF_SECRET,
  T_SF_OM_TOKEN: TEST_SF_OUTBOUND_TOKEN,
  T_ADMIN_KEY: ADMIN_API_KEY,
};

/**
 * Engine timings of the hub processes (`CONCORD_ENGINE_TUNING`): a crashed worker's jobs and
 * leases come back within seconds, so a scenario sees recovery without waiting minutes.
 */
export const CHAOS_TUNING: EngineTuningInput = {
  flushDelayMs: 100,
  sweepEveryMs: 1_000,
  outboxLeaseMs: 3_000,
  inflightLeaseMs: 4_000,
  ingestLockMs: 4_000,
  lockDurationMs: 4_000,
  stalledIntervalMs: 2_000,
  callRetryMinMs: 50,
  backoff: { baseMs: 100, maxMs: 2_000, jitter: 0.5 },
};

/** Per connector: a pull schedule and overrides of its limits (`WorldOptions.connectors`). */
function connectorExtras(o: WorldOptions['connectors']): string {
  const lines: string[] = [];
  if (o?.pullEvery) lines.push(`    schedule: { every: ${o.pullEvery} }`);
  if (o?.limits) lines.push(`    limits: ${JSON.stringify(o.limits)}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The config: both built-in connectors on the emulators, marketing e-mail consent both ways. */
function configYaml(o: {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  port: number;
  hubspot: string;
  salesforce: string;
  connectors: WorldOptions['connectors'];
}): string {
  const apiKeys = [{ id: 'chaos', env: 'T_ADMIN_KEY', scopes: ['admin'] }];
  return `${hubYaml({ redisUrl: o.redisUrl, databaseUrl: o.databaseUrl, prefix: o.prefix, port: o.port, apiKeys })}connectors:
${hubspotYaml({ baseUrl: o.hubspot, appId: HUBSPOT_APP_ID })}${connectorExtras(o.connectors)}    subscriptions: [{ id: ${MARKETING_SUBSCRIPTION}, consent: marketing.email }, { id: 103, topic: newsletter }]
    mappings:
      - consent: marketing.email
        external: "subscription:${MARKETING_SUBSCRIPTION}"
        transform: [{ type: map, values: { granted: SUBSCRIBED, denied: UNSUBSCRIBED } }]
${salesforceYaml({ loginUrl: o.salesforce, organizationId: SF_ORG })}${connectorExtras(o.connectors)}    fieldHistory: true
    channelFlags: { HasOptedOutOfEmail: marketing.email }
    mappings:
      - { consent: marketing.email, external: HasOptedOutOfEmail, transform: [{ type: invert }] }
`;
}

/** How the hub answered a webhook (`ChaosWorld.probeWebhook`). */
export interface WebhookProbe {
  status: number;
  retryAfter: string | null;
  ms: number;
  /** The start of the answer's body. */
  body: string;
}

export interface WorldOptions {
  topology: TopologyName;
  dialect: TestDialect;
  /** Overrides of `CHAOS_TUNING`. */
  tuning?: EngineTuningInput;
  /** For both connectors: a pull schedule (a duration, e.g. `1h`; none by default) and limits (`LimitsOverride`). */
  connectors?: { pullEvery?: string; limits?: LimitsOverride };
}

export class ChaosWorld {
  /** The hub processes of the topology, in start order. */
  readonly processes: HubProcess[];

  private constructor(
    readonly options: WorldOptions,
    readonly redis: KillableRedis,
    readonly db: TestDatabase,
    readonly hubspot: RunningHubSpotEmulator,
    readonly salesforce: RunningSalesforceEmulator,
    readonly config: Config,
    readonly configFile: string,
    private readonly dir: string,
    /** The admin API's base URL (the api process). */
    readonly url: string,
  ) {
    const env = { ...ENV, CONCORD_ENGINE_TUNING: JSON.stringify({ ...CHAOS_TUNING, ...options.tuning }) };
    this.processes = TOPOLOGIES[options.topology].map((spec) => new HubProcess(spec, { configFile, env }));
  }

  private observer: { store: Store; engine: Engine } | undefined;

  /** Starts Redis, the database, the emulators and every hub process of the topology. */
  static async start(options: WorldOptions): Promise<ChaosWorld> {
    // Whatever was started is stopped again when a later step fails.
    const undo: (() => Promise<unknown>)[] = [];
    try {
      const redis = await killableRedis();
      undo.push(() => redis.kill());
      const db = await createTestDatabase(options.dialect);
      undo.push(() => db.drop());
      const hubspot = await startHubSpotEmulator({
        clientSecret: HUBSPOT_SECRET,
        appId: HUBSPOT_APP_ID,
        accessToken: ENV['T_HS_TOKEN'] ?? '',
        webhookBatchMs: 5,
        // HubSpot retries a failed delivery for about a day: here long enough to outlive a hub restart.
        webhookMaxAttempts: 12,
        webhookRetryBaseMs: 100,
      });
      undo.push(() => hubspot.close());
      const salesforce = await startSalesforceEmulator({
        clientId: SF_CLIENT,
        clientSecret: SF_SECRET,
        organizationId: SF_ORG,
        outboundBatchMs: 5,
        // Field History Tracking on the fields the hub maps: a read dates each field by its own change.
        fieldHistory: ['FirstName', 'LastName', 'Email', 'Phone', 'HasOptedOutOfEmail'],
      });
      undo.push(() => salesforce.close());
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'concord-chaos-'));
      undo.push(async () => rmSync(dir, { recursive: true, force: true }));
      const configFile = join(dir, 'concord.yaml');
      const text = configYaml({
        databaseUrl: db.url,
        redisUrl: redis.url,
        prefix: `{chaos-${randomBytes(4).toString('hex')}}`,
        port,
        hubspot: hubspot.url,
        salesforce: salesforce.url,
        connectors: options.connectors,
      });
      writeFileSync(configFile, text);
      const loaded = parseConfig(text, configFile, { connectors: builtinConnectors, env: ENV });
      if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
      const url = `http://127.0.0.1:${port}`;
      const world = new ChaosWorld(options, redis, db, hubspot, salesforce, loaded.config, configFile, dir, url);
      undo.push(() => Promise.all(world.processes.map((p) => p.kill())));
      // The systems deliver their webhooks to the api process (a fixed port: restarts keep it).
      hubspot.sideDoor.setWebhookUrl(`${url}/webhooks/hubspot`);
      salesforce.sideDoor.setWebhookUrl(salesforceOutboundUrl(url));
      // One after the other: the first opens (and migrates) the database.
      for (const p of world.processes) await p.start();
      return world;
    } catch (err) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw err;
    }
  }

  /** The hub process of the topology that pushes (the one scenario (c) kills). */
  get pusher(): HubProcess {
    const p = this.processes.find((x) => x.spec.push);
    if (!p) throw new Error('no push process');
    return p;
  }

  /** The hub process that serves HTTP (webhooks, admin API). */
  get api(): HubProcess {
    const p = this.processes.find((x) => x.spec.api);
    if (!p) throw new Error('no api process');
    return p;
  }

  /** The store and a never-started engine on the hub's Redis prefix, opened on first use. */
  async observe(): Promise<{ store: Store; engine: Engine }> {
    if (this.observer) return this.observer;
    const policy = toMergePolicy(this.config);
    const connectors = connectorsFromConfig(this.config, builtinConnectors);
    const logger = pino({ level: 'silent' });
    const store = await openStore({
      url: this.config.hub.databaseUrl,
      policy,
      outboxTargets: connectors.filter((c) => c.capabilities.push).map((c) => c.id),
      hashKey: this.config.hub.secrets.hashKey,
      logger,
    });
    const engine = createEngine({ redis: this.redis.url, prefix: this.config.hub.keyPrefix, store, connectors, policy, logger });
    this.observer = { store, engine };
    return this.observer;
  }

  /**
   * Waits until the systems have delivered every webhook, the hub's queues, dirty sets and
   * in-flight sets are empty and the outbox holds nothing, `quietRounds` checks in a row.
   */
  async settle(timeoutMs = 60_000, quietRounds = 3): Promise<void> {
    const { engine } = await this.observe();
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    let last = '';
    while (quiet < quietRounds) {
      if (Date.now() > deadline) throw new Error(`the hub did not settle within ${timeoutMs} ms: ${last}\n${this.output()}`);
      await this.hubspot.sideDoor.flushWebhooks();
      await this.salesforce.sideDoor.flushWebhooks();
      const [idle, outbox] = await Promise.all([engine.idle().catch(() => false), this.db.count('outbox')]);
      last = `idle=${String(idle)} outbox=${outbox}`;
      quiet = idle && outbox === 0 ? quiet + 1 : 0;
      await sleep(150);
    }
  }

  /**
   * Sends the api process one valid webhook about a person, as the system would send it
   * (HubSpot: a signed `contact.propertyChange` of the last name as it is; Salesforce: an
   * Outbound Message carrying the Contact as it is), and says how it was answered and how fast.
   */
  async probeWebhook(connector: 'hubspot' | 'salesforce', email: string): Promise<WebhookProbe> {
    const url = connector === 'hubspot' ? `${this.url}/webhooks/hubspot` : salesforceOutboundUrl(this.url);
    let body: string;
    let headers: Record<string, string>;
    if (connector === 'hubspot') {
      const contact = this.hubspot.sideDoor.findByEmail(email);
      if (!contact) throw new Error(`${email} is not in HubSpot`);
      const now = Date.now();
      body = JSON.stringify([
        {
          eventId: randomInt(1e9, 2e9),
          subscriptionId: 1_000_002,
          portalId: 62_515,
          appId: HUBSPOT_APP_ID,
          occurredAt: now,
          attemptNumber: 0,
          subscriptionType: 'contact.propertyChange',
          objectId: Number(contact.id),
          propertyName: 'lastname',
          propertyValue: contact.properties['lastname'] ?? '',
          changeSource: 'CRM_UI',
        },
      ]);
      headers = {
        'content-type': 'application/json',
        'x-hubspot-signature-v3': signV3({ clientSecret: HUBSPOT_SECRET, method: 'POST', uri: url, body, timestamp: now }),
        'x-hubspot-request-timestamp': String(now),
      };
    } else {
      const record = this.salesforce.sideDoor.findByEmail(email);
      if (!record) throw new Error(`${email} is not in Salesforce`);
      const id = `04l5e${randomBytes(7).toString('hex').slice(0, 13)}`;
      body = notificationsEnvelope({
        organizationId: SF_ORG,
        actionId: '04k5e000000ChaoSAA',
        baseUrl: this.salesforce.url,
        apiVersion: '62.0',
        object: 'Contact',
        notifications: [{ id, record }],
      });
      headers = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };
    }
    const started = Date.now();
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started, body: text.slice(0, 300) };
  }

  /** Write calls Salesforce has received from the hub (sObject Collections, single records, Bulk API ingest; not the Composite reads). */
  salesforceWrites(): number {
    return Object.entries(this.salesforce.sideDoor.calls().byEndpoint)
      .filter(([endpoint]) => /^(POST|PATCH|PUT) /.test(endpoint) && /sobjects|jobs\/ingest/.test(endpoint))
      .reduce((sum, [, n]) => sum + n, 0);
  }

  /**
   * The BullMQ job schedulers the hub keeps in Redis (relay sweep, DSR sweep, one pull per
   * scheduled connector), by key; `[]` while Redis does not answer.
   */
  async schedulers(): Promise<string[]> {
    // No retries: while Redis is away the answer is "none", at once.
    const connection = new Redis(this.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 1_000, retryStrategy: () => null });
    connection.on('error', () => undefined);
    const prefix = this.config.hub.keyPrefix;
    const names = [queueNames.relay, privacyQueues.requests, ...Object.keys(this.config.connectors).map((id) => queueNames.pull(id))];
    const queues = names.map((name) => new Queue(name, { connection, prefix: queuePrefix(prefix, name) }));
    try {
      const lists = await Promise.all(queues.map((q) => q.getJobSchedulers()));
      return lists
        .flat()
        .map((s) => s.key)
        .sort();
    } catch {
      return [];
    } finally {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
      connection.disconnect();
    }
  }

  /** A call of the admin API (`/api/v1/...`) with the world's admin key. */
  async admin(method: 'GET' | 'PATCH' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
  }

  /** Everything the hub processes printed, for a failure message. */
  output(): string {
    return this.processes.map((p) => p.output()).join('\n');
  }

  /** Stops everything and removes the database, the config and Redis. */
  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill().catch(() => undefined)));
    if (this.observer) {
      await this.observer.engine.close().catch(() => undefined);
      await this.observer.store.close().catch(() => undefined);
    }
    await this.hubspot.close().catch(() => undefined);
    await this.salesforce.close().catch(() => undefined);
    await this.redis.kill().catch(() => undefined);
    await this.db.drop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

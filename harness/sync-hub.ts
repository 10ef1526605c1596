/**
 * A hub under test: a fresh database (SQLite file or PostgreSQL), a fresh key prefix on the
 * shared Redis, in-memory systems whose webhooks are delivered to the engine, and the engine
 * itself. The engine is built exactly as in production, from `SyncConnector`s; it knows the
 * memory systems only through the `memory` connector's definition.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { compileMapping } from '../src/connector/mapping.js';
import type { MappingEntryInput } from '../src/connector/mapping-schema.js';
import type { ConnectorLimits, FindKind } from '../src/connector/define.js';
import { MergePolicy } from '../src/profile/schema.js';
import type { MergePolicyInput, Profile } from '../src/profile/schema.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/index.js';
import { bindConnector } from '../src/sync/bind.js';
import type { PullSchedule, SyncConnector } from '../src/sync/bind.js';
import { createEngine } from '../src/sync/engine.js';
import type { Engine } from '../src/sync/engine.js';
import type { EngineRoles, EngineTuningInput } from '../src/sync/options.js';
import { deleteDeploymentKeys } from '../src/queue/delete-keys.js';
import type { RedisTarget } from '../src/queue/redis-client.js';
import { createTestDatabase } from './db.js';
import type { TestDatabase, TestDialect } from './db.js';
import { createMemorySystem, memoryConnector, unregisterMemorySystem } from '../connectors/memory/index.js';
import type { MemorySystem, MemorySystemOptions, WebhookDelivery } from '../connectors/memory/index.js';
import { createLogger } from '../src/log/logger.js';
import type { Logger } from '../src/log/logger.js';

export const REDIS_URL = process.env.CONCORD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Short timings so tests run in seconds; production defaults are in `EngineTuning`. */
export const TEST_TUNING: EngineTuningInput = {
  flushDelayMs: 50,
  relayDelayMs: 5,
  sweepEveryMs: 500,
  ingestBatchWaitMs: 2,
  changedReadWaitMs: 50,
  outboxLeaseMs: 2_000,
  inflightLeaseMs: 3_000,
  lockDurationMs: 3_000,
  stalledIntervalMs: 1_000,
  callRetryMinMs: 10,
  limiterMarginMs: 10,
  backoff: { baseMs: 50, maxMs: 1_000, jitter: 0.5 },
};

/** The logger of a test hub: silent unless `CONCORD_TEST_LOG` names a level. */
export function testLogger(): Logger {
  return createLogger({ level: process.env.CONCORD_TEST_LOG ?? 'silent' });
}

/** An engine for a test hub: the test timings under `tuning`, Redis at `REDIS_URL` unless told. */
export function createTestEngine(options: {
  prefix: string;
  store: Store;
  connectors: SyncConnector[];
  policy: MergePolicy;
  logger?: Logger;
  tuning?: EngineTuningInput;
  redisUrl?: RedisTarget;
}): Engine {
  return createEngine({
    redis: options.redisUrl ?? REDIS_URL,
    prefix: options.prefix,
    store: options.store,
    connectors: options.connectors,
    policy: options.policy,
    logger: options.logger ?? testLogger(),
    tuning: { ...TEST_TUNING, ...options.tuning },
  });
}

export interface SystemSpec {
  /** Connector instance id (also the source id). */
  id: string;
  system?: MemorySystemOptions;
  limits?: Partial<ConnectorLimits>;
  mappings?: MappingEntryInput[];
  schedule?: PullSchedule;
  /** Deliver this system's webhooks to the engine (default true). */
  webhooks?: boolean;
  /** Connector config overrides (e.g. `lookBackMs`, `pageSize`). */
  config?: { lookBackMs?: number; pageSize?: number; findsBy?: FindKind[] };
  /** Another definition of the memory connector (e.g. one whose webhooks only name ids). */
  definition?: typeof memoryConnector;
}

export interface HubOptions {
  dialect: TestDialect;
  systems: SystemSpec[];
  policy?: MergePolicyInput;
  tuning?: EngineTuningInput;
  /** Start the engine's workers (default: all roles). `false`: do not start. */
  roles?: Partial<EngineRoles> | false;
  /** The Redis to use (default: the shared test Redis); a Cluster or Sentinel target too. */
  redisUrl?: RedisTarget;
  /** Reuse an existing database and prefix (a second "process" of the same hub). */
  shared?: { db: TestDatabase; prefix: string; names: Record<string, string> };
  /** The key prefix of a new hub (default: a random `{ct-...}`); its keys are deleted at the end all the same. */
  prefix?: string;
  /** The engine's logger (default: silent unless CONCORD_TEST_LOG names a level). */
  logger?: Logger;
}

export interface Hub {
  db: TestDatabase;
  store: Store;
  engine: Engine;
  prefix: string;
  systems: Record<string, MemorySystem>;
  /** Registry names of the systems (unique per test). */
  names: Record<string, string>;
  connectors: SyncConnector[];
  policy: MergePolicy;
  /** Webhook deliveries the engine refused (should stay empty). */
  refused: string[];
  /** Waits until webhooks are delivered and the engine has nothing left to do (twice in a row). */
  settle(timeoutMs?: number): Promise<void>;
  profiles(): Promise<Profile[]>;
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** The engine's view of the test systems: the `memory` connector bound to each (by registry name). */
export function memoryConnectors(specs: readonly SystemSpec[], names: Readonly<Record<string, string>>): SyncConnector[] {
  return specs.map((spec) =>
    bindConnector({
      id: spec.id,
      definition: spec.definition ?? memoryConnector,
      config: memoryConnector.configSchema.parse({ system: names[spec.id], webhookSecret: WEBHOOK_SECRET, ...spec.config }),
      mapping: compileMapping(memoryConnector, spec.mappings ?? []),
      ...(spec.limits ? { limits: spec.limits } : {}),
      ...(spec.schedule ? { schedule: spec.schedule } : {}),
    }),
  );
}

export const DEFAULT_POLICY = (ids: string[]): MergePolicyInput => ({
  priorities: Object.fromEntries(ids.map((id, i) => [id, ids.length - i])),
  purposes: { marketing: { authorities: [...ids, 'preference_center', 'admin'], objection: 'directMarketing' } },
});

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef';

export async function startHub(options: HubOptions): Promise<Hub> {
  const ids = options.systems.map((s) => s.id);
  const db = options.shared?.db ?? (await createTestDatabase(options.dialect));
  const prefix = options.shared?.prefix ?? options.prefix ?? `{ct-${randomBytes(5).toString('hex')}}`;
  const policy = MergePolicy.parse(options.policy ?? DEFAULT_POLICY(ids));
  const store = await openStore({ url: db.url, policy, outboxTargets: ids, hashKey: 'k'.repeat(32) });
  const systems: Record<string, MemorySystem> = {};
  const names: Record<string, string> = {};
  for (const spec of options.systems) {
    const name = options.shared?.names[spec.id] ?? `${prefix}-${spec.id}`;
    names[spec.id] = name;
    if (!options.shared) systems[spec.id] = createMemorySystem(name, { webhookSecret: WEBHOOK_SECRET, ...spec.system });
  }
  const connectors = memoryConnectors(options.systems, names);
  const logger = options.logger ?? testLogger();
  const engine = createTestEngine({
    prefix,
    store,
    connectors,
    policy,
    logger,
    ...(options.tuning ? { tuning: options.tuning } : {}),
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
  });
  const refused: string[] = [];
  for (const spec of options.systems) {
    const system = systems[spec.id];
    if (!system || spec.webhooks === false) continue;
    system.onWebhook(async (delivery) => {
      const result = await deliverWebhook(engine, spec.id, delivery);
      if (!result.ok) refused.push(`${spec.id}: ${result.reason}`);
    });
  }
  if (options.roles !== false) await engine.start(options.roles ?? {});

  const hub: Hub = {
    db,
    store,
    engine,
    prefix,
    systems,
    names,
    connectors,
    policy,
    refused,
    async settle(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 2) {
        if (Date.now() > deadline) throw new Error(`hub did not settle: ${JSON.stringify(await engine.status())}`);
        await Promise.all(Object.values(systems).map((s) => s.flushWebhooks()));
        quiet = (await engine.idle()) ? quiet + 1 : 0;
        await sleep(60);
      }
    },
    async profiles() {
      const rows = await db.query<{ id: string }>('select id from profiles order by id');
      const out: Profile[] = [];
      for (const row of rows) {
        const p = await store.getProfile(row.id);
        if (p && p.id === row.id) out.push(p);
      }
      return out;
    },
    async close(closeOptions = {}) {
      for (const system of Object.values(systems)) system.onWebhook(undefined);
      await engine.close();
      await store.close();
      if (!closeOptions.keepData) {
        for (const name of Object.values(names)) unregisterMemorySystem(name);
        await deletePrefix(prefix);
        await db.drop();
      }
    },
  };
  return hub;
}

/**
 * When the system sent the webhook (its signature timestamp). The systems run in this process
 * and hand webhooks over through timers; a server on loopback would receive each at once, so
 * that is the receipt time the hub sees.
 */
/** Hands one of a memory system's webhooks to the engine, as the HTTP route would (received when signed). */
export function deliverWebhook(engine: Engine, id: string, delivery: WebhookDelivery): ReturnType<Engine['receiveWebhook']> {
  return engine.receiveWebhook(id, {
    method: 'POST',
    url: `http://127.0.0.1/webhooks/${id}`,
    headers: delivery.headers,
    body: delivery.body,
    receivedAt: sentAt(delivery.headers),
  });
}

function sentAt(headers: Record<string, string>): string {
  const t = /(?:^|,)\s*t=(\d+)/.exec(headers['x-memory-signature'] ?? '')?.[1];
  return new Date(t ? Number(t) : Date.now()).toISOString();
}

/** Removes every Redis key of a test prefix: the engine's and every queue's (`prefixPatterns`). */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deleteDeploymentKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * What the plan and initialSync tests share: the HubSpot and Salesforce emulators, a SQLite
 * database, a Redis prefix, and a `concord.yaml` on disk naming them (with extra keys per
 * connector, e.g. `initialSync`), so `concord plan` runs as an operator runs it and an engine
 * built from the same config does the real sync.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { builtinConnectors } from '../../../connectors/index.js';
import { startHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import type { RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { startSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';
import type { RunningSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';
import { createTestDatabase } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { hubspotYaml, hubYaml, salesforceYaml } from '../../../harness/hub-config.js';
import { createTestEngine, deletePrefix, REDIS_URL } from '../../../harness/sync-hub.js';
import { openConfiguredStore } from '../../../src/app/store.js';
import { parseConfig } from '../../../src/config/load.js';
import { toMergePolicy } from '../../../src/config/policy.js';
import type { Config } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log/logger.js';
import { prefixPatterns } from '../../../src/queue/keys.js';
import type { Store } from '../../../src/store/index.js';
import { connectorsFromConfig } from '../../../src/sync/index.js';
import type { SyncConnector } from '../../../src/sync/index.js';
import type { Engine, EngineRoles } from '../../../src/sync/index.js';
import type { CallCounts } from '../../../src/connector/emulator-kit/controls.js';
import { runConcord } from '../../helpers/cli.js';
import type { CliRun } from '../../helpers/cli.js';

const HS_SECRET = 'plan-hubspot-client-secret';
const HS_APP = 8093;
const SF_CLIENT = 'plan-connected-app';
const SF_SECRET = 'plan-salesforce-secret';
const SF_ORG = '00D5e000000PlAnEAA';

export const ENV: Record<string, string> = {
  T_SIGNING: 'plan-signing-secret-0123456789abcdef0123456',
  T_HASH: 'p'.repeat(32),
  T_HS_TOKEN: 'pat-plan',
  T_HS_SECRET: HS_SECRET,
  T_SF_ID: SF_CLIENT,
  T_SF_SECRET: SF_SECRET,
  T_SF_OM_TOKEN: 'plan-outbound-token-0123456789abcdefghijklmnop',
};

/**
 * The API calls that write nothing although their method is POST: HubSpot's searches and batch
 * reads (contacts and subscription statuses), and Salesforce's OAuth token request.
 */
export const READ_ONLY_POSTS = [
  /^POST \/crm\/v3\/objects\/contacts\/search$/,
  /^POST \/crm\/v3\/objects\/contacts\/batch\/read$/,
  /^POST \/communication-preferences\/v4\/statuses\/batch\/read$/,
  /^POST \/services\/oauth2\/token$/,
];

/** The calls of `counts` that may write: POST, PUT, PATCH or DELETE, but not a read-only POST. */
export function writeCalls(counts: CallCounts): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts.byEndpoint).filter(
      ([endpoint]) => /^(POST|PUT|PATCH|DELETE) /.test(endpoint) && !READ_ONLY_POSTS.some((re) => re.test(endpoint)),
    ),
  );
}

export interface PlanHub {
  hubspot: RunningHubSpotEmulator;
  salesforce: RunningSalesforceEmulator;
  db: TestDatabase;
  prefix: string;
  configPath: string;
  config: Config;
  /** `concord <args> --config <the file>`, in this process. */
  cli(args: readonly string[]): Promise<CliRun>;
  /** The store, opened (and migrated) as the hub opens it. */
  store(): Promise<Store>;
  /**
   * An engine on the config's connectors, started with these roles (default all; close it before
   * `close`); `restartedWith` changes a connector as a restart with an edited config would.
   */
  engine(store: Store, roles?: Partial<EngineRoles>, restartedWith?: (connector: SyncConnector) => SyncConnector): Promise<Engine>;
  /** Every key of the hub in Redis: the engine's and its queues' (`prefixPatterns`). */
  redisKeys(): Promise<string[]>;
  /** A connection to the hub's Redis. */
  redis: Redis;
  close(): Promise<void>;
}

export async function startPlanHub(extra: { hubspot?: string; salesforce?: string } = {}): Promise<PlanHub> {
  const cleanup: (() => Promise<unknown>)[] = [];
  const hubspot = await startHubSpotEmulator({ clientSecret: HS_SECRET, appId: HS_APP, accessToken: ENV['T_HS_TOKEN'] });
  cleanup.push(() => hubspot.close());
  const salesforce = await startSalesforceEmulator({ clientId: SF_CLIENT, clientSecret: SF_SECRET, organizationId: SF_ORG });
  cleanup.push(() => salesforce.close());
  const db = await createTestDatabase('sqlite');
  cleanup.push(() => db.drop());
  const prefix = `{plan-${randomBytes(5).toString('hex')}}`;
  cleanup.push(() => deletePrefix(prefix));
  const dir = await mkdtemp(join(tmpdir(), 'concord-plan-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'concord.yaml');
  // No schedule: the tests pull when they say (a scheduled pull runs when the engine starts).
  const yaml = `${hubYaml({ redisUrl: REDIS_URL, databaseUrl: db.url, prefix })}connectors:
${hubspotYaml({ baseUrl: hubspot.url, appId: HS_APP })}    subscriptions: [{ id: 101, consent: marketing.email }]
${extra.hubspot ?? ''}
${salesforceYaml({ loginUrl: salesforce.url, organizationId: SF_ORG })}    channelFlags: { HasOptedOutOfEmail: marketing.email }
${extra.salesforce ?? ''}
`;
  await writeFile(configPath, yaml);
  const loaded = parseConfig(yaml, configPath, { connectors: builtinConnectors, env: ENV });
  if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
  const config = loaded.config;
  const redis = new Redis(REDIS_URL);
  cleanup.push(() => redis.quit());
  return {
    hubspot,
    salesforce,
    db,
    prefix,
    configPath,
    config,
    cli: (args) => runConcord([...args, '--config', configPath], ENV),
    store: () => openConfiguredStore(config, connectorsFromConfig(config, builtinConnectors), silentLogger()),
    async engine(store, roles, restartedWith = (c) => c) {
      const engine = createTestEngine({
        prefix,
        store,
        connectors: connectorsFromConfig(config, builtinConnectors).map(restartedWith),
        policy: toMergePolicy(config),
      });
      await engine.start(roles);
      return engine;
    },
    redisKeys: async () => (await Promise.all(prefixPatterns(prefix).map((p) => redis.keys(p)))).flat(),
    redis,
    async close() {
      for (const step of cleanup.reverse()) await step().catch(() => undefined);
    },
  };
}

/**
 * A hub process as `concord start` runs it (`startHubProcess`, role `all`, the built-in
 * connectors), with its HTTP server, connected to the HubSpot and Salesforce emulators, and
 * its config on disk so the `concord` CLI can be run against the same hub. For the operator's
 * view: the admin API, the CLI and /metrics.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubSpotEmulator } from '../../connectors/hubspot/emulator/index.js';
import type { HubSpotEmulatorOptionsInput, RunningHubSpotEmulator } from '../../connectors/hubspot/emulator/index.js';
import { startSalesforceEmulator } from '../../connectors/salesforce/emulator/index.js';
import { DEFAULT_LIST_ID, startMailchimpEmulator } from '../../connectors/mailchimp/emulator/index.js';
import type { RunningMailchimpEmulator } from '../../connectors/mailchimp/emulator/index.js';
import type { RunningSalesforceEmulator } from '../../connectors/salesforce/emulator/index.js';
import { startHubProcess } from '../../src/app/hub.js';
import { freePort } from '../../src/app/free-port.js';
import type { HubProcess } from '../../src/app/hub.js';
import { parseConfig } from '../../src/config/load.js';
import { createTestDatabase } from '../../harness/db.js';
import type { TestDatabase, TestDialect } from '../../harness/db.js';
import { deletePrefix, REDIS_URL, TEST_TUNING } from '../../harness/sync-hub.js';
import { hubspotYaml, hubYaml, salesforceOutboundUrl, salesforceYaml, TEST_SF_OUTBOUND_TOKEN } from '../../harness/hub-config.js';
import { createLogger } from '../../src/log/logger.js';
import { builtinConnectors } from '../../connectors/index.js';

const HUBSPOT_SECRET = 'operator-hubspot-client-secret';
const HUBSPOT_APP_ID = 8091;
const SF_CLIENT = 'operator-connected-app';
const SF_SECRET = 'operator-salesforce-secret';
const SF_ORG = '00D5e000000OpErEAA';

/** The API keys of the hub: one admin key, one that may only read profiles. */
export const KEYS = {
  admin: 'operator-admin-key-0123456789abcdef',
  reader: 'operator-reader-key-0123456789abcdef',
};

export const ENV: Record<string, string> = {
  T_SIGNING: 'operator-signing-secret-0123456789abcdef0123',
  T_HASH: 'h'.repeat(32),
  T_HS_TOKEN: 'pat-operator',
  T_HS_SECRET: HUBSPOT_SECRET,
  T_SF_ID: SF_CLIENT,
  T_SF_SECRET: SF_SECRET,
  T_SF_OM_TOKEN: TEST_SF_OUTBOUND_TOKEN,
  T_ADMIN_KEY: KEYS.admin,
  T_READER_KEY: KEYS.reader,
  T_MC_KEY: 'operator-mailchimp-key-us1',
  T_MC_URL_SECRET: 'operator-mailchimp-url-secret-0123456789abcdef',
};

function configYaml(o: {
  databaseUrl: string;
  prefix: string;
  port: number;
  hubspot: string;
  salesforce: string;
  /** The Mailchimp emulator's URL, when the hub has Mailchimp too. */
  mailchimp?: string;
  extra: { hub: string; hubspot: string; salesforce: string };
}): string {
  const apiKeys = [
    { id: 'ops', env: 'T_ADMIN_KEY', scopes: ['admin'] },
    { id: 'reader', env: 'T_READER_KEY', scopes: ['profiles:read'] },
  ];
  return `${hubYaml({ redisUrl: REDIS_URL, databaseUrl: o.databaseUrl, prefix: o.prefix, port: o.port, apiKeys, extra: o.extra.hub })}connectors:
${hubspotYaml({ baseUrl: o.hubspot, appId: HUBSPOT_APP_ID })}    subscriptions: [{ id: 101, consent: marketing.email }, { id: 103, topic: newsletter }]${o.extra.hubspot}
${salesforceYaml({ loginUrl: o.salesforce, organizationId: SF_ORG })}    channelFlags: { HasOptedOutOfEmail: marketing.email }${o.extra.salesforce}
${
  o.mailchimp === undefined
    ? ''
    : `  mailchimp:
    type: mailchimp
    apiKey: \${env:T_MC_KEY}
    baseUrl: ${o.mailchimp}
    listId: ${DEFAULT_LIST_ID}
    webhookSecret: \${env:T_MC_URL_SECRET}
    consentAuthority: [marketing]
`
}`;
}

export interface OperatorHub {
  hub: HubProcess;
  hubspot: RunningHubSpotEmulator;
  salesforce: RunningSalesforceEmulator;
  /** With `mailchimp`: its emulator. */
  mailchimp?: RunningMailchimpEmulator;
  /** The YAML file the hub was started from (for the CLI). */
  configPath: string;
  /** The hub's database (to count rows). */
  db: TestDatabase;
  /** Calls the admin API with a key (and a JSON body). */
  api(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; type: string | null; body: unknown }>;
  /** Runs `concord <args>` against this hub's config, as a separate process. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Creates a person through the hub's own ingest (source `admin`), to be delivered to both systems. */
  createPerson(email: string, lastName: string): Promise<void>;
  close(): Promise<void>;
}

export interface OperatorHubOptions {
  hubspot?: Partial<HubSpotEmulatorOptionsInput>;
  /** Extra YAML lines under each connector (each starting with a newline and 4 spaces), and in `hub:` (each indented by 2 spaces, ending in a newline). */
  extra?: { hub?: string; hubspot?: string; salesforce?: string };
  /** Environment variables besides `ENV` (for the config and the CLI). */
  env?: Record<string, string>;
  /** Mailchimp as a third connector (instance `mailchimp` on its emulator). */
  mailchimp?: boolean;
  /** The hub's database. @defaultValue 'sqlite' */
  dialect?: TestDialect;
  /** Serve the queue board at /admin/queues (off by default). */
  queueBoard?: boolean;
}

export async function startOperatorHub(options: OperatorHubOptions = {}): Promise<OperatorHub> {
  const cleanup: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  };
  try {
    const hubspot = await startHubSpotEmulator({
      clientSecret: HUBSPOT_SECRET,
      appId: HUBSPOT_APP_ID,
      accessToken: ENV['T_HS_TOKEN'],
      webhookBatchMs: 5,
      ...options.hubspot,
    });
    cleanup.push(() => hubspot.close());
    const salesforce = await startSalesforceEmulator({
      clientId: SF_CLIENT,
      clientSecret: SF_SECRET,
      organizationId: SF_ORG,
      outboundBatchMs: 5,
    });
    cleanup.push(() => salesforce.close());
    const mailchimp = options.mailchimp ? await startMailchimpEmulator({ apiKey: ENV['T_MC_KEY'] }) : undefined;
    if (mailchimp) cleanup.push(() => mailchimp.close());
    const db = await createTestDatabase(options.dialect ?? 'sqlite');
    cleanup.push(() => db.drop());
    const prefix = `{operator-${randomBytes(5).toString('hex')}}`;
    cleanup.push(() => deletePrefix(prefix));
    const dir = await mkdtemp(join(tmpdir(), 'concord-operator-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'concord.yaml');
    const yaml = configYaml({
      databaseUrl: db.url,
      prefix,
      // The hub listens at its public URL: HubSpot signs the URL it delivers to.
      port: await freePort(),
      hubspot: hubspot.url,
      salesforce: salesforce.url,
      ...(mailchimp ? { mailchimp: mailchimp.url } : {}),
      extra: { hub: options.extra?.hub ?? '', hubspot: options.extra?.hubspot ?? '', salesforce: options.extra?.salesforce ?? '' },
    });
    await writeFile(configPath, yaml);
    const env = { ...ENV, ...options.env };
    const loaded = parseConfig(yaml, configPath, { connectors: builtinConnectors, env });
    if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
    const hub = await startHubProcess(loaded.config, {
      role: 'all',
      logger: createLogger({ level: process.env.CONCORD_TEST_LOG ?? 'silent' }),
      tuning: TEST_TUNING,
      server: { queueBoard: options.queueBoard ?? false, webhookRateLimit: 0 },
    });
    cleanup.push(() => hub.close());
    hubspot.sideDoor.setWebhookUrl(`${hub.url}/webhooks/hubspot`);
    salesforce.sideDoor.setWebhookUrl(salesforceOutboundUrl(hub.url ?? ''));
    mailchimp?.sideDoor.setWebhookUrl(`${hub.url ?? ''}/webhooks/mailchimp/${ENV['T_MC_URL_SECRET'] ?? ''}`);
    return {
      hub,
      hubspot,
      salesforce,
      ...(mailchimp ? { mailchimp } : {}),
      configPath,
      db,
      async api(method, path, key = KEYS.admin, body?: unknown) {
        const res = await fetch(`${hub.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, type: res.headers.get('content-type'), body: text === '' ? null : JSON.parse(text) };
      },
      cli(args) {
        return new Promise((resolve) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', 'src/cli/main.ts', ...args, '--config', configPath],
            { env: { ...process.env, ...env } },
            (error, stdout, stderr) => {
              const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
              resolve({ code, stdout, stderr });
            },
          );
        });
      },
      async createPerson(email, lastName) {
        const now = new Date().toISOString();
        await hub.hubIngest.ingest({
          id: `admin:${now}:${email}`,
          source: 'admin',
          at: now,
          receivedAt: now,
          identities: [{ kind: 'email', value: email }],
          attributes: { lastName },
          consents: {},
          subscriptions: {},
          rights: { objections: {} },
        });
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

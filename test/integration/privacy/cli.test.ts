/**
 * `concord dsr` as an operator runs it, against a running hub (the test's hub runs the
 * workers): requests are recorded and queued by the CLI and carried out by the hub. The command
 * runs in the test's process (`runCli`, what `src/cli/main.ts` runs) with its own environment,
 * its own store and Redis connections, as it would in a process of its own.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_SCHEMA_PATH } from '../../../src/privacy/index.js';
import type { DsrView } from '../../../src/privacy/index.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { SF_ORG, SIGNING_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';
import { runConcord } from '../../helpers/cli.js';
import type { CliRun as Run } from '../../helpers/cli.js';

/** Each test follows requests through every system: slow when the whole suite shares 2 cores. */
const CLI_TEST_TIMEOUT_MS = 90_000;

const ENV = {
  T_SIGNING: SIGNING_SECRET,
  T_HASH: 'k'.repeat(32),
  T_HS_TOKEN: 'pat-privacy',
  T_HS_SECRET: 'privacy-hubspot-client-secret',
  T_SF_ID: 'privacy-connected-app',
  T_SF_SECRET: 'privacy-salesforce-secret',
  LOG_LEVEL: 'silent',
};

function concord(args: string[]): Promise<Run> {
  return runConcord(args, { ...process.env, ...ENV });
}

function configYaml(hub: PrivacyHub): string {
  return `hub:
  mode: development
  redisUrl: ${REDIS_URL}
  databaseUrl: ${hub.db.url}
  publicUrl: http://127.0.0.1:8080
  keyPrefix: "${hub.engine.prefix}"
  secrets:
    signing: \${env:T_SIGNING}
    hashKey: \${env:T_HASH}
catalog:
  channels: { email: { title: E-mail } }
  purposes:
    marketing: { title: Marketing communications, notice: { text: Offers, version: "2026-01" }, objection: directMarketing, channels: [email] }
    personalisation: { title: Personalised content, notice: { text: Tailoring, version: "2026-01" }, objection: profiling, channels: [email] }
  topics: { newsletter: { title: Newsletter } }
connectors:
  hubspot:
    type: hubspot
    accessToken: \${env:T_HS_TOKEN}
    webhookSecret: \${env:T_HS_SECRET}
    baseUrl: ${hub.hubspotProxy.url}
    priority: 2
    consentAuthority: [marketing, personalisation]
    subscriptions: [{ id: 101, consent: marketing.email }, { id: 103, topic: newsletter }]
  salesforce:
    type: salesforce
    loginUrl: ${hub.salesforce.url}
    clientId: \${env:T_SF_ID}
    clientSecret: \${env:T_SF_SECRET}
    organizationId: ${SF_ORG}
    priority: 1
    consentAuthority: [marketing, personalisation]
    channelFlags: { HasOptedOutOfEmail: marketing.email }
`;
}

describe('concord dsr', () => {
  let hub: PrivacyHub;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    dir = await mkdtemp(join(tmpdir(), 'concord-dsr-'));
    config = join(dir, 'concord.yaml');
    await writeFile(config, configYaml(hub));
    hub.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' });
    hub.hubspot.sideDoor.subscribe('ada@example.com', 101);
    await hub.settle();
  }, 60_000);
  afterAll(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'exports to a file that validates against the published schema, and restricts, following each to the end',
    async () => {
      const out = join(dir, 'ada.json');
      const exported = await concord(['dsr', 'export', 'ada@example.com', '--live', '--out', out, '--config', config, '--timeout', '30s']);
      expect(exported.stderr).toBe('');
      expect(exported.code).toBe(0);
      expect(exported.stdout).toMatch(/export {2}completed/);
      expect(exported.stdout).toContain(`wrote ${out}`);
      const ajv = new Ajv2020({ strict: true });
      addFormats.default(ajv);
      const validate = ajv.compile(JSON.parse(await readFile(EXPORT_SCHEMA_PATH, 'utf8')) as Record<string, unknown>);
      const doc = JSON.parse(await readFile(out, 'utf8')) as { subject: { identities: unknown[] }; live: unknown[] };
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      expect(doc.subject.identities).toContainEqual({
        kind: 'email',
        value: 'ada@example.com',
        source: 'hubspot',
        at: expect.any(String),
        primary: true,
      });
      expect(doc.live).toHaveLength(2);
      // The readable page of the same request kind.
      const page = join(dir, 'ada.html');
      const readable = await concord([
        'dsr',
        'export',
        'ada@example.com',
        '--out',
        page,
        '--format',
        'html',
        '--config',
        config,
        '--timeout',
        '30s',
      ]);
      expect(readable.code).toBe(0);
      const text = await readFile(page, 'utf8');
      expect(text).toMatch(/^<!doctype html>/);
      expect(text).toContain('ada@example.com');

      const restricted = await concord(['dsr', 'restrict', 'ada@example.com', '--wait', '--json', '--config', config, '--timeout', '30s']);
      expect(restricted.code).toBe(0);
      const view = JSON.parse(restricted.stdout) as DsrView;
      expect(view).toMatchObject({ kind: 'restrict', status: 'completed', origin: 'cli' });
      expect(view.systems.map((s) => s.status)).toEqual(['completed', 'completed']);
    },
    CLI_TEST_TIMEOUT_MS,
  );

  it(
    'erases, shows the status per system, lists overdue requests, and refuses an unknown person with exit code 1',
    async () => {
      const erased = await concord(['dsr', 'erase', 'ada@example.com', '--wait', '--config', config, '--timeout', '30s']);
      expect(erased.code).toBe(0);
      expect(erased.stdout).toMatch(/erase {2}completed/);
      expect(erased.stdout).toMatch(/hubspot +completed +attempts 1 {2}erased \(verified: yes\)/);
      expect(erased.stdout).toMatch(/salesforce +completed +attempts 1 {2}erased \(verified: yes\)/);
      expect(erased.stdout).not.toContain('ada@example.com');
      const id = erased.stdout.split(/\s+/)[0] ?? '';
      expect(hub.hubspot.sideDoor.findByEmail('ada@example.com')).toBeUndefined();

      const status = await concord(['dsr', 'status', id, '--config', config]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`${id}  erase  completed`);
      expect(status.stdout).toMatch(/from cli/);

      const overdue = await concord(['dsr', 'list', '--overdue', '--config', config]);
      expect(overdue).toMatchObject({ code: 0, stdout: 'no overdue requests\n' });

      const unknown = await concord(['dsr', 'restrict', 'nobody@example.com', '--config', config]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('subject_not_found');
    },
    CLI_TEST_TIMEOUT_MS,
  );
});

/**
 * `concord check` as a process: the config, Redis, the database (reachable, schema current) and
 * each connector's lines, ✔ / ✘ / –, with file:line:col and the fix; exit 1 on any ✘.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MergePolicy } from '../../../src/profile/schema.js';
import { openStore } from '../../../src/store/index.js';
import { startHubSpotEmulator, type RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { runConcord } from '../../helpers/cli.js';
import { freePort } from '../../../src/app/free-port.js';
import { hubspotYaml, hubYaml } from '../../helpers/hub-config.js';

const ENV = {
  T_SIGNING: 'check-cli-signing-secret-long-enough-00001',
  T_HASH: 'check-cli-hash-key-long-enough-000000000002',
  T_HS_TOKEN: 'pat-check-cli',
  T_HS_SECRET: 'check-cli-client-secret',
};
const open: RunningHubSpotEmulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function setup(options: { migrated?: boolean; redisUrl?: string } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'concord-check-cli-'));
  const databaseUrl = `sqlite:${join(dir, 'concord.db')}`;
  if (options.migrated ?? true) {
    const store = await openStore({ url: databaseUrl, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'unused' });
    await store.close();
  }
  const emu = await startHubSpotEmulator({ clientSecret: ENV.T_HS_SECRET, accessToken: ENV.T_HS_TOKEN, appId: 4242 });
  open.push(emu);
  const file = join(dir, 'concord.yaml');
  const yaml = `${hubYaml({ redisUrl: options.redisUrl ?? 'redis://127.0.0.1:6379', databaseUrl, prefix: '{check-cli}' })}connectors:\n${hubspotYaml({ baseUrl: emu.url, appId: 4242 })}`;
  await writeFile(file, yaml);
  return { file, yaml };
}

/** `file:line:col: ` of the value of `key:` in the YAML text. */
function at(file: string, yaml: string, key: string): string {
  const lines = yaml.split('\n');
  const line = lines.findIndex((l) => l.trimStart().startsWith(`${key}:`));
  const text = lines[line] ?? '';
  return `${file}:${line + 1}:${text.indexOf(':') + 3}: `;
}

describe('concord check', () => {
  it('prints ✔ for the config, Redis, the database and the connector, – for what cannot be checked, and exits 0', async () => {
    const { file } = await setup();
    const run = await runConcord(['check', '--config', file], ENV);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`✔ config: ${file} is valid`);
    expect(lines[1]).toBe('✔ redis: Redis at redis://127.0.0.1:6379 answers (maxmemory-policy noeviction)');
    expect(lines[2]).toMatch(/^✔ database: the database at sqlite:.+ answers and its schema is current$/);
    expect(lines).toContain('✔ hubspot: the access token is accepted (private app 4242 in account 62515)');
    expect(lines.at(-1)).toMatch(/^– hubspot: webhook subscriptions cannot be checked from here/);
    expect(run.code).toBe(0);
  });

  it('prints ✘ for an unreachable Redis, a database without its schema and a wrong token, each at its key with the fix, and exits 1', async () => {
    const port = await freePort();
    const { file, yaml } = await setup({ migrated: false, redisUrl: `redis://127.0.0.1:${port}` });
    const run = await runConcord(['check', '--config', file], { ...ENV, T_HS_TOKEN: 'pat-wrong' });
    expect(run.stdout).toContain(`✘ redis: ${at(file, yaml, 'redisUrl')}hub.redisUrl: Redis at redis://127.0.0.1:${port} does not answer`);
    expect(run.stdout).toContain('Fix: start Redis, or set hub.redisUrl');
    expect(run.stdout).toContain(`✘ database: ${at(file, yaml, 'databaseUrl')}hub.databaseUrl: the database file of sqlite:`);
    expect(run.stdout).toContain('Fix: run concord migrate');
    expect(run.stdout).toMatch(/✘ hubspot: .+connectors\.hubspot\.accessToken: HubSpot refused the credentials/);
    expect(run.code).toBe(1);
  });

  it('with a connector named, checks only that connector', async () => {
    const { file } = await setup({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
    const run = await runConcord(['check', 'hubspot', '--config', file], ENV);
    expect(run.stdout).not.toContain('redis:');
    expect(run.stdout).toContain('✔ hubspot: contacts can be read');
    expect(run.code).toBe(0);
  });
});

/**
 * Admin API keys end to end: a key `concord key create` prints works against the hub's API once
 * its entry is pasted into the config (the config holding only the digest), and a rotation keeps
 * the old and the new key valid together until the old one's `until` passes or it is removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiKeyConfig } from '../../../src/config/schema.js';
import { parseConfig } from '../../../src/config/load.js';
import { EMPTY_CATALOG_YAML, fakeConnectors, MINIMAL_HUB_YAML, testEnv } from '../../../src/config/testing/support.js';
import { createLogger } from '../../../src/log/logger.js';
import { runConcord } from '../../helpers/cli.js';
import { startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

interface CreatedKey {
  id: string;
  key: string;
  sha256: string;
  scopes: string[];
  yaml: string;
}

async function createKey(args: string[]): Promise<{ created: CreatedKey; stderr: string }> {
  const run = await runConcord(['key', 'create', ...args, '--json'], {});
  expect(run.code).toBe(0);
  return { created: JSON.parse(run.stdout) as CreatedKey, stderr: run.stderr };
}

/** The config's `hub.apiKeys` with `entries` (what `concord key create` printed) pasted in, through the real loader. */
function configuredKeys(entries: string[]): ApiKeyConfig[] {
  const text = `${MINIMAL_HUB_YAML}  apiKeys:\n${entries.join('\n')}\n${EMPTY_CATALOG_YAML}`;
  const result = parseConfig(text, 'inline.yaml', { connectors: fakeConnectors, env: testEnv });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config.hub.apiKeys;
}

const HOUR = 3_600_000;
const iso = (ms: number): string => new Date(ms).toISOString();

describe('admin API keys against a running hub', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const status = async (key: string): Promise<number> =>
    (await s!.app.inject({ method: 'GET', url: '/api/v1/connectors', headers: { authorization: `Bearer ${key}` } })).statusCode;

  it('a key from `concord key create` works once its printed entry is in the config, which holds only its digest', async () => {
    const { created, stderr } = await createKey(['--id', 'ops', '--scopes', 'admin']);
    expect(created.key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(created.key, 'base64url')).toHaveLength(32);
    expect(stderr).toContain('only time');
    expect(stderr).not.toContain(created.key);
    expect(created.yaml).not.toContain(created.key);
    const keys = configuredKeys([created.yaml]);
    expect(keys).toEqual([{ id: 'ops', sha256: created.sha256, scopes: ['admin'] }]);

    const reader = await createKey(['--id', 'support', '--scopes', 'profiles:read,audit:read']);
    s = await startServerHub({ roles: false, apiKeys: configuredKeys([created.yaml, reader.created.yaml]) });
    expect(await status(created.key)).toBe(200);
    expect(await status(reader.created.key)).toBe(403);
    expect(await status(`${created.key}x`)).toBe(401);
  });

  it('rotation: old and new keys both work while the old one is listed and before its until; removed or expired, the old one is refused', async () => {
    const old = await createKey(['--id', 'ops', '--scopes', 'admin']);
    const until = iso(Date.now() + HOUR);
    const rotated = await createKey(['--id', 'ops', '--scopes', 'admin', '--previous', old.created.sha256, '--until', until]);
    expect(rotated.created.yaml).toContain(`previous:\n        sha256: ${old.created.sha256}\n        until: ${until}`);
    const lapsedOld = await createKey(['--id', 'lapsed', '--scopes', 'admin']);
    const lapsedNew = await createKey(['--id', 'lapsed', '--scopes', 'admin']);
    const lapsedEntry = `${lapsedNew.created.yaml.replace(/\n {6}scopes:.*$/, '')}
      previous:
        sha256: ${lapsedOld.created.sha256}
        until: ${iso(Date.now() - 1000)}
      scopes: [admin]`;

    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    s = await startServerHub({ roles: false, logger, apiKeys: configuredKeys([rotated.created.yaml, lapsedEntry]) });
    expect(await status(rotated.created.key)).toBe(200);
    expect(await status(old.created.key)).toBe(200);
    // An until in the past: the old key is refused at once, the new one works.
    expect(await status(lapsedNew.created.key)).toBe(200);
    expect(await status(lapsedOld.created.key)).toBe(401);
    // A client still on the old key is named by the key's id (never the key) in the logs.
    const previousUse = lines.filter((line) => line.includes('previous key'));
    expect(previousUse).toHaveLength(1);
    expect(previousUse[0]).toContain('"keyId":"ops"');
    expect(lines.join('')).not.toContain(old.created.key);
    await s.close();

    // The rotation's last step: `previous` removed, the old key is refused.
    s = await startServerHub({ roles: false, apiKeys: configuredKeys([rotated.created.yaml.replace(/\n {6}previous:\n.*\n.*/, '')]) });
    expect(await status(rotated.created.key)).toBe(200);
    expect(await status(old.created.key)).toBe(401);
  });
});

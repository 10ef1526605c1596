/**
 * `concord dsr` next to `npm start`: the command reaches the running demo's data (its own
 * database and Redis prefix) through the demo's state file, a second demo refuses before it
 * touches the first one's data, and a request nobody works on makes `--wait` exit non-zero
 * with what to do.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../../connectors/index.js';
import { startDemo } from '../../../src/app/demo.js';
import { freePort } from '../../../src/app/free-port.js';
import type { Demo } from '../../../src/app/demo.js';
import { loadConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log/logger.js';
import { prefixPatterns } from '../../../src/queue/keys.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { runConcord } from '../../helpers/cli.js';

const CONFIG = 'config/concord.yaml';

async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = (await Promise.all(prefixPatterns(prefix).map((p) => redis.keys(p)))).flat();
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

describe('concord dsr beside npm start', () => {
  let demo: Demo;
  let dir: string;
  let prefix: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'concord-cli-demo-'));
    env = {
      ...process.env,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      HUBSPOT_BASE_URL: 'http://127.0.0.1:0',
      SALESFORCE_LOGIN_URL: 'http://127.0.0.1:0',
      REDIS_URL,
      CONCORD_DEMO_STATE: join(dir, 'demo.json'),
      LOG_LEVEL: 'silent',
    };
    const loaded = await loadConfig(CONFIG, { connectors: builtinConnectors, env });
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    prefix = `{cli-demo-${randomBytes(4).toString('hex')}}`;
    demo = await startDemo(loaded.config, createLogger({ level: 'silent' }), {
      databaseUrl: `sqlite:${join(dir, 'demo.db')}`,
      keyPrefix: prefix,
      port,
      stateFile: join(dir, 'demo.json'),
      configPath: CONFIG,
    });
  }, 120_000);

  afterAll(async () => {
    await demo?.close();
    if (prefix) await deletePrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the demo’s people and follows the request to its end', async () => {
    const run = await runConcord(['dsr', 'restrict', 'ada@example.com', '--wait', '--timeout', '60s', '--json', '--config', CONFIG], env);
    expect(run.stderr).toContain(`using the demo that runs now (pid ${process.pid})`);
    expect(run.stderr).toContain(prefix);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ kind: 'restrict', status: 'completed' });
  }, 90_000);

  it('stays on the config’s own data with --no-demo', async () => {
    const run = await runConcord(['dsr', 'list', '--no-demo', '--json', '--config', CONFIG], {
      ...env,
      DATABASE_URL: `sqlite:${join(dir, 'own.db')}`,
    });
    expect(run.stderr).not.toContain('using the demo');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([]);
  });

  it('refuses a second demo before touching the running one’s data', async () => {
    const loaded = await loadConfig(CONFIG, { connectors: builtinConnectors, env });
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    await expect(
      startDemo(loaded.config, createLogger({ level: 'silent' }), {
        databaseUrl: `sqlite:${join(dir, 'demo.db')}`,
        keyPrefix: prefix,
        stateFile: join(dir, 'demo.json'),
        configPath: CONFIG,
      }),
    ).rejects.toThrow(/a demo already runs \(pid \d+ at http:\/\/127\.0\.0\.1:\d+/);
    expect(existsSync(join(dir, 'demo.db'))).toBe(true);
    expect(await demo.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' })).not.toBeNull();
  });

  it('exits 2 with what to do when no hub works on the request (another config than the demo’s)', async () => {
    const idle = `{cli-idle-${randomBytes(4).toString('hex')}}`;
    const config = join(dir, 'idle.yaml');
    writeFileSync(config, readFileSync(CONFIG, 'utf8').replace('keyPrefix: "{concord}"', `keyPrefix: "${idle}"`));
    const run = await runConcord(['dsr', 'export', 'nobody@example.com', '--wait', '--timeout', '1s', '--config', config], {
      ...env,
      DATABASE_URL: `sqlite:${join(dir, 'idle.db')}`,
    });
    await deletePrefix(idle);
    expect(run.stderr).not.toContain('using the demo');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/is still (received|in_progress) after 1s: no hub works on this database sqlite:.*idle\.db/);
    expect(run.stderr).toContain('concord dsr status');
  }, 30_000);
});

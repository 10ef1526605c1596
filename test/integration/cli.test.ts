/**
 * The `concord` CLI as a user runs it: exit codes and output. Commands run in the test's process
 * (`runCli`, the program `src/cli/main.ts` runs, with the environment given); a few run as real
 * processes (`concordProcess`, `node --import tsx src/cli/main.ts`) to keep the launcher, the
 * process's exit code, its streams and signals honest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/free-port.js';
import { runConcord, startConcord } from '../helpers/cli.js';
import { killableRedis } from '../helpers/private-redis.js';
import type { KillableRedis } from '../helpers/private-redis.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The variables the example configs read; unset so the tests see a fresh machine. */
const CONFIG_VARS = ['CONCORD_CONFIG', 'REDIS_URL', 'DATABASE_URL', 'PUBLIC_URL', 'CONCORD_SIGNING_SECRET', 'CONCORD_HASH_KEY', 'PORT'];

/** The environment of a command: the test process's, with `extraEnv` and without the config variables it does not set. */
function envOf(extraEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  for (const name of CONFIG_VARS) if (!(name in extraEnv)) delete env[name];
  return env;
}

/** `concord <args>` in this process. */
function concord(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return runConcord(args, envOf(extraEnv));
}

/** `concord <args>` as a process of its own. */
function concordProcess(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: envOf(extraEnv) }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const testSecrets = {
  TEST_SIGNING_SECRET: 'cli-test-signing-secret-long-enough-000001',
  TEST_HASH_KEY: 'cli-test-hash-key-long-enough-0000000000002',
};

describe('concord validate', () => {
  it('exits 0 with a one-line summary for the example config (the default path)', async () => {
    const run = await concord(['validate']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('config/concord.yaml: OK — 4 purposes, 4 channels, 4 topics, 5 connectors\n');
    expect(run.stderr).toContain('config/concord.yaml:25:14: warning: hub.secrets.signing: CONCORD_SIGNING_SECRET is not set');
  });

  it('exits 1 and prints every error as file:line:col (a process of its own)', async () => {
    const file = 'test/fixtures/config/bad-enum.yaml';
    const run = await concordProcess(['validate', '--config', file], testSecrets);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `${file}:2:9: hub.mode: invalid value "staging"; expected one of: development, production`,
      `${file}:16:26: catalog.purposes.marketing.defaultLegalBasis: invalid value "implied"; expected one of: consent, contract, legal_obligation, vital_interest, public_task, legitimate_interest`,
      `${file}:17:15: catalog.purposes.marketing.policy: invalid value "newest"; expected one of: latest, most-restrictive`,
      '3 errors in the configuration.',
    ]);
  });

  it('reads the path from CONCORD_CONFIG, and --config wins over it', async () => {
    const env = {
      CONCORD_CONFIG: 'config/examples/production.yaml',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      PUBLIC_URL: 'https://consent.example.com',
      CONCORD_SIGNING_SECRET: randomBytes(32).toString('base64url'),
      CONCORD_HASH_KEY: randomBytes(32).toString('base64url'),
    };
    const fromEnv = await concord(['validate'], env);
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toBe('config/examples/production.yaml: OK — 5 purposes, 5 channels, 5 topics, 0 connectors\n');
    const fromOption = await concord(['validate', '-c', 'config/concord.yaml'], { CONCORD_CONFIG: env.CONCORD_CONFIG });
    expect(fromOption.code).toBe(0);
    expect(fromOption.stdout).toMatch(/^config\/concord\.yaml: OK/);
  });

  it('exits 1 for a file that does not exist', async () => {
    const run = await concord(['validate', '--config', 'nope.yaml']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('nope.yaml: cannot read the config file (ENOENT)');
  });
});

describe('concord schema', () => {
  it('prints the checked-in JSON Schema', async () => {
    const run = await concord(['schema']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(await readFile('config/concord.schema.json', 'utf8'));
  });
});

/** A minimal config for `concord start` in a fresh temp dir: its own SQLite file and Redis prefix, any free port. */
async function startConfig(at: { redisUrl?: string; port?: number } = {}): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'concord-start-'));
  const file = join(dir, 'concord.yaml');
  await writeFile(
    file,
    [
      'hub:',
      '  mode: development',
      `  redisUrl: ${at.redisUrl ?? 'redis://127.0.0.1:6379'}`,
      `  databaseUrl: sqlite:${join(dir, 'hub.db')}`,
      '  publicUrl: http://localhost:8080',
      `  listen: { host: 127.0.0.1, port: ${at.port ?? 0} }`,
      `  keyPrefix: "{cli-${randomBytes(4).toString('hex')}}"`,
      '  secrets:',
      '    signing: ${env:X_SIGNING:-cli-test-signing-secret-long-enough-000001}',
      '    hashKey: ${env:X_HASH:-cli-test-hash-key-long-enough-0000000000002}',
      'catalog:',
      '  channels: { email: { title: E-mail } }',
      '  purposes:',
      '    marketing: { title: Marketing, notice: { text: Offers., version: "1" }, channels: [email] }',
      '',
    ].join('\n'),
  );
  return { dir, file };
}

describe('concord start', () => {
  it('runs the hub until SIGTERM: the server answers, then it stops cleanly', async () => {
    const { dir, file } = await startConfig();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', file], {
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 25_000;
      while (!/listening on (http:\/\/\S+)/.test(stdout) && Date.now() < deadline) await sleep(100);
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      expect(stdout).toContain('Hub running (role all)');
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(await ready.json()).toMatchObject({ status: 'ready' });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stdout).toContain('SIGTERM: stopping...');
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for an unreachable Redis: says so at most once per 10 s, /healthz up, /readyz and webhooks 503 at once, then starts when it answers', async () => {
    const redisPort = await freePort();
    const httpPort = await freePort();
    const { dir, file } = await startConfig({ redisUrl: `redis://127.0.0.1:${redisPort}`, port: httpPort });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', file], {
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${httpPort}`;
    let redis: KillableRedis | undefined;
    /** The warnings logged (all of them about Redis here), with their times. */
    const warnings = () =>
      stdout
        .split('\n')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as { level: number; time: number; msg: string }];
          } catch {
            return [];
          }
        })
        .filter((entry) => entry.level >= 40);
    try {
      const deadline = Date.now() + 25_000;
      for (;;) {
        const health = await fetch(`${url}/healthz`).catch(() => null);
        if (health?.status === 200) break;
        if (Date.now() > deadline) throw new Error(`no /healthz within 25 s: ${stdout}`);
        await sleep(100);
      }
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: 'not_ready',
        checks: [
          { name: 'redis', ok: false },
          { name: 'database', ok: true },
        ],
      });
      const started = Date.now();
      const webhook = await fetch(`${url}/webhooks/hubspot`, {
        method: 'POST',
        body: '[]',
        headers: { 'content-type': 'application/json' },
      });
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(webhook.status).toBe(503);
      expect(webhook.headers.get('retry-after')).toBe('5');
      expect(((await webhook.json()) as { code: string }).code).toBe('redis_unavailable');

      // 12 s of waiting: the first line names the address, and no more than one line per 10 s follows.
      await sleep(12_000);
      const lines = warnings();
      expect(lines[0]?.msg).toBe(
        `redis unreachable at redis://127.0.0.1:${redisPort}: retrying with backoff; workers wait for it, /healthz is up, /readyz answers 503`,
      );
      expect(lines.length).toBeGreaterThanOrEqual(1);
      for (let i = 1; i < lines.length; i++) expect((lines[i]?.time ?? 0) - (lines[i - 1]?.time ?? 0)).toBeGreaterThanOrEqual(10_000);
      // Nothing prints connection errors around the logger.
      expect(stderr).not.toContain('ECONNREFUSED');
      expect(stdout).not.toContain('Hub running');

      redis = await killableRedis(redisPort);
      const upBy = Date.now() + 20_000;
      while (!stdout.includes('Hub running') && Date.now() < upBy) await sleep(100);
      expect(stdout).toContain('Hub running (role all)');
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    await redis?.kill();
    await rm(dir, { recursive: true, force: true });
  }, 90_000);

  it('exits 1 on an invalid config and on an unknown role', async () => {
    const bad = await concord(['start', '--config', 'test/fixtures/config/syntax-error.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('test/fixtures/config/syntax-error.yaml:4:3: YAML syntax error');
    const role = await concord(['start', '--role', 'everything']);
    expect(role.code).toBe(1);
    expect(role.stderr).toContain("argument 'everything' is invalid");
  });

  it('rejects an unknown role in a --role list with a message listing the valid roles, and no stack trace', async () => {
    const run = await concord(['start', '--role', 'api, bogus']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      'unknown role "bogus"; valid roles: api, ingest, relay, push, pull, privacy, worker (= ingest,relay,push,pull,privacy), all (= every role)',
    );
    expect(run.stderr).not.toMatch(/\bat .+\.(ts|js):\d+/);
  });

  it('runs only the given roles: --role ingest,relay,pull starts no HTTP server', async () => {
    const { dir, file } = await startConfig();
    const child = startConcord(['start', '--config', file, '--role', 'ingest, relay,pull'], { ...process.env, LOG_LEVEL: 'silent' });
    let exited: Promise<Run> | undefined;
    try {
      const deadline = Date.now() + 25_000;
      while (!child.stdout().includes('Hub running') && Date.now() < deadline) await sleep(100);
      const stdout = child.stdout();
      expect(stdout).toContain('Hub running (role ingest,relay,pull): Redis');
      expect(stdout).not.toContain('listening on');
    } finally {
      exited = child.stop('SIGTERM');
    }
    expect((await exited).code).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('concord secret', () => {
  it('prints a fresh secret: 32 random bytes as base64url, each time another', async () => {
    const runs = await Promise.all([concord(['secret']), concord(['secret'])]);
    const values = runs.map((run) => {
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
      return run.stdout.trim();
    });
    expect(values[0]).not.toBe(values[1]);
    for (const value of values) expect(Buffer.from(value, 'base64url')).toHaveLength(32);
  });
});

describe('the production policy at validate and at start', () => {
  /** config/examples/production.yaml's variables, with the secrets given. */
  const productionEnv = (secrets: { signing: string; hashKey: string }, publicUrl = 'https://consent.example.com') => ({
    CONCORD_CONFIG: 'config/examples/production.yaml',
    REDIS_URL: 'redis://127.0.0.1:6379',
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
    PUBLIC_URL: publicUrl,
    CONCORD_SIGNING_SECRET: secrets.signing,
    CONCORD_HASH_KEY: secrets.hashKey,
  });
  const PUBLISHED = 'dev-only-signing-secret-do-not-use-in-production';
  const WEAK = 'k'.repeat(64);
  const file = 'config/examples/production.yaml';
  const expected = [
    `${file}:15:14: hub.publicUrl: hub.mode is production, so publicUrl must be an https:// URL (the preference center sets Secure cookies; put a TLS-terminating proxy in front of the hub)`,
    `${file}:17:11: hub.listen.host: a published development secret is configured (hub.secrets.signing), so the hub listens only on loopback (127.0.0.1, ::1, localhost); set every secret to a value of your own`,
    `${file}:21:14: hub.secrets.signing: is a development value published with Concord, refused in production mode; set CONCORD_SIGNING_SECRET to a new secret (\`concord secret\` prints one)`,
    `${file}:22:14: hub.secrets.hashKey: is too weak for production mode (too few different characters: about 0 bits, 256 needed); set CONCORD_HASH_KEY to 32 random bytes (\`concord secret\` prints one)`,
    '4 errors in the configuration.',
  ];

  it('validate and start refuse published and weak secrets and an http public URL, naming each setting and never the value', async () => {
    const env = productionEnv({ signing: PUBLISHED, hashKey: WEAK }, 'http://consent.example.com');
    for (const command of [['validate'], ['start']]) {
      const run = await concord(command, env);
      expect(run.code, command[0]).toBe(1);
      expect(run.stdout, command[0]).toBe('');
      expect(run.stderr.trimEnd().split('\n'), command[0]).toEqual(expected);
      expect(run.stderr).not.toContain(PUBLISHED);
      expect(run.stderr).not.toContain('kkkk');
    }
  });

  it('validate accepts what concord secret prints', async () => {
    const [signing, hashKey] = await Promise.all([concord(['secret']), concord(['secret'])]);
    const run = await concord(['validate'], productionEnv({ signing: signing.stdout.trim(), hashKey: hashKey.stdout.trim() }));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

/**
 * The `concord` CLI as a user runs it: real processes, exit codes and output.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The variables the example configs read; unset so the tests see a fresh machine. */
const CONFIG_VARS = ['CONCORD_CONFIG', 'REDIS_URL', 'DATABASE_URL', 'PUBLIC_URL', 'CONCORD_SIGNING_SECRET', 'CONCORD_HASH_KEY', 'PORT'];

function concord(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  for (const name of CONFIG_VARS) if (!(name in extraEnv)) delete env[name];
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'src/cli/main.ts', ...args], { env }, (error, stdout, stderr) => {
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
    expect(run.stdout).toBe('config/concord.yaml: OK — 4 purposes, 4 channels, 4 topics, 0 connectors\n');
    expect(run.stderr).toContain('config/concord.yaml:25:14: warning: hub.secrets.signing: CONCORD_SIGNING_SECRET is not set');
  });

  it('exits 1 and prints every error as file:line:col', async () => {
    const file = 'src/config/fixtures/bad-enum.yaml';
    const run = await concord(['validate', '--config', file], testSecrets);
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
      CONCORD_SIGNING_SECRET: 's'.repeat(48),
      CONCORD_HASH_KEY: 'h'.repeat(48),
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

describe('concord start (until the server exists)', () => {
  it('validates the config, says what it checked and that the server is not built yet', async () => {
    const run = await concord(['start']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('config/concord.yaml: OK — 4 purposes');
    expect(run.stdout).toContain('defaults used: CONCORD_HASH_KEY, CONCORD_SIGNING_SECRET, DATABASE_URL, PUBLIC_URL, REDIS_URL');
    expect(run.stdout).toContain('The server and the workers are not built yet');
  });

  it('exits 1 on an invalid config and on an unknown role', async () => {
    const bad = await concord(['start', '--config', 'src/config/fixtures/syntax-error.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('src/config/fixtures/syntax-error.yaml:4:3: YAML syntax error');
    const role = await concord(['start', '--role', 'everything']);
    expect(role.code).toBe(1);
    expect(role.stderr).toContain("argument 'everything' is invalid");
  });
});

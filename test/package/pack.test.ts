/**
 * The package as an operator gets it: `npm pack` (which builds dist/ through `prepack`), then
 * `npm install <tarball>` in an empty folder, then the installed `concord` bin with plain node.
 * Only `dependencies` are installed there, so a runtime import of a devDependency (tsx, vitest)
 * or of test code fails here. Install scripts are skipped (`--ignore-scripts`): the one that
 * matters, better-sqlite3's native build, is its own and takes minutes on 2 cores; `npm ci`
 * runs it on every CI run, and `--version` and `validate` open no database.
 * Slow: `npm run test:package` (vitest.package.config.ts), run by `.ci/run`; the npm cache is reused.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EMPTY_CATALOG_YAML, MINIMAL_HUB_YAML, testEnv } from '../../src/config/testing/support.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a non-zero exit is a result, not an error. */
function run(file: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const PackResult = z.array(
  z.object({ filename: z.string(), size: z.number(), unpackedSize: z.number(), files: z.array(z.object({ path: z.string() })) }),
);

const repo = process.cwd();
const version = z.object({ version: z.string() }).parse(JSON.parse(await readFile('package.json', 'utf8'))).version;

let work = '';
let installed = '';
let packed: z.infer<typeof PackResult>[number];
/** The environment of the installed bin: none of the config variables of the developer's shell. */
let env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'concord-package-'));
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo });
  expect(pack.code, pack.stderr).toBe(0);
  // npm prints the prepack script's output before the JSON.
  packed = PackResult.parse(JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))).at(0) ?? expect.unreachable();
  installed = join(work, 'app');
  await mkdir(installed);
  const install = await run(
    'npm',
    ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)],
    { cwd: installed },
  );
  expect(install.code, install.stderr).toBe(0);
  env = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...testEnv };
});

afterAll(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the compiled build, the bin, the licence and the examples, and no sources or test code', () => {
    const paths = packed.files.map((file) => file.path);
    for (const path of [
      'package.json',
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'bin/concord.js',
      'dist/src/cli/main.js',
      'config/examples/production.yaml',
    ])
      expect(paths).toContain(path);
    expect(paths.filter((path) => path.endsWith('.ts'))).toEqual([]);
    expect(paths.filter((path) => /(^|\/)(test|testing|harness|scripts)\/|\.test\.js$/.test(path))).toEqual([]);
    console.log(
      `package: ${packed.filename}, ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${paths.length} files`,
    );
  });
});

describe('the installed package', () => {
  const bin = (): string => join(installed, 'node_modules', '.bin', 'concord');

  it('installs without the devDependencies (no tsx, no vitest, no typescript)', () => {
    for (const dev of ['tsx', 'vitest', 'typescript']) expect(existsSync(join(installed, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(installed, 'node_modules', 'concord', 'dist', 'src', 'cli', 'main.js'))).toBe(true);
  });

  it('concord --version prints the package version', async () => {
    const result = await run(bin(), ['--version'], { cwd: installed, env });
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('concord validate accepts a valid config file and rejects an invalid one', async () => {
    await writeFile(join(installed, 'concord.yaml'), MINIMAL_HUB_YAML + EMPTY_CATALOG_YAML);
    const ok = await run(bin(), ['validate', '--config', 'concord.yaml'], { cwd: installed, env });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^concord\.yaml: OK — 0 purposes, 0 channels, 0 topics, 0 connectors\n$/);
    expect(ok.code).toBe(0);

    await writeFile(join(installed, 'bad.yaml'), MINIMAL_HUB_YAML.replace('redis://127.0.0.1:6379', 'not a url') + EMPTY_CATALOG_YAML);
    const bad = await run(bin(), ['validate', '--config', 'bad.yaml'], { cwd: installed, env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^bad\.yaml:2:\d+: .*hub\.redisUrl/m);
  });
});

/**
 * `npm run new-connector <id>` (scripts/new-connector/): generates a connector into a scratch
 * copy of the repository's layout (under test-artifacts/, `src` and `test/helpers` linked to
 * the real ones), checks the files, their format, and that they typecheck; then removes it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NewConnectorError, newConnector } from '../../scripts/new-connector/generate.js';

const REPO = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(REPO, 'test-artifacts');
const createdArtifacts = !existsSync(ARTIFACTS);
let root: string;

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  root = await mkdtemp(join(ARTIFACTS, 'new-connector-'));
  await mkdir(join(root, 'test'), { recursive: true });
  await symlink(join(REPO, 'src'), join(root, 'src'), 'dir');
  await symlink(join(REPO, 'test', 'helpers'), join(root, 'test', 'helpers'), 'dir');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  if (createdArtifacts) await rmdir(ARTIFACTS).catch(() => undefined); // only when empty
});

describe('new-connector', () => {
  it('creates a complete connector that is formatted and typechecks', async () => {
    const result = await newConnector({ id: 'acme-crm', root });
    expect(result.files).toEqual([
      'connectors/acme-crm/README.md',
      'connectors/acme-crm/config.ts',
      'connectors/acme-crm/connector.ts',
      'connectors/acme-crm/emulator/index.ts',
      'connectors/acme-crm/emulator/server.ts',
      'connectors/acme-crm/index.ts',
      'connectors/acme-crm/mapping.ts',
      'connectors/acme-crm/webhook.ts',
      'test/integration/acme-crm/conformance.test.ts',
    ]);
    expect(result.port).toBe(4010); // no emulator declares a port in the scratch copy
    expect(result.checklist[0]).toContain("import('./acme-crm/index.js'),");
    const connector = await readFile(join(root, 'connectors/acme-crm/connector.ts'), 'utf8');
    expect(connector).toContain("type: 'acme-crm'");
    expect(connector).not.toMatch(/__(id|Name|name|ENV|PORT)__/);
    expect(await readFile(join(root, 'connectors/acme-crm/emulator/index.ts'), 'utf8')).toContain("secretEnv: 'ACME_CRM_WEBHOOK_SECRET'");

    for (const file of result.files.filter((f) => f.endsWith('.ts'))) {
      const path = join(root, file);
      const options = { ...(await prettier.resolveConfig(path)), filepath: path };
      expect(await prettier.check(await readFile(path, 'utf8'), options), file).toBe(true);
    }

    await writeFile(
      join(root, 'tsconfig.json'),
      JSON.stringify({ extends: join(REPO, 'tsconfig.json'), include: ['connectors', 'test/integration'] }),
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', join(root, 'tsconfig.json')]).then(
      () => ({ ok: true, output: '' }),
      (err: { stdout?: string }) => ({ ok: false, output: err.stdout ?? String(err) }),
    );
    expect(run.output).toBe('');
    expect(run.ok).toBe(true);
  }, 180_000);

  it('refuses an id that exists and an invalid id, creating nothing', async () => {
    await expect(newConnector({ id: 'acme-crm', root })).rejects.toThrow(/connectors\/acme-crm exists already/);
    for (const id of ['Acme', 'acme_crm', '1acme', 'acme-', 'acme--crm', '']) {
      await expect(newConnector({ id, root })).rejects.toThrow(NewConnectorError);
      expect(existsSync(join(root, 'connectors', id || 'x'))).toBe(false);
    }
  });

  it('gives the emulator the first default port no emulator declares', async () => {
    const result = await newConnector({ id: 'second', root });
    expect(result.port).toBe(4020);
  });
});

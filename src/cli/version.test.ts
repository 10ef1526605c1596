import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './program.js';
import type { CliIo } from './io.js';
import { packageVersion } from './version.js';

const ownVersion = (JSON.parse(await readFile('package.json', 'utf8')) as { version: string }).version;

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A folder with a package.json named `name` and, two levels down, the folder to look from. */
async function layout(name: string): Promise<{ root: string; deep: string }> {
  const root = await mkdtemp(join(tmpdir(), 'concord-version-'));
  made.push(root);
  const deep = join(root, 'dist', 'src', 'cli');
  await mkdir(deep, { recursive: true });
  await writeFile(join(root, 'package.json'), JSON.stringify({ name, version: '9.8.7' }));
  return { root, deep };
}

describe('packageVersion', () => {
  it("is the version of the repository's package.json", () => {
    expect(packageVersion()).toBe(ownVersion);
  });

  it('walks up from a compiled layout (dist/src/cli) to the package root', async () => {
    const { deep } = await layout('concord');
    expect(packageVersion(deep)).toBe('9.8.7');
  });

  it("skips a package.json of another package (a nested one, or the installer's own)", async () => {
    const { root } = await layout('concord');
    const nested = join(root, 'node_modules', 'other');
    await mkdir(join(nested, 'lib'), { recursive: true });
    await writeFile(join(nested, 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0' }));
    expect(packageVersion(join(nested, 'lib'))).toBe('9.8.7');
  });

  it('throws when no package.json named concord is above', async () => {
    const { deep } = await layout('not-concord');
    expect(() => packageVersion(deep)).toThrow(/no package\.json named concord/);
  });
});

describe('concord --version', () => {
  for (const flag of ['--version', '-V']) {
    it(`${flag} prints the package version and exits 0`, async () => {
      let out = '';
      let code = 0;
      const io: CliIo = {
        env: {},
        log: (line) => void (out += `${line}\n`),
        error: () => undefined,
        writeOut: (text) => void (out += text),
        writeErr: () => undefined,
        exit: (value) => void (code = value),
        untilStopped: () => new Promise(() => undefined),
      };
      await runCli([flag], io);
      expect(out).toBe(`${ownVersion}\n`);
      expect(code).toBe(0);
    });
  }
});

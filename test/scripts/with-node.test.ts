/**
 * `scripts/with-node.sh`: what it refuses before it installs anything. A cache directory inside
 * the checkout would copy the checkout into itself on every run, and one holding the checkout
 * would make the checkout its own copy and delete its node_modules; both are refused and
 * nothing is created. (Its install, rebuild and run are exercised by CI's Node 24 step.)
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const SCRIPT = join(REPO, 'scripts', 'with-node.sh');

/** Runs the script with `args` and extra environment; never longer than 20 s. */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    execFile('/bin/bash', [SCRIPT, ...args], { cwd: REPO, env: { ...process.env, ...env }, timeout: 20_000 }, (err, _stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

describe('scripts/with-node.sh', () => {
  it('says how to use it when the major is not a number or the command is missing (exit 2)', async () => {
    const notANumber = await run(['lts', 'true']);
    expect(notANumber.code).toBe(2);
    expect(notANumber.stderr).toContain("the Node major must be a number, got 'lts'");
    const noCommand = await run(['24']);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain('usage: bash scripts/with-node.sh');
  });

  it('refuses a WITH_NODE_DIR inside the checkout, relative or not, and creates nothing there', async () => {
    for (const dir of ['.with-node-test', join(REPO, 'test-artifacts', 'with-node-test')]) {
      const result = await run(['24', 'true'], { WITH_NODE_DIR: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('WITH_NODE_DIR must be outside the checkout');
      expect(existsSync(resolve(REPO, dir))).toBe(false);
    }
  });

  it('refuses a WITH_NODE_DIR holding the checkout, whose node_modules stays', async () => {
    for (const dir of [REPO, dirname(REPO)]) {
      const result = await run(['24', 'true'], { WITH_NODE_DIR: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/WITH_NODE_DIR must (not contain|be outside) the checkout/);
    }
    expect(existsSync(join(REPO, 'node_modules', '.package-lock.json'))).toBe(true);
  });

  it('says rsync is needed when it is not on the PATH (exit 2)', async () => {
    const result = await run(['24', 'true'], { PATH: '/nonexistent' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('rsync is needed');
  });
});

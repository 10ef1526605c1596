/** `concord key create` and `concord key hash`: what they print, and what they refuse. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCli } from '../program.js';
import type { CliIo } from '../io.js';

async function concord(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  let code = 0;
  const io: CliIo = {
    env: {},
    log: (line) => void (stdout += `${line}\n`),
    error: (line) => void (stderr += `${line}\n`),
    writeOut: (text) => void (stdout += text),
    writeErr: (text) => void (stderr += text),
    exit: (value) => void (code = value),
    untilStopped: () => new Promise(() => undefined),
    ...(stdin === undefined ? {} : { readStdin: () => Promise.resolve(stdin) }),
  };
  await runCli(args, io);
  return { code, stdout, stderr };
}

const hex = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('concord key create', () => {
  it('prints a fresh key, then the hub.apiKeys entry with its digest; the note goes to stderr', async () => {
    const first = await concord(['key', 'create', '--id', 'ops', '--scopes', 'admin, dsr']);
    const second = await concord(['key', 'create', '--id', 'ops', '--scopes', 'admin']);
    expect(first.code).toBe(0);
    const [key, blank, ...rest] = first.stdout.trimEnd().split('\n');
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(blank).toBe('');
    expect(rest).toEqual(['# under hub.apiKeys:', '    - id: ops', `      sha256: ${hex(key ?? '')}`, '      scopes: [admin, dsr]']);
    expect(second.stdout.split('\n')[0]).not.toBe(key);
    expect(first.stderr).toMatch(/only time key "ops" is shown; store it now/);
  });

  it('refuses an unknown scope, naming the valid ones, and a bad id', async () => {
    const scope = await concord(['key', 'create', '--id', 'ops', '--scopes', 'admin,superuser']);
    expect(scope.code).toBe(1);
    expect(scope.stdout).toBe('');
    expect(scope.stderr).toContain(
      'unknown scope "superuser"; valid scopes: profiles:read, profiles:write, dsr, queues:read, audit:read, admin',
    );
    const id = await concord(['key', 'create', '--id', '1 ops', '--scopes', 'admin']);
    expect(id.code).toBe(1);
    expect(id.stderr).toContain('expected an id of letters');
  });

  it('writes the previous key and its until for a rotation, and refuses one without the other or a bad date', async () => {
    const old = 'ab'.repeat(32);
    const rotated = await concord([
      'key',
      'create',
      '--id',
      'ops',
      '--scopes',
      'admin',
      '--previous',
      old,
      '--until',
      '2030-01-01T00:00:00Z',
      '--json',
    ]);
    expect(rotated.code).toBe(0);
    const created = JSON.parse(rotated.stdout) as { key: string; sha256: string; previous: unknown; yaml: string };
    expect(created.sha256).toBe(hex(created.key));
    expect(created.previous).toEqual({ sha256: old, until: '2030-01-01T00:00:00Z' });
    expect(created.yaml).toContain(`      previous:\n        sha256: ${old}\n        until: 2030-01-01T00:00:00Z\n      scopes: [admin]`);
    const alone = await concord(['key', 'create', '--id', 'ops', '--scopes', 'admin', '--previous', old]);
    expect([alone.code, alone.stdout]).toEqual([2, '']);
    expect(alone.stderr).toContain('--previous and --until go together');
    const badDate = await concord(['key', 'create', '--id', 'ops', '--scopes', 'admin', '--previous', old, '--until', 'soon']);
    expect([badDate.code, badDate.stdout]).toEqual([2, '']);
    expect(badDate.stderr).toContain('--until: expected an ISO 8601 date-time');
  });
});

describe('concord key hash', () => {
  it('prints the digest of the key on stdin (a final newline is not part of it)', async () => {
    expect(await concord(['key', 'hash'], 'my-existing-key-0123456789abcdef\n')).toEqual({
      code: 0,
      stdout: `${hex('my-existing-key-0123456789abcdef')}\n`,
      stderr: '',
    });
  });

  it('refuses empty input and more than one line', async () => {
    expect((await concord(['key', 'hash'], '')).code).toBe(2);
    expect((await concord(['key', 'hash'], 'a\nb\n')).code).toBe(2);
  });
});

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EMULATORS, parseRateLimit } from '../../../src/cli/commands/emulate.js';

const MAIN = fileURLToPath(new URL('./fixtures/emulate-main.ts', import.meta.url));

describe('concord emulate', () => {
  it('parses rate limits and knows the hubspot emulator', () => {
    expect(parseRateLimit('100/10s')).toEqual({ max: 100, intervalMs: 10_000 });
    expect(parseRateLimit('5/250ms')).toEqual({ max: 5, intervalMs: 250 });
    expect(() => parseRateLimit('fast')).toThrow(/100\/10s/);
    expect(Object.keys(EMULATORS)).toContain('hubspot');
  });

  it('runs the HubSpot emulator standalone until SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'emulate', 'hubspot', '--port', '0', '--secret', 'cli-secret', '--rate-limit', '100/10s'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const m = /listening on (http:\/\/[^\s]+)/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      const res = await fetch(`${url}/crm/v3/objects/contacts?limit=1`, { headers: { Authorization: 'Bearer pat' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('100');
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses an unknown system', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'emulate', 'nosuch', '--secret', 's'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err).toContain('unknown system "nosuch"');
  });
});

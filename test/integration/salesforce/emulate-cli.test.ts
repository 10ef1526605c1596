import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EMULATORS } from '../../../src/cli/commands/emulate.js';

const MAIN = fileURLToPath(new URL('./fixtures/emulate-main.ts', import.meta.url));

describe('concord emulate salesforce', () => {
  it('is listed, and runs standalone until SIGTERM, issuing tokens for its client secret', async () => {
    expect(Object.keys(EMULATORS)).toContain('salesforce');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'emulate', 'salesforce', '--port', '0', '--secret', 'cli-secret'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
      const res = await fetch(`${url}/services/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=concord-connected-app&client_secret=cli-secret',
      });
      expect(res.status).toBe(200);
      const { access_token: token } = (await res.json()) as { access_token: string };
      const query = await fetch(`${url}/services/data/v62.0/query?q=SELECT+COUNT()+FROM+Contact`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(await query.json()).toEqual({ totalSize: 0, done: true, records: [] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

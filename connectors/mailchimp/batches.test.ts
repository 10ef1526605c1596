import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { readResults, untar } from './batches.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-batches-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A result archive made by the system's own tar (GNU format), as Mailchimp serves one. */
function archive(files: Record<string, string>, format = 'gnu'): Buffer {
  const root = mkdtempSync(join(dir, 'in-'));
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
  const out = join(root, '..', `${Math.random().toString(36).slice(2)}.tar.gz`);
  execFileSync('tar', [`--format=${format}`, '-czf', out, '-C', root, '.']);
  return readFileSync(out);
}

describe('batch result files', () => {
  const ops = [
    { status_code: 200, operation_id: 'patch-0-abc', response: JSON.stringify({ contact_id: 'ct_1', status: 'subscribed' }) },
    { status_code: 400, operation_id: 'patch-1-def', response: JSON.stringify({ title: 'Member In Compliance State', status: 400 }) },
  ];

  it('reads every operation result of every JSON file, the response parsed', () => {
    const long = `${'d'.repeat(120)}.json`;
    const gz = archive({
      'a1b2c3.json': JSON.stringify(ops),
      [long]: JSON.stringify([{ status_code: 204, operation_id: 'tags-0-abc', response: '' }]),
      'README.txt': 'not a result',
    });
    const results = readResults(gz);
    expect(results.sort((a, b) => a.operation_id.localeCompare(b.operation_id))).toEqual([
      { status_code: 200, operation_id: 'patch-0-abc', response: { contact_id: 'ct_1', status: 'subscribed' } },
      { status_code: 400, operation_id: 'patch-1-def', response: { title: 'Member In Compliance State', status: 400 } },
      { status_code: 204, operation_id: 'tags-0-abc', response: undefined },
    ]);
  });

  it('reads ustar and pax archives too', () => {
    for (const format of ['ustar', 'pax']) {
      expect(readResults(archive({ [`results/${'p'.repeat(95)}.json`]: JSON.stringify(ops) }, format)).map((r) => r.operation_id)).toEqual([
        'patch-0-abc',
        'patch-1-def',
      ]);
    }
  });

  it('refuses what is not a gzip tar', () => {
    expect(() => readResults(Buffer.from('nope'))).toThrow(MalformedPayloadError);
    const tar = untar(Buffer.alloc(1024));
    expect(tar).toEqual([]);
    const corrupt = Buffer.alloc(1024, 7);
    expect(() => untar(corrupt)).toThrow(MalformedPayloadError);
  });
});

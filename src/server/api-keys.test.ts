import { describe, expect, it } from 'vitest';
import { apiKeyRecords, findApiKey, hasScope, matchApiKey, presentedKey, sha256 } from './api-keys.js';

describe('API keys', () => {
  const records = apiKeyRecords([
    { id: 'ops', key: 'ops-key-0123456789abcdef01234', scopes: ['admin'] },
    { id: 'ro', sha256: sha256('reader-key-0123456789abcdef0').toString('hex'), scopes: ['profiles:read'] },
  ]);

  it('keeps only digests and finds a key by its value or its configured digest', () => {
    expect(JSON.stringify(records)).not.toContain('ops-key');
    expect(findApiKey(records, 'ops-key-0123456789abcdef01234')?.id).toBe('ops');
    expect(findApiKey(records, 'reader-key-0123456789abcdef0')?.id).toBe('ro');
    expect(findApiKey(records, 'ops-key-0123456789abcdef0123')).toBeNull();
    expect(findApiKey(records, '')).toBeNull();
  });

  it('accepts a previous key beside the current one until its until, then only the current one', () => {
    const until = '2030-06-01T12:00:00Z';
    const rotating = apiKeyRecords([
      {
        id: 'ops',
        sha256: sha256('new-key-0123456789abcdef012345').toString('hex'),
        previous: { sha256: sha256('old-key-0123456789abcdef012345').toString('hex'), until },
        scopes: ['admin'],
      },
    ]);
    const before = Date.parse(until) - 1;
    expect(matchApiKey(rotating, 'new-key-0123456789abcdef012345', before)).toMatchObject({ record: { id: 'ops' }, previous: false });
    expect(matchApiKey(rotating, 'old-key-0123456789abcdef012345', before)).toMatchObject({ record: { id: 'ops' }, previous: true });
    expect(matchApiKey(rotating, 'old-key-0123456789abcdef012345', Date.parse(until))).toBeNull();
    expect(findApiKey(rotating, 'new-key-0123456789abcdef012345', Date.parse(until) + 1)?.id).toBe('ops');
  });

  it('admin grants every scope; others only their own', () => {
    expect(hasScope(['admin'], 'dsr')).toBe(true);
    expect(hasScope(['profiles:read'], 'profiles:read')).toBe(true);
    expect(hasScope(['profiles:read'], 'profiles:write')).toBe(false);
  });

  it('reads Bearer and Basic (password) credentials, nothing else', () => {
    expect(presentedKey('Bearer abc')).toBe('abc');
    expect(presentedKey('bearer abc')).toBe('abc');
    expect(presentedKey(`Basic ${Buffer.from('ops:secret').toString('base64')}`)).toBe('secret');
    expect(presentedKey(`Basic ${Buffer.from('secret').toString('base64')}`)).toBe('secret');
    expect(presentedKey('Token abc')).toBeUndefined();
    expect(presentedKey('Bearer')).toBeUndefined();
    expect(presentedKey(undefined)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { checkDatabase, checkRedis } from './check.js';

describe('hub checks print no credentials', () => {
  it('masks a password in the user part and in query parameters (password, sslpassword, secret, token)', async () => {
    const checks = await checkDatabase('postgres://u:pw1@127.0.0.1:1/db?password=secret2&sslpassword=secret3&application_name=hub');
    const text = JSON.stringify(checks);
    expect(checks[0]?.ok).toBe(false);
    expect(text).not.toMatch(/pw1|secret2|secret3/);
    expect(text).toContain('application_name=hub');
    const redis = JSON.stringify(await checkRedis('redis://127.0.0.1:1/0?token=secret4&auth_secret=secret5'));
    expect(redis).not.toMatch(/secret4|secret5/);
  });
});

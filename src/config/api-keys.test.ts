/**
 * The hub's admin API keys (`hub.apiKeys`) and preference-center settings
 * (`hub.preferenceCenter`): keys are secrets given as `${env:NAME}` (or only as a digest),
 * with scopes from a fixed list.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import type { LoadResult } from './load.js';
import { EMPTY_CATALOG_YAML, fakeConnectors, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';

const HUB = MINIMAL_HUB_YAML;
const CATALOG = EMPTY_CATALOG_YAML;
const KEY = randomBytes(32).toString('base64url');
const env = { ...testEnv, TEST_ADMIN_KEY: KEY, TEST_SHORT_KEY: 'short' };

function parse(hubExtra: string, mode = ''): LoadResult {
  return parseConfig(HUB + mode + hubExtra + CATALOG, 'inline.yaml', { connectors: fakeConnectors, env });
}

function errors(hubExtra: string): string[] {
  const result = parse(hubExtra);
  if (result.ok) throw new Error('expected the config to be invalid');
  return result.errors.map(String);
}

describe('hub.apiKeys', () => {
  it('defaults to no keys and the preference center to its defaults', () => {
    const result = parse('');
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.apiKeys).toEqual([]);
    expect(result.config.hub.preferenceCenter).toEqual({ brand: 'Concord', accentColor: '#1f5f8b', linkTtl: 30 * 86_400_000 });
  });

  it('reads a key from the environment and a digest as written', () => {
    const digest = 'ab'.repeat(32);
    const result = parse(`  apiKeys:
    - id: ops
      key: \${env:TEST_ADMIN_KEY}
      scopes: [admin]
    - id: support
      sha256: ${digest}
      scopes: [profiles:read, profiles:write]
`);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.apiKeys).toEqual([
      { id: 'ops', key: KEY, scopes: ['admin'] },
      { id: 'support', sha256: digest, scopes: ['profiles:read', 'profiles:write'] },
    ]);
  });

  it('refuses a literal key without showing it', () => {
    const found = errors(`  apiKeys:
    - id: ops
      key: ${KEY}
      scopes: [admin]
`);
    expect(found).toEqual([
      'inline.yaml:10:12: hub.apiKeys[0].key: is a secret and must be exactly one ${env:NAME} reference; a literal value is refused (the value is not shown)',
    ]);
    expect(found.join('\n')).not.toContain(KEY);
  });

  it('refuses a short key, an unknown scope, an empty scope list and a malformed digest, each at its place', () => {
    expect(
      errors(`  apiKeys:
    - id: ops
      key: \${env:TEST_SHORT_KEY}
      scopes: [admin, superuser]
    - id: other
      sha256: ABC
      scopes: []
`),
    ).toEqual([
      'inline.yaml:10:12: hub.apiKeys[0].key: Too small: expected string to have >=24 characters',
      'inline.yaml:11:23: hub.apiKeys[0].scopes[1]: invalid value "superuser"; expected one of: profiles:read, profiles:write, dsr, queues:read, audit:read, admin',
      'inline.yaml:13:15: hub.apiKeys[1].sha256: expected the hex SHA-256 digest of the key (64 lower-case hex digits)',
      'inline.yaml:14:15: hub.apiKeys[1].scopes: Too small: expected array to have >=1 items',
    ]);
  });

  it('needs exactly one of key and sha256', () => {
    expect(
      errors(`  apiKeys:
    - id: both
      key: \${env:TEST_ADMIN_KEY}
      sha256: ${'cd'.repeat(32)}
      scopes: [admin]
    - id: neither
      scopes: [admin]
`),
    ).toEqual([
      'inline.yaml:9:7: hub.apiKeys[0]: an API key needs exactly one of key, sha256',
      'inline.yaml:13:7: hub.apiKeys[1]: an API key needs exactly one of key, sha256',
    ]);
  });

  it('refuses two keys with one id', () => {
    expect(
      errors(`  apiKeys:
    - id: ops
      key: \${env:TEST_ADMIN_KEY}
      scopes: [admin]
    - id: ops
      sha256: ${'cd'.repeat(32)}
      scopes: [dsr]
`),
    ).toEqual(['inline.yaml:9:5: hub.apiKeys: API key ids must be unique']);
  });
});

describe('hub.apiKeys rotation and production warnings', () => {
  const NEW = 'ab'.repeat(32);
  const OLD = 'cd'.repeat(32);
  /** `apiKeys:` with key ops rotating from OLD to NEW until `until`. */
  const rotating = (until: string): string => `  apiKeys:
    - id: ops
      sha256: ${NEW}
      previous:
        sha256: ${OLD}
        until: ${until}
      scopes: [admin]
`;

  it('keeps a previous digest with its until beside the current one', () => {
    const result = parse(rotating('2999-01-01T00:00:00Z'));
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.apiKeys).toEqual([
      { id: 'ops', sha256: NEW, previous: { sha256: OLD, until: '2999-01-01T00:00:00Z' }, scopes: ['admin'] },
    ]);
    expect(result.warnings).toEqual([]);
  });

  it('refuses a previous key without until, with a date that is not ISO 8601, or with a malformed digest', () => {
    expect(
      errors(`  apiKeys:
    - id: ops
      sha256: ${NEW}
      previous:
        sha256: ${OLD}
      scopes: [admin]
    - id: other
      sha256: ${NEW}
      previous:
        sha256: XYZ
        until: next tuesday
      scopes: [admin]
`),
    ).toEqual([
      'inline.yaml:11:7: hub.apiKeys[0].previous: missing required key "until"',
      'inline.yaml:17:17: hub.apiKeys[1].previous.sha256: expected the hex SHA-256 digest of the key (64 lower-case hex digits)',
      'inline.yaml:18:16: hub.apiKeys[1].previous.until: expected an ISO 8601 date-time such as 2026-12-31T00:00:00Z',
    ]);
  });

  it('warns about a previous key whose until has passed (it is refused) and, in production, about a plain key', () => {
    const result = parse(`${rotating('2020-01-01T00:00:00Z')}    - id: legacy
      key: \${env:TEST_ADMIN_KEY}
      scopes: [dsr]
`);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.warnings.map((w) => [w.code, String(w)])).toEqual([
      [
        'api_key_previous_expired',
        'inline.yaml:13:16: warning: hub.apiKeys[0].previous: the previous key of "ops" expired at 2020-01-01T00:00:00Z and is refused; remove previous',
      ],
      [
        'api_key_plain',
        'inline.yaml:16:12: warning: hub.apiKeys[1].key: key "legacy" is given in clear through the environment; in production give only its digest as sha256 (`concord key hash` reads the key on stdin and prints it)',
      ],
    ]);
    expect(result.warnings.join('\n')).not.toContain(KEY);
  });

  it('does not warn about a plain key in development mode', () => {
    const hub = HUB.replace('https://hub.example.com', 'http://localhost:8080') + '  mode: development\n';
    const result = parseConfig(
      `${hub}  apiKeys:
    - id: legacy
      key: \${env:TEST_ADMIN_KEY}
      scopes: [dsr]
${CATALOG}`,
      'inline.yaml',
      { connectors: fakeConnectors, env },
    );
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.warnings.filter((w) => w.code === 'api_key_plain')).toEqual([]);
  });
});

describe('hub.preferenceCenter', () => {
  it('takes a brand, an accent colour, a link lifetime and a support address', () => {
    const result = parse(`  preferenceCenter:
    brand: Acme Coffee
    accentColor: "#8a3b12"
    linkTtl: 7d
    supportEmail: privacy@acme.example
`);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.preferenceCenter).toEqual({
      brand: 'Acme Coffee',
      accentColor: '#8a3b12',
      linkTtl: 7 * 86_400_000,
      supportEmail: 'privacy@acme.example',
    });
  });

  it('refuses a colour that is not #rrggbb and an unknown key', () => {
    expect(
      errors(`  preferenceCenter:
    accentColor: red
    logo: x.png
`),
    ).toEqual([
      'inline.yaml:9:18: hub.preferenceCenter.accentColor: expected a colour such as #1f5f8b',
      'inline.yaml:10:5: hub.preferenceCenter.logo: unknown key "logo" (allowed: brand, accentColor, linkTtl, supportEmail)',
    ]);
  });
});

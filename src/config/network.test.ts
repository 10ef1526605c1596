/** The hub's network settings: `hub.trustProxy` takes proxy addresses and ranges, nothing else. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import type { LoadResult } from './load.js';
import { EMPTY_CATALOG_YAML, fakeConnectors, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';

function parse(hubExtra: string, env: Record<string, string> = {}): LoadResult {
  return parseConfig(MINIMAL_HUB_YAML + hubExtra + EMPTY_CATALOG_YAML, 'inline.yaml', {
    connectors: fakeConnectors,
    env: { ...testEnv, ...env },
  });
}

function errors(hubExtra: string): string[] {
  const result = parse(hubExtra);
  if (result.ok) throw new Error('expected the config to be invalid');
  return result.errors.map(String);
}

describe('hub.trustProxy', () => {
  it('trusts no proxy by default', () => {
    const result = parse('');
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.trustProxy).toEqual([]);
  });

  it('takes IP addresses, CIDR ranges and the range names loopback, linklocal and uniquelocal', () => {
    const proxies = ['10.0.0.2', '10.0.0.0/8', '172.16.0.0/12', '::1', 'fd00::/8', '2001:db8::/32', 'loopback', 'uniquelocal'];
    const result = parse(`  trustProxy: ${JSON.stringify(proxies)}\n`);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.trustProxy).toEqual(proxies);
  });

  it('refuses host names, bad ranges and "trust everyone", each at its place', () => {
    const expected = 'expected an IP address (10.0.0.2), a CIDR range (10.0.0.0/8, fd00::/8), or loopback, linklocal or uniquelocal';
    expect(errors('  trustProxy: [proxy.example.com, 10.0.0.0/33, "::1/129", 10.0.0.1/8/1, 10.0.0.0/x]\n')).toEqual(
      [16, 35, 48, 59, 73].map((col, i) => `inline.yaml:8:${col}: hub.trustProxy[${i}]: ${expected}`),
    );
    expect(errors('  trustProxy: true\n')).toEqual(['inline.yaml:8:15: hub.trustProxy: expected a list, got a boolean']);
  });
});

describe('hub.metrics', () => {
  const TOKEN = randomBytes(32).toString('base64url');

  it('serves /metrics on the hub listener without a token by default', () => {
    const result = parse('');
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.metrics).toEqual({});
  });

  it('takes a token from the environment and a listener of its own', () => {
    const result = parse('  metrics: { token: "${env:T_METRICS}", listen: { port: 9464 } }\n', { T_METRICS: TOKEN });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.metrics).toEqual({ token: TOKEN, listen: { host: '127.0.0.1', port: 9464 } });
  });

  it('refuses a literal token without showing it, a short one and, in production, a weak one', () => {
    const literal = errors(`  metrics: { token: ${TOKEN} }\n`);
    expect(literal).toEqual([
      'inline.yaml:8:21: hub.metrics.token: is a secret and must be exactly one ${env:NAME} reference; a literal value is refused (the value is not shown)',
    ]);
    expect(literal.join('\n')).not.toContain(TOKEN);
    const result = parse('  metrics: { token: "${env:T_METRICS}" }\n', { T_METRICS: 'short' });
    expect(result.ok ? [] : result.errors.map(String)).toEqual([
      'inline.yaml:8:21: hub.metrics.token: Too small: expected string to have >=32 characters',
    ]);
    // It is a secret the operator makes: production holds it to 256 bits like the others.
    const weak = parse('  metrics: { token: "${env:T_METRICS}" }\n', { T_METRICS: 'metrics-token-0123456789abcdef0123456789' });
    expect(weak.ok ? [] : weak.errors.map(String)).toEqual([
      'inline.yaml:8:21: hub.metrics.token: is too weak for production mode (too short: about 120 bits, 256 needed); set T_METRICS to 32 random bytes (`concord secret` prints one)',
    ]);
  });
});

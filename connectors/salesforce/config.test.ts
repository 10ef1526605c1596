/** `concord validate` on Salesforce connectors: the Outbound Message token production requires. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { builtinConnectors } from '../index.js';

/** Fresh secrets, as `concord secret` makes them (production refuses weaker ones). */
const fresh = (): string => randomBytes(32).toString('base64url');
const ENV = { SIGNING: fresh(), HASH: fresh(), SF_ID: 'connected-app-consumer-key', SF_SECRET: fresh(), SF_OM_TOKEN: fresh() };

function yaml(mode: 'production' | 'development', salesforce: string): string {
  return `hub:
  mode: ${mode}
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: sqlite:./data/test.db
  publicUrl: ${mode === 'production' ? 'https://hub.example.com' : 'http://127.0.0.1:8080'}
  secrets:
    signing: \${env:SIGNING}
    hashKey: \${env:HASH}
catalog:
  channels: { email: { title: E-mail } }
  purposes: {}
connectors:
  crm:
    type: salesforce
    clientId: \${env:SF_ID}
    clientSecret: \${env:SF_SECRET}
${salesforce}`;
}

function errors(text: string): string[] {
  const result = parseConfig(text, 'concord.yaml', { connectors: builtinConnectors, env: ENV });
  return result.ok ? [] : result.errors.map(String);
}

describe('a Salesforce connector taking Outbound Messages', () => {
  it('is refused in production without an outboundMessageToken, saying how to make one', () => {
    const found = errors(yaml('production', '    organizationId: 00D5e000000KQ2eEAG\n'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^concord\.yaml:\d+:\d+: connectors\.crm\.organizationId: .*outboundMessageToken/);
    expect(found[0]).toMatch(/concord secret/);
  });

  it('is accepted in production with a token from the environment, and a literal token is refused', () => {
    expect(errors(yaml('production', '    organizationId: 00D5e000000KQ2eEAG\n    outboundMessageToken: ${env:SF_OM_TOKEN}\n'))).toEqual(
      [],
    );
    const literal = errors(yaml('production', `    organizationId: 00D5e000000KQ2eEAG\n    outboundMessageToken: ${ENV.SF_OM_TOKEN}\n`));
    expect(literal.join('\n')).toMatch(/outboundMessageToken: is a secret/);
    expect(literal.join('\n')).not.toContain(ENV.SF_OM_TOKEN);
  });

  it('needs a token plain enough to be a URL path segment, and strong enough for production', () => {
    const withToken = (token: string) =>
      parseConfig(
        yaml('production', '    organizationId: 00D5e000000KQ2eEAG\n    outboundMessageToken: ${env:SF_OM_TOKEN}\n'),
        'concord.yaml',
        { connectors: builtinConnectors, env: { ...ENV, SF_OM_TOKEN: token } },
      );
    for (const [token, reason] of [
      ['short/token', /outboundMessageToken: expected 32 to 256 URL-safe characters/],
      [randomBytes(32).toString('base64'), /outboundMessageToken: expected 32 to 256 URL-safe characters/],
      ['a'.repeat(64), /outboundMessageToken: is too weak/],
      ['dev-only-outbound-message-token-0123456789', /outboundMessageToken: is a development value/],
    ] as const) {
      const result = withToken(token);
      expect(result.ok, token).toBe(false);
      if (!result.ok) expect(result.errors.map(String).join('\n')).toMatch(reason);
    }
  });

  it('needs no token without Outbound Messages (no organizationId), nor in development', () => {
    expect(errors(yaml('production', ''))).toEqual([]);
    expect(errors(yaml('development', '    organizationId: 00D5e000000KQ2eEAG\n'))).toEqual([]);
  });
});

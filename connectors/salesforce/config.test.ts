/** `concord validate` on Salesforce connectors: the Outbound Message token production requires. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const ENV = {
  SIGNING: 'q7Vd2Lx9Rk4Tz1Wm8Bc5Hn3Jp6Fs0Ga7Ye2Ui9Ko4',
  HASH: 'Xw3Nb8Qe1Rt6Yu0Io5Pa2Sd7Fg4Hj9Kl3Zx8Cv1Bn6',
  SF_ID: 'connected-app-consumer-key',
  SF_SECRET: 'Mn4Bv9Cx2Za7Sd1Fg6Hj3Kl8Qw5Er0Ty4Ui9Op2As7',
  SF_OM_TOKEN: 'Lk2Jh7Gf4Ds9Aq1Wz6Xe3Rc8Vt5By0Nu4Mi9Ko2Pl7',
};

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
  const result = parseConfig(text, 'concord.yaml', { env: ENV });
  return result.ok ? [] : result.errors.map(String);
}

describe('a Salesforce connector taking Outbound Messages', () => {
  it('is refused in production without an outboundMessageToken, saying how to make one', () => {
    const found = errors(yaml('production', '    organizationId: 00D5e000000KQ2eEAG\n'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^concord\.yaml:\d+:\d+: connectors\.crm\.organizationId: .*outboundMessageToken/);
    expect(found[0]).toMatch(/openssl rand/);
  });

  it('is accepted in production with a token from the environment, and a literal token is refused', () => {
    expect(errors(yaml('production', '    organizationId: 00D5e000000KQ2eEAG\n    outboundMessageToken: ${env:SF_OM_TOKEN}\n'))).toEqual([]);
    const literal = errors(yaml('production', `    organizationId: 00D5e000000KQ2eEAG\n    outboundMessageToken: ${ENV.SF_OM_TOKEN}\n`));
    expect(literal.join('\n')).toMatch(/outboundMessageToken: is a secret/);
    expect(literal.join('\n')).not.toContain(ENV.SF_OM_TOKEN);
  });

  it('needs a token long and plain enough to be a URL path segment', () => {
    const short = parseConfig(yaml('production', '    organizationId: 00D5e000000KQ2eEAG\n    outboundMessageToken: ${env:SF_OM_TOKEN}\n'), 'concord.yaml', {
      env: { ...ENV, SF_OM_TOKEN: 'short/token' },
    });
    expect(short.ok).toBe(false);
    if (!short.ok) expect(short.errors.map(String).join('\n')).toMatch(/outboundMessageToken/);
  });

  it('needs no token without Outbound Messages (no organizationId), nor in development', () => {
    expect(errors(yaml('production', ''))).toEqual([]);
    expect(errors(yaml('development', '    organizationId: 00D5e000000KQ2eEAG\n'))).toEqual([]);
  });
});

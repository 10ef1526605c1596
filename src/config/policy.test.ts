import { describe, expect, it } from 'vitest';
import { MergePolicy } from '../profile/schema.js';
import { toMergePolicy } from './policy.js';
import { parseConfig } from './load.js';
import { fakeConnectors, testEnv } from './testing/support.js';

const yaml = `
hub:
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: sqlite:./data/test.db
  publicUrl: https://hub.example.com
  skew: 90s
  secrets:
    signing: \${env:TEST_SIGNING_SECRET}
    hashKey: \${env:TEST_HASH_KEY}
catalog:
  channels:
    email: { title: E-mail }
    web: { title: Web }
  purposes:
    marketing:
      title: Marketing
      notice: { text: We would like to write to you, version: "1" }
      objection: directMarketing
      channels: [email]
    profiling:
      title: Profiling
      notice: { text: We would like to tailor what we show, version: "2" }
      policy: most-restrictive
      defaultLegalBasis: legitimate_interest
      objection: profiling
      channels: [email, web]
    analytics:
      title: Analytics
      notice: { text: We measure use, version: "1" }
      channels: [web]
connectors:
  crm:
    type: fakecrm
    baseUrl: http://127.0.0.1:9999
    apiKey: \${env:TEST_CRM_KEY}
    priority: 20
    consentAuthority: [marketing, profiling]
  shop:
    type: fakecrm
    enabled: false
    baseUrl: http://127.0.0.1:9998
    apiKey: \${env:TEST_CRM_KEY}
    consentAuthority: [profiling]
`;

describe('toMergePolicy', () => {
  const result = parseConfig(yaml, 'policy.yaml', { connectors: fakeConnectors, env: testEnv });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  const policy = toMergePolicy(result.config);

  it('takes priorities from the connector instances (default 0)', () => {
    expect(policy.priorities).toEqual({ crm: 20, shop: 0 });
  });

  it('makes consent authorities of the listed connectors plus the preference center and admin', () => {
    expect(policy.purposes['marketing']?.authorities).toEqual(['crm', 'preference_center', 'admin']);
    expect(policy.purposes['profiling']?.authorities).toEqual(['crm', 'shop', 'preference_center', 'admin']);
    expect(policy.purposes['analytics']?.authorities).toEqual(['preference_center', 'admin']);
  });

  it('carries each purpose policy, objection and default legal basis', () => {
    expect(policy.purposes['marketing']).toMatchObject({ policy: 'latest', objection: 'directMarketing', defaultLegalBasis: 'consent' });
    expect(policy.purposes['profiling']).toMatchObject({
      policy: 'most-restrictive',
      objection: 'profiling',
      defaultLegalBasis: 'legitimate_interest',
    });
    expect(policy.purposes['analytics']).not.toHaveProperty('objection');
  });

  it('converts the skew to milliseconds', () => {
    expect(policy.skewMs).toBe(90_000);
  });

  it('is a valid MergePolicy', () => {
    expect(MergePolicy.parse(policy)).toEqual(policy);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import memoryConnector from '../../connectors/memory/connector.js';
import { builtinConnectors } from '../../connectors/index.js';
import {
  connectorsFromConfig,
  engineTuningFromConfig,
  outboxTargets,
  syncSetupFromConfig,
  UnknownConnectorTypeError,
} from './from-config.js';
import { EngineTuning } from './options.js';

const YAML = `
hub:
  mode: production
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: "sqlite::memory:"
  publicUrl: https://hub.example.com
  keyPrefix: "{acme}"
  secrets:
    signing: \${env:SIGNING}
    hashKey: \${env:HASH}
catalog:
  channels:
    email: { title: E-mail }
  purposes:
    marketing:
      title: Marketing
      notice: { text: May we write to you?, version: "1" }
      objection: directMarketing
      channels: [email]
  topics:
    newsletter: { title: Newsletter }
connectors:
  crm:
    type: memory
    system: crm-system
    webhookSecret: \${env:CRM_SECRET}
    lookBackMs: 2000
    priority: 5
    consentAuthority: [marketing]
    schedule: { every: 5m }
    limits: { maxBatch: 50, requestsPerWindow: 10 }
    mappings:
      - { field: firstName, external: given_name }
  shop:
    type: memory
    system: shop-system
    webhookSecret: \${env:SHOP_SECRET}
    schedule: { cron: "0 3 * * *" }
  old:
    type: memory
    enabled: false
    system: old-system
    webhookSecret: \${env:OLD_SECRET}
`;

const env = {
  SIGNING: randomBytes(32).toString('base64url'),
  HASH: randomBytes(32).toString('base64url'),
  CRM_SECRET: 'crm-secret',
  SHOP_SECRET: 'shop-secret',
  OLD_SECRET: 'old-secret',
};

function load(yaml = YAML) {
  const result = parseConfig(yaml, 'concord.yaml', { connectors: [memoryConnector], env });
  if (!result.ok) throw new Error(result.errors.map((e) => e.toString()).join('\n'));
  return result.config;
}

describe('connectorsFromConfig', () => {
  it('binds every enabled instance with its own keys, mapping, limits and schedule', () => {
    const connectors = connectorsFromConfig(load(), [memoryConnector]);
    expect(connectors.map((c) => c.id)).toEqual(['crm', 'shop']);
    const [crm, shop] = connectors;
    expect(crm?.type).toBe('memory');
    expect(crm?.schedule).toEqual({ every: 5 * 60_000 });
    expect(shop?.schedule).toEqual({ cron: '0 3 * * *' });
    // Declared limits with the instance's overrides on top.
    expect(crm?.limits).toEqual({ ...memoryConnector.limits, maxBatch: 50, requestsPerWindow: 10 });
    expect(shop?.limits).toEqual(memoryConnector.limits);
    // YAML mappings replace the default for the same target; the other defaults stay.
    const firstName = crm?.mapping.entries.find((e) => e.key === 'field:firstName');
    expect(firstName?.external).toBe('given_name');
    expect(crm?.mapping.entries.some((e) => e.key === 'identity:email')).toBe(true);
  });

  it('outbox targets are the push-capable instances; the setup carries policy, Redis and prefix', () => {
    const setup = syncSetupFromConfig(load(), [memoryConnector]);
    expect(setup.outboxTargets).toEqual(['crm', 'shop']);
    expect(outboxTargets(setup.connectors)).toEqual(['crm', 'shop']);
    expect(setup.prefix).toBe('{acme}');
    expect(setup.redis).toBe('redis://127.0.0.1:6379');
    expect(setup.policy.priorities['crm']).toBe(5);
    expect(setup.policy.purposes['marketing']?.authorities).toContain('crm');
    expect(setup.policy.purposes['marketing']?.objection).toBe('directMarketing');
  });

  it('refuses an instance whose type no definition provides', () => {
    expect(() => connectorsFromConfig(load(), [])).toThrow(UnknownConnectorTypeError);
  });
});

describe('recovery knobs in YAML (hub.sync)', () => {
  it("default to the engine's own defaults: a 2-minute in-flight lease and a 1-minute ingest lock", () => {
    const tuning = EngineTuning.parse(engineTuningFromConfig(load()));
    expect(tuning.inflightLeaseMs).toBe(120_000);
    expect(tuning.ingestLockMs).toBe(60_000);
    expect(EngineTuning.parse({}).inflightLeaseMs).toBe(120_000);
    expect(EngineTuning.parse({}).ingestLockMs).toBe(60_000);
    expect(tuning.runRetentionMs).toBe(30 * 86_400_000);
    expect(EngineTuning.parse({}).runRetentionMs).toBe(30 * 86_400_000);
  });

  it('take durations from hub.sync into the engine tuning', () => {
    const yaml = YAML.replace(
      '  keyPrefix: "{acme}"\n',
      '  keyPrefix: "{acme}"\n  sync: { inflightLease: 15s, ingestLock: 20s, runRetention: 7d }\n',
    );
    const tuning = EngineTuning.parse(engineTuningFromConfig(load(yaml)));
    expect(tuning.inflightLeaseMs).toBe(15_000);
    expect(tuning.ingestLockMs).toBe(20_000);
    expect(tuning.runRetentionMs).toBe(7 * 86_400_000);
  });

  it('refuses what is not a duration', () => {
    const yaml = YAML.replace('  keyPrefix: "{acme}"\n', '  keyPrefix: "{acme}"\n  sync: { inflightLease: 120000 }\n');
    const result = parseConfig(yaml, 'concord.yaml', { connectors: [memoryConnector], env });
    expect(result.ok).toBe(false);
  });

  it("take each connector's rate-limit park durations (Salesforce REQUEST_LIMIT_EXCEEDED, HubSpot DAILY)", () => {
    const connectors = [...builtinConnectors];
    const salesforce = connectors.find((c) => c.type === 'salesforce');
    const hubspot = connectors.find((c) => c.type === 'hubspot');
    const sf = (extra: object) =>
      salesforce?.configSchema.parse({ clientId: 'id', clientSecret: 'secret', ...extra }) as { requestLimitPark: number };
    expect(sf({}).requestLimitPark).toBe(15 * 60_000);
    expect(sf({ requestLimitPark: '20s' }).requestLimitPark).toBe(20_000);
    const hs = (extra: object) =>
      hubspot?.configSchema.parse({ accessToken: 'pat', webhookSecret: 'secret', ...extra }) as { dailyLimitPark?: number };
    expect(hs({}).dailyLimitPark).toBeUndefined();
    expect(hs({ dailyLimitPark: '30m' }).dailyLimitPark).toBe(30 * 60_000);
  });
});

import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Duration } from './duration.js';
import { defineConnector, type ConnectorDefinition } from '../connector/define.js';
import type { ConfigError } from './errors.js';
import { loadConfig, parseConfig } from './load.js';
import type { LoadOptions, LoadResult } from './load.js';
import { buildConfigSchema, ConnectorSchemaError } from './schema.js';
import { EMPTY_CATALOG_YAML, fakeConnectors, fakeCrm, fakeShop, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';
import { builtinConnectors } from '../../connectors/index.js';

/** A fixture's path as a user would type it from the repository root. */
function fixture(name: string): string {
  return relative(process.cwd(), fileURLToPath(new URL(`../../test/fixtures/config/${name}`, import.meta.url)));
}

const options: LoadOptions = { connectors: fakeConnectors, env: testEnv };

async function errorsOf(name: string, opts: LoadOptions = options): Promise<string[]> {
  const result = await loadConfig(fixture(name), opts);
  if (result.ok) throw new Error(`${name} was expected to be invalid`);
  return result.errors.map(String);
}

function expectOk(result: LoadResult): Extract<LoadResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected a valid config:\n${result.errors.join('\n')}`);
  return result;
}

function inlineErrors(text: string, opts: LoadOptions = options): ConfigError[] {
  const result = parseConfig(text, 'inline.yaml', opts);
  if (result.ok) throw new Error('expected the inline config to be invalid');
  return result.errors;
}

/** A valid hub section for inline cases (lines 1-7). */
const HUB = MINIMAL_HUB_YAML;
const EMPTY_CATALOG = EMPTY_CATALOG_YAML;

describe('a valid file', () => {
  it('loads with defaults filled in, durations in ms and the connector type keys parsed', async () => {
    const { config } = expectOk(await loadConfig(fixture('valid.yaml'), options));
    expect(config.hub).toMatchObject({
      mode: 'production',
      keyPrefix: '{concord}',
      skew: 300_000,
      listen: { host: '127.0.0.1', port: 8080 },
      secrets: { signing: testEnv.TEST_SIGNING_SECRET, hashKey: testEnv.TEST_HASH_KEY },
    });
    expect(config.catalog.purposes['marketing']).toMatchObject({ policy: 'latest', defaultLegalBasis: 'consent' });
    expect(config.connectors['crm']).toMatchObject({
      type: 'fakecrm',
      enabled: true,
      priority: 10,
      apiKey: testEnv.TEST_CRM_KEY,
      region: 'eu',
      limits: {},
      consentAuthority: ['marketing'],
    });
    expect(config.connectors['crm']?.mappings[1]).toEqual({
      consent: 'marketing.email',
      external: 'email_opt_in',
      direction: 'both',
      transform: [],
    });
  });
});

describe('each kind of bad input is reported at its file:line:col', () => {
  it('a YAML syntax error', async () => {
    expect(await errorsOf('syntax-error.yaml')).toEqual([
      `${fixture('syntax-error.yaml')}:4:3: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  it('unknown keys point at the key, with a suggestion or the allowed keys', async () => {
    const file = fixture('unknown-key.yaml');
    expect(await errorsOf('unknown-key.yaml')).toEqual([
      `${file}:1:1: hub: missing required key "redisUrl"`,
      `${file}:3:3: hub.redisURL: unknown key "redisURL"; did you mean "redisUrl"?`,
      `${file}:11:29: catalog.channels.email.colour: unknown key "colour" (allowed: title)`,
    ]);
  });

  it('wrong types', async () => {
    const file = fixture('wrong-type.yaml');
    expect(await errorsOf('wrong-type.yaml')).toEqual([
      `${file}:5:19: hub.listen.port: expected a number, got a string`,
      `${file}:11:12: catalog.channels.email: expected a map, got a string`,
    ]);
  });

  it('bad enum values list the allowed ones', async () => {
    const file = fixture('bad-enum.yaml');
    expect(await errorsOf('bad-enum.yaml')).toEqual([
      `${file}:2:9: hub.mode: invalid value "staging"; expected one of: development, production`,
      `${file}:16:26: catalog.purposes.marketing.defaultLegalBasis: invalid value "implied"; expected one of: consent, contract, legal_obligation, vital_interest, public_task, legitimate_interest`,
      `${file}:17:15: catalog.purposes.marketing.policy: invalid value "newest"; expected one of: latest, most-restrictive`,
    ]);
  });

  it('a missing env var is named, and its default is used when it has one', async () => {
    const file = fixture('missing-env.yaml');
    expect(await errorsOf('missing-env.yaml')).toEqual([
      `${file}:3:13: hub.redisUrl: environment variable TEST_REDIS_URL is not set (and \${env:TEST_REDIS_URL} has no default)`,
      `${file}:5:14: hub.publicUrl: environment variable TEST_PUBLIC_HOST is not set (and \${env:TEST_PUBLIC_HOST} has no default)`,
    ]);
  });

  it('secret literals are refused without printing them', async () => {
    const file = fixture('secret-literal.yaml');
    const errors = await errorsOf('secret-literal.yaml');
    const refused = 'is a secret and must be exactly one ${env:NAME} reference; a literal value is refused (the value is not shown)';
    expect(errors).toEqual([
      `${file}:7:14: hub.secrets.signing: ${refused}`,
      `${file}:8:14: hub.secrets.hashKey: ${refused}`,
      `${file}:16:13: connectors.crm.apiKey: ${refused}`,
    ]);
    const output = errors.join('\n');
    for (const leaked of ['literal-signing-secret', 'prefix-', testEnv.TEST_HASH_KEY, 'literal-crm-api-key']) {
      expect(output).not.toContain(leaked);
    }
  });

  it("a secret's default is an error in production mode", async () => {
    const file = fixture('secret-default.yaml');
    const errors = await errorsOf('secret-default.yaml', { connectors: fakeConnectors, env: {} });
    expect(errors).toEqual([
      `${file}:7:14: hub.secrets.signing: environment variable TEST_SIGNING_SECRET is not set; a secret's default in the file is used only with hub.mode: development`,
      `${file}:8:14: hub.secrets.hashKey: environment variable TEST_HASH_KEY is not set; a secret's default in the file is used only with hub.mode: development`,
    ]);
    expect(errors.join('\n')).not.toContain('published-default');
  });

  it("a secret's default is not an error when the variable is set", async () => {
    expectOk(await loadConfig(fixture('secret-default.yaml'), options));
  });

  it('dangling references to the catalog', async () => {
    const file = fixture('dangling.yaml');
    expect(await errorsOf('dangling.yaml')).toEqual([
      `${file}:16:25: catalog.purposes.marketing.channels[1]: channel "fax" is not in catalog.channels (defined: email)`,
      `${file}:24:35: connectors.crm.consentAuthority[1]: purpose "profiling" is not in catalog.purposes (defined: marketing)`,
      `${file}:26:20: connectors.crm.mappings[0].consent: purpose "profiling" is not in catalog.purposes (defined: marketing)`,
      `${file}:27:20: connectors.crm.mappings[1].consent: channel "sms" is not in catalog.channels (defined: email)`,
      `${file}:28:20: connectors.crm.mappings[2].consent: channel "fax" is not in catalog.channels (defined: email)`,
      `${file}:29:18: connectors.crm.mappings[3].topic: topic "offers" is not in catalog.topics (defined: newsletter)`,
    ]);
  });

  it("connector types: unknown or missing type lists the known ones; a type's own keys are checked", async () => {
    const file = fixture('connector-type.yaml');
    expect(await errorsOf('connector-type.yaml')).toEqual([
      `${file}:14:11: connectors.crm.type: unknown connector type "salesfarce" (known types: fakecrm, fakeshop)`,
      `${file}:16:3: connectors.shop: missing required key "type" (known types: fakecrm, fakeshop)`,
      `${file}:22:5: connectors.crm2.regoin: unknown key "regoin"; did you mean "region"?`,
      `${file}:23:25: connectors.crm2.limits.maxBatch: Too small: expected number to be >0`,
      `${file}:23:28: connectors.crm2.limits.burst: unknown key "burst" (allowed: requestsPerWindow, windowMs, maxBatch, concurrency)`,
    ]);
  });

  it('reports every error of a file together, in file order', async () => {
    const file = fixture('many-errors.yaml');
    const errors = await errorsOf('many-errors.yaml');
    expect(errors).toEqual([
      `${file}:3:13: hub.redisUrl: expected a redis:// or rediss:// URL`,
      `${file}:6:9: hub.skew: expected a duration such as 500ms, 30s, 5m, 1h or 7d`,
      `${file}:7:3: hub.secrets: missing required key "hashKey"`,
      `${file}:8:14: hub.secrets.signing: is a secret and must be exactly one \${env:NAME} reference; a literal value is refused (the value is not shown)`,
      `${file}:16:15: catalog.purposes.marketing.policy: invalid value "strictest"; expected one of: latest, most-restrictive`,
      `${file}:19:38: catalog.topics.newsletter.owner: unknown key "owner" (allowed: title, description)`,
      `${file}:24:13: connectors.crm.apiKey: environment variable TEST_MISSING_KEY is not set (and \${env:TEST_MISSING_KEY} has no default)`,
      `${file}:25:15: connectors.crm.priority: expected a number, got a string`,
      `${file}:26:15: connectors.crm.schedule: a schedule needs exactly one of every, cron`,
      `${file}:28:18: connectors.crm.mappings[0].topic: topic "offers" is not in catalog.topics (defined: newsletter)`,
    ]);
    expect(errors.join('\n')).not.toContain('not-from-env-but-long-enough');
  });

  it('an unreadable file', async () => {
    expect(await errorsOf('does-not-exist.yaml')).toEqual([`${fixture('does-not-exist.yaml')}: cannot read the config file (ENOENT)`]);
  });

  it('an empty file', () => {
    expect(inlineErrors('# nothing here\n').map(String)).toEqual([
      'inline.yaml:1:1: the file is empty: expected a map with hub, catalog and connectors',
    ]);
  });
});

describe('env references', () => {
  const yaml = `hub:
  redisUrl: \${env:T_REDIS:-redis://127.0.0.1:6379}
  databaseUrl: \${env:T_DB:-sqlite:./data/test.db}
  publicUrl: https://\${env:T_HOST:-localhost}/concord
  listen:
    port: \${env:T_PORT:-8080}
    host: "\${env:T_LISTEN:-0.0.0.0}"
  keyPrefix: \${env:T_PREFIX:-{concord}}
  secrets:
    signing: \${env:TEST_SIGNING_SECRET}
    hashKey: \${env:TEST_HASH_KEY}
${EMPTY_CATALOG}connectors:
  crm:
    type: fakecrm
    enabled: \${env:T_CRM_ENABLED:-false}
    baseUrl: \${env:T_CRM_URL:-http://127.0.0.1:9999}
    apiKey: \${env:TEST_CRM_KEY}
`;

  it('uses defaults when variables are unset, typing numbers and booleans', () => {
    const result = expectOk(parseConfig(yaml, 'env.yaml', options));
    expect(result.config.hub).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'sqlite:./data/test.db',
      publicUrl: 'https://localhost/concord',
      listen: { port: 8080, host: '0.0.0.0' },
      keyPrefix: '{concord}',
    });
    expect(result.config.connectors['crm']).toMatchObject({ enabled: false, baseUrl: 'http://127.0.0.1:9999' });
    expect(result.env.defaulted).toEqual(['T_CRM_ENABLED', 'T_CRM_URL', 'T_DB', 'T_HOST', 'T_LISTEN', 'T_PORT', 'T_PREFIX', 'T_REDIS']);
    expect(result.env.set).toEqual(['TEST_CRM_KEY', 'TEST_HASH_KEY', 'TEST_SIGNING_SECRET']);
  });

  it('uses the variables when they are set', () => {
    const env = { ...testEnv, T_REDIS: 'rediss://cache.internal:6380', T_PORT: '9090', T_HOST: 'hub.example.com', T_CRM_ENABLED: 'true' };
    const result = expectOk(parseConfig(yaml, 'env.yaml', { connectors: fakeConnectors, env }));
    expect(result.config.hub).toMatchObject({
      redisUrl: 'rediss://cache.internal:6380',
      publicUrl: 'https://hub.example.com/concord',
      listen: { port: 9090 },
    });
    expect(result.config.connectors['crm']?.enabled).toBe(true);
  });

  it('types a reference where the schema wants a number, quoted (as flow maps need) or not', () => {
    const quoted = `${HUB}  listen: { port: "\${env:T_PORT:-8080}" }\n${EMPTY_CATALOG}`;
    expect(expectOk(parseConfig(quoted, 'inline.yaml', options)).config.hub.listen.port).toBe(8080);
    const errors = inlineErrors(quoted, { connectors: fakeConnectors, env: { ...testEnv, T_PORT: 'eighty' } });
    expect(errors.map(String)).toEqual(['inline.yaml:8:19: hub.listen.port: expected a number, got a string']);
  });

  it('malformed references are errors at their value', () => {
    const errors = inlineErrors((HUB + EMPTY_CATALOG).replace('https://hub.example.com', 'https://${HOST}/'));
    expect(errors.map((e) => [e.code, String(e)])).toEqual([
      [
        'env_syntax',
        'inline.yaml:4:14: hub.publicUrl: unsupported reference: only ${env:NAME} and ${env:NAME:-default} are supported (write $${ for a literal ${)',
      ],
    ]);
  });

  it('reports a missing variable once, without a cascade of schema errors at the same place', () => {
    const errors = inlineErrors(HUB.replace('redis://127.0.0.1:6379', '${env:NOPE}') + EMPTY_CATALOG);
    expect(errors.map(String)).toEqual([
      'inline.yaml:2:13: hub.redisUrl: environment variable NOPE is not set (and ${env:NOPE} has no default)',
    ]);
  });
});

describe('the secrets rule', () => {
  const devHub = (publicUrl: string) => `hub:
  mode: development
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: sqlite:./data/test.db
  publicUrl: ${publicUrl}
  secrets:
    signing: \${env:T_SIGNING:-development-only-signing-secret-00000000}
    hashKey: \${env:T_HASH:-development-only-hash-key-0000000000000000}
${EMPTY_CATALOG}`;

  it('development mode allows a default for a secret, with a warning at its line', () => {
    const result = expectOk(parseConfig(devHub('http://localhost:8080'), 'dev.yaml', options));
    expect(result.warnings.map(String)).toEqual([
      'dev.yaml:7:14: warning: hub.secrets.signing: T_SIGNING is not set, using the development default from the file',
      'dev.yaml:8:14: warning: hub.secrets.hashKey: T_HASH is not set, using the development default from the file',
    ]);
  });

  it('development mode requires a loopback public URL', () => {
    const errors = inlineErrors(devHub('https://hub.example.com'));
    expect(errors.map((e) => e.code)).toEqual(['development_public_url']);
    expect(String(errors[0])).toMatch(/^inline\.yaml:5:14: hub\.publicUrl: hub\.mode is development/);
  });

  it('a secret resolved from env still has to meet its own rules, without showing the value', () => {
    const errors = inlineErrors(HUB + EMPTY_CATALOG, {
      connectors: fakeConnectors,
      env: { ...testEnv, TEST_SIGNING_SECRET: 'short-secret' },
    });
    expect(errors.map(String)).toEqual(['inline.yaml:6:14: hub.secrets.signing: Too small: expected string to have >=32 characters']);
  });

  it('an empty secret is reported by type, not as a literal', () => {
    const errors = inlineErrors(HUB.replace('${env:TEST_SIGNING_SECRET}', '') + EMPTY_CATALOG);
    expect(errors.map(String)).toEqual(['inline.yaml:6:5: hub.secrets.signing: expected a string, got null']);
  });

  it('an alias is not an env reference', () => {
    const text = `hub:
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: sqlite:./data/test.db
  publicUrl: &url https://hub.example.com
  secrets:
    signing: *url
    hashKey: \${env:TEST_HASH_KEY}
${EMPTY_CATALOG}`;
    expect(inlineErrors(text).map(String)).toContain(
      'inline.yaml:6:14: hub.secrets.signing: is a secret: write it as ${env:NAME}, not as an alias',
    );
  });

  it('a database URL may not carry a literal password; one from env is fine', () => {
    const withPassword = HUB.replace('sqlite:./data/test.db', 'postgres://concord:hunter2@db.internal:5432/concord');
    const errors = inlineErrors(withPassword + EMPTY_CATALOG);
    expect(errors.map(String)).toEqual([
      'inline.yaml:3:16: hub.databaseUrl: the URL carries a password written in the file; give the password (or the whole URL) as ${env:NAME}',
    ]);
    expect(errors.join('\n')).not.toContain('hunter2');

    const fromEnv = HUB.replace('sqlite:./data/test.db', 'postgres://concord:${env:T_PGPASS}@db.internal:5432/concord');
    expectOk(parseConfig(fromEnv + EMPTY_CATALOG, 'inline.yaml', { connectors: fakeConnectors, env: { ...testEnv, T_PGPASS: 'pw' } }));

    const wholeUrl = HUB.replace('sqlite:./data/test.db', '${env:T_DATABASE_URL}');
    expectOk(
      parseConfig(wholeUrl + EMPTY_CATALOG, 'inline.yaml', {
        connectors: fakeConnectors,
        env: { ...testEnv, T_DATABASE_URL: 'postgres://concord:pw@db.internal/concord' },
      }),
    );
  });

  it('a Redis URL password from a default is refused in production', () => {
    const text = HUB.replace('redis://127.0.0.1:6379', '${env:T_REDIS:-redis://:devpass@127.0.0.1:6379}');
    expect(inlineErrors(text + EMPTY_CATALOG).map((e) => e.code)).toEqual(['secret_default']);
  });
});

describe('hub.redisUrl: a URL, a Redis Cluster or a Sentinel group', () => {
  const cluster = `  redisUrl:
    cluster:
      nodes: [redis://10.0.0.1:7000, redis://10.0.0.2:7000]
      natMap: { '10.0.0.1:7000': { host: 127.0.0.1, port: 17000 } }
      options: { slotsRefreshTimeout: 2000 }
`;
  it('a cluster of seed nodes, with natMap and ioredis options passed through', () => {
    const { config } = expectOk(
      parseConfig(HUB.replace('  redisUrl: redis://127.0.0.1:6379\n', cluster) + EMPTY_CATALOG, 'inline.yaml', options),
    );
    expect(config.hub.redisUrl).toEqual({
      cluster: {
        nodes: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'],
        natMap: { '10.0.0.1:7000': { host: '127.0.0.1', port: 17000 } },
        options: { slotsRefreshTimeout: 2000 },
      },
    });
  });

  it('a sentinel group', () => {
    const sentinel = `  redisUrl:\n    sentinel: { name: mymaster, sentinels: [{ host: 127.0.0.1, port: 26379 }] }\n`;
    const { config } = expectOk(
      parseConfig(HUB.replace('  redisUrl: redis://127.0.0.1:6379\n', sentinel) + EMPTY_CATALOG, 'inline.yaml', options),
    );
    expect(config.hub.redisUrl).toEqual({ sentinel: { name: 'mymaster', sentinels: [{ host: '127.0.0.1', port: 26379 }] } });
  });

  it('a literal password in a seed node URL or in the options is refused', () => {
    const withUrl = cluster.replace('redis://10.0.0.1:7000,', 'redis://:pw@10.0.0.1:7000,');
    expect(inlineErrors(HUB.replace('  redisUrl: redis://127.0.0.1:6379\n', withUrl) + EMPTY_CATALOG).map((e) => e.code)).toEqual([
      'credentials_literal',
    ]);
    const withOption = cluster.replace('slotsRefreshTimeout: 2000', 'password: hunter2');
    expect(inlineErrors(HUB.replace('  redisUrl: redis://127.0.0.1:6379\n', withOption) + EMPTY_CATALOG).map((e) => e.code)).toEqual([
      'secret_literal',
    ]);
  });
});

describe('a connector’s own rules across its keys', () => {
  // Its zod refinements were lost when its keys joined the common ones: a Segment instance with
  // a space and no Profile API token validated, and failed only when the hub started.
  it('are reported at their place in the file like any other problem', () => {
    const paired = defineConnector({
      ...fakeShop,
      type: 'paired',
      configSchema: z
        .object({ storeUrl: z.string().min(1), spaceId: z.string().optional(), token: z.string().optional() })
        .refine((c) => (c.spaceId === undefined) === (c.token === undefined), {
          message: 'spaceId and token go together',
          path: ['token'],
        }),
    });
    const text = `${HUB}${EMPTY_CATALOG}connectors:
  shop:
    type: paired
    storeUrl: http://127.0.0.1:9000
    spaceId: spa_1
`;
    expect(inlineErrors(text, { connectors: [paired], env: testEnv }).map(String)).toEqual([
      'inline.yaml:12:3: connectors.shop.token: spaceId and token go together',
    ]);
    expect(parseConfig(`${text}    token: t\n`, 'inline.yaml', { connectors: [paired], env: testEnv }).ok).toBe(true);
  });

  // They judged the value the combined schema had already parsed, with the connector's own schema
  // again: a key with a transform (a duration, now a number) failed that second parse, and the
  // rules never ran (the HTTP connector's unknown template placeholder validated).
  it('run on a connector whose keys transform their value', () => {
    const timed = defineConnector({
      ...fakeShop,
      type: 'timed',
      configSchema: z
        .object({ storeUrl: z.string().min(1), timeout: Duration.prefault('15s'), retry: Duration.optional() })
        .refine((c) => c.retry === undefined || c.retry < c.timeout, { message: 'retry must be shorter than timeout', path: ['retry'] }),
    });
    const text = `${HUB}${EMPTY_CATALOG}connectors:
  shop:
    type: timed
    storeUrl: http://127.0.0.1:9000
    retry: 1m
`;
    expect(inlineErrors(text, { connectors: [timed], env: testEnv }).map(String)).toEqual([
      'inline.yaml:15:12: connectors.shop.retry: retry must be shorter than timeout',
    ]);
    expect(parseConfig(text.replace('retry: 1m', 'retry: 5s'), 'inline.yaml', { connectors: [timed], env: testEnv }).ok).toBe(true);
  });
});

describe('ids', () => {
  it('refuses a connector instance named like a hub source', () => {
    const text = `${HUB}${EMPTY_CATALOG}connectors:
  admin:
    type: fakeshop
    storeUrl: http://127.0.0.1:9000
`;
    expect(inlineErrors(text).map(String)).toEqual([
      'inline.yaml:12:3: connectors.admin: connector id "admin" is reserved for the hub itself (reserved: preference_center, admin)',
    ]);
  });

  it('refuses a catalog id with a dot (consent mappings write purpose.channel)', () => {
    const text = `${HUB}catalog:
  channels:
    e.mail: { title: E-mail }
  purposes: {}
`;
    expect(inlineErrors(text).map(String)).toEqual([
      'inline.yaml:10:5: catalog.channels.e.mail: invalid id "e.mail": expected an id of letters, digits, _ or - that starts with a letter (at most 64 characters)',
    ]);
  });
});

describe('the connector schema seam', () => {
  it('with no connector types registered, any instance is an unknown type', () => {
    const text = `${HUB}${EMPTY_CATALOG}connectors:
  crm:
    type: fakecrm
`;
    expect(inlineErrors(text, { connectors: [], env: testEnv }).map(String)).toEqual([
      'inline.yaml:13:11: connectors.crm.type: unknown connector type "fakecrm" (no connector types are registered)',
    ]);
  });

  it('refuses a connector schema that clashes with a common key or is not an object', () => {
    const connector = (type: string, configSchema: z.ZodType, secretKeys: string[] = []): ConnectorDefinition => ({
      type,
      configSchema,
      cursorSchema: z.string(),
      capabilities: fakeCrm.capabilities,
      limits: fakeCrm.limits,
      secretKeys,
      create: () => ({}),
    });
    expect(() => buildConfigSchema([connector('clash', z.object({ priority: z.string() }))])).toThrow(ConnectorSchemaError);
    expect(() => buildConfigSchema([connector('scalar', z.string())])).toThrow(/must be a z.object/);
    expect(() => buildConfigSchema([fakeCrm, fakeCrm])).toThrow(/registered twice/);
    expect(() => buildConfigSchema([connector('badsecret', z.object({ key: z.string() }), ['token'])])).toThrow(/secretKeys names "token"/);
  });
});

describe('the example configs', () => {
  it('config/concord.yaml validates with no environment set, warning about its development secrets', async () => {
    const result = expectOk(await loadConfig('config/concord.yaml', { connectors: builtinConnectors, env: {} }));
    expect(result.config.hub.mode).toBe('development');
    expect(result.config.hub.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(result.config.hub.databaseUrl).toBe('sqlite:./data/concord.db');
    expect(result.warnings.every((w) => w.code === 'secret_development_default')).toBe(true);
    expect(result.warnings.map((w) => /(\w+) is not set/.exec(w.message)?.[1])).toEqual([
      'CONCORD_SIGNING_SECRET',
      'CONCORD_HASH_KEY',
      'CONCORD_ADMIN_API_KEY',
      'HUBSPOT_ACCESS_TOKEN',
      'HUBSPOT_CLIENT_SECRET',
      'SALESFORCE_CLIENT_ID',
      'SALESFORCE_CLIENT_SECRET',
      'SALESFORCE_OM_TOKEN',
      'MAILCHIMP_API_KEY',
      'MAILCHIMP_WEBHOOK_SECRET',
      'SEGMENT_WRITE_KEY',
      'SEGMENT_PROFILE_TOKEN',
      'SEGMENT_PUBLIC_API_TOKEN',
      'SEGMENT_WEBHOOK_SECRET',
      'CRM_TOKEN',
      'CRM_WEBHOOK_SECRET',
      'CRM_EVENTS_SECRET',
    ]);
  });

  it('config/concord.yaml takes REDIS_URL and DATABASE_URL from the environment', async () => {
    const env = { REDIS_URL: 'redis://10.0.0.5:6379', DATABASE_URL: 'postgres://concord@127.0.0.1:5432/test' };
    const result = expectOk(await loadConfig('config/concord.yaml', { connectors: builtinConnectors, env }));
    expect(result.config.hub).toMatchObject({ redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL });
  });

  it('config/examples/production.yaml needs its variables, and validates with them', async () => {
    const file = 'config/examples/production.yaml';
    const missing = await loadConfig(file, { connectors: builtinConnectors, env: {} });
    expect(missing.ok).toBe(false);
    if (!missing.ok) {
      expect(missing.errors.map((e) => e.message.replace(/^.*environment variable (\w+).*$/, '$1'))).toEqual([
        'REDIS_URL',
        'DATABASE_URL',
        'PUBLIC_URL',
        'CONCORD_SIGNING_SECRET',
        'CONCORD_HASH_KEY',
      ]);
    }
    const env = {
      REDIS_URL: 'rediss://cache.internal:6380',
      DATABASE_URL: 'postgres://concord@db.internal:5432/concord',
      PUBLIC_URL: 'https://consent.example.com',
      CONCORD_SIGNING_SECRET: randomBytes(32).toString('base64url'),
      CONCORD_HASH_KEY: randomBytes(32).toString('hex'),
    };
    const result = expectOk(await loadConfig(file, { connectors: builtinConnectors, env }));
    expect(result.config.hub).toMatchObject({ mode: 'production', skew: 120_000, listen: { host: '0.0.0.0', port: 8080 } });
    expect(result.warnings).toEqual([]);
  });
});

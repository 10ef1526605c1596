/**
 * The production policy of `concord validate` / `concord start`: no published development
 * secret, no weak secret the operator generates, and a hub on development terms stays on
 * loopback; production needs an https public URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineConnector } from '../connector/define.js';
import type { ConfigError } from './errors.js';
import { parseConfig } from './load.js';
import type { LoadResult } from './load.js';
import { fakeConnectors, testEnv } from './testing/support.js';
import { builtinConnectors } from '../../connectors/index.js';

const fresh = (): string => randomBytes(32).toString('base64url');

/** A connector type with one secret the vendor issues and one the operator makes. */
const hooked = defineConnector({
  type: 'hooked',
  configSchema: z.object({ apiKey: z.string().min(1), urlToken: z.string().min(1) }),
  cursorSchema: z.string(),
  capabilities: { pull: false, push: false, webhooks: true, erase: false, export: false, find: false },
  limits: { requestsPerWindow: 10, windowMs: 1_000, maxBatch: 10, concurrency: 1 },
  secretKeys: ['apiKey', 'urlToken'],
  generatedSecretKeys: ['urlToken'],
  create: () => ({}),
});

/** An instance of it, its secrets from T_API and T_URL_TOKEN. */
const HOOKED = `connectors:
  hook:
    type: hooked
    apiKey: \${env:T_API}
    urlToken: \${env:T_URL_TOKEN}
`;

interface HubOptions {
  mode?: 'production' | 'development';
  publicUrl?: string;
  host?: string;
  apiKey?: string;
  connector?: string;
}

function yaml(o: HubOptions = {}): string {
  return `hub:
${o.mode ? `  mode: ${o.mode}\n` : ''}  redisUrl: redis://127.0.0.1:6379
  databaseUrl: sqlite:./data/test.db
  publicUrl: ${o.publicUrl ?? 'https://hub.example.com'}
${o.host ? `  listen: { host: "${o.host}" }\n` : ''}  secrets:
    signing: \${env:TEST_SIGNING_SECRET}
    hashKey: \${env:TEST_HASH_KEY}
${o.apiKey ?? ''}catalog:
  channels: {}
  purposes: {}
${o.connector ?? ''}`;
}

function parse(o: HubOptions, env: Record<string, string> = {}): LoadResult {
  return parseConfig(yaml(o), 'inline.yaml', { connectors: [...fakeConnectors, hooked], env: { ...testEnv, ...env } });
}

function errorsOf(result: LoadResult): ConfigError[] {
  if (result.ok) throw new Error('expected the config to be refused');
  return result.errors;
}

function expectOk(result: LoadResult): void {
  if (!result.ok) throw new Error(`expected a valid config:\n${result.errors.join('\n')}`);
}

const codesAt = (errors: readonly ConfigError[]): string[] => errors.map((e) => `${e.code} ${e.path.join('.')}`);

/** The `${env:NAME:-default}` defaults of config/concord.yaml: the published development values. */
function exampleDefaults(): Record<string, string> {
  const text = readFileSync('config/concord.yaml', 'utf8');
  return Object.fromEntries([...text.matchAll(/\$\{env:([A-Z_]+):-([^}]*)\}/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

describe('production refuses the published development secrets', () => {
  it('every secret of config/concord.yaml, set through the environment, is refused in production, naming the setting and not the value', () => {
    const defaults = exampleDefaults();
    const text = readFileSync('config/concord.yaml', 'utf8').replace('mode: development', 'mode: production');
    const result = parseConfig(text, 'config/concord.yaml', {
      connectors: builtinConnectors,
      env: { ...defaults, PUBLIC_URL: 'https://consent.example.com' },
    });
    const errors = errorsOf(result);
    expect(codesAt(errors)).toEqual([
      'secret_published hub.secrets.signing',
      'secret_published hub.secrets.hashKey',
      'secret_published hub.apiKeys.0.key',
      'production_mail_catcher hub.mail.transport',
      'secret_published connectors.hubspot.accessToken',
      'secret_published connectors.hubspot.webhookSecret',
      'secret_published connectors.salesforce.clientId',
      'secret_published connectors.salesforce.clientSecret',
      'secret_published connectors.salesforce.outboundMessageToken',
      'secret_published connectors.mailchimp.apiKey',
      'secret_published connectors.mailchimp.webhookSecret',
      'secret_published connectors.segment.writeKey',
      'secret_published connectors.segment.profileToken',
      'secret_published connectors.segment.publicApiToken',
      'secret_published connectors.segment.webhookSecret',
      // The demo's CRM is the emulator on loopback: production refuses private targets (SSRF).
      'connector_rule connectors.crm.allowPrivateNetwork',
      'secret_published connectors.crm.auth.token',
      'secret_published connectors.crm.webhooks.secrets.0',
      'secret_published connectors.crm.webhooksOut.secrets.0',
    ]);
    expect(String(errors[0])).toBe(
      'config/concord.yaml:25:14: hub.secrets.signing: is a development value published with Concord, refused in production mode; set CONCORD_SIGNING_SECRET to a new secret (`concord secret` prints one)',
    );
    expect(String(errors[4])).toBe(
      'config/concord.yaml:167:18: connectors.hubspot.accessToken: is a development value published with Concord, refused in production mode; set HUBSPOT_ACCESS_TOKEN to the one the system issued',
    );
    const output = errors.join('\n');
    for (const [name, value] of Object.entries(defaults)) {
      if (/SECRET|KEY|TOKEN|CLIENT/.test(name)) expect(output).not.toContain(value);
    }
  });

  it('refuses the published admin key given as its digest', () => {
    const digest = createHash('sha256')
      .update(exampleDefaults()['CONCORD_ADMIN_API_KEY'] ?? '')
      .digest('hex');
    const errors = errorsOf(parse({ apiKey: `  apiKeys: [{ id: ops, sha256: ${digest}, scopes: [admin] }]\n` }));
    expect(codesAt(errors)).toEqual(['secret_published hub.apiKeys.0.sha256']);
    expect(errors[0]?.message).toContain('the digest of a development key published with Concord');
  });

  it('refuses the published admin key as the previous key of a rotation too', () => {
    const digest = createHash('sha256')
      .update(exampleDefaults()['CONCORD_ADMIN_API_KEY'] ?? '')
      .digest('hex');
    const previous = `{ sha256: ${digest}, until: '2999-01-01T00:00:00Z' }`;
    const errors = errorsOf(
      parse({ apiKey: `  apiKeys: [{ id: ops, sha256: ${'ab'.repeat(32)}, previous: ${previous}, scopes: [admin] }]\n` }),
    );
    expect(codesAt(errors)).toEqual(['secret_published hub.apiKeys.0.previous.sha256']);
  });

  it('refuses a value carrying the development marker, whatever follows it', () => {
    const errors = errorsOf(parse({}, { TEST_HASH_KEY: `dev-only-${fresh()}` }));
    expect(codesAt(errors)).toEqual(['secret_published hub.secrets.hashKey']);
  });

  it('refuses published values of a vendor-issued connector secret too', () => {
    const errors = errorsOf(parse({ connector: HOOKED }, { T_API: 'dev-only-hubspot-token', T_URL_TOKEN: fresh() }));
    expect(codesAt(errors)).toEqual(['secret_published connectors.hook.apiKey']);
  });
});

describe('production refuses weak secrets the operator generates', () => {
  it('a signing secret or hash key below 256 bits: repeated characters, too short, counting', () => {
    const errors = errorsOf(parse({}, { TEST_SIGNING_SECRET: 's'.repeat(48), TEST_HASH_KEY: randomBytes(24).toString('hex') }));
    expect(codesAt(errors)).toEqual(['secret_weak hub.secrets.signing', 'secret_weak hub.secrets.hashKey']);
    expect(String(errors[0])).toBe(
      'inline.yaml:6:14: hub.secrets.signing: is too weak for production mode (too few different characters: about 0 bits, 256 needed); set TEST_SIGNING_SECRET to 32 random bytes (`concord secret` prints one)',
    );
    expect(String(errors[1])).toBe(
      'inline.yaml:7:14: hub.secrets.hashKey: is too weak for production mode (too short: about 192 bits, 256 needed); set TEST_HASH_KEY to 32 random bytes (`concord secret` prints one)',
    );
    expect(errors.join('\n')).not.toMatch(/sss/);
  });

  it('an admin key shorter than 32 characters, or long but made of words and counting', () => {
    const apiKey = `  apiKeys:
    - { id: ops, key: "\${env:T_ADMIN}", scopes: [admin] }
    - { id: reader, key: "\${env:T_READER}", scopes: [profiles:read] }
`;
    const short = randomBytes(20).toString('base64url').slice(0, 28);
    const errors = errorsOf(parse({ apiKey }, { T_ADMIN: short, T_READER: 'reader-key-0123456789abcdef0123456789' }));
    expect(codesAt(errors)).toEqual(['secret_weak hub.apiKeys.0.key', 'secret_weak hub.apiKeys.1.key']);
    expect(errors[0]?.message).toContain('too short');
    expect(errors.join('\n')).not.toContain(short);
  });

  it('a generated connector secret is held to the same rule; a vendor-issued one keeps the vendor format', () => {
    const errors = errorsOf(parse({ connector: HOOKED }, { T_API: 'pat-na1-0a1b', T_URL_TOKEN: 'token-12345678901234567890123456789012' }));
    expect(codesAt(errors)).toEqual(['secret_weak connectors.hook.urlToken']);
    expectOk(parse({ connector: HOOKED }, { T_API: 'pat-na1-0a1b', T_URL_TOKEN: fresh() }));
  });

  it('reports one error per place: a value the schema refuses is not also called weak', () => {
    const errors = errorsOf(parse({}, { TEST_SIGNING_SECRET: 'short-secret' }));
    expect(codesAt(errors)).toEqual(['invalid hub.secrets.signing']);
  });
});

describe('production accepts good secrets', () => {
  it('fresh 32-byte values in base64url, base64 and hex, an admin key and a digest', () => {
    const bytes = randomBytes(32);
    const apiKey = `  apiKeys:
    - { id: ops, key: "\${env:T_ADMIN}", scopes: [admin] }
    - { id: reader, sha256: ${createHash('sha256').update(fresh()).digest('hex')}, scopes: [profiles:read] }
`;
    expectOk(
      parse(
        { apiKey },
        { TEST_SIGNING_SECRET: bytes.toString('base64'), TEST_HASH_KEY: randomBytes(32).toString('hex'), T_ADMIN: fresh() },
      ),
    );
    expectOk(parse({}, { TEST_SIGNING_SECRET: fresh(), TEST_HASH_KEY: fresh() }));
  });
});

describe('development mode keeps to its published values, on loopback', () => {
  it('development mode accepts the published and weak values, on loopback', () => {
    expectOk(
      parse(
        { mode: 'development', publicUrl: 'http://localhost:8080' },
        { TEST_SIGNING_SECRET: 'dev-only-signing-secret-do-not-use-in-production', TEST_HASH_KEY: 'k'.repeat(32) },
      ),
    );
  });

  it('refuses a listen.host off loopback in development mode, even with good secrets', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'hub.internal']) {
      const errors = errorsOf(parse({ mode: 'development', publicUrl: 'http://localhost:8080', host }));
      expect(codesAt(errors), host).toEqual(['development_listen_host hub.listen.host']);
    }
    expect(String(errorsOf(parse({ mode: 'development', publicUrl: 'http://localhost:8080', host: '0.0.0.0' }))[0])).toBe(
      'inline.yaml:6:19: hub.listen.host: hub.mode is development, which accepts published secrets, so the hub listens only on loopback (127.0.0.1, ::1, localhost); set hub.mode: production to listen on 0.0.0.0',
    );
  });

  it('accepts every loopback address', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) {
      expectOk(parse({ mode: 'development', publicUrl: 'http://localhost:8080', host }));
    }
  });

  it('refuses a listen.host off loopback whenever a published development secret is configured, in any mode', () => {
    const errors = errorsOf(parse({ host: '0.0.0.0' }, { TEST_SIGNING_SECRET: 'dev-only-signing-secret-do-not-use-in-production' }));
    expect(codesAt(errors)).toEqual(['development_listen_host hub.listen.host', 'secret_published hub.secrets.signing']);
    expect(errors[0]?.message).toContain('a published development secret is configured (hub.secrets.signing)');
  });

  it('production listens where it is told, with good secrets', () => {
    expectOk(parse({ host: '0.0.0.0' }));
    expectOk(parse({ mode: 'production', host: '::' }));
  });
});

describe('production requires an https public URL', () => {
  it('refuses http, whatever the host', () => {
    for (const publicUrl of ['http://hub.example.com', 'http://localhost:8080']) {
      const errors = errorsOf(parse({ publicUrl }));
      expect(codesAt(errors), publicUrl).toEqual(['production_public_url hub.publicUrl']);
    }
    expect(String(errorsOf(parse({ publicUrl: 'http://hub.example.com' }))[0])).toBe(
      'inline.yaml:4:14: hub.publicUrl: hub.mode is production, so publicUrl must be an https:// URL (the preference center sets Secure cookies; put a TLS-terminating proxy in front of the hub)',
    );
  });

  it('accepts https in production and http on loopback in development', () => {
    expectOk(parse({ publicUrl: 'https://consent.example.com/concord' }));
    expectOk(parse({ mode: 'development', publicUrl: 'http://127.0.0.1:8080' }));
  });
});

describe('production sends mail through a real SMTP server', () => {
  const catcher = '  mail: { transport: catcher, from: "Acme <privacy@acme.example>" }\n';
  const smtp =
    '  mail: { from: "Acme <privacy@acme.example>", smtp: { host: mail.example.com, port: 465, secure: true, user: acme, password: "${env:T_SMTP}" } }\n';

  it('refuses the embedded catcher in production', () => {
    expect(codesAt(errorsOf(parse({ apiKey: catcher })))).toEqual(['production_mail_catcher hub.mail.transport']);
  });

  it('accepts the catcher in development and SMTP (password from the environment) in production', () => {
    expectOk(parse({ mode: 'development', publicUrl: 'http://127.0.0.1:8080', apiKey: catcher }));
    expectOk(parse({ apiKey: smtp }, { T_SMTP: 'smtp-password' }));
  });

  it('refuses SMTP without a server, and a literal password', () => {
    expect(codesAt(errorsOf(parse({ apiKey: '  mail: { from: "Acme <privacy@acme.example>" }\n' })))).toEqual(['invalid hub.mail.smtp']);
    const literal = smtp.replace('${env:T_SMTP}', 'hunter2');
    expect(errorsOf(parse({ apiKey: literal })).map((e) => e.code)).toContain('secret_literal');
  });
});

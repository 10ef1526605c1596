import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import connector from './connector.js';
import { RejectedError } from '../../src/connector/errors.js';
import { HttpConfig } from './config.js';
import { expandPath, expandQuery, placeholdersOf, renderBody } from './template.js';

const EXAMPLES = ['config/examples/http-crm.yaml', 'config/examples/http-newsletter.yaml'];

async function errorsOf(file: string, edit: (text: string) => string, env: Record<string, string> = {}): Promise<string[]> {
  const text = edit(await readFile(file, 'utf8'));
  const result = parseConfig(text, file, { connectors: [connector], env });
  return result.ok ? [] : result.errors.map(String);
}

/** Fresh secrets and public addresses for the CRM example run in production mode. */
function productionEnv(): Record<string, string> {
  const key = () => randomBytes(32).toString('base64url');
  const whsec = () => `whsec_${randomBytes(32).toString('base64')}`;
  return {
    CONCORD_SIGNING_SECRET: key(),
    CONCORD_HASH_KEY: key(),
    CONCORD_ADMIN_API_KEY: key(),
    CRM_TOKEN: key(),
    CRM_WEBHOOK_SECRET: whsec(),
    CRM_EVENTS_SECRET: whsec(),
    PUBLIC_URL: 'https://hub.example.com',
    CRM_BASE_URL: 'https://crm.example.com/v1',
    CRM_EVENTS_URL: 'https://crm.example.com/hooks/concord',
  };
}

describe('HTTP connector config', () => {
  it('validates both example systems as written', async () => {
    for (const file of EXAMPLES) expect(await errorsOf(file, (t) => t)).toEqual([]);
  });

  it('reports a missing id path, an unknown template placeholder and a bad selector at file:line:col', async () => {
    const crm = EXAMPLES[0] ?? '';
    expect(
      await errorsOf(crm, (t) => t.replace('record: { id: id, updatedAt: updated_at, email: email }', 'record: { updatedAt: updated_at }')),
    ).toEqual([expect.stringMatching(/^config\/examples\/http-crm\.yaml:\d+:\d+: connectors\.crm\.record: missing required key "id"$/)]);
    expect(await errorsOf(crm, (t) => t.replace('body: { data: "{{record}}" }, id', 'body: { data: "{{recrod}}" }, id'))).toEqual([
      expect.stringMatching(
        /^config\/examples\/http-crm\.yaml:\d+:\d+: connectors\.crm\.write\.create\.body: unknown placeholder recrod: this template may use record, id, email$/,
      ),
    ]);
    // A body may name one mapped field; one no mapping of the instance carries is refused.
    expect(
      await errorsOf(crm, (t) => t.replace('body: { data: "{{record}}" }, id', 'body: { data: { mail: "{{field:email}}" } }, id')),
    ).toEqual([]);
    expect(
      await errorsOf(crm, (t) => t.replace('body: { data: "{{record}}" }, id', 'body: { data: { mail: "{{field:e_mail}}" } }, id')),
    ).toEqual([
      expect.stringMatching(
        /^config\/examples\/http-crm\.yaml:\d+:\d+: connectors\.crm\.write\.create\.body: the template names the field e_mail, which no mapping of this instance carries \(mapped: email, phone, /,
      ),
    ]);
    expect(await errorsOf(crm, (t) => t.replace('records: "$.data[*]"', 'records: "$.data[*"'))).toEqual([
      expect.stringMatching(/connectors\.crm\.read\.list\.records: expected an RFC 9535 JSONPath query/),
    ]);
    expect(await errorsOf(crm, (t) => t.replace('path: "/contacts/{id}", body', 'path: "/contacts", body'))).toEqual([
      expect.stringMatching(/connectors\.crm\.write\.update\.path: write\.update\.path must name \{id\}/),
    ]);
  });

  it('wants secrets from the environment, nested ones included', async () => {
    const errors = await errorsOf(EXAMPLES[0] ?? '', (t) => t.replace('"${env:CRM_TOKEN:-dev-only-http-token}"', 'literal-token'));
    expect(errors).toEqual([expect.stringMatching(/connectors\.crm\.auth\.token: .*\$\{env:NAME\}/)]);
  });

  it('needs a way to know a notified record: read.get, or an authoritative payload', () => {
    const base = { baseUrl: 'https://crm.example.com', record: { id: 'id', updatedAt: 'u' } };
    const webhooks = { secrets: ['whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz'], events: [{ type: 'contact.*', id: '$.data.id' }] };
    expect(HttpConfig.safeParse({ ...base, webhooks }).error?.issues.map((i) => i.message)).toEqual([
      'webhooks need read.get to read a notified record back, or webhooks.authoritativeRecord',
    ]);
    expect(HttpConfig.safeParse({ ...base, webhooks: { ...webhooks, authoritativeRecord: '$.data' } }).success).toBe(true);
  });

  it('refuses allowPrivateNetwork in production mode, at its file:line:col', async () => {
    const crm = EXAMPLES[0] ?? '';
    const production = (t: string) => t.replace('mode: development', 'mode: production');
    expect(await errorsOf(crm, production, productionEnv())).toEqual([
      expect.stringMatching(
        /^config\/examples\/http-crm\.yaml:\d+:\d+: connectors\.crm\.allowPrivateNetwork: production refuses private, loopback and link-local targets/,
      ),
    ]);
    expect(
      await errorsOf(crm, (t) => production(t).replace('allowPrivateNetwork: true', 'allowPrivateNetwork: false'), productionEnv()),
    ).toEqual([]);
  });

  it('lets each endpoint’s path and query name only the variables that endpoint fills', () => {
    const base = { baseUrl: 'https://crm.example.com', record: { id: 'id', updatedAt: 'u' } };
    const messagesOf = (input: object): string[] =>
      HttpConfig.safeParse({ ...base, ...input }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    const write = (method: 'POST' | 'PUT' | 'PATCH', path: string, query: Record<string, string> = {}) => ({ method, path, query });
    const update = write('PATCH', '/contacts/{id}');

    expect(messagesOf({ read: { list: { path: '/contacts/{id}', records: '$[*]' } } })).toEqual([
      expect.stringMatching(/^read\.list\.path: unknown placeholder id: this template may use none/),
    ]);
    expect(messagesOf({ read: { get: { path: '/contacts/{id}', query: { x: '{email}' } } } })).toEqual([
      expect.stringMatching(/^read\.get\.query\.x: unknown placeholder email: this template may use id/),
    ]);
    expect(messagesOf({ read: { find: { path: '/contacts/{id}', query: { email: '{email}' }, records: '$[*]' } } })).toEqual([
      expect.stringMatching(/^read\.find\.path: unknown placeholder id: this template may use email/),
    ]);
    expect(messagesOf({ read: { findPhone: { path: '/contacts', query: { phone: '{email}' }, records: '$[*]' } } })).toEqual([
      'read.findPhone: read.findPhone must name {phone} in its path or query',
      expect.stringMatching(/^read\.findPhone\.query\.phone: unknown placeholder email: this template may use phone/),
    ]);
    expect(messagesOf({ read: { findPhone: { path: '/contacts', query: { phone: '{phone}' }, records: '$[*]' } } })).toEqual([]);
    expect(messagesOf({ write: { create: write('POST', '/contacts/{id}'), update } })).toEqual([
      expect.stringMatching(/^write\.create\.path: unknown placeholder id: this template may use email/),
    ]);
    expect(
      messagesOf({ delete: { path: '/contacts/{id}', query: { who: '{email}' } }, export: { path: '/x/{id}', query: { y: '{idd}' } } }),
    ).toEqual([
      expect.stringMatching(/^export\.query\.y: unknown placeholder idd: this template may use id/),
      expect.stringMatching(/^delete\.query\.who: unknown placeholder email: this template may use id/),
    ]);
    // A literal JSON value in a query is a clear error, with the way to write literal braces.
    expect(messagesOf({ read: { list: { path: '/contacts', query: { filter: '{"status":"active"}' }, records: '$[*]' } } })).toEqual([
      'read.list.query.filter: unknown placeholder "status":"active": this template may use none (write a literal { or } as %7B or %7D)',
    ]);
    expect(
      messagesOf({
        read: { list: { path: '/contacts', query: { filter: '%7B"status":"active"%7D' }, records: '$[*]' } },
        write: { upsert: write('PUT', '/contacts/{id}', { email: '{email}' }) },
      }),
    ).toEqual([]);
    expect(expandQuery({ filter: '%7B"status":"active"%7D' }, {})).toEqual([['filter', '{"status":"active"}']]);
  });

  it('parses durations and keeps private targets refused by default', () => {
    const config = HttpConfig.parse({ baseUrl: 'https://crm.example.com', record: { id: 'id', updatedAt: 'u' } });
    expect(config.allowPrivateNetwork).toBe(false);
    expect(config.timeout).toBe(15_000);
    expect(config.rateLimit).toEqual({ requests: 10, per: 1_000, concurrency: 4 });
  });
});

describe('templates', () => {
  it('fill bodies with values only, spread a record, and leave unknown values out', () => {
    const item = { ref: '{{ref}}', subscriber_id: '{{id}}', '...': '{{record}}', fixed: '{{ not a placeholder' };
    expect(renderBody(item, { ref: '0', record: { a: 1 } })).toEqual({ ref: '0', a: 1, fixed: '{{ not a placeholder' });
    expect(renderBody({ data: '{{record}}', list: ['{{id}}', 'x'] }, { record: { b: true } })).toEqual({ data: { b: true }, list: ['x'] });
    expect(renderBody({ mail: '{{field:email}}', phone: '{{ field:phone }}' }, { fields: { email: 'a@example.com' } })).toEqual({
      mail: 'a@example.com',
    });
    // A value that looks like code stays a string: nothing is evaluated.
    expect(renderBody('{{record}}', { record: '${process.exit()}' })).toBe('${process.exit()}');
  });

  it('escape path values (RFC 6570) and unescape query values once', () => {
    expect(expandPath('/contacts/{id}', { id: 'a b+c' })).toBe('/contacts/a%20b%2Bc');
    expect(expandQuery({ email: '{email}', limit: '10', empty: '{id}' }, { email: 'a+b@example.com' })).toEqual([
      ['email', 'a+b@example.com'],
      ['limit', '10'],
    ]);
    expect(placeholdersOf({ a: '{{items}}', b: ['{{ref}}'] })).toEqual(['items', 'ref']);
    expect(placeholdersOf('/x/{id}{?email,limit}')).toEqual(['id', 'email', 'limit']);
  });

  it('refuse a path value that would address another path (., .., a /), as a record the system cannot hold', () => {
    for (const id of ['.', '..', '%2e%2E', 'a/b', '../admin', '%2Fadmin', 'a\\b']) {
      for (const template of ['/contacts/{id}', '/contacts/{+id}', '/contacts{/id}']) {
        const error = (() => {
          try {
            return expandPath(template, { id });
          } catch (e) {
            return e;
          }
        })();
        expect(error, `${template} with ${id}`).toBeInstanceOf(RejectedError);
        expect(error).toMatchObject({ retryable: false, reasonCode: 'invalid_id' });
      }
    }
    expect(expandPath('/contacts/{id}', { id: 'c.1..2' })).toBe('/contacts/c.1..2');
    // Only the values the template names: an e-mail given beside an id path is not in it.
    expect(expandPath('/contacts/{id}', { id: 'c1', email: 'a/b@example.com' })).toBe('/contacts/c1');
  });
});

describe('HTTP connector config: URLs, secrets and durations', () => {
  const base = { baseUrl: 'https://crm.example.com', record: { id: 'id', updatedAt: 'u' } };
  const messagesOf = (input: unknown): string[] =>
    HttpConfig.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
  const oauth2 = (tokenUrl: string) => ({ type: 'oauth2', tokenUrl, clientId: 'c', clientSecret: 's' });
  const out = (url: string, secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') => ({ url, secrets: [secret] });

  it('takes http and https URLs only', () => {
    for (const url of ['ftp://crm.example.com', 'file:///etc/passwd', 'javascript:alert(1)', 'mailto:a@example.com']) {
      expect(messagesOf({ ...base, baseUrl: url })).toEqual([expect.stringMatching(/^baseUrl: /)]);
      expect(messagesOf({ ...base, auth: oauth2(url) })).toEqual([expect.stringMatching(/^auth\.tokenUrl: /)]);
      expect(messagesOf({ ...base, webhooksOut: out(url) })).toEqual([expect.stringMatching(/^webhooksOut\.url: /)]);
    }
    expect(messagesOf({ ...base, baseUrl: 'http://crm.example.com/v1', auth: oauth2('https://id.example.com/token') })).toEqual([]);
  });

  it('refuses credentials written in a URL, with what to use instead', () => {
    const message = expect.stringContaining('credentials in the URL');
    expect(messagesOf({ ...base, baseUrl: 'https://admin:hunter2@crm.example.com/v1' })).toEqual([message]);
    expect(messagesOf({ ...base, baseUrl: 'https://admin@crm.example.com/v1' })).toEqual([message]);
    expect(messagesOf({ ...base, auth: oauth2('https://c:s@id.example.com/token') })).toEqual([message]);
    expect(messagesOf({ ...base, webhooksOut: out('https://u:p@crm.example.com/hooks') })).toEqual([message]);
  });

  it('takes a Standard Webhooks secret only as whsec_ and the base64 of 24 to 64 bytes', () => {
    const webhooks = (secret: string) => ({ secrets: [secret], events: [{ type: 'x', id: '$.data.id' }], authoritativeRecord: '$.data' });
    const message = expect.stringContaining('whsec_ and the base64 of 24 to 64 bytes');
    for (const secret of [
      'whsec_',
      'whsec_ ',
      'whsec_!!!',
      'not-a-whsec-secret',
      'whsec_AAAA',
      `whsec_${'A'.repeat(88)}`,
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS',
    ]) {
      expect(messagesOf({ ...base, webhooks: webhooks(secret) })).toEqual([message]);
      expect(messagesOf({ ...base, webhooksOut: out('https://crm.example.com/hooks', secret) })).toEqual([message]);
    }
    expect(messagesOf({ ...base, webhooks: webhooks('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') })).toEqual([]);
  });

  it('refuses a duration of 0 ms given as a bare number', () => {
    expect(messagesOf({ ...base, timeout: 0 })).toEqual([expect.stringMatching(/^timeout: /)]);
    expect(messagesOf({ ...base, rateLimit: { per: 0 } })).toEqual([expect.stringMatching(/^rateLimit\.per: /)]);
    expect(messagesOf({ ...base, webhooksOut: { ...out('https://crm.example.com/hooks'), retrySchedule: [1000, 0] } })).toEqual([
      expect.stringMatching(/^webhooksOut\.retrySchedule\.1: /),
    ]);
    // A parsed config parses again to itself.
    const parsed = HttpConfig.parse({ ...base, timeout: '30s' });
    expect(HttpConfig.parse(parsed).timeout).toBe(30_000);
  });
});

/**
 * The generic HTTP connector's reads and reach, beyond conformance: the SSRF guard on the example
 * config (pull, read, push, erase, export, check, and `concord check` naming `baseUrl` at
 * file:line:col), every paging variant against the emulator with a walk resumed from mid-way, the
 * incremental filter with its look-back, relative next links and one to another origin, a baseUrl
 * that is only an origin, and the authentication variants (basic, API key header, OAuth2 client
 * credentials) against tiny loopback servers.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpConfig, type Paging } from '../../../connectors/http/config.js';
import { freePort } from '../../../src/app/free-port.js';
import { AuthError, BlockedTargetError, MalformedPayloadError } from '../../../src/connector/errors.js';
import { runConcord } from '../../helpers/cli.js';
import { exampleOnEmulator, idsOf, instanceOf, json, plainConfig, pull, signal, tinyServer } from './connector-helpers.js';
import { emulator } from './emulator-helpers.js';

describe('http connector: the SSRF guard', () => {
  it('refuses the loopback emulator with allowPrivateNetwork false: pull, read, push, erase, export and check', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const crm = instanceOf({ ...config, allowPrivateNetwork: false });

    await expect(pull(crm)).rejects.toBeInstanceOf(BlockedTargetError);
    await expect(crm.read(['c_1'], signal())).rejects.toBeInstanceOf(BlockedTargetError);
    await expect(crm.push([{ profileId: 'p1', fields: { email: 'ada@example.com' } }], signal())).rejects.toBeInstanceOf(
      BlockedTargetError,
    );
    await expect(crm.erase([{ email: 'ada@example.com' }], signal())).rejects.toBeInstanceOf(BlockedTargetError);
    await expect(crm.export([{ email: 'ada@example.com' }], signal())).rejects.toBeInstanceOf(BlockedTargetError);
    expect(await crm.check(signal())).toEqual([
      { ok: false, detail: expect.stringContaining('loopback'), path: ['baseUrl'], fix: expect.stringContaining('allowPrivateNetwork') },
      // The CRM sends webhooks; where it sends them cannot be asked.
      { ok: true, neutral: true, detail: expect.stringContaining('webhooks cannot be checked from here') },
    ]);
    expect(emu.sideDoor.calls().total).toBe(0);
  });

  describe('concord check crm', () => {
    /** A copy of the CRM example (`edit` applied), and where its `baseUrl` value starts. */
    async function exampleCopy(edit: (text: string) => string = (t) => t) {
      const text = edit(await readFile('config/examples/http-crm.yaml', 'utf8'));
      const file = join(await mkdtemp(join(tmpdir(), 'concord-check-')), 'concord.yaml');
      await writeFile(file, text);
      const lines = text.split('\n');
      /** `file:line:col: connectors.crm.<key>: ` of the value of `key` (which starts with `value`). */
      const at = (key: string, value: string) => {
        const line = lines.findIndex((l) => l.trimStart().startsWith(`${key}:`));
        const col = (lines[line] ?? '').indexOf(value) + 1;
        return `${file}:${line + 1}:${col}: connectors.crm.${key}: `;
      };
      return { file, at: at('baseUrl', '${env:CRM_BASE_URL'), atAuth: at('auth', '{ type: bearer') };
    }

    it('prints ✔ when the emulator answers with the credentials', async () => {
      const emu = await emulator();
      const { file } = await exampleCopy();
      const run = await runConcord(['check', 'crm', '--config', file], { CRM_BASE_URL: `${emu.url}/crm/v1` });
      expect(run.stdout).toContain(`✔ crm: ${emu.url} answered the list endpoint (HTTP 200) with the credentials`);
      expect(run.code).toBe(0);
    });

    it('prints ✘ with file:line:col of auth when the system refuses the token', async () => {
      const emu = await emulator();
      const { file, atAuth } = await exampleCopy();
      const run = await runConcord(['check', 'crm', '--config', file], { CRM_BASE_URL: `${emu.url}/crm/v1`, CRM_TOKEN: 'not-the-token' });
      expect(run.stdout).toContain(`✘ crm: ${atAuth}${emu.url} refused the credentials`);
      expect(run.code).toBe(1);
    });

    it('prints ✘ with file:line:col of baseUrl when nothing listens there', async () => {
      const port = await freePort();
      const { file, at } = await exampleCopy();
      const run = await runConcord(['check', 'crm', '--config', file], { CRM_BASE_URL: `http://127.0.0.1:${port}/crm/v1` });
      expect(run.stdout).toContain(`✘ crm: ${at}cannot reach http://127.0.0.1:${port}`);
      expect(run.code).toBe(1);
    });

    it('prints ✘ with file:line:col of baseUrl when the guard refuses a loopback address', async () => {
      const emu = await emulator();
      const { file, at } = await exampleCopy((t) => t.replace('allowPrivateNetwork: true', 'allowPrivateNetwork: false'));
      const run = await runConcord(['check', 'crm', '--config', file], { CRM_BASE_URL: `${emu.url}/crm/v1` });
      expect(run.stdout).toContain(`✘ crm: ${at}refused: 127.0.0.1 is a loopback address`);
      expect(run.stdout).toContain('Fix: use the system’s public address, or set allowPrivateNetwork: true');
      expect(run.code).toBe(1);
      expect(emu.sideDoor.calls().total).toBe(0);
    });
  });
});

/** The list endpoint of `config` with this paging and these fixed parameters. */
function paged(config: HttpConfig, paging: Paging, query: Record<string, string> = {}): HttpConfig {
  const list = config.read.list;
  if (list === undefined) throw new Error('the example declares a list endpoint');
  return { ...config, read: { ...config.read, list: { ...list, paging, query } } };
}

const VARIANTS = [
  {
    name: 'CRM, a cursor in the body',
    system: 'crm',
    paging: { type: 'cursor', next: '$.next_cursor', param: 'cursor' },
    query: { limit: '2' },
  },
  { name: 'CRM, a next link in the body', system: 'crm', paging: { type: 'nextLink', next: '$.links.next' }, query: { limit: '2' } },
  {
    name: 'newsletter, offset and limit',
    system: 'newsletter',
    paging: { type: 'offset', offsetParam: 'offset', limitParam: 'limit', pageSize: 2 },
    query: {},
  },
  { name: 'newsletter, the Link header', system: 'newsletter', paging: { type: 'linkHeader' }, query: { limit: '2' } },
] as const satisfies readonly { name: string; system: 'crm' | 'newsletter'; paging: Paging; query: Record<string, string> }[];

describe('http connector: paging', () => {
  for (const variant of VARIANTS) {
    it(`${variant.name}: walks every page once, and a walk cut short resumes without repeating a page`, async () => {
      const { emu, config } = await exampleOnEmulator(variant.system);
      const emails = ['a', 'b', 'c', 'd', 'e'].map((n) => `${n}@example.com`);
      for (const email of emails) {
        if (variant.system === 'crm') emu.sideDoor.userChange(email);
        else emu.sideDoor.newsletterUserCreate(email);
      }
      const all =
        variant.system === 'crm'
          ? emu.sideDoor.crmContacts().map((c) => c.id)
          : emu.sideDoor.newsletterSubscribers().map((s) => s.subscriber_id);
      const instance = instanceOf(paged(config, variant.paging, variant.query));

      const walk = await pull(instance);
      expect(walk.map((p) => p.records.length)).toEqual([2, 2, 1]);
      expect(idsOf(walk).sort()).toEqual([...all].sort());

      const [first] = await pull(instance, undefined, 1);
      if (first === undefined) throw new Error('no first page');
      expect(first.cursor.page).toBeDefined();
      emu.sideDoor.resetCalls();
      const rest = await pull(instance, first.cursor);
      expect(rest.map((p) => p.records.length)).toEqual([2, 1]);
      expect([...idsOf([first]), ...idsOf(rest)].sort()).toEqual([...all].sort());
      expect(emu.sideDoor.calls().total).toBe(2);
      // The walk is over: its last cursor keeps the newest stamp, and no page to resume.
      expect(rest.at(-1)?.cursor.page).toBeUndefined();
    });
  }

  it('pulls incrementally from the newest stamp minus the look-back: an edited record comes back, older ones do not', async () => {
    let now = Date.parse('2026-11-01T10:00:00.000Z');
    const { emu, config } = await exampleOnEmulator('crm', { now: () => now });
    const crm = instanceOf(config);
    const a = emu.sideDoor.userChange('a@example.com');
    now += 10 * 60_000;
    const b = emu.sideDoor.userChange('b@example.com');

    const first = await pull(crm);
    expect(idsOf(first)).toEqual([a.id, b.id]);
    const cursor = first.at(-1)?.cursor;
    expect(cursor).toEqual({ since: b.updated_at });

    now += 10 * 60_000;
    const c = emu.sideDoor.userChange('c@example.com');
    const second = await pull(crm, cursor);
    // b is within the minute of look-back behind its own stamp; a is not.
    expect(idsOf(second)).toEqual([b.id, c.id]);

    now += 10 * 60_000;
    emu.sideDoor.crmUserEdit(a.id, { first_name: 'Ada' });
    const third = await pull(crm, second.at(-1)?.cursor);
    expect(idsOf(third)).toEqual([c.id, a.id]);
    expect(third.at(-1)?.records.at(-1)?.fields['first_name']).toBe('Ada');
  });

  it('newsletter: the epoch-seconds filter with its look-back, and an incremental walk cut short resumes from where it started', async () => {
    let now = Date.parse('2026-11-01T10:00:00.000Z');
    const { emu, config } = await exampleOnEmulator('newsletter', { now: () => now });
    const newsletter = instanceOf(paged(config, { type: 'offset', offsetParam: 'offset', limitParam: 'limit', pageSize: 2 }));
    const old = emu.sideDoor.newsletterUserCreate('old@example.com');
    now += 10 * 60_000;
    const mid = emu.sideDoor.newsletterUserCreate('mid@example.com');
    const first = await pull(newsletter);
    expect(idsOf(first)).toEqual([old.subscriber_id, mid.subscriber_id]);
    const cursor = first.at(-1)?.cursor;

    now += 10 * 60_000;
    const fresh = ['a', 'b', 'c'].map((n) => emu.sideDoor.newsletterUserCreate(`${n}@example.com`).subscriber_id);
    emu.sideDoor.resetCalls();
    const [cut] = await pull(newsletter, cursor, 1);
    // Offset paging under an incremental filter pages by key: the next page starts at the last stamp read.
    expect(cut?.cursor).toMatchObject({
      walkSince: cursor?.since,
      page: { at: new Date(Math.floor(now / 1000) * 1000).toISOString(), skip: 1 },
    });
    const rest = await pull(newsletter, cut?.cursor);
    // The walk starts two minutes (the look-back) behind the newest stamp it had: mid again, old not.
    expect([...idsOf(cut === undefined ? [] : [cut]), ...idsOf(rest)].sort()).toEqual([mid.subscriber_id, ...fresh].sort());
    const filters = Object.keys(emu.sideDoor.calls().byEndpoint);
    expect(filters).toEqual(['GET /newsletter/api/subscribers']);
    expect(rest.at(-1)?.cursor).toEqual({ since: new Date(Math.floor(now / 1000) * 1000).toISOString() });
  });

  // Reproduces a review finding: with plain offsets, a record edited during a walk moves to the end
  // and the records after it move up one place, so the next offset skipped one of them for good.
  it('newsletter: a record edited during an offset walk loses no other record', async () => {
    let now = Date.parse('2026-11-01T10:00:00.000Z');
    const { emu, config } = await exampleOnEmulator('newsletter', { now: () => now });
    const newsletter = instanceOf(paged(config, { type: 'offset', offsetParam: 'offset', limitParam: 'limit', pageSize: 2 }));
    const ids = ['r1', 'r2', 'r3', 'r4', 'r5'].map((n) => {
      now += 5_000;
      return emu.sideDoor.newsletterUserCreate(`${n}@example.com`).subscriber_id;
    });
    const [firstPage] = await pull(newsletter, undefined, 1);
    expect(idsOf(firstPage === undefined ? [] : [firstPage])).toEqual(ids.slice(0, 2));
    now += 5_000;
    emu.sideDoor.newsletterUserEdit(ids[0] ?? '', { lists: { weekly: true } });
    const rest = await pull(newsletter, firstPage?.cursor);
    expect(new Set([...ids.slice(0, 2), ...idsOf(rest)])).toEqual(new Set(ids));
    expect(idsOf(rest)).toContain(ids[2]);
  });

  it('skips a malformed record (counted, not fatal), reads JSON labelled text/plain, and refuses an answer that is no JSON', async () => {
    const good = { id: '1', updated_at: '2026-11-01T10:00:00.000Z' };
    let mode: 'mixed' | 'plain' | 'html' = 'mixed';
    const server = await tinyServer((_req, res) => {
      if (mode === 'mixed') json(res, 200, { data: [good, { updated_at: '2026-11-01T10:00:00.000Z' }, { id: '3', updated_at: null }] });
      else if (mode === 'plain') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(JSON.stringify({ data: [good] }));
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
      }
    });
    const instance = instanceOf(plainConfig(server.origin));
    expect(idsOf(await pull(instance))).toEqual(['1']);
    mode = 'plain';
    expect(idsOf(await pull(instance))).toEqual(['1']);
    mode = 'html';
    await expect(pull(instance)).rejects.toBeInstanceOf(MalformedPayloadError);
  });

  it('starts an interrupted walk again when the system no longer knows its saved page', async () => {
    const record = (id: string) => ({ id, updated_at: '2026-11-01T10:00:00.000Z' });
    const server = await tinyServer((req, res) => {
      if (req.url.includes('cursor=expired')) json(res, 400, { message: 'cursor expired' });
      else json(res, 200, { data: [record('1'), record('2')], next: null });
    });
    const config = paged(HttpConfig.parse(plainConfig(server.origin)), { type: 'cursor', next: '$.next', param: 'cursor' });
    const resumed = await pull(instanceOf(config), {
      since: '2026-11-01T09:00:00.000Z',
      walkSince: '2026-11-01T09:00:00.000Z',
      page: { cursor: 'expired' },
    });
    expect(idsOf(resumed)).toEqual(['1', '2']);
    expect(resumed.at(-1)?.cursor).toEqual({ since: '2026-11-01T10:00:00.000Z' });
    expect(server.requests.map((r) => r.url.includes('cursor=expired'))).toEqual([true, false]);
  });

  it('appends the declared paths to a baseUrl that is only an origin, or has a path with or without a trailing slash', async () => {
    const server = await tinyServer((_req, res) => json(res, 200, { data: [] }));
    for (const baseUrl of [server.origin, `${server.origin}/`, `${server.origin}/api/v2`, `${server.origin}/api/v2/`]) {
      await pull(instanceOf(plainConfig(baseUrl)));
    }
    expect(server.requests.map((r) => r.url)).toEqual(['/contacts', '/contacts', '/api/v2/contacts', '/api/v2/contacts']);
  });

  it('resolves a relative next link against the page it came in (RFC 8288 §3.2), for both link pagings', async () => {
    const pages: Record<string, { link?: string; id: string }> = {
      '/api/contacts': { link: '/api/contacts?page=2', id: '1' },
      '/api/contacts?page=2': { link: '?page=3', id: '2' },
      '/api/contacts?page=3': { link: 'contacts?page=4', id: '3' },
      '/api/contacts?page=4': { id: '4' },
    };
    const page = (url: string) => pages[url] ?? { id: 'wrong' };
    const record = (id: string) => ({ id, updated_at: '2026-11-01T10:00:00.000Z' });
    const inBody = await tinyServer((req, res) => json(res, 200, { data: [record(page(req.url).id)], next: page(req.url).link ?? null }));
    const inHeader = await tinyServer((req, res) => {
      const { link, id } = page(req.url);
      json(res, 200, { data: [record(id)] }, link === undefined ? {} : { link: `<${link}>; rel="next"` });
    });

    const bodyLinks = instanceOf(paged(HttpConfig.parse(plainConfig(`${inBody.origin}/api`)), { type: 'nextLink', next: '$.next' }));
    const headerLinks = instanceOf(paged(HttpConfig.parse(plainConfig(`${inHeader.origin}/api`)), { type: 'linkHeader' }));
    expect(idsOf(await pull(bodyLinks))).toEqual(['1', '2', '3', '4']);
    expect(idsOf(await pull(headerLinks))).toEqual(['1', '2', '3', '4']);
  });

  it('refuses a next link to another origin, and sends it nothing', async () => {
    const server = await tinyServer((req, res) =>
      json(res, 200, {
        data: [{ id: '1', updated_at: '2026-11-01T10:00:00.000Z' }],
        links: { next: `http://localhost:${server.port}/contacts?page=2` },
      }),
    );
    const crm = instanceOf(
      paged(HttpConfig.parse(plainConfig(server.origin, { auth: { type: 'bearer', token: 't0ken' } })), {
        type: 'nextLink',
        next: '$.links.next',
      }),
    );
    const seen: string[] = [];
    const walk = async () => {
      for await (const page of crm.pull(undefined, signal())) seen.push(...page.records.map((r) => r.externalId));
    };
    await expect(walk()).rejects.toBeInstanceOf(MalformedPayloadError);
    expect(seen).toEqual(['1']);
    expect(server.requests).toHaveLength(1);
  });
});

describe('http connector: authentication', () => {
  it('basic: sends the user and password, and a refusal is an AuthError', async () => {
    const expected = `Basic ${Buffer.from('concord:pa55:word').toString('base64')}`;
    const server = await tinyServer((req, res) =>
      req.headers.authorization === expected ? json(res, 200, { data: [] }) : json(res, 401, { message: 'bad credentials' }),
    );
    const good = instanceOf(plainConfig(server.origin, { auth: { type: 'basic', username: 'concord', password: 'pa55:word' } }));
    const bad = instanceOf(plainConfig(server.origin, { auth: { type: 'basic', username: 'concord', password: 'wrong' } }));
    expect(await pull(good)).toEqual([]);
    await expect(pull(bad)).rejects.toBeInstanceOf(AuthError);
  });

  it('apiKey: sends the key in the declared header; the emulator refuses a wrong key with an AuthError', async () => {
    const server = await tinyServer((req, res) => json(res, req.headers['x-token'] === 'k3y' ? 200 : 401, { data: [] }));
    expect(await pull(instanceOf(plainConfig(server.origin, { auth: { type: 'apiKey', header: 'X-Token', key: 'k3y' } })))).toEqual([]);
    expect(server.requests[0]?.headers['x-token']).toBe('k3y');

    const { config } = await exampleOnEmulator('newsletter');
    const wrong = instanceOf({ ...config, auth: { type: 'apiKey', header: 'X-API-Key', key: 'not-the-key' } });
    await expect(pull(wrong)).rejects.toBeInstanceOf(AuthError);
  });

  /** A token endpoint (`/token`, client credentials) and a resource server that takes its current token. */
  async function oauthSystem() {
    const state = { issued: 0, valid: '', resourceAlways401: false, expiresIn: 3600 };
    const server = await tinyServer((req, res) => {
      if (req.url === '/token') {
        const form = new URLSearchParams(req.body);
        if (
          form.get('grant_type') !== 'client_credentials' ||
          form.get('client_id') !== 'concord' ||
          form.get('client_secret') !== 's3cret'
        )
          return json(res, 401, { error: 'invalid_client' });
        state.issued++;
        state.valid = `tok-${state.issued}`;
        return json(res, 200, { access_token: state.valid, token_type: 'Bearer', expires_in: state.expiresIn });
      }
      if (state.resourceAlways401 || req.headers.authorization !== `Bearer ${state.valid}`)
        return json(res, 401, { message: 'invalid token' });
      return json(res, 200, { data: [] });
    });
    const config = (secret = 's3cret') =>
      plainConfig(server.origin, {
        auth: { type: 'oauth2', tokenUrl: `${server.origin}/token`, clientId: 'concord', clientSecret: secret, scope: 'contacts' },
      });
    const resourceCalls = () => server.requests.filter((r) => r.url !== '/token').length;
    return { server, state, config, resourceCalls };
  }

  it('oauth2: fetches a token once and keeps it; a 401 fetches a new one once and retries', async () => {
    const { server, state, config, resourceCalls } = await oauthSystem();
    const crm = instanceOf(config());
    await pull(crm);
    await pull(crm);
    expect(state.issued).toBe(1);
    expect(new URLSearchParams(server.requests[0]?.body).get('scope')).toBe('contacts');
    expect(resourceCalls()).toBe(2);

    // The system revokes the token: the next call is refused once, a new token is fetched, the call retried.
    state.valid = 'revoked';
    await pull(crm);
    expect(state.issued).toBe(2);
    expect(resourceCalls()).toBe(4);

    // A resource server that refuses every token: one new token, then an AuthError (no loop).
    state.resourceAlways401 = true;
    await expect(pull(crm)).rejects.toBeInstanceOf(AuthError);
    expect(state.issued).toBe(3);
    expect(resourceCalls()).toBe(6);
  });

  it('oauth2: calls made at once on a fresh instance share one token request', async () => {
    const { state, config, resourceCalls } = await oauthSystem();
    const crm = instanceOf({ ...config(), rateLimit: { concurrency: 4 } });
    await Promise.all(['1', '2', '3', '4'].map(() => pull(crm)));
    expect(resourceCalls()).toBe(4);
    expect(state.issued).toBe(1);
  });

  it('oauth2: keeps a short-lived token for most of its life, and renews it before it expires', async () => {
    const { state, config } = await oauthSystem();
    state.expiresIn = 30;
    let now = Date.parse('2026-11-01T10:00:00.000Z');
    const crm = instanceOf(config(), {}, { now: () => now });
    await pull(crm);
    now += 10_000;
    await pull(crm);
    expect(state.issued).toBe(1);
    now += 19_000;
    await pull(crm);
    expect(state.issued).toBe(2);
  });

  it('oauth2: a client the token endpoint refuses is an AuthError, and the resource server is not called', async () => {
    const { config, resourceCalls } = await oauthSystem();
    const refused = instanceOf(config('wrong'));
    await expect(pull(refused)).rejects.toThrow(AuthError);
    expect(await refused.check(signal())).toMatchObject([{ ok: false, path: ['auth'] }]);
    expect(resourceCalls()).toBe(0);
  });
});

/** The admin API through `inject()`: keys and scopes, every operation and its error codes, the OpenAPI document. */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';
import { waitFor } from '../../../harness/sync-hub.js';

type Json = Record<string, unknown>;

describe('admin API /api/v1', () => {
  let s: ServerHub;
  let adaId: string;
  let adaCrmId: string;

  beforeAll(async () => {
    s = await startServerHub();
    const crm = s.hub.systems['crm'];
    adaCrmId =
      crm?.change({ email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', email_opt_out: false, newsletter: true }).id ?? '';
    crm?.change({ email: 'grace@example.com', first_name: 'Grace' });
    await s.hub.settle();
    const ada = await s.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
    if (!ada) throw new Error('ada was not ingested');
    adaId = ada.id;
  });
  afterAll(async () => {
    await s.close();
  });

  describe('authentication and scopes', () => {
    it('401 without a key or with a wrong one, with a Bearer challenge', async () => {
      const none = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}` });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer realm="concord"');
      expect(none.headers['content-type']).toContain('application/problem+json');
      expect(none.json()).toMatchObject({ status: 401, code: 'unauthenticated' });
      const wrong = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}`, headers: { authorization: 'Bearer not-a-key' } });
      expect(wrong.statusCode).toBe(401);
      const basicScheme = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}`, headers: { authorization: 'Token abc' } });
      expect(basicScheme.statusCode).toBe(401);
    });

    it('403 when the key lacks the scope; admin includes every scope', async () => {
      const cases: ['reader' | 'writer' | 'dsr' | 'admin', 'GET' | 'PATCH' | 'POST', string, number][] = [
        ['reader', 'GET', `/api/v1/profiles/${adaId}`, 200],
        ['dsr', 'GET', `/api/v1/profiles/${adaId}`, 403],
        ['reader', 'PATCH', `/api/v1/profiles/${adaId}`, 403],
        ['reader', 'GET', '/api/v1/connectors', 403],
        ['writer', 'GET', '/api/v1/dead-letters', 403],
        ['reader', 'POST', `/api/v1/profiles/${adaId}/preference-link`, 403],
        ['admin', 'GET', '/api/v1/connectors', 200],
        ['admin', 'GET', `/api/v1/profiles/${adaId}`, 200],
      ];
      for (const [key, method, url, status] of cases) {
        const response = await s.app.inject({
          method,
          url,
          headers: s.bearer(key),
          ...(method === 'PATCH' ? { payload: { attributes: {} } } : {}),
        });
        expect(`${key} ${method} ${url} -> ${response.statusCode}`).toBe(`${key} ${method} ${url} -> ${status}`);
        if (status === 403) expect(response.json()).toMatchObject({ code: 'forbidden' });
      }
    });

    it('unknown routes under /api/v1 are problem 404s', async () => {
      const response = await s.app.inject({ method: 'GET', url: '/api/v1/nothing', headers: s.bearer('admin') });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'not_found' });
    });
  });

  describe('profiles', () => {
    it('finds a profile by e-mail (normalized), by external id, and 404s an unknown one', async () => {
      const byEmail = await s.app.inject({ method: 'GET', url: '/api/v1/profiles?email=ADA@Example.com', headers: s.bearer('reader') });
      expect(byEmail.statusCode).toBe(200);
      expect((byEmail.json() as { profile: { id: string } }).profile.id).toBe(adaId);
      const byExternal = await s.app.inject({
        method: 'GET',
        url: `/api/v1/profiles?system=crm&externalId=${adaCrmId}`,
        headers: s.bearer('reader'),
      });
      expect(byExternal.statusCode).toBe(200);
      expect((byExternal.json() as { profile: { id: string } }).profile.id).toBe(adaId);
      const missing = await s.app.inject({ method: 'GET', url: '/api/v1/profiles?email=nobody@example.com', headers: s.bearer('reader') });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 'not_found' });
    });

    it('400 for a lookup without exactly one identity', async () => {
      for (const query of ['', '?email=a@b.c&phone=%2B4930123456', '?system=crm', '?color=blue']) {
        const response = await s.app.inject({ method: 'GET', url: `/api/v1/profiles${query}`, headers: s.bearer('reader') });
        expect(response.statusCode, query).toBe(400);
        expect(response.json(), query).toMatchObject({ code: 'invalid_query' });
      }
    });

    it("gets a profile with each field's source and time and the consent systems are told", async () => {
      const response = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}`, headers: s.bearer('reader') });
      expect(response.statusCode).toBe(200);
      const body = response.json() as {
        profile: Json & { attributes: Record<string, Json> };
        primaryIdentities: Json;
        effectiveConsents: Json;
      };
      expect(body.profile.attributes['firstName']).toMatchObject({ value: 'Ada', source: 'crm', at: expect.any(String) });
      expect(body.primaryIdentities).toEqual({
        email: { kind: 'email', value: 'ada@example.com', source: 'crm', at: expect.any(String) },
        phone: null,
      });
      expect(body.effectiveConsents).toEqual({
        marketing: { email: { status: 'granted', reason: 'consent' }, sms: { status: null, reason: 'unknown' } },
      });
      expect((await s.app.inject({ method: 'GET', url: '/api/v1/profiles/no-such-id', headers: s.bearer('reader') })).statusCode).toBe(404);
    });

    it('patches a profile through ingest: merged as source admin, in the ledger, delivered to every system', async () => {
      const response = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: s.bearer('writer'),
        payload: {
          attributes: { lastName: 'King' },
          consents: { marketing: { email: { status: 'denied' } } },
          subscriptions: { newsletter: false },
          reason: 'customer call',
        },
      });
      expect(response.statusCode).toBe(200);
      const body = response.json() as {
        status: string;
        deliveredTo: string[];
        changes: Json[];
        profile: { profile: { attributes: Record<string, Json>; consents: Record<string, Record<string, Json>> } };
      };
      expect(body.status).toBe('applied');
      expect(body.deliveredTo.sort()).toEqual(['crm', 'shop']);
      expect(body.profile.profile.attributes['lastName']).toMatchObject({ value: 'King', source: 'admin' });
      expect(body.profile.profile.consents['marketing']?.['email']).toMatchObject({
        value: 'denied',
        source: 'admin',
        evidence: { method: 'admin_api', capturedBy: 'api-key:support-write' },
      });
      await s.hub.settle();
      for (const id of ['crm', 'shop']) {
        expect(s.hub.systems[id]?.get({ email: 'ada@example.com' })?.fields).toMatchObject({
          last_name: 'King',
          email_opt_out: true,
          newsletter: false,
        });
      }
      const audit = await s.hub.store.listAudit({ profileId: adaId });
      expect(audit.some((e) => e.actor === 'admin:support-write')).toBe(true);

      const history = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}/consents/history`, headers: s.bearer('reader') });
      expect(history.statusCode).toBe(200);
      const entries = (history.json() as { entries: Json[] }).entries;
      expect(entries.at(-1)).toMatchObject({
        purpose: 'marketing',
        channel: 'email',
        previous: 'granted',
        accepted: true,
        state: { value: 'denied', source: 'admin' },
      });
    });

    it('answers a key without profiles:read only the status, id and version of its write: it cannot read a profile through PATCH', async () => {
      const empty = await s.app.inject({ method: 'PATCH', url: `/api/v1/profiles/${adaId}`, headers: s.bearer('writeOnly'), payload: {} });
      expect(empty.statusCode).toBe(200);
      const profile = await s.hub.store.getProfile(adaId);
      expect(empty.json()).toEqual({ status: 'unchanged', profileId: adaId, version: profile?.version, deliveredTo: [] });
      // A change it makes is answered without the values it replaced.
      const change = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: s.bearer('writeOnly'),
        payload: { attributes: { locale: 'en-GB' } },
      });
      expect(change.statusCode).toBe(200);
      const body = change.json() as Json;
      expect(Object.keys(body).sort()).toEqual(['deliveredTo', 'profileId', 'status', 'version']);
      expect(body).toMatchObject({ status: 'applied', profileId: adaId, version: (profile?.version ?? 0) + 1 });
      // With profiles:read as well, the same write answers the changes and the profile.
      const full = await s.app.inject({ method: 'PATCH', url: `/api/v1/profiles/${adaId}`, headers: s.bearer('writer'), payload: {} });
      expect(Object.keys(full.json() as Json).sort()).toEqual([
        'changes',
        'deliveredTo',
        'ignored',
        'profile',
        'profileId',
        'status',
        'version',
      ]);
      await s.hub.settle();
    });

    it('400 for a malformed patch, 422 for an unknown purpose or topic, 404 for an unknown profile', async () => {
      const bad = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: s.bearer('writer'),
        payload: { consents: { marketing: { email: { status: 'maybe' } } } },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({
        code: 'invalid_body',
        issues: [expect.objectContaining({ path: 'body.consents.marketing.email.status' })],
      });
      const extra = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: s.bearer('writer'),
        payload: { id: 'x' },
      });
      expect(extra.statusCode).toBe(400);
      const notJson = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: { ...s.bearer('writer'), 'content-type': 'application/json' },
        payload: '{oops',
      });
      expect(notJson.statusCode).toBe(400);
      const purpose = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: s.bearer('writer'),
        payload: { consents: { telepathy: { email: { status: 'granted' } } } },
      });
      expect(purpose.statusCode).toBe(422);
      expect(purpose.json()).toMatchObject({ code: 'unknown_purpose' });
      const topic = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${adaId}`,
        headers: s.bearer('writer'),
        payload: { subscriptions: { gossip: true } },
      });
      expect(topic.statusCode).toBe(422);
      const missing = await s.app.inject({ method: 'PATCH', url: '/api/v1/profiles/nobody', headers: s.bearer('writer'), payload: {} });
      expect(missing.statusCode).toBe(404);
    });

    it('400 body_too_deep, before validation, for JSON nested deeper than 32 levels on every JSON route; 32 levels still pass', async () => {
      const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      // 2,000 levels inside an attribute value: the recursive Json schema used to overflow the stack (500).
      const deepPatch = `{"attributes":{"note":${nested(2_000)}}}`;
      const json = { 'content-type': 'application/json' };
      const cases: [string, 'PATCH' | 'POST', string, string][] = [
        ['patch', 'PATCH', `/api/v1/profiles/${adaId}`, deepPatch],
        ['preference link', 'POST', `/api/v1/profiles/${adaId}/preference-link`, nested(2_000)],
        ['arrays', 'PATCH', `/api/v1/profiles/${adaId}`, `{"attributes":{"note":${'['.repeat(5_000)}${']'.repeat(5_000)}}}`],
        ['preference center', 'POST', '/preferences/x.y', nested(2_000)],
      ];
      for (const [name, method, url, payload] of cases) {
        const response = await s.app.inject({ method, url, headers: { ...s.bearer('writer'), ...json }, payload });
        expect(`${name}: ${response.statusCode}`).toBe(`${name}: 400`);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.json()).toMatchObject({ status: 400, code: 'body_too_deep', title: 'Request body nested too deeply' });
      }
      // Past the depth check, a valid body meets the handler (404: no such profile). Brackets
      // inside strings are text, not nesting; the body itself is level 1, so an attribute value
      // may nest 30 more levels.
      const nobody = '/api/v1/profiles/nobody';
      const text = await s.app.inject({
        method: 'PATCH',
        url: nobody,
        headers: { ...s.bearer('writer'), ...json },
        payload: JSON.stringify({ attributes: { note: '{["\\'.repeat(3_000) } }),
      });
      expect(text.statusCode).toBe(404);
      const atLimit = await s.app.inject({
        method: 'PATCH',
        url: nobody,
        headers: { ...s.bearer('writer'), ...json },
        payload: `{"attributes":{"note":${nested(30)}}}`,
      });
      expect(atLimit.statusCode).toBe(404);
      const overLimit = await s.app.inject({
        method: 'PATCH',
        url: nobody,
        headers: { ...s.bearer('writer'), ...json },
        payload: `{"attributes":{"note":${nested(31)}}}`,
      });
      expect(overLimit.json()).toMatchObject({ code: 'body_too_deep', detail: 'JSON bodies may nest at most 32 levels' });
    });

    it('shows per-system sync state: external ids, last push and shadow', async () => {
      const response = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}/sync`, headers: s.bearer('reader') });
      expect(response.statusCode).toBe(200);
      const systems = (response.json() as { systems: Json[] }).systems;
      const crm = systems.find((x) => x['connector'] === 'crm');
      const shop = systems.find((x) => x['connector'] === 'shop');
      expect(crm).toMatchObject({
        type: 'memory',
        externalId: adaCrmId,
        shadow: expect.objectContaining({ email: 'ada@example.com' }),
        deadLetter: null,
      });
      expect(shop).toMatchObject({ type: 'memory', externalId: expect.any(String), lastPushedAt: expect.any(String) });
      expect((await s.app.inject({ method: 'GET', url: '/api/v1/profiles/nobody/sync', headers: s.bearer('reader') })).statusCode).toBe(
        404,
      );
      expect(
        (await s.app.inject({ method: 'GET', url: '/api/v1/profiles/nobody/consents/history', headers: s.bearer('reader') })).statusCode,
      ).toBe(404);
    });
  });

  describe('operations', () => {
    it('connector status: capabilities, limits, cursor, queue depths, profiles and API budget', async () => {
      const response = await s.app.inject({ method: 'GET', url: '/api/v1/connectors', headers: s.bearer('admin') });
      expect(response.statusCode).toBe(200);
      const connectors = (response.json() as { connectors: Json[] }).connectors;
      expect(connectors.map((c) => c['id'])).toEqual(['crm', 'shop']);
      const shop = connectors.find((c) => c['id'] === 'shop');
      expect(shop).toMatchObject({
        type: 'memory',
        capabilities: { push: true, pull: true, webhooks: true },
        limits: { requestsPerWindow: 100, windowMs: 10_000 },
        profiles: { dirty: 0, inflight: 0, dead: 0 },
        budget: { max: 100, windowMs: 10_000 },
      });
      const budget = shop?.['budget'] as { used: number; remaining: number };
      expect(budget.used).toBeGreaterThan(0);
      expect(budget.used + budget.remaining).toBe(100);
      expect((shop?.['queues'] as Json[]).map((q) => q['queue']).sort()).toEqual(['pull.shop', 'push.shop']);
    });

    it('connector status shows the last pull: when it ended, what it read, and no error', async () => {
      const before = (await s.app.inject({ method: 'GET', url: '/api/v1/connectors', headers: s.bearer('admin') })).json() as {
        connectors: Json[];
      };
      expect(before.connectors.find((c) => c['id'] === 'crm')?.['lastPull']).toBeNull();
      await s.hub.engine.pullNow('crm');
      await s.hub.settle();
      const after = (await s.app.inject({ method: 'GET', url: '/api/v1/connectors', headers: s.bearer('admin') })).json() as {
        connectors: Json[];
      };
      const lastPull = after.connectors.find((c) => c['id'] === 'crm')?.['lastPull'] as {
        finishedAt: string;
        pages: number;
        records: number;
        error: Json;
      } | null;
      expect(lastPull).toMatchObject({ error: null });
      expect(lastPull?.records).toBeGreaterThan(0);
      expect(Date.parse(lastPull?.finishedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
      expect(lastPull?.['succeededAt' as keyof typeof lastPull]).toBe(lastPull?.finishedAt);

      // A failed pull is the last pull, but the pull lag still counts from the last complete one.
      s.hub.systems['crm']?.failNextCalls(...Array<'unauthorized'>(5).fill('unauthorized'));
      await s.hub.engine.pullNow('crm');
      let last: { finishedAt: string; error: Json; succeededAt?: string } | undefined;
      await waitFor(
        async () => {
          const listed = (await s.app.inject({ method: 'GET', url: '/api/v1/connectors', headers: s.bearer('admin') })).json() as {
            connectors: { id: string; lastPull: { finishedAt: string; error: Json; succeededAt?: string } }[];
          };
          last = listed.connectors.find((c) => c.id === 'crm')?.lastPull;
          return last?.error !== null;
        },
        10_000,
        'a failed pull',
      );
      expect(last?.finishedAt).not.toBe(lastPull?.finishedAt);
      expect(last?.succeededAt).toBe(lastPull?.finishedAt);
    });

    it('lists dead letters and replays them', async () => {
      const shop = s.hub.systems['shop'];
      shop?.poison('grace@example.com');
      const patch = await s.app.inject({
        method: 'PATCH',
        url: `/api/v1/profiles/${(await s.hub.store.findProfile({ kind: 'email', value: 'grace@example.com' }))?.id ?? ''}`,
        headers: s.bearer('admin'),
        payload: { attributes: { lastName: 'Hopper' } },
      });
      expect(patch.statusCode).toBe(200);
      await s.hub.settle();
      const list = await s.app.inject({ method: 'GET', url: '/api/v1/dead-letters?connector=shop', headers: s.bearer('admin') });
      expect(list.statusCode).toBe(200);
      const letters = (list.json() as { deadLetters: Json[] }).deadLetters;
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ connector: 'shop', kind: 'rejected' });
      expect(JSON.stringify(letters)).not.toContain('grace@example.com');
      const profileId = String(letters[0]?.['profileId']);

      const unknown = await s.app.inject({ method: 'GET', url: '/api/v1/dead-letters?connector=nope', headers: s.bearer('admin') });
      expect(unknown.statusCode).toBe(404);
      const none = await s.app.inject({ method: 'POST', url: '/api/v1/dead-letters/shop/nobody/replay', headers: s.bearer('admin') });
      expect(none.statusCode).toBe(404);

      shop?.unpoison('grace@example.com');
      const replay = await s.app.inject({
        method: 'POST',
        url: `/api/v1/dead-letters/shop/${profileId}/replay`,
        headers: s.bearer('admin'),
      });
      expect(replay.statusCode).toBe(202);
      expect(replay.json()).toEqual({ replayed: 1 });
      await s.hub.settle();
      expect(shop?.get({ email: 'grace@example.com' })?.fields['last_name']).toBe('Hopper');
      const all = await s.app.inject({ method: 'POST', url: '/api/v1/dead-letters/replay', headers: s.bearer('admin') });
      expect(all.json()).toEqual({ replayed: 0 });
    });
  });

  describe('preference links', () => {
    it('issues a signed link for a profile and revokes them all', async () => {
      const issued = await s.app.inject({
        method: 'POST',
        url: `/api/v1/profiles/${adaId}/preference-link`,
        headers: s.bearer('writer'),
        payload: { ttlSeconds: 600, lang: 'ja' },
      });
      expect(issued.statusCode).toBe(201);
      const { url, expiresAt } = issued.json() as { url: string; expiresAt: string };
      expect(url).toMatch(/^http:\/\/localhost:8080\/preferences\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\?lang=ja$/);
      // Only a language of catalog.locales.
      const unknown = await s.app.inject({
        method: 'POST',
        url: `/api/v1/profiles/${adaId}/preference-link`,
        headers: s.bearer('writer'),
        payload: { lang: 'fr' },
      });
      expect(unknown.statusCode).toBe(422);
      expect(unknown.json()).toMatchObject({ code: 'unknown_locale' });
      expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(590_000);
      const path = new URL(url).pathname;
      expect((await s.app.inject({ method: 'GET', url: path })).statusCode).toBe(200);

      const noBody = await s.app.inject({ method: 'POST', url: `/api/v1/profiles/${adaId}/preference-link`, headers: s.bearer('writer') });
      expect(noBody.statusCode).toBe(201);
      const badTtl = await s.app.inject({
        method: 'POST',
        url: `/api/v1/profiles/${adaId}/preference-link`,
        headers: s.bearer('writer'),
        payload: { ttlSeconds: 5 },
      });
      expect(badTtl.statusCode).toBe(400);
      expect(
        (await s.app.inject({ method: 'POST', url: '/api/v1/profiles/nobody/preference-link', headers: s.bearer('writer') })).statusCode,
      ).toBe(404);

      const revoked = await s.app.inject({
        method: 'DELETE',
        url: `/api/v1/profiles/${adaId}/preference-links`,
        headers: s.bearer('writer'),
      });
      expect(revoked.statusCode).toBe(200);
      expect((await s.app.inject({ method: 'GET', url: path })).statusCode).toBe(403);
      // A link issued after the revocation opens.
      const fresh = await s.app.inject({ method: 'POST', url: `/api/v1/profiles/${adaId}/preference-link`, headers: s.bearer('writer') });
      expect((await s.app.inject({ method: 'GET', url: new URL((fresh.json() as { url: string }).url).pathname })).statusCode).toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('serves a valid OpenAPI 3.1 document generated from the zod schemas, covering every operation', async () => {
      const response = await s.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
      expect(response.statusCode).toBe(200);
      const doc = response.json() as Json & { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json> } };
      const result = await new Validator().validate(doc);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(doc['openapi']).toBe('3.1.0');
      const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op['operationId']));
      expect(operations.sort()).toEqual(
        [
          'findProfile',
          'getProfile',
          'patchProfile',
          'getConsentHistory',
          'getSyncState',
          'listConnectors',
          'unparkConnector',
          'syncConnector',
          'getSyncJob',
          'pushProfile',
          'checkConnector',
          'startPlan',
          'getPlan',
          'getWebhooksOut',
          'listWebhooksOutDeadLetters',
          'redeliverWebhooksOut',
          'enableWebhooksOut',
          'getProfileHistory',
          'listAudit',
          'listConnectorRuns',
          'listDeadLetters',
          'replayDeadLetter',
          'replayDeadLetters',
          'issuePreferenceLink',
          'revokePreferenceLinks',
        ].sort(),
      );
      // Every $ref resolves.
      const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
      for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
      expect(doc.paths['/api/v1/profiles/{profileId}']?.['patch']?.['x-required-scope']).toBe('profiles:write');
      // A write answers the profile only to keys that may read it, and the document says so.
      expect(doc.components.schemas['PatchProfileResponse']).toMatchObject({ required: ['status', 'profileId', 'version', 'deliveredTo'] });
      expect(JSON.stringify(doc.components.schemas['PatchProfileResponse'])).toContain('profiles:read');
    });

    it('serves a docs page', async () => {
      const response = await s.app.inject({ method: 'GET', url: '/api/v1/docs' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/html');
      expect(response.body).toContain('Concord admin API');
      expect(response.body).toContain('/api/v1/profiles/{profileId}/consents/history');
    });
  });
});

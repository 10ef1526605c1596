/**
 * Explaining a value through the admin API, on SQLite and PostgreSQL: a profile's history says
 * for every change which system sent what and when, and why it won or lost (an older change
 * loses to the value in force, a newer one wins); the audit log filters by actor, action,
 * profile and time and pages with a cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../helpers/db.js';
import { startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

type Entry = { source: string; at: string; value: unknown; outcome: string; reason: string; actor: string; previous: unknown };

describe.each(TEST_DIALECTS)('profile history and audit log (%s)', (dialect) => {
  let s: ServerHub;
  let adaId: string;

  beforeAll(async () => {
    s = await startServerHub({ dialect });
    const ingest = async (connector: string, externalId: string, at: string, fields: Record<string, string>) => {
      await s.hub.engine.ingest(connector, [{ externalId, at, fields }]);
      await s.hub.settle();
    };
    await ingest('crm', 'c1', T(10), { email: 'ada@example.com', first_name: 'Ada' });
    // The shop sends an older name (it lost), then a newer one (it wins).
    await ingest('shop', 's1', T(5), { email: 'ada@example.com', first_name: 'Adele' });
    await ingest('shop', 's1', T(20), { email: 'ada@example.com', first_name: 'Ada L.' });
    const ada = await s.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
    if (!ada) throw new Error('ada was not ingested');
    adaId = ada.id;
    const patched = await s.app.inject({
      method: 'PATCH',
      url: `/api/v1/profiles/${adaId}`,
      headers: s.bearer('writer'),
      payload: { attributes: { city: 'London' }, reason: 'rectification' },
    });
    expect(patched.statusCode).toBe(200);
  });
  afterAll(async () => {
    await s.close();
  });

  it('explains every value: who sent what when, and why it won or lost', async () => {
    const response = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}/history`, headers: s.bearer('reader') });
    expect(response.statusCode).toBe(200);
    const body = response.json<{
      profileId: string;
      truncated: boolean;
      attributes: Record<string, Entry[]>;
      identities: Record<string, Entry[]>;
    }>();
    expect(body.profileId).toBe(adaId);
    expect(body.truncated).toBe(false);
    expect(body.attributes['firstName']?.map((e) => [e.source, e.at, e.value, e.outcome, e.reason])).toEqual([
      ['crm', T(10), 'Ada', 'won', 'new'],
      ['shop', T(5), 'Adele', 'lost', 'older_than_current'],
      ['shop', T(20), 'Ada L.', 'won', 'newer'],
    ]);
    // What it lost to, and what it replaced.
    expect(body.attributes['firstName']?.[1]?.previous).toEqual({ value: 'Ada', at: T(10), source: 'crm' });
    expect(body.attributes['firstName']?.[2]?.previous).toEqual({ value: 'Ada', at: T(10), source: 'crm' });
    expect(body.attributes['city']).toEqual([
      expect.objectContaining({ source: 'admin', actor: 'admin:support-write', value: 'London', outcome: 'won', reason: 'new' }),
    ]);
    // The identity as a value, first set by the crm.
    expect(body.identities['email:ada@example.com']?.[0]).toMatchObject({ source: 'crm', outcome: 'won', reason: 'new' });
    // The profile is what the history says won.
    const profile = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}`, headers: s.bearer('reader') });
    expect(profile.json<{ profile: { attributes: Record<string, { value: unknown }> } }>().profile.attributes['firstName']?.value).toBe(
      'Ada L.',
    );

    const limited = await s.app.inject({ method: 'GET', url: `/api/v1/profiles/${adaId}/history?limit=1`, headers: s.bearer('reader') });
    expect(limited.json()).toMatchObject({ truncated: true, attributes: { city: [expect.objectContaining({ value: 'London' })] } });
  });

  it('history needs profiles:read and a profile', async () => {
    const url = `/api/v1/profiles/${adaId}/history`;
    expect((await s.app.inject({ method: 'GET', url, headers: s.bearer('auditor') })).statusCode).toBe(403);
    expect((await s.app.inject({ method: 'GET', url, headers: s.bearer('writeOnly') })).statusCode).toBe(403);
    const missing = await s.app.inject({ method: 'GET', url: '/api/v1/profiles/nobody/history', headers: s.bearer('reader') });
    expect(missing.statusCode).toBe(404);
  });

  it('the audit log filters by actor, action, profile and time, and pages with a cursor', async () => {
    const get = (query: string, key: 'auditor' | 'admin' | 'reader' = 'auditor') =>
      s.app.inject({ method: 'GET', url: `/api/v1/audit${query}`, headers: s.bearer(key) });
    type Page = {
      entries: { id: string; at: string; actor: string; action: string; profileId: string | null; detail: Record<string, unknown> }[];
      nextCursor: string | null;
    };

    expect((await get('', 'reader')).statusCode).toBe(403);
    expect((await get('', 'admin')).statusCode).toBe(200);

    const byAdmin = (await get('?actor=admin:support-write')).json<Page>();
    expect(byAdmin.entries.map((e) => [e.action, e.profileId, e.detail['reason']])).toEqual([['profile.updated', adaId, 'rectification']]);
    expect(JSON.stringify(byAdmin)).not.toContain('London');

    const all = (await get(`?profileId=${adaId}&action=profile.updated`)).json<Page>();
    expect(all.entries.length).toBeGreaterThanOrEqual(3);
    expect(all.entries.every((e) => e.action === 'profile.updated' && e.profileId === adaId)).toBe(true);
    expect(all.nextCursor).toBeNull();

    // Page by page, one entry each: the same entries, newest first, each once.
    const paged: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Page = (await get(`?profileId=${adaId}&action=profile.updated&limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json<Page>();
      paged.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
      expect(paged.length).toBeLessThanOrEqual(all.entries.length);
    }
    expect(paged).toEqual(all.entries.map((e) => e.id));

    // Time windows: since is inclusive, until exclusive.
    const newest = all.entries[0]!;
    expect((await get(`?profileId=${adaId}&action=profile.updated&since=${newest.at}`)).json<Page>().entries.map((e) => e.id)).toContain(
      newest.id,
    );
    expect(
      (await get(`?profileId=${adaId}&action=profile.updated&until=${newest.at}`)).json<Page>().entries.map((e) => e.id),
    ).not.toContain(newest.id);
    expect((await get('?since=2999-01-01T00:00:00Z')).json<Page>().entries).toEqual([]);

    expect((await get('?cursor=bm90LWEtY3Vyc29y')).json()).toMatchObject({ status: 400, code: 'invalid_query' });
    expect((await get('?since=yesterday')).statusCode).toBe(400);
  });

  it('both routes are in the OpenAPI document', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json<{
      paths: Record<string, Record<string, Record<string, unknown>>>;
    }>();
    expect(doc.paths['/api/v1/profiles/{profileId}/history']?.['get']?.operationId).toBe('getProfileHistory');
    expect(doc.paths['/api/v1/audit']?.['get']?.['x-required-scope']).toBe('audit:read');
  });
});

/**
 * The preference center's rights, working: the person downloads a copy of their data through
 * short-lived signed links, objects to direct marketing, and erases their data after a
 * confirmation page; each is a data-subject request with origin `preference_center`, carried
 * out in HubSpot and Salesforce. Forms are CSRF-protected and links open only their own person.
 */
import { EXPORT_HTML_CSP } from '../../../src/server/export-html.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { PreferenceLinks } from '../../../src/server/preferences/links.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { SIGNING_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

const ADA = 'ada@example.com';

function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return (header ?? '').split(';')[0] ?? '';
}

function csrfOf(body: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
}

interface Session {
  link: string;
  cookie: string;
  csrf: string;
  page: string;
}

async function openPage(hub: PrivacyHub, profileId: string, lang?: string): Promise<Session> {
  const redis = new Redis(REDIS_URL);
  const link = `/preferences/${new PreferenceLinks(SIGNING_SECRET, redis, hub.engine.prefix).issue(profileId, 600_000).token}`;
  redis.disconnect();
  const response = await hub.app.inject({ method: 'GET', url: lang ? `${link}?lang=${lang}` : link });
  expect(response.statusCode).toBe(200);
  return { link, cookie: cookieOf(response.headers['set-cookie']), csrf: csrfOf(response.body), page: response.body };
}

async function post(hub: PrivacyHub, s: Session, action: string, extra: Record<string, string> = {}) {
  return hub.app.inject({
    method: 'POST',
    url: `${s.link}/rights/${action}`,
    headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: s.csrf, ...extra }).toString(),
  });
}

async function seed(hub: PrivacyHub, email: string): Promise<string> {
  hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(email, 101);
  await hub.settle();
  return (await hub.profileByEmail(email))?.id ?? '';
}

describe('preference center: self-service rights', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('offers every right as a working action, and an objection made there reaches every system', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const profileId = await seed(h, ADA);
    const s = await openPage(h, profileId);
    expect(s.page).not.toContain('Not available online yet');
    for (const action of ['download', 'restrict', 'object-marketing', 'object-profiling'])
      expect(s.page).toContain(`${s.link}/rights/${action}"`);
    expect(s.page).toContain(`href="${s.link}/rights/erase"`);
    expect(s.page).not.toContain('<script');

    // Without the CSRF token nothing happens.
    const forged = await h.app.inject({
      method: 'POST',
      url: `${s.link}/rights/object-marketing`,
      headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '_csrf=nope',
    });
    expect(forged.statusCode).toBe(403);
    expect(await h.privacy.list()).toEqual([]);

    const objected = await post(h, s, 'object-marketing');
    expect(objected.statusCode).toBe(303);
    const location = String(objected.headers.location);
    expect(location).toMatch(new RegExp(`^${s.link}/requests/[0-9a-f-]+$`));
    const page = await h.app.inject({ method: 'GET', url: location });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Your request is recorded');
    const [request] = await h.privacy.list();
    expect(request).toMatchObject({ kind: 'object', objection: 'directMarketing', origin: 'preference_center' });
    await h.waitFor(request?.id ?? '', (v) => v.status === 'completed');
    expect(h.hubspot.sideDoor.statuses(ADA).find((x) => x['subscriptionId'] === 101)?.['status']).toBe('UNSUBSCRIBED');
    const profile = await h.profileByEmail(ADA);
    expect(profile?.rights.objections.directMarketing).toMatchObject({ value: true, source: 'preference_center' });

    // The page now shows the objection in force and offers to withdraw it, in Japanese too.
    const again = await openPage(h, profileId, 'ja');
    expect(again.page).toContain('異議申し立て中');
    expect(again.page).toContain(`${again.link}/rights/withdraw-marketing?lang=ja"`);
  });

  it('downloads a copy through short-lived signed links that open only this person’s export', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', downloadLinkTtlMs: 1_500 });
    const h = hub;
    const profileId = await seed(h, ADA);
    h.hubspot.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace' });
    await h.settle();
    const graceId = (await h.profileByEmail('grace@example.com'))?.id ?? '';
    const s = await openPage(h, profileId);
    const requested = await post(h, s, 'download');
    expect(requested.statusCode).toBe(303);
    const location = String(requested.headers.location);

    let page: string;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await h.app.inject({ method: 'GET', url: location });
      expect(response.statusCode).toBe(200);
      page = response.body;
      if (page.includes('/preferences/download/')) break;
      // While it is prepared, the page refreshes itself (no JavaScript).
      expect(response.headers['refresh']).toBe('3');
      if (Date.now() > deadline) throw new Error('the export was never offered');
      await sleep(100);
    }
    const json = /href="(\/preferences\/download\/[^"?]+)\?format=json"/.exec(page)?.[1] ?? '';
    const file = await h.app.inject({ method: 'GET', url: `${json}?format=json` });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-disposition']).toMatch(/^attachment; filename="my-data-.+\.json"$/);
    const doc = file.json() as { format: string; subject: { profileId: string }; live: unknown[] };
    expect(doc).toMatchObject({ format: 'concord.export/v1', subject: { profileId } });
    expect(doc.live).toHaveLength(2);
    const csv = await h.app.inject({ method: 'GET', url: `${json}?format=csv` });
    expect(page).toContain(`${json}?format=html`);
    const readable = await h.app.inject({ method: 'GET', url: `${json}?format=html` });
    expect(readable.headers['content-type']).toContain('text/html');
    expect(readable.headers['content-security-policy']).toBe(EXPORT_HTML_CSP);
    expect(readable.body).toContain(ADA);
    const downloads = (await h.store.listAudit({ profileId, limit: 500 })).filter((a) => a.action === 'dsr.export.downloaded');
    expect(downloads.map((a) => a.detail['format']).sort()).toEqual(['csv', 'html', 'json']);
    expect(downloads.every((a) => a.actor === 'preference_center')).toBe(true);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body).toContain(`identity,email,${ADA}`);

    // Another person's link cannot see Ada's request.
    const grace = await openPage(h, graceId);
    const requestId = location.split('/').at(-1) ?? '';
    expect((await h.app.inject({ method: 'GET', url: `${grace.link}/requests/${requestId}` })).statusCode).toBe(403);
    // A changed download link, and an expired one, are refused.
    expect((await h.app.inject({ method: 'GET', url: `${json.slice(0, -3)}abc?format=json` })).statusCode).toBe(403);
    await sleep(1_600);
    const expired = await h.app.inject({ method: 'GET', url: `${json}?format=json` });
    expect(expired.statusCode).toBe(403);
    expect(expired.body).toContain('This download link has expired');
  });

  it('erases after a confirmation page; afterwards the link no longer opens', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const profileId = await seed(h, ADA);
    const s = await openPage(h, profileId);
    const confirm = await h.app.inject({ method: 'GET', url: `${s.link}/rights/erase`, headers: { cookie: s.cookie } });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('Erase your data?');
    expect(confirm.body).toContain('name="confirm" value="yes"');
    // Posting without the confirmation only leads to the confirmation page.
    const unconfirmed = await post(h, s, 'erase');
    expect(unconfirmed.statusCode).toBe(303);
    expect(unconfirmed.headers.location).toBe(`${s.link}/rights/erase`);
    expect(await h.privacy.list()).toEqual([]);

    const erased = await post(h, { ...s, csrf: csrfOf(confirm.body) }, 'erase', { confirm: 'yes' });
    expect(erased.statusCode).toBe(303);
    const [request] = await h.privacy.list();
    expect(request).toMatchObject({ kind: 'erase', origin: 'preference_center' });
    await h.waitFor(request?.id ?? '', (v) => v.status === 'completed');
    expect(h.hubspot.sideDoor.findByEmail(ADA)).toBeUndefined();
    expect(h.salesforce.sideDoor.findByEmail(ADA)).toBeUndefined();
    expect(await h.profileByEmail(ADA)).toBeNull();
    const after = await h.app.inject({ method: 'GET', url: s.link });
    expect(after.statusCode).toBe(403);
  });
});

/** The preference center through `inject()`: links, rendering, languages, CSRF, and changes ingested with evidence. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreferenceLinks } from '../../../src/server/preferences/links.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { SIGNING_SECRET, startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return (header ?? '').split(';')[0] ?? '';
}

function csrfOf(body: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
}

describe('preference center', () => {
  let s: ServerHub;
  let links: PreferenceLinks;
  let redis: Redis;
  let adaId: string;
  let graceId: string;

  beforeAll(async () => {
    s = await startServerHub();
    s.hub.systems['crm']?.change({ email: 'ada@example.com', first_name: 'Ada', email_opt_out: false, newsletter: true });
    s.hub.systems['crm']?.change({ email: 'grace@example.com', first_name: 'Grace', email_opt_out: false });
    await s.hub.settle();
    adaId = (await s.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' }))?.id ?? '';
    graceId = (await s.hub.store.findProfile({ kind: 'email', value: 'grace@example.com' }))?.id ?? '';
    redis = new Redis(REDIS_URL);
    links = new PreferenceLinks(SIGNING_SECRET, redis, s.hub.prefix);
  });
  afterAll(async () => {
    redis.disconnect();
    await s.close();
  });

  const linkFor = (profileId: string, ttlMs = 600_000): string => `/preferences/${links.issue(profileId, ttlMs).token}`;

  it("shows the person's purposes with notice text and version, channels, topics and current choices", async () => {
    const response = await s.app.inject({ method: 'GET', url: linkFor(adaId) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['set-cookie']).toBeDefined();
    const html = response.body;
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('Acme Coffee');
    expect(html).toContain('Marketing communications');
    expect(html).toContain('We would like to send you offers and news.');
    expect(html).toContain('Notice version 2025-01');
    expect(html).toMatch(
      /<input type="checkbox" role="switch" id="consent-marketing-email" name="consent" value="marketing.email" checked>/,
    );
    expect(html).toMatch(/<input type="checkbox" role="switch" id="consent-marketing-sms" name="consent" value="marketing.sms">/);
    expect(html).toMatch(/id="topic-newsletter" name="topic" value="newsletter" checked>/);
    expect(html).toMatch(/id="topic-offers" name="topic" value="offers">/);
    // Masked address, first name; nothing of anyone else.
    expect(html).toContain('Ada · a•••@example.com');
    expect(html).not.toContain('ada@example.com');
    expect(html).not.toContain('Grace');
    // Rights are offered but shown as not available yet.
    for (const right of ['Download my data', 'Restrict processing', 'Object to direct marketing', 'Object to profiling', 'Erase my data']) {
      expect(html).toContain(right);
    }
    expect(html.match(/<button type="button" class="ghost" disabled/g)).toHaveLength(5);
    expect(html).toContain('Not available online yet');
    expect(html).toContain('privacy@acme.example');
    expect(html).not.toContain('<script');
  });

  it('speaks Japanese from Accept-Language, and the switch overrides it', async () => {
    const link = linkFor(adaId);
    const ja = await s.app.inject({ method: 'GET', url: link, headers: { 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.5' } });
    expect(ja.body).toContain('<html lang="ja">');
    expect(ja.body).toContain('ご連絡方法の設定');
    // The catalog in Japanese where it has Japanese texts; the rest in English, marked as such.
    expect(ja.body).toContain('<legend>マーケティングのご案内</legend>');
    expect(ja.body).toContain('<span>特典やニュースをお送りしたいと考えています。</span><small>通知バージョン 2025-01-ja</small>');
    expect(ja.body).toContain('<span>メール</span>');
    expect(ja.body).toContain('<span lang="en">SMS</span>');
    expect(ja.body).toContain('<p class="desc"><span lang="en">Offers and news.</span></p>');
    expect(ja.body).not.toContain('Marketing communications');
    expect(ja.body).not.toContain('We would like to send you offers and news.');
    expect(ja.body).toContain('name="_locale" value="ja"');
    expect(ja.body).toContain(`href="${link}?lang=en"`);
    const en = await s.app.inject({ method: 'GET', url: `${link}?lang=en`, headers: { 'accept-language': 'ja' } });
    expect(en.body).toContain('<html lang="en">');
    expect(en.body).toContain('Your communication preferences');
    expect(en.body).toContain('<legend>Marketing communications</legend>');
    const unsupported = await s.app.inject({ method: 'GET', url: link, headers: { 'accept-language': 'fr-FR,de;q=0.8' } });
    expect(unsupported.body).toContain('<html lang="en">');
    expect(unsupported.body).toContain('<legend>Marketing communications</legend>');
  });

  it('shows per purpose why, the legal basis, the systems that receive it and how long it is kept', async () => {
    const page = await s.app.inject({ method: 'GET', url: linkFor(adaId), headers: { 'accept-language': 'ja' } });
    const section = /<div class="purpose" id="transparency-marketing">[\s\S]*?<\/dl>/.exec(page.body)?.[0] ?? '';
    expect(section).toContain('<dt>利用目的</dt><dd>特典やニュースをお送りするため。</dd>');
    expect(section).toContain('<dt>法的根拠</dt><dd>お客様の同意（GDPR 第6条1項(a)）</dd>');
    // The harness's memory systems map marketing consents; no display names: the instance id, then the type.
    expect(section).toMatch(/<dt>データを受け取るシステム<\/dt><dd><ul class="systems"><li>crm \(memory\)<\/li>/);
    expect(section).toContain('<dt>保存期間</dt><dd>同意を撤回されるまで。</dd>');
    expect(page.body).not.toContain('<script');
  });

  it('records the notice the person read: the Japanese notice and its version', async () => {
    const link = linkFor(graceId);
    const page = await s.app.inject({ method: 'GET', url: link, headers: { 'accept-language': 'ja' } });
    const cookie = cookieOf(page.headers['set-cookie']);
    // Accept-Language changed between the page and the post: the form says which language was shown.
    const response = await s.app.inject({
      method: 'POST',
      url: link,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'en' },
      // Her e-mail consent stays as it is; SMS is granted.
      payload: new URLSearchParams([
        ['_csrf', csrfOf(page.body)],
        ['_locale', 'ja'],
        ['consent', 'marketing.email'],
        ['consent', 'marketing.sms'],
      ]).toString(),
    });
    expect(response.statusCode).toBe(303);
    const grace = await s.hub.store.getProfile(graceId);
    expect(grace?.consents['marketing']?.['sms']).toMatchObject({
      value: 'granted',
      source: 'preference_center',
      evidence: { method: 'preference_center', noticeLocale: 'ja', noticeVersion: '2025-01-ja' },
    });
  });

  it('refuses tampered, expired, revoked and missing links with a friendly 403 page that names nobody', async () => {
    const { token } = links.issue(adaId, 600_000);
    const [body, sig] = token.split('.') as [string, string];
    const forged = Buffer.from(Buffer.from(body, 'base64url').toString().replace(adaId, graceId)).toString('base64url');
    const flipped = `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    const expired = links.issue(adaId, 1).token;
    await sleep(5);
    const cases = [
      `/preferences/${forged}.${sig}`,
      `/preferences/${body}.${flipped}`,
      `/preferences/${expired}`,
      '/preferences/garbage',
      '/preferences',
    ];
    for (const url of cases) {
      const response = await s.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(403);
      expect(response.headers['content-type']).toContain('text/html');
      expect(response.body).toContain('This link cannot be opened');
      expect(response.body).not.toContain('Grace');
      expect(response.body).not.toContain('Ada');
    }
    const jaPage = await s.app.inject({ method: 'GET', url: '/preferences/garbage?lang=ja' });
    expect(jaPage.body).toContain('このリンクは開けません');

    const link = linkFor(adaId);
    expect((await s.app.inject({ method: 'GET', url: link })).statusCode).toBe(200);
    await links.revokeAll(adaId);
    expect((await s.app.inject({ method: 'GET', url: link })).statusCode).toBe(403);
    expect((await s.app.inject({ method: 'GET', url: linkFor(adaId) })).statusCode).toBe(200);
  });

  it('refuses a form without the CSRF cookie or with a token that does not match', async () => {
    const link = linkFor(graceId);
    const page = await s.app.inject({ method: 'GET', url: link });
    const cookie = cookieOf(page.headers['set-cookie']);
    const csrf = csrfOf(page.body);
    const noCookie = await s.app.inject({
      method: 'POST',
      url: link,
      payload: `_csrf=${csrf}&topic=offers`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(noCookie.statusCode).toBe(403);
    expect(noCookie.body).toContain('Please try again');
    const wrong = await s.app.inject({
      method: 'POST',
      url: link,
      payload: '_csrf=abc&topic=offers',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(wrong.statusCode).toBe(403);
    // A token from Grace's page does not work on another link's form.
    const other = linkFor(graceId);
    const crossLink = await s.app.inject({
      method: 'POST',
      url: other,
      payload: `_csrf=${csrf}&topic=offers`,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(crossLink.statusCode).toBe(403);
    const profile = await s.hub.store.getProfile(graceId);
    expect(profile?.subscriptions['offers']).toBeUndefined();
  });

  it('records a withdrawal with its evidence, ingests it like any source, and every system receives it', async () => {
    const link = linkFor(adaId);
    const page = await s.app.inject({ method: 'GET', url: link });
    const cookie = cookieOf(page.headers['set-cookie']);
    // Marketing e-mail off (unticked), SMS on, newsletter kept, offers on.
    const form = `_csrf=${encodeURIComponent(csrfOf(page.body))}&consent=marketing.sms&topic=newsletter&topic=offers`;
    const response = await s.app.inject({
      method: 'POST',
      url: link,
      payload: form,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'TestBrowser/1.0' },
    });
    expect(response.statusCode).toBe(303);
    expect(response.headers['location']).toBe(`${link}?status=saved`);

    const profile = await s.hub.store.getProfile(adaId);
    expect(profile?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'preference_center',
      evidence: {
        method: 'preference_center',
        noticeVersion: '2025-01',
        noticeLocale: 'en',
        ip: '127.0.0.1',
        userAgent: 'TestBrowser/1.0',
        reference: expect.stringMatching(/^preference_center:/),
      },
    });
    expect(profile?.consents['marketing']?.['sms']).toMatchObject({ value: 'granted', source: 'preference_center' });
    expect(profile?.subscriptions['offers']).toMatchObject({ value: true, source: 'preference_center' });
    expect(profile?.subscriptions['newsletter']).toMatchObject({ value: true, source: 'crm' });
    const ledger = await s.hub.store.consentHistory(adaId);
    expect(
      ledger
        .filter((e) => e.state.source === 'preference_center')
        .map((e) => `${e.purpose}.${e.channel}:${e.state.value}`)
        .sort(),
    ).toEqual(['marketing.email:denied', 'marketing.sms:granted']);

    await s.hub.settle();
    for (const id of ['crm', 'shop']) expect(s.hub.systems[id]?.get({ email: 'ada@example.com' })?.fields['email_opt_out'], id).toBe(true);

    const after = await s.app.inject({ method: 'GET', url: `${link}?status=saved`, headers: { cookie } });
    expect(after.body).toContain('Your choices are saved.');
    expect(after.body).toMatch(/value="marketing.email">/);
    // Sending the same choices again changes nothing.
    const again = await s.app.inject({
      method: 'POST',
      url: link,
      payload: form,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(again.headers['location']).toBe(`${link}?status=unchanged`);
  });

  it('keeps choices blocked by an objection off and out of reach', async () => {
    const at = new Date().toISOString();
    await s.hub.store.applyPatch({
      id: 'admin:objection-test',
      source: 'admin',
      at,
      receivedAt: at,
      identities: [{ kind: 'email', value: 'grace@example.com' }],
      attributes: {},
      consents: {},
      subscriptions: {},
      rights: { objections: { directMarketing: true } },
    });
    const link = linkFor(graceId);
    const page = await s.app.inject({ method: 'GET', url: link });
    expect(page.body).toMatch(/value="marketing.email" disabled>/);
    expect(page.body).toContain('You objected to this use of your data');
    const cookie = cookieOf(page.headers['set-cookie']);
    const response = await s.app.inject({
      method: 'POST',
      url: link,
      payload: `_csrf=${encodeURIComponent(csrfOf(page.body))}`,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.headers['location']).toBe(`${link}?status=unchanged`);
    expect((await s.hub.store.getProfile(graceId))?.consents['marketing']?.['email']).toMatchObject({ value: 'granted', source: 'crm' });
  });
});

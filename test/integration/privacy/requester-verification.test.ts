/**
 * The public request page: a person without a preference link asks for a copy of their data or
 * its erasure; a one-time link goes out by mail (nodemailer over SMTP to a real SMTP catcher on
 * a free port), and only confirming it (a POST from the page the link opens) makes the request.
 * No request exists before; opening the link creates nothing; a reused or expired link creates
 * nothing; the mails arrive in the requester's language; limits per address and per client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CaughtMail } from '../../../src/mail/index.js';
import { redactUrl } from '../../../src/server/build.js';
import { CATALOG, startPrivacyHub, type PrivacyHub, type PrivacyHubOptions } from '../../../harness/privacy-hub.js';
import { Catalog } from '../../../src/config/schema.js';

const ADA = 'ada@example.com';

function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return (header ?? '').split(';')[0] ?? '';
}

function csrfOf(body: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
}

const form = (values: Record<string, string>): { headers: Record<string, string>; payload: string } => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(values).toString(),
});

/** Opens the request page and sends the form; returns the answer. */
async function ask(hub: PrivacyHub, email: string, kind: 'export' | 'erase', lang?: string, client = '127.0.0.1') {
  const path = lang ? `/requests?lang=${lang}` : '/requests';
  const page = await hub.app.inject({ method: 'GET', url: path, remoteAddress: client });
  expect(page.statusCode).toBe(200);
  const cookie = cookieOf(page.headers['set-cookie']);
  const f = form({ _csrf: csrfOf(page.body), email, kind });
  return hub.app.inject({ method: 'POST', url: path, remoteAddress: client, headers: { ...f.headers, cookie }, payload: f.payload });
}

/** The path (with query) of the link in a mail. */
function linkIn(mail: CaughtMail): string {
  const url = /(http:\/\/\S+\/requests\/confirm\/\S+)/.exec(mail.text)?.[1] ?? '';
  expect(url).not.toBe('');
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/** Opens the link (GET) and confirms it (POST from that page). */
async function open(hub: PrivacyHub, link: string) {
  const page = await hub.app.inject({ method: 'GET', url: link });
  return { page, cookie: cookieOf(page.headers['set-cookie']), csrf: csrfOf(page.body) };
}

async function confirm(hub: PrivacyHub, link: string, opened: { cookie: string; csrf: string }) {
  const f = form({ _csrf: opened.csrf });
  return hub.app.inject({ method: 'POST', url: link, headers: { ...f.headers, cookie: opened.cookie }, payload: f.payload });
}

async function seed(hub: PrivacyHub, email: string): Promise<void> {
  hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  await hub.settle();
}

describe('requester verification: the public request page', () => {
  let hub: PrivacyHub | undefined;
  const start = async (mail: PrivacyHubOptions['mail'] = {}, dialect: PrivacyHubOptions['dialect'] = 'sqlite'): Promise<PrivacyHub> => {
    hub = await startPrivacyHub({ dialect, mail });
    return hub;
  };
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('makes the request only when the mailed link is confirmed; opening it or using it again makes none', async () => {
    const h = await start();
    const catcher = h.mailCatcher;
    if (!catcher) throw new Error('no catcher');
    await seed(h, ADA);

    const form = await h.app.inject({ method: 'GET', url: '/requests' });
    expect(form.body).not.toContain('<script');
    expect(form.body).toContain('name="email"');

    const asked = await ask(h, ADA, 'export');
    expect(asked.statusCode).toBe(200);
    expect(asked.body).toContain('Check your mail');
    const mail = await catcher.waitFor((m) => m.to.includes(ADA));
    expect(mail.subject).toBe('Acme: confirm your request for a copy of your data');
    expect(mail.language).toBe('en');
    expect(await h.privacy.list()).toEqual([]);

    // A mail scanner (or the person) opening the link creates nothing.
    const link = linkIn(mail);
    const opened = await open(h, link);
    expect(opened.page.statusCode).toBe(200);
    expect(opened.page.body).toContain('Confirm my request');
    await h.app.inject({ method: 'GET', url: link });
    expect(await h.privacy.list()).toEqual([]);

    // Without the form's CSRF token nothing happens either.
    const forged = await confirm(h, link, { cookie: opened.cookie, csrf: 'nope' });
    expect(forged.statusCode).toBe(403);
    expect(await h.privacy.list()).toEqual([]);

    const confirmed = await confirm(h, link, opened);
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.body).toContain('Your request is recorded');
    const requests = await h.privacy.list();
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request).toMatchObject({ kind: 'export', origin: 'preference_center' });
    const received = (await h.store.listAudit({ limit: 500 })).find(
      (a) => a.action === 'dsr.received' && a.detail['dsrId'] === request?.id,
    );
    expect(received?.actor).toBe('verified_email');

    // Used once: again (even with a valid form) it creates nothing and says so.
    const reopened = await open(h, link);
    expect(reopened.page.statusCode).toBe(410);
    expect(reopened.page.body).toContain('already used');
    const again = await confirm(h, link, opened);
    expect(again.statusCode).toBe(410);
    expect(again.body).toContain('already used');
    expect(await h.privacy.list()).toHaveLength(1);

    // When the export completes, the person is told, with a download link that works.
    await h.waitFor(request?.id ?? '', (v) => v.status === 'completed');
    const notice = await catcher.waitFor((m) => m.subject === 'Acme: your copy of your data is ready');
    expect(notice.to).toEqual([ADA]);
    expect(notice.text).toContain(`Reference: ${request?.id}`);
    const download = new URL(/(http:\/\/\S+\/requests\/download\/\S+)/.exec(notice.text)?.[1] ?? 'http://x/');
    const file = await h.app.inject({ method: 'GET', url: download.pathname });
    expect(file.statusCode).toBe(200);
    expect(file.json()).toMatchObject({ format: 'concord.export/v1' });
    // The caught mails are on the development page.
    const caught = await h.app.inject({ method: 'GET', url: '/dev/mail' });
    expect(caught.body).toContain('your copy of your data is ready');
  });

  it('an expired link creates nothing', async () => {
    let now = Date.parse('2026-03-01T10:00:00Z');
    const h = await start({ ttlMs: 60_000, clock: () => now });
    const catcher = h.mailCatcher;
    if (!catcher) throw new Error('no catcher');
    await ask(h, ADA, 'erase');
    const link = linkIn(await catcher.waitFor((m) => m.to.includes(ADA)));
    const opened = await open(h, link);
    expect(opened.page.statusCode).toBe(200);
    now += 60_001;
    const late = await open(h, link);
    expect(late.page.statusCode).toBe(410);
    expect(late.page.body).toContain('This link has expired');
    const confirmed = await confirm(h, link, opened);
    expect(confirmed.statusCode).toBe(410);
    expect(await h.privacy.list()).toEqual([]);
    // A made-up link: nothing either.
    const unknown = await h.app.inject({ method: 'GET', url: '/requests/confirm/not-a-token' });
    expect(unknown.statusCode).toBe(404);
  });

  it('speaks the requester’s language: a Japanese erasure, its mails in Japanese, and no address kept afterwards (PostgreSQL)', async () => {
    const h = await start({}, 'postgres');
    const catcher = h.mailCatcher;
    if (!catcher) throw new Error('no catcher');
    await seed(h, ADA);
    const asked = await ask(h, ADA, 'erase', 'ja');
    expect(asked.body).toContain('メールをご確認ください');
    const mail = await catcher.waitFor((m) => m.to.includes(ADA));
    expect(mail.subject).toBe('Acme:データ消去のご確認');
    expect(mail.language).toBe('ja');
    expect(mail.text).toContain('ご依頼を確定するには');
    const link = linkIn(mail);
    expect(link).toContain('lang=ja');
    const opened = await open(h, link);
    expect(opened.page.body).toContain('ご依頼を確定する');
    const confirmed = await confirm(h, link, opened);
    expect(confirmed.body).toContain('ご依頼を受け付けました');
    const [request] = await h.privacy.list();
    expect(request).toMatchObject({ kind: 'erase', origin: 'preference_center' });
    await h.waitFor(request?.id ?? '', (v) => v.status === 'completed');
    const notice = await catcher.waitFor((m) => m.subject === 'Acme:データの消去が完了しました');
    expect(notice.to).toEqual([ADA]);
    expect(notice.language).toBe('ja');
    expect(h.hubspot.sideDoor.findByEmail(ADA)).toBeUndefined();
    // The completed request keeps no address, and the verification row (sealed address) is gone.
    const stored = await h.store.getDsr(request?.id ?? '');
    expect(JSON.stringify(stored)).not.toContain(ADA);
    const rows = await h.db.query('select * from requester_verifications');
    expect(rows).toEqual([]);
  });

  it('writes the mails in an operator’s locale from the YAML, the page following the visitor’s Accept-Language', async () => {
    const catalog = Catalog.parse({ ...CATALOG, locales: ['en', 'ja', 'de'] });
    hub = await startPrivacyHub({
      dialect: 'sqlite',
      catalog,
      mail: {
        texts: {
          verifyErase: {
            subject: { de: '{brand}: Bitte bestätigen Sie die Löschung' },
            body: { de: 'Hallo,\n\nbitte öffnen Sie diesen Link innerhalb von {minutes} Minuten:\n{url}' },
          },
          completedErase: {
            subject: { de: '{brand}: Ihre Daten wurden gelöscht' },
            body: { de: 'Vorgang {reference} ist abgeschlossen.' },
          },
        },
      },
    });
    const h = hub;
    const catcher = h.mailCatcher;
    if (!catcher) throw new Error('no catcher');
    await seed(h, ADA);
    const page = await h.app.inject({ method: 'GET', url: '/requests', headers: { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } });
    // Concord has no German interface words: the page speaks the default locale's, and offers Deutsch.
    expect(page.body).toContain('<html lang="en">');
    expect(page.body).toMatch(/<span aria-current="true" lang="de">Deutsch<\/span>/);
    const cookie = cookieOf(page.headers['set-cookie']);
    const f = form({ _csrf: csrfOf(page.body), email: ADA, kind: 'erase' });
    const asked = await h.app.inject({
      method: 'POST',
      url: '/requests',
      headers: { ...f.headers, cookie, 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' },
      payload: f.payload,
    });
    expect(asked.statusCode).toBe(200);
    const mail = await catcher.waitFor((m) => m.to.includes(ADA));
    expect(mail.subject).toBe('Acme: Bitte bestätigen Sie die Löschung');
    expect(mail.language).toBe('de');
    expect(mail.text).toContain('innerhalb von 60 Minuten');
    const link = linkIn(mail);
    expect(link).toContain('lang=de');
    const opened = await open(h, link);
    const confirmed = await confirm(h, link, opened);
    expect(confirmed.statusCode).toBe(200);
    const [request] = await h.privacy.list();
    await h.waitFor(request?.id ?? '', (v) => v.status === 'completed');
    const notice = await catcher.waitFor((m) => m.subject === 'Acme: Ihre Daten wurden gelöscht');
    expect(notice.text.trim()).toBe(`Vorgang ${request?.id ?? ''} ist abgeschlossen.`);
    expect(notice.language).toBe('de');
  });

  it('keeps the language the link was asked in through the confirmation, even when the link lost its ?lang=', async () => {
    const h = await start();
    const catcher = h.mailCatcher;
    if (!catcher) throw new Error('no catcher');
    await seed(h, ADA);
    await ask(h, ADA, 'export', 'ja');
    const bare = linkIn(await catcher.waitFor((m) => m.to.includes(ADA))).split('?')[0] ?? '';
    const english = { 'accept-language': 'en' };
    const page = await h.app.inject({ method: 'GET', url: bare, headers: english });
    expect(page.body).toContain('ご依頼を確定する');
    const action = (/<form method="post" action="([^"]+)"/.exec(page.body)?.[1] ?? '').replaceAll('&amp;', '&');
    const f = form({ _csrf: csrfOf(page.body) });
    const done = await h.app.inject({
      method: 'POST',
      url: action,
      headers: { ...f.headers, ...english, cookie: cookieOf(page.headers['set-cookie']) },
      payload: f.payload,
    });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('ご依頼を受け付けました');
  });

  it('tells the requester when their request failed, in their language, and keeps the row for a retry’s notice', async () => {
    const h = await start();
    const catcher = h.mailCatcher;
    const verifications = h.verifications;
    if (!catcher || !verifications) throw new Error('no catcher');
    await ask(h, ADA, 'erase', 'ja');
    await catcher.waitFor((m) => m.to.includes(ADA));
    const rows = await h.db.query('select id from requester_verifications');
    const id = String((rows[0] as { id?: unknown } | undefined)?.id ?? '');
    expect(id).not.toBe('');
    // As the privacy service hands it over when the request settles as failed.
    await verifications.notify({ id: 'dsr-1', kind: 'erase', status: 'failed', origin: 'preference_center', notify: id });
    const notice = await catcher.waitFor((m) => m.subject === 'Acme:データの消去を完了できませんでした');
    expect(notice.to).toEqual([ADA]);
    expect(notice.language).toBe('ja');
    expect(notice.text).toContain('引き続き対応し');
    expect(notice.text).toContain('受付番号: dsr-1');
    expect(notice.text).not.toContain('消去しました');
    // Kept: a retry that completes tells them again.
    expect(await h.db.query('select id from requester_verifications')).toHaveLength(1);
  });

  it('answers every address alike and limits links per address and requests per client', async () => {
    const h = await start({ limits: { perAddress: 2, perClient: 3 } });
    const catcher = h.mailCatcher;
    if (!catcher) throw new Error('no catcher');
    await seed(h, ADA);
    const known = await ask(h, ADA, 'export', undefined, '10.0.0.1');
    const unknown = await ask(h, 'nobody@example.com', 'export', undefined, '10.0.0.2');
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);

    // Per address: the third within the window gets the same answer, and no mail.
    const second = await ask(h, ADA, 'export', undefined, '10.0.0.3');
    const third = await ask(h, ADA, 'export', undefined, '10.0.0.4');
    expect(third.statusCode).toBe(200);
    expect(third.body).toBe(second.body);
    await catcher.waitFor((m) => m.to.includes('nobody@example.com'));
    await catcher.waitFor((m) => m.to.includes(ADA) && m.seq > 1);
    expect(catcher.messages().filter((m) => m.to.includes(ADA))).toHaveLength(2);

    // Per client: three links from one client address, then 429.
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com'])
      expect((await ask(h, email, 'export', undefined, '10.0.0.9')).statusCode).toBe(200);
    const limited = await ask(h, 'd@example.com', 'export', undefined, '10.0.0.9');
    expect(limited.statusCode).toBe(429);
    expect(limited.body).toContain('Too many requests');
    expect(await h.privacy.list()).toEqual([]);
  });

  it('says so when the mail server is away, and keeps nothing', async () => {
    const h = await start();
    await h.mailCatcher?.close();
    const asked = await ask(h, ADA, 'export');
    expect(asked.statusCode).toBe(503);
    expect(asked.body).toContain('We could not send the link');
    expect(await h.db.query('select * from requester_verifications')).toEqual([]);
  });

  it('keeps the link and download tokens out of logged URLs', () => {
    expect(redactUrl('/requests/confirm/abcDEF_123?lang=ja')).toBe('/requests/confirm/[token]?lang=ja');
    expect(redactUrl('/requests/download/abc.def')).toBe('/requests/download/[token]');
    expect(redactUrl('/requests?lang=ja')).toBe('/requests?lang=ja');
  });
});

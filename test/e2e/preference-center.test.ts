/**
 * The quickstart's preference center in a real browser (Debian's Chromium through
 * playwright-core): the hub and both emulators run as `npm start` runs them (default config,
 * demo seeding), on free ports and a private database and Redis prefix. A customer opens their
 * link and withdraws marketing e-mail consent; HubSpot and Salesforce both receive it. A tampered
 * link is refused; axe-core finds no accessibility violations; screenshots are saved under
 * test-artifacts/ (git-ignored). A Japanese visitor (Accept-Language ja-JP) sees the catalog in
 * Japanese, with no English catalog text, and the transparency section names the systems that
 * receive each purpose and how long its data is kept.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/app/demo.js';
import type { Demo } from '../../src/app/demo.js';
import type { Config } from '../../src/config/schema.js';
import { freePort } from '../../src/app/free-port.js';
import { loadConfig } from '../../src/config/load.js';
import { deletePrefix } from '../../harness/sync-hub.js';
import { createLogger } from '../../src/log/logger.js';
import { builtinConnectors } from '../../connectors/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return axe.run();
  });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
}

type Text = string | Readonly<Record<string, string>> | undefined;

/** A catalog text in one locale (a plain string is the default locale's). */
function inLocale(text: Text, locale: string, defaultLocale: string): string | undefined {
  if (text === undefined) return undefined;
  if (typeof text === 'string') return locale === defaultLocale ? text : undefined;
  return text[locale];
}

/** Every catalog text of the config (and each connector's display name) in one locale. */
function catalogTexts(config: Config, locale: string): string[] {
  const { catalog } = config;
  const say = (text: Text): string[] => {
    const found = inLocale(text, locale, catalog.defaultLocale);
    return found === undefined ? [] : [found];
  };
  return [
    ...Object.values(catalog.purposes).flatMap((p) => [
      ...say(p.title),
      ...say(p.description),
      ...say(p.notice.text),
      ...say(p.purpose),
      ...say(p.retention),
    ]),
    ...Object.values(catalog.channels).flatMap((c) => say(c.title)),
    ...Object.values(catalog.topics).flatMap((t) => [...say(t.title), ...say(t.description)]),
    ...Object.values(config.connectors).flatMap((c) => say(c.displayName)),
  ];
}

describe('preference center in Chromium (quickstart)', () => {
  let config: Config;
  let demo: Demo;
  let browser: Browser;
  let dir: string;
  let prefix: string;

  beforeAll(async () => {
    const port = await freePort();
    const loaded = await loadConfig('config/concord.yaml', {
      connectors: builtinConnectors,
      env: {
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        HUBSPOT_BASE_URL: 'http://127.0.0.1:0',
        SALESFORCE_LOGIN_URL: 'http://127.0.0.1:0',
        ...(process.env.CONCORD_TEST_REDIS_URL ? { REDIS_URL: process.env.CONCORD_TEST_REDIS_URL } : {}),
      },
    });
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    config = loaded.config;
    dir = mkdtempSync(join(tmpdir(), 'concord-e2e-'));
    prefix = `{e2e-${randomBytes(4).toString('hex')}}`;
    demo = await startDemo(loaded.config, createLogger({ level: process.env.CONCORD_TEST_LOG ?? 'silent' }), {
      databaseUrl: `sqlite:${join(dir, 'hub.db')}`,
      keyPrefix: prefix,
      port,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    if (prefix) await deletePrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('withdraws marketing e-mail consent; HubSpot and Salesforce both receive it; no axe violations', async () => {
    const link = demo.preferenceLink;
    expect(link).not.toBeNull();
    const hubspot = demo.emulators.hubspot;
    const salesforce = demo.emulators.salesforce;
    if (!link || !hubspot || !salesforce) throw new Error('the demo did not start both emulators');
    // Both systems hold Ada's consent from the demo seeding.
    const hubspotStatus = (): unknown => hubspot.sideDoor.statuses('ada@example.com').find((s) => s.subscriptionId === 101)?.status;
    const salesforceOptOut = (): unknown => salesforce.sideDoor.findByEmail('ada@example.com')?.['HasOptedOutOfEmail'];
    expect(hubspotStatus()).toBe('SUBSCRIBED');
    expect(salesforceOptOut()).toBe(false);

    // bypassCSP only so the test can inject axe-core; the page itself runs no script.
    const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const opened = await page.goto(link);
    expect(opened?.status()).toBe(200);
    await expect(page.title()).resolves.toContain('Your preferences');
    expect(await axeViolations(page)).toEqual([]);

    const email = page.locator('#consent-marketing-email');
    await expect(email.isChecked()).resolves.toBe(true);
    // Keyboard: focus the switch and toggle it with the space bar, as a keyboard user would.
    await email.focus();
    await page.keyboard.press('Space');
    await expect(email.isChecked()).resolves.toBe(false);
    await page.getByRole('button', { name: 'Save my choices' }).click();
    await page.waitForURL(/status=saved/);
    await expect(page.getByRole('status').textContent()).resolves.toContain('Your choices are saved');
    await expect(page.locator('#consent-marketing-email').isChecked()).resolves.toBe(false);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'preference-center.png'), fullPage: true });

    await waitFor(() => hubspotStatus() === 'UNSUBSCRIBED', 'HubSpot to unsubscribe Ada from subscription 101');
    await waitFor(() => salesforceOptOut() === true, 'Salesforce to set HasOptedOutOfEmail');
    const profile = await demo.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
    expect(profile?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'preference_center',
      evidence: {
        method: 'preference_center',
        noticeVersion: '2025-01',
        noticeLocale: 'en',
        ip: '127.0.0.1',
        userAgent: expect.stringContaining('Chrome'),
      },
    });

    // Both systems' webhooks (HubSpot's signed v3 events, Salesforce's SOAP Outbound Messages)
    // came in through the same ingress and were all accepted.
    const metrics = (await demo.hub.app?.inject({ method: 'GET', url: '/metrics' }))?.body ?? '';
    const webhookLines = metrics.split('\n').filter((l) => l.startsWith('concord_http_webhooks_total{'));
    expect(webhookLines.some((l) => /connector="hubspot",status="200"/.test(l))).toBe(true);
    expect(webhookLines.some((l) => /connector="salesforce",status="200"/.test(l))).toBe(true);
    expect(webhookLines.filter((l) => !/status="200"/.test(l))).toEqual([]);

    // The Japanese page, through the language switch.
    await page.getByRole('link', { name: '日本語' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('ご連絡方法の設定');
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'preference-center-ja.png'), fullPage: true });
    await context.close();
  });

  it('asks for a copy without a link: the Japanese request page mails a one-time link to the demo’s catcher, and confirming it makes the request; no axe violations', async () => {
    const catcher = demo.hub.mailCatcher;
    if (!catcher) throw new Error('the demo started no mail catcher');
    expect(demo.links.map((l) => new URL(l.url).pathname)).toEqual(expect.arrayContaining(['/requests', '/dev/mail']));
    const publicUrl = demo.hub.config.hub.publicUrl.replace(/\/$/, '');
    const before = (await demo.hub.privacy.list()).length;
    const context = await browser.newContext({ bypassCSP: true, locale: 'ja-JP', viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    expect((await page.goto(`${publicUrl}/requests`))?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('データの開示・消去のご依頼');
    expect(await axeViolations(page)).toEqual([]);
    await page.getByLabel('メールアドレス').fill('grace@example.com');
    await page.getByRole('button', { name: 'リンクを送信' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('メールをご確認ください');
    expect(await axeViolations(page)).toEqual([]);

    const mail = await catcher.waitFor((m) => m.to.includes('grace@example.com'));
    expect(mail.language).toBe('ja');
    const link = /(http:\/\/\S+\/requests\/confirm\/\S+)/.exec(mail.text)?.[1] ?? '';
    expect((await page.goto(link))?.status()).toBe(200);
    expect(await demo.hub.privacy.list()).toHaveLength(before);
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'ご依頼を確定する' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('ご依頼を受け付けました');
    const made = (await demo.hub.privacy.list()).slice(before);
    expect(made).toMatchObject([{ kind: 'export', origin: 'preference_center' }]);
    await page.screenshot({ path: join(ARTIFACTS, 'request-page-ja.png'), fullPage: true });

    // The demo shows the caught mail.
    expect((await page.goto(`${publicUrl}/dev/mail`))?.status()).toBe(200);
    await expect(page.content()).resolves.toContain('データの写しのご依頼の確認');
    await context.close();

    // Under the hub's own Content-Security-Policy (no bypass), the form breaks no rule of it.
    const strict = await browser.newContext({ locale: 'en-GB' });
    const strictPage = await strict.newPage();
    const complaints: string[] = [];
    strictPage.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) complaints.push(message.text());
    });
    const response = await strictPage.goto(`${publicUrl}/requests`);
    expect(response?.headers()['content-security-policy']).toContain("form-action 'self'");
    await expect(strictPage.locator('script').count()).resolves.toBe(0);
    await expect(strictPage.getByLabel('E-mail address').isVisible()).resolves.toBe(true);
    expect(complaints).toEqual([]);
    await strict.close();
  });

  it('shows a Japanese visitor the catalog in Japanese only, and which systems receive each purpose and for how long', async () => {
    const link = demo.preferenceLink;
    if (!link) throw new Error('the demo issued no preference link');
    const english = catalogTexts(config, 'en');
    const japanese = catalogTexts(config, 'ja');
    expect(english.length).toBeGreaterThan(20);
    expect(japanese.length).toBe(english.length);

    // No ?lang=: the language comes from the browser's Accept-Language.
    const context = await browser.newContext({ bypassCSP: true, locale: 'ja-JP', viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const opened = await page.goto(link);
    expect(opened?.status()).toBe(200);
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('ja');
    await expect(page.locator('h1').textContent()).resolves.toBe('ご連絡方法の設定');
    const text = await page.locator('body').innerText();
    expect(english.filter((t) => text.includes(t))).toEqual([]);
    for (const t of [
      'マーケティングのご案内',
      'メール',
      '特典やニュースをお送りしたいと考えています。いつでも変更できます。',
      '月刊ニュースレター',
    ])
      expect(text).toContain(t);
    // Nothing on the page is marked as being in another language than the page's.
    await expect(page.locator('body [lang]:not([lang="ja"]):not(nav [lang])').count()).resolves.toBe(0);

    // Transparency: why, legal basis, the systems (display names from the config), retention.
    const marketing = page.locator('#transparency-marketing');
    const marketingText = await marketing.innerText();
    for (const t of [
      'お客様が許可したチャネルで、特典、ニュース、イベントのご案内をお送りするため。',
      'お客様の同意',
      'HubSpot（顧客管理）',
      'Salesforce（営業管理）',
      'Mailchimp（メール配信）',
      'Segment（分析）',
      '自社の顧客データベース',
      '同意を撤回されるまで。撤回後も、ご選択の記録は3年間保管します。',
    ])
      expect(marketingText).toContain(t);
    const analytics = await page.locator('#transparency-analytics').innerText();
    expect(analytics).toContain('Segment（分析）');
    expect(analytics).toContain('26か月');
    expect(analytics).toContain('当社の正当な利益');
    expect(analytics).not.toContain('HubSpot');
    await expect(page.locator('#transparency-service_updates').innerText()).resolves.toContain('連携システムへの提供はありません。');
    // Server-rendered: the page runs no script.
    await expect(page.locator('script').count()).resolves.toBe(0);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'preference-center-ja-transparency.png'), fullPage: true });

    // A choice made on the Japanese page records the Japanese notice and its version.
    await page.locator('#consent-analytics-web').check();
    await page.getByRole('button', { name: '設定を保存' }).click();
    await page.waitForURL(/status=saved/);
    const profile = await demo.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
    expect(profile?.consents['analytics']?.['web']).toMatchObject({
      value: 'granted',
      source: 'preference_center',
      evidence: { method: 'preference_center', noticeLocale: 'ja', noticeVersion: '2024-06-ja.1' },
    });
    await context.close();

    // Under the hub's own Content-Security-Policy (no bypass), the page breaks no rule of it.
    const strict = await browser.newContext({ locale: 'ja-JP' });
    const strictPage = await strict.newPage();
    const complaints: string[] = [];
    strictPage.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) complaints.push(message.text());
    });
    const strictResponse = await strictPage.goto(link);
    expect(strictResponse?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect(strictPage.locator('#transparency-marketing').isVisible()).resolves.toBe(true);
    expect(complaints).toEqual([]);
    await strict.close();
  });

  it('refuses a tampered link with a friendly page', async () => {
    const link = demo.preferenceLink ?? '';
    const tampered = link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const response = await page.goto(tampered);
    expect(response?.status()).toBe(403);
    await expect(page.locator('h1').textContent()).resolves.toBe('This link cannot be opened');
    expect(await page.content()).not.toContain('Ada');
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'preference-center-refused.png'), fullPage: true });
    await context.close();
  });
});

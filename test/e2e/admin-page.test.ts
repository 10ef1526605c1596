/**
 * The operations page (/admin) in Chromium, on a hub as `concord start` runs it with the HubSpot
 * and Salesforce emulators and some seeded state: a change from HubSpot (in), pushes to both
 * systems (out), a record Salesforce refuses (a dead letter) and a HubSpot 429 with a long
 * Retry-After (a park). The page shows each connector's state, its last errors and a chart of
 * its changes per minute; it loads nothing but itself (no request to another origin, not even
 * to the hub: its CSP allows no script, and it needs none), raises no CSP violation, reads the
 * same with JavaScript off, links the queue board and the API docs, and asks for an admin key.
 * A screenshot goes to test-artifacts/admin-page.png (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../harness/sync-hub.js';
import { KEYS, startOperatorHub } from '../integration/operator-hub.js';
import type { OperatorHub } from '../integration/operator-hub.js';
import { watchPage } from './page-watch.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the operations page in a browser', () => {
  let op: OperatorHub;
  let browser: Browser;
  let deadProfile = '';
  const admin = (javaScriptEnabled: boolean): Promise<BrowserContext> =>
    browser.newContext({ httpCredentials: { username: 'ops', password: KEYS.admin }, javaScriptEnabled });

  beforeAll(async () => {
    op = await startOperatorHub({ queueBoard: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    // In: a person created in HubSpot's UI comes to the hub by webhook; out: the hub writes them to Salesforce.
    op.hubspot.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper' });
    await waitFor(() => op.salesforce.sideDoor.findByEmail('grace@example.com') !== undefined, 20_000, 'Grace in Salesforce');
    // A dead letter: Salesforce refuses this record for good (HubSpot takes it).
    op.salesforce.sideDoor.poison('refused@example.com');
    await op.createPerson('refused@example.com', 'Refused');
    await waitFor(async () => (await op.hub.engine.deadLetters.list('salesforce')).length > 0, 20_000, 'a Salesforce dead letter');
    deadProfile = (await op.hub.engine.deadLetters.list('salesforce'))[0]?.profileId ?? '';
    // A park: HubSpot answers the next call 429 with Retry-After 10 minutes.
    op.hubspot.sideDoor.rateLimitNextCall(600);
    await op.createPerson('later@example.com', 'Later');
    await waitFor(async () => (await op.hub.engine.connectorStatus('hubspot')).budget.blockedForMs > 0, 20_000, 'HubSpot parked');
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await op?.close();
  });

  it('asks a browser for an admin key (Basic challenge) and refuses a key without the admin scope', async () => {
    const anonymous = await fetch(`${op.hub.url}/admin`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="Concord operations"/);
    const reader = await fetch(`${op.hub.url}/admin`, { headers: { authorization: `Basic ${btoa(`x:${KEYS.reader}`)}` } });
    expect(reader.status).toBe(403);
    const bearer = await fetch(`${op.hub.url}/admin`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-[^']+'; /);
    expect(bearer.headers.get('cache-control')).toBe('no-store');
  });

  it('shows each connector’s state, errors and changes per minute, loading nothing else and raising no CSP violation', async () => {
    const context = await admin(true);
    const page = await context.newPage();
    const watch = watchPage(page, op.hub.url ?? '');
    const response = await page.goto(`${op.hub.url}/admin`);
    expect(response?.status()).toBe(200);
    await page.waitForLoadState('networkidle');

    const hubspot = page.locator('#connector-hubspot');
    const salesforce = page.locator('#connector-salesforce');
    await expect.poll(() => hubspot.locator('.state').first().textContent()).toBe('parked');
    expect(await hubspot.locator('dd', { hasText: /UTC \(in \d+ min/ }).count()).toBe(1);
    expect(await salesforce.locator('.state').first().textContent()).toBe('dead letters');
    const errors = await salesforce.locator('ul.errors').textContent();
    expect(errors).toContain(deadProfile);
    expect(errors).toContain('rejected');
    // The push batch that met the refusal is a run with a failed row, listed with the recent runs.
    expect(errors).toMatch(/push run, .*partial: 1 row error/);
    const runs = await salesforce.locator('table.runs tbody tr').allTextContents();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.some((r) => r.startsWith('push') && r.includes('partial'))).toBe(true);
    // The charts: HubSpot sent a change in; Salesforce took changes out.
    const legend = async (id: string): Promise<{ in: number; out: number }> => {
      const text = (await page.locator(`#connector-${id} .legend`).textContent()) ?? '';
      const m = /In (\d+) · Out (\d+)/.exec(text);
      return { in: Number(m?.[1]), out: Number(m?.[2]) };
    };
    expect((await legend('hubspot')).in).toBeGreaterThanOrEqual(1);
    expect((await legend('salesforce')).out).toBeGreaterThanOrEqual(1);
    expect(await page.locator('svg.chart polyline').count()).toBe(4);
    expect(await page.locator('svg.chart title').first().textContent()).toBe('Changes per minute for hubspot, in and out');
    // Its links.
    expect(await page.getByRole('link', { name: 'Queue board' }).getAttribute('href')).toBe('/admin/queues');
    expect(await page.getByRole('link', { name: 'API docs' }).getAttribute('href')).toBe('/api/v1/docs');

    expect(watch.requests).toEqual([`${op.hub.url}/admin`]);
    expect(watch.violations).toEqual([]);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/admin-page.png', fullPage: true });
    // The watch does see a violation: an image from elsewhere is refused by the page's CSP.
    await page.evaluate(`document.body.append(Object.assign(document.createElement('img'), { src: 'https://elsewhere.invalid/x.png' }))`);
    await expect.poll(() => watch.violations.length).toBeGreaterThan(0);
    // The queue board it links to opens with the same key.
    await page.getByRole('link', { name: 'Queue board' }).click();
    await page.waitForURL(`${op.hub.url}/admin/queues`);
    await context.close();
  }, 60_000);

  it('reads the same with JavaScript off', async () => {
    const context = await admin(false);
    const page = await context.newPage();
    const watch = watchPage(page, op.hub.url ?? '');
    expect((await page.goto(`${op.hub.url}/admin`))?.status()).toBe(200);
    expect(await page.locator('#connector-hubspot .state').first().textContent()).toBe('parked');
    expect(await page.locator('#connector-salesforce ul.errors').textContent()).toContain(deadProfile);
    expect(await page.locator('svg.chart').count()).toBe(2);
    expect(await page.locator('table').first().textContent()).toContain('salesforce');
    expect(watch.external()).toEqual([]);
    await context.close();
  }, 60_000);
});

/**
 * The queue board (/admin/queues, bull-board) in Chromium: it loads and shows the hub's queues
 * with no request leaving for another host (bull-board's page links Google Fonts; the hub
 * serves it without that link, and its CSP allows no remote styles or fonts) and no CSP
 * violation. A screenshot goes to test-artifacts/queue-board.png (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startOperatorHub } from '../integration/operator-hub.js';
import type { OperatorHub } from '../integration/operator-hub.js';
import { watchPage } from './page-watch.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the queue board in a browser', () => {
  let op: OperatorHub;
  let browser: Browser;
  beforeAll(async () => {
    op = await startOperatorHub({ queueBoard: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await op?.close();
  });

  it('loads its queues without a request to another host (no Google Fonts) and without CSP violations', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: KEYS.admin } });
    const page = await context.newPage();
    const watch = watchPage(page, op.hub.url ?? '');
    const response = await page.goto(`${op.hub.url}/admin/queues`);
    expect(response?.status()).toBe(200);
    expect(await response?.text()).not.toContain('fonts.googleapis.com');
    expect(response?.headers()['content-security-policy']).not.toMatch(/(style|font)-src[^;]*https:/);
    // The board's script ran and listed the queues it read from the hub.
    await page.getByText('ingest', { exact: false }).first().waitFor({ timeout: 20_000 });
    await page.waitForLoadState('networkidle');
    expect(watch.requests.length).toBeGreaterThan(3);
    expect(watch.external()).toEqual([]);
    expect(watch.violations).toEqual([]);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/queue-board.png' });
    await context.close();
  }, 60_000);
});

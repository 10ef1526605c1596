/**
 * What a page did in the browser: every request it made (those to another origin than the hub
 * are "external"), and every Content-Security-Policy violation (the `securitypolicyviolation`
 * event in the page, and Chromium's console errors about refused content).
 */
import type { Page } from 'playwright-core';

export interface PageWatch {
  /** Every URL the page requested, in order. */
  requests: string[];
  /** CSP violations: `<directive> <blocked URI>` or the console's message. */
  violations: string[];
  /** The requests to another origin than `origin`. */
  external(): string[];
}

export function watchPage(page: Page, origin: string): PageWatch {
  const hub = new URL(origin).origin;
  const watch: PageWatch = {
    requests: [],
    violations: [],
    external: () => watch.requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== hub),
  };
  page.on('request', (request) => watch.requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) watch.violations.push(message.text());
  });
  void page.exposeFunction('__cspViolation', (text: string) => watch.violations.push(text));
  // In the page (a string: this file is compiled without the DOM's types).
  void page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => globalThis.__cspViolation(e.violatedDirective + ' ' + e.blockedURI));`,
  });
  return watch;
}

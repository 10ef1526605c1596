/**
 * Headers that only make sense over https (HSTS, CSP upgrade-insecure-requests) go only on
 * responses served over https; the preference center's CSRF cookie is Secure on an https hub.
 */
import { Redis } from 'ioredis';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { PreferenceLinks } from '../../../src/server/preferences/links.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { SIGNING_SECRET, startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

const hsts = (r: LightMyRequestResponse): unknown => r.headers['strict-transport-security'];
const csp = (r: LightMyRequestResponse): string => String(r.headers['content-security-policy'] ?? '');

describe('https-only headers', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('an http hub (development, on loopback) sends neither HSTS nor upgrade-insecure-requests, whatever a client claims', async () => {
    s = await startServerHub({ roles: false, publicUrl: 'http://localhost:8080' });
    for (const headers of [{}, { 'x-forwarded-proto': 'https' }]) {
      const response = await s.app.inject({ method: 'GET', url: '/healthz', headers });
      expect(hsts(response)).toBeUndefined();
      expect(csp(response)).not.toContain('upgrade-insecure-requests');
      // The rest of the security headers stay.
      expect(csp(response)).toContain("frame-ancestors 'none'");
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    }
  });

  it('an https hub sends HSTS and upgrade-insecure-requests on every response, unless a proxy says the request came over http', async () => {
    s = await startServerHub({ roles: false, publicUrl: 'https://consent.example.com' });
    for (const url of ['/healthz', '/no-such-page']) {
      const response = await s.app.inject({ method: 'GET', url });
      expect(hsts(response), url).toBe('max-age=31536000; includeSubDomains');
      expect(csp(response), url).toContain('upgrade-insecure-requests');
      expect(csp(response), url).toContain("frame-ancestors 'none'");
    }
    const overHttp = await s.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-forwarded-proto': 'http' } });
    expect(hsts(overHttp)).toBeUndefined();
    expect(csp(overHttp)).not.toContain('upgrade-insecure-requests');
  });

  it('behind a trusted proxy, the protocol the proxy reports decides', async () => {
    s = await startServerHub({ roles: false, publicUrl: 'http://localhost:8080', trustProxy: ['127.0.0.1'] });
    const https = await s.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-forwarded-proto': 'https' } });
    expect(hsts(https)).toBe('max-age=31536000; includeSubDomains');
    expect(csp(https)).toContain('upgrade-insecure-requests');
    const http = await s.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-forwarded-proto': 'http' } });
    expect(hsts(http)).toBeUndefined();
  });

  it("the preference center's CSRF cookie is Secure on an https hub, and not on an http one", async () => {
    for (const [publicUrl, secure] of [
      ['https://consent.example.com', true],
      ['http://localhost:8080', false],
    ] as const) {
      s = await startServerHub({ publicUrl });
      s.hub.systems['crm']?.change({ email: 'ada@example.com', first_name: 'Ada' });
      await s.hub.settle();
      const ada = await s.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
      const redis = new Redis(REDIS_URL);
      const token = new PreferenceLinks(SIGNING_SECRET, redis, s.hub.prefix).issue(ada?.id ?? '', 600_000).token;
      redis.disconnect();
      const page = await s.app.inject({ method: 'GET', url: `/preferences/${token}` });
      expect(page.statusCode).toBe(200);
      const cookie = String(page.headers['set-cookie'] ?? '');
      expect(cookie).toMatch(/HttpOnly/);
      expect(/;\s*Secure/i.test(cookie), publicUrl).toBe(secure);
      await s.close();
      s = undefined;
    }
  });
});

import { describe, expect, it } from 'vitest';
import type { ConnectorReport } from '../../sync/index.js';
import { niceCeiling, polylinePoints } from './chart.js';
import { ADMIN_PAGE_CSP, connectorState, duration, pullLagMs, renderAdminPage } from './view.js';
import type { ConnectorPageData } from './view.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');

function report(over: Partial<ConnectorReport> = {}): ConnectorReport {
  return {
    connector: 'crm',
    queues: [{ queue: 'push.crm', wait: 3, active: 1, delayed: 0, failed: 2 }],
    profiles: { connector: 'crm', dirty: 3, inflight: 1, retry: 0, dead: 0, held: 0 },
    budget: { max: 100, windowMs: 10_000, used: 10, remaining: 90, blockedForMs: 0 },
    lastPull: null,
    ...over,
  };
}

function connector(over: Partial<ConnectorPageData> = {}): ConnectorPageData {
  return {
    id: 'crm',
    type: 'hubspot',
    displayName: null,
    capabilities: { pull: true, push: true, webhooks: true },
    schedule: { every: 300_000 },
    report: report(),
    deadLetters: [],
    runs: null,
    perMinute: Array.from({ length: 60 }, (_, i) => ({ at: NOW - (59 - i) * 60_000, in: i === 59 ? 7 : 0, out: i === 58 ? 3 : 0 })),
    ...over,
  };
}

describe('the chart', () => {
  it('scales its axis to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 2, 3, 7, 10, 11, 42, 101, 999].map(niceCeiling)).toEqual([1, 1, 2, 5, 10, 10, 20, 50, 200, 1000]);
  });
  it('draws the first minute at the left of the plot, the last at the right, the top of the axis at the top', () => {
    expect(polylinePoints([0, 5, 10], 10)).toBe('36.0,138.0 314.0,74.0 592.0,10.0');
  });
});

describe('the operations page', () => {
  it('says what a connector needs first: parked, then a failing pull, then dead letters', () => {
    const failing = {
      finishedAt: new Date(NOW).toISOString(),
      pages: 0,
      records: 0,
      error: { name: 'AuthError', message: 'invalid token' },
    };
    expect(connectorState(report({ budget: { ...report().budget, blockedForMs: 5 }, lastPull: failing })).text).toBe('parked');
    expect(
      connectorState(report({ lastPull: failing, profiles: { connector: 'crm', dirty: 0, inflight: 0, retry: 0, dead: 2, held: 0 } })).text,
    ).toBe('pull failing');
    expect(connectorState(report({ profiles: { connector: 'crm', dirty: 0, inflight: 0, retry: 0, dead: 2, held: 0 } })).text).toBe(
      'dead letters',
    );
    expect(connectorState(report()).text).toBe('ok');
  });

  it('counts the pull lag from the last complete pull', () => {
    const at = (ms: number): string => new Date(NOW - ms).toISOString();
    expect(pullLagMs(report({ lastPull: { finishedAt: at(60_000), pages: 1, records: 1, error: null } }), NOW)).toBe(60_000);
    expect(
      pullLagMs(
        report({
          lastPull: { finishedAt: at(1_000), pages: 0, records: 0, error: { name: 'E', message: 'm' }, succeededAt: at(7_200_000) },
        }),
        NOW,
      ),
    ).toBe(7_200_000);
    expect(
      pullLagMs(report({ lastPull: { finishedAt: at(1_000), pages: 0, records: 0, error: { name: 'E', message: 'm' } } }), NOW),
    ).toBeNull();
    expect([42_000, 185_000, 7_440_000, 3 * 86_400_000].map(duration)).toEqual(['42 s', '3 min 5 s', '2 h 4 min', '3 d 0 h']);
  });

  it('renders state, errors, runs and totals, escaping what systems and operators wrote', () => {
    const page = renderAdminPage({
      now: NOW,
      links: { queueBoard: '/admin/queues', apiDocs: '/api/v1/docs' },
      connectors: [
        connector({
          displayName: 'CRM <prod>',
          report: report({
            lastPull: {
              finishedAt: new Date(NOW - 120_000).toISOString(),
              pages: 2,
              records: 40,
              error: { name: 'TransientError', code: 'http_503', message: '<script>alert(1)</script>' },
              succeededAt: new Date(NOW - 3_600_000).toISOString(),
            },
            budget: { max: 100, windowMs: 10_000, used: 100, remaining: 0, blockedForMs: 90_000 },
          }),
          deadLetters: [
            { profileId: 'p-1', kind: 'rejected', code: 'INVALID', reason: 'bad "value" & more', at: new Date(NOW).toISOString() },
          ],
          runs: [
            {
              kind: 'pull',
              status: 'failed',
              startedAt: new Date(NOW - 130_000).toISOString(),
              endedAt: new Date(NOW - 120_000).toISOString(),
              counts: { read: 40, changed: 3, failed: 0 },
              error: 'HTTP 503',
            },
          ],
        }),
      ],
    });
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('CRM &lt;prod&gt; <span class="muted">crm, hubspot</span>');
    expect(page).toContain('bad &quot;value&quot; &amp; more');
    expect(page).toContain('<span class="state bad">parked</span>');
    expect(page).toContain('2026-12-05 12:01:30 UTC</time> <span class="muted">(in 1 min 30 s)</span>');
    expect(page).toContain('<dt>Pull lag</dt><dd>1 h <span class="muted">(every 5 min)</span>');
    expect(page).toContain('<td>failed: <span class="muted">HTTP 503</span></td><td>read 40, changed 3</td>');
    expect(page).toMatch(
      /<li>pull run, <time[^>]*>2026-12-05 11:57:50 UTC<\/time> <span class="muted">\(2 min 10 s ago\)<\/span>, failed: HTTP 503<\/li>/,
    );
    expect(page).toContain('<td class="n">7 / 3</td>');
    expect(page).toContain('<a href="/admin/queues">Queue board</a>');
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('says how many creates wait for the first pull, only when some do', () => {
    const page = (held: number) =>
      renderAdminPage({
        now: NOW,
        links: { queueBoard: null, apiDocs: '/api/v1/docs' },
        connectors: [connector({ report: report({ profiles: { connector: 'crm', dirty: 3, inflight: 1, retry: 0, dead: 0, held } }) })],
      });
    expect(page(2)).toContain('<dd>3 waiting, 1 in flight, 0 retrying, 2 to create after the first pull</dd>');
    expect(page(0)).toContain('<dd>3 waiting, 1 in flight, 0 retrying</dd>');
  });

  it('allows its own style by hash and nothing else', () => {
    expect(ADMIN_PAGE_CSP).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; base-uri 'none'; form-action 'none'/);
    expect(ADMIN_PAGE_CSP).not.toContain('script-src');
  });
});

/**
 * One metrics registry: what the connectors measure (rate-limit budgets, daily allowances,
 * limit hits) is served on /metrics beside the engine's and the HTTP server's metrics, and two
 * hubs in one process keep their metrics apart without clashing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/free-port.js';
import { waitFor } from '../../harness/sync-hub.js';
import { KEYS, startOperatorHub } from './operator-hub.js';
import type { OperatorHub } from './operator-hub.js';

/** The value of a sample `name{instance="<instance>"}` in a Prometheus text exposition. */
function sample(text: string, name: string, instance: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`instance="${instance}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The names of the metrics the hub defines: every `counterOn`/`gaugeOn`/`histogramOn` call of src/ and connectors/ (emulators and tests aside). */
function definedMetricNames(): string[] {
  const names = new Set<string>();
  for (const dir of ['src', 'connectors']) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts') || path.split(/[\\/]/).includes('emulator'))
        continue;
      const text = readFileSync(path, 'utf8');
      const found = [...text.matchAll(/\b(?:counterOn|gaugeOn|histogramOn)\(\s*[\w.]+,\s*\{\s*name: '([^']+)'/g)].map(
        (m) => m[1] as string,
      );
      // A definition this reader cannot see (a name that is not a literal) would go unchecked.
      expect(found.length, `${path}: every metric definition names its metric with a literal`).toBe(
        [...text.matchAll(/\b(?:counterOn|gaugeOn|histogramOn)\(/g)].length,
      );
      for (const name of found) names.add(name);
    }
  }
  return [...names].sort();
}

async function scrape(op: OperatorHub): Promise<string> {
  const res = await fetch(`${op.hub.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('/metrics of a running hub', () => {
  const hubs: OperatorHub[] = [];
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
  });

  it("serves each connector's rate-limit metrics by name, per hub, for two hubs in one process", async () => {
    const first = await startOperatorHub({ hubspot: { rateLimit: { daily: 500 } } });
    hubs.push(first);
    const second = await startOperatorHub();
    hubs.push(second);
    first.salesforce.sideDoor.setDailyLimit(15_000, 100);
    second.salesforce.sideDoor.setDailyLimit(40_000, 0);
    for (const op of [first, second]) {
      await op.createPerson('ada@example.com', 'Lovelace');
      await waitFor(
        () =>
          op.hubspot.sideDoor.findByEmail('ada@example.com') !== undefined &&
          op.salesforce.sideDoor.findByEmail('ada@example.com') !== undefined,
        20_000,
        'Ada in both systems',
      );
    }

    const text = await scrape(first);
    // HubSpot: the 10-second rolling budget and the daily allowance left, from its headers.
    expect(sample(text, 'concord_hubspot_rate_limit_remaining', 'hubspot')).toBeGreaterThan(0);
    const daily = sample(text, 'concord_hubspot_daily_remaining', 'hubspot');
    expect(daily).toBeGreaterThan(0);
    expect(daily).toBeLessThan(500);
    expect(text).toContain('# TYPE concord_hubspot_daily_limit_reached_total counter');
    // Salesforce: the org's daily API allowance left (Sforce-Limit-Info).
    const left = sample(text, 'concord_salesforce_api_requests_remaining', 'salesforce');
    expect(left).toBeGreaterThan(14_000);
    expect(left).toBeLessThan(14_900);
    expect(text).toContain('# TYPE concord_salesforce_request_limit_exceeded_total counter');
    // The engine's and the server's metrics are still there.
    expect(text).toContain('concord_sync_pushes_total{');
    expect(text).toContain('# TYPE concord_http_webhooks_total counter');

    // The second hub serves the same metrics with its own systems' values.
    const other = await scrape(second);
    expect(sample(other, 'concord_hubspot_daily_remaining', 'hubspot')).toBeGreaterThan(500);
    expect(sample(other, 'concord_salesforce_api_requests_remaining', 'salesforce')).toBeGreaterThan(39_000);
  }, 60_000);

  it('serves every metric family the code defines (names read from the definitions in src/ and connectors/)', async () => {
    const defined = definedMetricNames();
    expect(defined.length).toBeGreaterThan(15);
    // Every built-in connector, so that each one's metrics exist.
    const op = await startOperatorHub({ mailchimp: true });
    hubs.push(op);
    // Connector metrics are registered when an instance first exists: let every system see a push.
    await op.createPerson('grace@example.com', 'Hopper');
    await waitFor(
      () =>
        op.hubspot.sideDoor.findByEmail('grace@example.com') !== undefined &&
        op.salesforce.sideDoor.findByEmail('grace@example.com') !== undefined &&
        op.mailchimp?.sideDoor.member('grace@example.com') !== undefined,
      20_000,
      'Grace in every system',
    );
    const text = await scrape(op);
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    expect(defined.filter((name) => !families.has(name))).toEqual([]);
  }, 60_000);

  it('serves /metrics only on hub.metrics.listen, and only with its bearer token, when the YAML says so', async () => {
    const token = 'metrics-token-0123456789abcdef0123456789';
    const port = await freePort();
    const op = await startOperatorHub({
      extra: { hub: `  metrics: { token: "\${env:T_METRICS_TOKEN}", listen: { host: 127.0.0.1, port: ${port} } }\n` },
      env: { T_METRICS_TOKEN: token },
    });
    hubs.push(op);
    // Not on the public listener at all.
    expect((await fetch(`${op.hub.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    expect(op.hub.metricsUrl).toBe(`http://127.0.0.1:${port}`);
    const url = `http://127.0.0.1:${port}/metrics`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="concord metrics"');
    expect(await anonymous.json()).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect((await fetch(url, { headers: { authorization: 'Bearer metrics-token-0123456789abcdef012345678X' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${KEYS.admin}` } })).status).toBe(401);
    const scraped = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('# TYPE concord_http_webhooks_total counter');
    // The metrics listener serves nothing else.
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/connectors`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).status).toBe(
      404,
    );
  }, 60_000);
});

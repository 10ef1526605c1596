/**
 * The monitoring files of deploy/: the Prometheus alert rules (deploy/prometheus/alerts.yml) and
 * the Grafana dashboard (deploy/grafana/concord.json). Every metric their expressions name is
 * served on /metrics by a running hub (every built-in connector of the operator hub having
 * pulled and pushed), and the rules file is valid: `promtool check rules` and its rule tests
 * (deploy/prometheus/alerts.test.yml) where promtool is installed (Debian's `prometheus`
 * package), and always a schema check of its structure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { waitFor } from '../../harness/sync-hub.js';
import { startOperatorHub } from './operator-hub.js';
import type { OperatorHub } from './operator-hub.js';

const RULES = 'deploy/prometheus/alerts.yml';
const RULE_TESTS = 'deploy/prometheus/alerts.test.yml';
const DASHBOARD = 'deploy/grafana/concord.json';

/** The structure of a Prometheus rules file (alerting rules only), as `promtool check rules` reads it. */
const Duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/);
const RulesFile = z.strictObject({
  groups: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        interval: Duration.optional(),
        rules: z
          .array(
            z.strictObject({
              alert: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
              expr: z.string().min(1),
              for: Duration.optional(),
              labels: z.record(z.string(), z.string()).optional(),
              annotations: z.record(z.string(), z.string()).optional(),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});

/** PromQL's functions, aggregations, keywords and operators' words: identifiers that are not metrics. */
const PROMQL_WORDS = new Set(
  (
    'sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left group_right ' +
    'and or unless bool offset rate irate increase delta idelta deriv predict_linear histogram_quantile abs ceil floor round ' +
    'clamp clamp_min clamp_max time timestamp vector scalar label_replace label_join absent absent_over_time changes resets ' +
    'sort sort_desc sum_over_time avg_over_time max_over_time min_over_time count_over_time last_over_time label_values inf nan'
  ).split(' '),
);
/** Series Prometheus makes itself (not served by the hub). */
const PROMETHEUS_OWN = new Set(['up']);

/** The metric names a PromQL expression (or a Grafana `label_values(...)` query) reads. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    // label_values(metric, label): the label is not a metric.
    .replace(/label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*\w+\s*\)/g, '$1')
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, '');
  const words = bare.match(/[A-Za-z_:][\w:]*/g) ?? [];
  return words.filter((w) => !PROMQL_WORDS.has(w) && !PROMETHEUS_OWN.has(w));
}

function ruleExpressions(): { alert: string; expr: string }[] {
  const file = RulesFile.parse(parse(readFileSync(RULES, 'utf8')));
  return file.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: r.expr })));
}

const Dashboard = z.object({
  title: z.string(),
  uid: z.string(),
  panels: z.array(z.object({ id: z.number(), title: z.string(), targets: z.array(z.object({ expr: z.string().min(1) })).min(1) })),
  templating: z.object({ list: z.array(z.object({ name: z.string(), query: z.unknown().optional() })) }),
});

function dashboardExpressions(): { where: string; expr: string }[] {
  const dashboard = Dashboard.parse(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
  const targets = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr })));
  const variables = dashboard.templating.list.flatMap((v) => {
    const q = v.query;
    const text = typeof q === 'string' ? q : typeof q === 'object' && q !== null && 'query' in q ? String(q.query) : '';
    return text.includes('(') ? [{ where: `$${v.name}`, expr: text }] : [];
  });
  return [...targets, ...variables];
}

/** The families a /metrics text serves, and which are histograms. */
function families(text: string): { names: Set<string>; histograms: Set<string> } {
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
  return {
    names: new Set(types.map((m) => m[1] as string)),
    histograms: new Set(types.filter((m) => m[2] === 'histogram').map((m) => m[1] as string)),
  };
}

function isServed(name: string, served: ReturnType<typeof families>): boolean {
  if (served.names.has(name)) return true;
  const histogram = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1];
  return histogram !== undefined && served.histograms.has(histogram);
}

function promtool(): boolean {
  return spawnSync('promtool', ['--version']).status === 0;
}

describe('metric names in PromQL', () => {
  it('are the series an expression reads, not its functions, labels, ranges or numbers', () => {
    expect(metricNames('delta(concord_sync_profiles{set="dead"}[15m]) > 0')).toEqual(['concord_sync_profiles']);
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, connector) (rate(concord_sync_webhook_to_delivered_seconds_bucket{connector=~"$c"}[5m])))',
      ),
    ).toEqual(['concord_sync_webhook_to_delivered_seconds_bucket']);
    expect(metricNames('a_total{x="or y"} / b_limit < 0.1 or up{job="concord"} == 0')).toEqual(['a_total', 'b_limit']);
    expect(metricNames('label_values(concord_sync_profiles, connector)')).toEqual(['concord_sync_profiles']);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('has the structure of a rules file, and an alert for each thing an operator must hear of', () => {
    const names = ruleExpressions().map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'ConcordDeadLettersGrowing',
        'ConcordConnectorParked',
        'ConcordPullLagHigh',
        'ConcordDsrOverdue',
        'ConcordRateLimitBudgetLow',
        'ConcordRedisUnreachable',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it.runIf(promtool())('passes promtool check rules and the rule tests of alerts.test.yml', () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain('SUCCESS');
    expect(check.status).toBe(0);
    const tests = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    expect(tests.stdout + tests.stderr).toContain('SUCCESS');
    expect(tests.status).toBe(0);
  });

  it.runIf(promtool())('fails promtool on a broken expression (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-rules-'));
    try {
      const broken = join(dir, 'alerts.yml');
      writeFileSync(broken, readFileSync(RULES, 'utf8').replace('concord_redis_up == 0', 'concord_redis_up == == 0'));
      expect(spawnSync('promtool', ['check', 'rules', broken]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every metric the alert rules and the dashboard use is served on /metrics', () => {
  let op: OperatorHub;
  beforeAll(async () => {
    op = await startOperatorHub({ mailchimp: true });
    // Every system sees a push (connector metrics and budgets exist once an instance has called),
    // and HubSpot a complete pull (its lag).
    await op.createPerson('ada@example.com', 'Lovelace');
    await waitFor(
      () =>
        op.hubspot.sideDoor.findByEmail('ada@example.com') !== undefined &&
        op.salesforce.sideDoor.findByEmail('ada@example.com') !== undefined &&
        op.mailchimp?.sideDoor.member('ada@example.com') !== undefined,
      20_000,
      'Ada in every system',
    );
    await op.hub.engine.pullNow('hubspot');
    await waitFor(async () => (await op.hub.engine.connectorStatus('hubspot')).lastPull?.error === null, 20_000, 'a HubSpot pull');
  }, 60_000);
  afterAll(async () => {
    await op.close();
  });

  it('serves the families of both files, with the state gauges set', async () => {
    const res = await fetch(`${op.hub.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const served = families(text);
    const used = [
      ...ruleExpressions().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ...dashboardExpressions().map((d) => ({ where: `panel ${d.where}`, expr: d.expr })),
    ];
    const missing = used.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !isServed(n, served))
        .map((n) => `${where}: ${n}`),
    );
    expect(missing).toEqual([]);
    expect(used.flatMap((u) => metricNames(u.expr)).length).toBeGreaterThan(20);

    expect(text).toMatch(/^concord_redis_up 1$/m);
    expect(text).toMatch(/^concord_connector_pull_lag_seconds\{connector="hubspot"\} \d/m);
    expect(text).toMatch(/^concord_connector_last_pull_failed\{connector="hubspot"\} 0$/m);
    expect(text).toMatch(/^concord_connector_parked_seconds\{connector="salesforce"\} 0$/m);
    expect(text).toMatch(/^concord_connector_call_budget_remaining_ratio\{connector="mailchimp"\} (0\.\d+|1)$/m);
    // Salesforce reports its org's daily allowance (Sforce-Limit-Info) with every answer.
    expect(text).toMatch(/^concord_connector_budget_limit\{connector="salesforce",window="DAILY"\} \d+$/m);
    expect(text).toMatch(/^concord_connector_budget_remaining\{connector="salesforce",window="DAILY"\} \d+$/m);
  });
});

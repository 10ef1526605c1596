/** The HTTP surface's own Prometheus metrics, registered beside the engine's in one registry. */
import { collectDefaultMetrics } from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { counterOn, gaugeOn, histogramOn } from '../connector/metrics.js';
import type { ConnectorReport, SyncConnector } from '../sync/index.js';
import type { ServerEngine } from './deps.js';

export interface HttpMetrics {
  webhooks: Counter<'connector' | 'status'>;
  webhookSeconds: Histogram<'connector'>;
  preferenceChanges: Counter<'kind'>;
}

/** Creates the metrics, or returns those already in the registry (several servers may share one in tests). */
export function httpMetrics(registry: Registry): HttpMetrics {
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry, prefix: '' });
  return {
    webhooks: counterOn(registry, {
      name: 'concord_http_webhooks_total',
      help: 'Webhook requests per connector and HTTP status answered.',
      labelNames: ['connector', 'status'] as const,
    }),
    webhookSeconds: histogramOn(registry, {
      name: 'concord_http_webhook_seconds',
      help: 'Time to verify, parse and enqueue one webhook request.',
      labelNames: ['connector'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    }),
    preferenceChanges: counterOn(registry, {
      name: 'concord_preference_center_changes_total',
      help: 'Choices changed in the preference center, per kind (consent, topic).',
      labelNames: ['kind'] as const,
    }),
  };
}

/** What the state gauges read at scrape time: the connectors, the engine's view of each, Redis. */
export interface StateSource {
  connectors: readonly Pick<SyncConnector, 'id' | 'capabilities'>[];
  engine: Pick<ServerEngine, 'connectorStatus'>;
  /** False while this process's Redis connections are down. */
  redisReady(): boolean;
  now(): number;
}

/**
 * Gauges of the hub's state, read when scraped (at most every 250 ms): Redis reachable, and per
 * connector the pull lag, whether its last pull failed, the time left on a rate-limit park and
 * the share of the hub's call budget left. The alert rules (`deploy/prometheus/alerts.yml`) and
 * the Grafana dashboard use them. While Redis is down only `concord_redis_up` (0) is served.
 */
export function registerStateMetrics(registry: Registry, source: StateSource): void {
  let pending: { at: number; reports: Promise<ConnectorReport[] | null> } | null = null;
  const reports = (): Promise<ConnectorReport[] | null> => {
    if (!pending || Date.now() - pending.at > 250) {
      pending = {
        at: Date.now(),
        reports: source.redisReady()
          ? Promise.all(source.connectors.map((c) => source.engine.connectorStatus(c.id, source.now()))).catch(() => null)
          : Promise.resolve(null),
      };
    }
    return pending.reports;
  };
  const perConnector = (gauge: Gauge<'connector'>, value: (report: ConnectorReport) => number | null): Promise<void> =>
    reports().then((all) => {
      gauge.reset();
      for (const report of all ?? []) {
        const v = value(report);
        if (v !== null) gauge.set({ connector: report.connector }, v);
      }
    });
  const pulls = new Set(source.connectors.filter((c) => c.capabilities.pull).map((c) => c.id));
  gaugeOn(registry, {
    name: 'concord_redis_up',
    help: "1 while this process's Redis connections are up, 0 while Redis is unreachable.",
    collect() {
      this.set(source.redisReady() ? 1 : 0);
    },
  });
  gaugeOn(registry, {
    name: 'concord_connector_pull_lag_seconds',
    help: 'Seconds since the last pull that read everything ended, per connector that pulls (absent before its first).',
    labelNames: ['connector'] as const,
    async collect() {
      await perConnector(this, (r) => {
        const at = r.lastPull?.succeededAt ?? (r.lastPull?.error === null ? r.lastPull.finishedAt : undefined);
        return pulls.has(r.connector) && at !== undefined ? Math.max(0, (source.now() - Date.parse(at)) / 1000) : null;
      });
    },
  });
  gaugeOn(registry, {
    name: 'concord_connector_last_pull_failed',
    help: 'Per connector that pulls: 1 when its last pull ended in an error, 0 when it read everything (absent before its first).',
    labelNames: ['connector'] as const,
    async collect() {
      await perConnector(this, (r) => (r.lastPull ? (r.lastPull.error === null ? 0 : 1) : null));
    },
  });
  gaugeOn(registry, {
    name: 'concord_connector_parked_seconds',
    help: 'Seconds left on the rate-limit park of a connector (a 429 Retry-After or a spent allowance); 0 when not parked.',
    labelNames: ['connector'] as const,
    async collect() {
      await perConnector(this, (r) => r.budget.blockedForMs / 1000);
    },
  });
  gaugeOn(registry, {
    name: 'concord_connector_call_budget_remaining_ratio',
    help: "Share of the hub's own call budget towards a system (limits.requestsPerWindow) left in the current window, 0 to 1.",
    labelNames: ['connector'] as const,
    async collect() {
      await perConnector(this, (r) => (r.budget.max > 0 ? r.budget.remaining / r.budget.max : null));
    },
  });
}

/** The HTTP surface's own Prometheus metrics, registered beside the engine's in one registry. */
import { collectDefaultMetrics, Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export interface HttpMetrics {
  webhooks: Counter<'connector' | 'status'>;
  webhookSeconds: Histogram<'connector'>;
  preferenceChanges: Counter<'kind'>;
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/** Creates the metrics, or returns those already in the registry (several servers may share one in tests). */
export function httpMetrics(registry: Registry): HttpMetrics {
  if (!existing(registry, 'process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry, prefix: '' });
  return {
    webhooks:
      existing(registry, 'concord_http_webhooks_total') ??
      new Counter({
        name: 'concord_http_webhooks_total',
        help: 'Webhook requests per connector and HTTP status answered.',
        labelNames: ['connector', 'status'] as const,
        registers: [registry],
      }),
    webhookSeconds:
      existing(registry, 'concord_http_webhook_seconds') ??
      new Histogram({
        name: 'concord_http_webhook_seconds',
        help: 'Time to verify, parse and enqueue one webhook request.',
        labelNames: ['connector'] as const,
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        registers: [registry],
      }),
    preferenceChanges:
      existing(registry, 'concord_preference_center_changes_total') ??
      new Counter({
        name: 'concord_preference_center_changes_total',
        help: 'Choices changed in the preference center, per kind (consent, topic).',
        labelNames: ['kind'] as const,
        registers: [registry],
      }),
  };
}

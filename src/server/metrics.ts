/** The HTTP surface's own Prometheus metrics, registered beside the engine's in one registry. */
import { collectDefaultMetrics } from 'prom-client';
import type { Counter, Histogram, Registry } from 'prom-client';
import { counterOn, histogramOn } from '../connector/metrics.js';

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

/** Metrics of outbound webhooks, on the hub's registry, labelled by `endpoint` (the connector instance). */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { counterOn, gaugeOn, histogramOn } from '../../connector/metrics.js';

export interface WebhooksOutMetrics {
  delivered: Counter<'endpoint'>;
  failedAttempts: Counter<'endpoint'>;
  dead: Counter<'endpoint'>;
  pending: Gauge<'endpoint'>;
  /** Enqueue to delivered. */
  latency: Histogram<'endpoint'>;
}

/**
 * The metrics on `registry`; `pending` reads the pending messages per endpoint at scrape time
 * (the endpoints of `endpoints` with none read 0).
 */
export function createWebhooksOutMetrics(
  registry: Registry,
  pendingSource: () => Promise<Map<string, number>>,
  endpoints: readonly string[],
): WebhooksOutMetrics {
  return {
    delivered: counterOn(registry, {
      name: 'concord_webhooks_out_delivered_total',
      help: 'Outbound webhook messages delivered (answered 2xx), per endpoint.',
      labelNames: ['endpoint'] as const,
    }),
    failedAttempts: counterOn(registry, {
      name: 'concord_webhooks_out_failed_attempts_total',
      help: 'Outbound webhook attempts that failed (non-2xx, redirect, timeout, refused address), per endpoint.',
      labelNames: ['endpoint'] as const,
    }),
    dead: counterOn(registry, {
      name: 'concord_webhooks_out_dead_total',
      help: 'Outbound webhook messages dead-lettered after the last step of their retry schedule, per endpoint.',
      labelNames: ['endpoint'] as const,
    }),
    pending: gaugeOn(registry, {
      name: 'concord_webhooks_out_pending',
      help: 'Outbound webhook messages waiting for delivery (including those of a disabled endpoint), per endpoint.',
      labelNames: ['endpoint'] as const,
      async collect() {
        const counts = await pendingSource().catch(() => null);
        if (!counts) return;
        this.reset();
        for (const endpoint of endpoints) this.set({ endpoint }, counts.get(endpoint) ?? 0);
      },
    }),
    latency: histogramOn(registry, {
      name: 'concord_webhooks_out_delivery_seconds',
      help: 'Time from enqueueing an outbound webhook message to its delivery, per endpoint.',
      labelNames: ['endpoint'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 1_800, 7_200, 86_400],
    }),
  };
}

/**
 * The engine's Prometheus metrics. The registry is passed in (the server exposes it later);
 * without one the engine uses its own. Metrics already on the registry (another engine on the
 * same registry) are shared rather than registered twice; their depth gauges read the first
 * engine's depths.
 */
import { Registry } from 'prom-client';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { counterOn, gaugeOn, histogramOn } from '../connector/metrics.js';

export interface SyncMetrics {
  registry: Registry;
  changesIngested: Counter<'connector'>;
  pushes: Counter<'connector' | 'outcome'>;
  apiCalls: Counter<'connector' | 'operation'>;
  rateLimited: Counter<'connector'>;
  /** Records dropped because an identity they carry is on the suppression list (erased people). */
  suppressed: Counter<'connector'>;
  queueDepth: Gauge<'queue' | 'state'>;
  workDepth: Gauge<'connector' | 'set'>;
  deliveryLag: Histogram<'connector'>;
  /** Where the depth gauges read from at scrape time. */
  setDepthSource(src: DepthSource): void;
}

/** Something that can report depths when metrics are scraped. */
export type DepthSource = () => Promise<{
  queues: { queue: string; state: string; count: number }[];
  work: { connector: string; set: string; count: number }[];
}>;

export function createSyncMetrics(registry: Registry = new Registry()): SyncMetrics {
  let depthSource: DepthSource | null = null;
  // One fetch serves both gauges of a scrape (prom-client may collect them concurrently).
  let pending: { at: number; depths: ReturnType<DepthSource> } | null = null;
  const refresh = async (): Promise<Awaited<ReturnType<DepthSource>> | null> => {
    if (!depthSource) return null;
    if (!pending || Date.now() - pending.at > 250) pending = { at: Date.now(), depths: depthSource() };
    return pending.depths;
  };
  const metrics = {
    registry,
    changesIngested: counterOn(registry, {
      name: 'concord_sync_changes_ingested_total',
      help: 'External records that changed the hub profile, per source connector.',
      labelNames: ['connector'] as const,
    }),
    pushes: counterOn(registry, {
      name: 'concord_sync_pushes_total',
      help: 'Pushed records per connector and outcome (ok, retryable, rejected).',
      labelNames: ['connector', 'outcome'] as const,
    }),
    apiCalls: counterOn(registry, {
      name: 'concord_sync_api_calls_total',
      help: 'Calls to external systems per connector and operation (push, pull, read).',
      labelNames: ['connector', 'operation'] as const,
    }),
    rateLimited: counterOn(registry, {
      name: 'concord_sync_rate_limited_total',
      help: 'Answers 429 (rate limited) per connector.',
      labelNames: ['connector'] as const,
    }),
    suppressed: counterOn(registry, {
      name: 'concord_sync_suppressed_total',
      help: 'Records and patches dropped because they carry an identity of an erased person (suppression list), per source.',
      labelNames: ['connector'] as const,
    }),
    queueDepth: gaugeOn(registry, {
      name: 'concord_sync_queue_jobs',
      help: 'Jobs per queue and state.',
      labelNames: ['queue', 'state'] as const,
      async collect() {
        const depths = await refresh();
        if (!depths) return;
        this.reset();
        for (const q of depths.queues) this.set({ queue: q.queue, state: q.state }, q.count);
      },
    }),
    workDepth: gaugeOn(registry, {
      name: 'concord_sync_profiles',
      help: 'Profiles per connector waiting to be pushed (dirty), in flight, backing off (retry) or dead-lettered.',
      labelNames: ['connector', 'set'] as const,
      async collect() {
        const depths = await refresh();
        if (!depths) return;
        this.reset();
        for (const w of depths.work) this.set({ connector: w.connector, set: w.set }, w.count);
      },
    }),
    deliveryLag: histogramOn(registry, {
      name: 'concord_sync_webhook_to_delivered_seconds',
      help: 'Time from receiving a change (webhook or pull) to delivering it to a target system.',
      labelNames: ['connector'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    }),
  };
  return {
    ...metrics,
    setDepthSource(src: DepthSource) {
      depthSource = src;
    },
  };
}

/** The rate-limit budgets connectors report from their systems' answers (`ConnectorContext.reportBudget`). */
export interface BudgetMetrics {
  remaining: Gauge<'connector' | 'window'>;
  limit: Gauge<'connector' | 'window'>;
}

/** The budget gauges on `registry` (created on first use, shared by every instance). */
export function budgetMetrics(registry: Registry): BudgetMetrics {
  return {
    remaining: gaugeOn(registry, {
      name: 'concord_connector_budget_remaining',
      help: "Calls left in a system's own rate-limit window as it last reported (window: DAILY, TEN_SECONDLY_ROLLING...), per connector.",
      labelNames: ['connector', 'window'] as const,
    }),
    limit: gaugeOn(registry, {
      name: 'concord_connector_budget_limit',
      help: "Calls a system's rate-limit window allows as it last reported, per connector and window (absent when the system does not say).",
      labelNames: ['connector', 'window'] as const,
    }),
  };
}

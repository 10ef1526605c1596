/**
 * Prometheus metrics of data-subject requests: requests received, open and overdue requests,
 * failing requests and systems, and how long erasures take. Gauges are read from the store
 * when scraped (at most once a second).
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { counterOn, gaugeOn, histogramOn } from '../connector/metrics.js';
import type { DataSubjectRequest, Store } from '../store/types.js';
import { isOverdue } from './deadline.js';

export interface PrivacyMetrics {
  registry: Registry;
  requests: Counter<'kind' | 'origin'>;
  systemOutcomes: Counter<'kind' | 'connector' | 'outcome'>;
  erasureSeconds: Histogram<'origin'>;
  retentionSelected: Gauge<'rule'>;
}

interface Snapshot {
  open: DataSubjectRequest[];
  failed: DataSubjectRequest[];
}

export function createPrivacyMetrics(registry: Registry, store: Store, now: () => Date): PrivacyMetrics {
  let pending: { at: number; snapshot: Promise<Snapshot> } | null = null;
  const snapshot = (): Promise<Snapshot> => {
    if (!pending || Date.now() - pending.at > 1_000) {
      pending = {
        at: Date.now(),
        snapshot: (async () => ({
          open: [...(await store.listDsr({ status: 'received' })), ...(await store.listDsr({ status: 'in_progress' }))],
          failed: await store.listDsr({ status: 'failed' }),
        }))(),
      };
    }
    return pending.snapshot;
  };
  gaugeOn(registry, {
    name: 'concord_dsr_open',
    help: 'Data-subject requests not yet answered, per kind and status (received, in_progress).',
    labelNames: ['kind', 'status'] as const,
    async collect() {
      const { open } = await snapshot();
      this.reset();
      for (const r of open) this.inc({ kind: r.kind, status: r.status });
    },
  });
  gaugeOn(registry, {
    name: 'concord_dsr_overdue',
    help: 'Open data-subject requests past their deadline (one month, or the recorded extension), per kind.',
    labelNames: ['kind'] as const,
    async collect() {
      const { open } = await snapshot();
      this.reset();
      const at = now();
      for (const r of open) if (isOverdue(r, at)) this.inc({ kind: r.kind });
    },
  });
  gaugeOn(registry, {
    name: 'concord_dsr_failing',
    help: 'Data-subject requests that failed, or are in progress with a system failing, per kind.',
    labelNames: ['kind'] as const,
    async collect() {
      const { open, failed } = await snapshot();
      this.reset();
      for (const r of failed) this.inc({ kind: r.kind });
      for (const r of open) if (r.systems.some((s) => s.status === 'failed' || s.error !== null)) this.inc({ kind: r.kind });
    },
  });
  gaugeOn(registry, {
    name: 'concord_dsr_systems_failing',
    help: 'Systems failing in open or failed data-subject requests (failed, or retrying after an error), per connector.',
    labelNames: ['connector'] as const,
    async collect() {
      const { open, failed } = await snapshot();
      this.reset();
      for (const r of [...open, ...failed]) {
        for (const s of r.systems)
          if (s.status === 'failed' || (s.error !== null && s.status !== 'completed')) this.inc({ connector: s.connector });
      }
    },
  });
  return {
    registry,
    requests: counterOn(registry, {
      name: 'concord_dsr_requests_total',
      help: 'Data-subject requests received, per kind and origin (api, cli, preference_center, or the connector that asked).',
      labelNames: ['kind', 'origin'] as const,
    }),
    systemOutcomes: counterOn(registry, {
      name: 'concord_dsr_system_outcomes_total',
      help: 'Per-system outcomes of data-subject requests (erased, not_found, delivered, not_held, exported, failed, retry, pending: a system accepted an erasure it carries out later).',
      labelNames: ['kind', 'connector', 'outcome'] as const,
    }),
    erasureSeconds: histogramOn(registry, {
      name: 'concord_dsr_erasure_seconds',
      help: 'Time from receiving an erasure request to every system done and the store emptied.',
      labelNames: ['origin'] as const,
      buckets: [1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86_400, 7 * 86_400],
    }),
    retentionSelected: gaugeOn(registry, {
      name: 'concord_retention_selected',
      help: 'Profiles each retention rule selected in its last run (a report rule keeps them; an erase rule erases them).',
      labelNames: ['rule'] as const,
    }),
  };
}

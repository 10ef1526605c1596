/**
 * Metrics on a given registry (the hub's, served on /metrics), never on prom-client's global
 * one. A metric is created once per registry and shared afterwards, so two instances of one
 * connector type (or two engines on one registry) register the same name without clashing.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration, Registry } from 'prom-client';

/** A metric of that name and kind already on the registry, or the one `create` makes. */
function metricOn<M extends Counter | Gauge | Histogram>(
  registry: Registry,
  name: string,
  kind: abstract new (...args: never[]) => M,
  create: () => M,
): M {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (existing instanceof kind) return existing;
  throw new MetricKindError(name);
}

/** Two parts of the hub define one metric name as different kinds (a programming error). */
export class MetricKindError extends Error {
  readonly code = 'metrics.kind_mismatch';
  constructor(name: string) {
    super(`metric ${name} is already registered as another kind`);
    this.name = 'MetricKindError';
  }
}

/** The counter `name` on `registry`, created on first use. */
export function counterOn<L extends string>(registry: Registry, config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  return metricOn(registry, config.name, Counter, () => new Counter({ ...config, registers: [registry] })) as Counter<L>;
}

/** The gauge `name` on `registry`, created on first use. */
export function gaugeOn<L extends string>(registry: Registry, config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  return metricOn(registry, config.name, Gauge, () => new Gauge({ ...config, registers: [registry] })) as Gauge<L>;
}

/** The histogram `name` on `registry`, created on first use. */
export function histogramOn<L extends string>(registry: Registry, config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  return metricOn(registry, config.name, Histogram, () => new Histogram({ ...config, registers: [registry] })) as Histogram<L>;
}

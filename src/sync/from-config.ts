/**
 * Builds the engine's inputs from a loaded `concord.yaml`: the connector instances (each
 * enabled instance bound to its definition, its own config keys, its compiled mapping, its
 * limits and its pull schedule), the merge policy, and the store's outbox targets. The engine
 * itself knows nothing of the YAML.
 */
import type { ConnectorDefinition } from '../connector/define.js';
import { compileMapping } from '../connector/mapping.js';
import { toMergePolicy } from '../config/policy.js';
import { ownConfig } from '../config/schema.js';
import type { Config, ConnectorConfig } from '../config/schema.js';
import type { MergePolicy } from '../profile/schema.js';
import { bindConnector } from './bind.js';
import type { PullSchedule, SyncConnector } from './bind.js';
import type { EngineOptions, EngineTuningInput } from './options.js';
import { createEngine } from './engine.js';
import type { Engine } from './engine.js';
import type { RedisTarget } from '../queue/redis-client.js';

/** A connector instance names a type no definition provides (the loader normally catches this). */
export class UnknownConnectorTypeError extends Error {
  readonly code = 'sync.unknown_connector_type';
  constructor(instance: string, type: string) {
    super(`connector ${instance}: unknown type ${type}`);
    this.name = 'UnknownConnectorTypeError';
  }
}

/** The instance's pull schedule, if it has one. */
export function scheduleOf(instance: ConnectorConfig): PullSchedule | undefined {
  if (instance.schedule?.every !== undefined) return { every: instance.schedule.every };
  if (instance.schedule?.cron !== undefined) return { cron: instance.schedule.cron };
  return undefined;
}

/** Every enabled connector instance of the config, bound for the engine. */
export function connectorsFromConfig(config: Config, definitions: readonly ConnectorDefinition[]): SyncConnector[] {
  const out: SyncConnector[] = [];
  for (const [id, instance] of Object.entries(config.connectors)) {
    if (!instance.enabled) continue;
    const definition = definitions.find((d) => d.type === instance.type);
    if (!definition) throw new UnknownConnectorTypeError(id, instance.type);
    const schedule = scheduleOf(instance);
    out.push(
      bindConnector({
        id,
        definition,
        // Already parsed by the loader with this type's configSchema (defaults filled in,
        // durations in ms): parsing it again would run its transforms twice.
        config: ownConfig(instance),
        mapping: compileMapping(definition, instance.mappings),
        limits: instance.limits,
        initialSync: instance.initialSync,
        ...(schedule ? { schedule } : {}),
      }),
    );
  }
  return out;
}

/** The engine tuning the YAML sets (`hub.sync`); everything else keeps the engine's defaults. */
export function engineTuningFromConfig(config: Config): EngineTuningInput {
  const { inflightLease, ingestLock, runRetention, historyRetention } = config.hub.sync;
  return { inflightLeaseMs: inflightLease, ingestLockMs: ingestLock, runRetentionMs: runRetention, historyRetentionMs: historyRetention };
}

/** The connectors that receive outbox rows: those that can be pushed to. */
export function outboxTargets(connectors: readonly SyncConnector[]): string[] {
  return connectors.filter((c) => c.capabilities.push).map((c) => c.id);
}

export interface SyncSetup {
  connectors: SyncConnector[];
  policy: MergePolicy;
  outboxTargets: string[];
  /** `hub.redisUrl`: a URL, a Cluster or a Sentinel group. */
  redis: RedisTarget;
  prefix: string;
}

/** Everything the store and the engine need from the config (the store itself is opened by the caller). */
export function syncSetupFromConfig(config: Config, definitions: readonly ConnectorDefinition[]): SyncSetup {
  const connectors = connectorsFromConfig(config, definitions);
  return {
    connectors,
    policy: toMergePolicy(config),
    outboxTargets: outboxTargets(connectors),
    redis: config.hub.redisUrl,
    prefix: config.hub.keyPrefix,
  };
}

/**
 * The engine `concord start` and the CLI commands open: on the hub's Redis and key prefix, with
 * the YAML's tuning (`hub.sync`) under any `tuning` given.
 */
export function engineFromConfig(
  config: Config,
  parts: Pick<EngineOptions, 'store' | 'connectors' | 'policy' | 'logger' | 'metrics'> & { tuning?: EngineTuningInput },
): Engine {
  const { tuning, ...rest } = parts;
  return createEngine({
    redis: config.hub.redisUrl,
    prefix: config.hub.keyPrefix,
    ...rest,
    tuning: { ...engineTuningFromConfig(config), ...tuning },
  });
}

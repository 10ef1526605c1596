/**
 * Connector instances from the loaded configuration, as the engine takes them.
 *
 * Stopgap: `src/sync/from-config.ts` (being written with the sync engine) is meant to own this;
 * once it lands, the app uses it and this file goes.
 */
import { builtinConnectors } from '../../connectors/index.js';
import type { ConnectorDefinition } from '../connector/define.js';
import { compileMapping } from '../connector/mapping.js';
import { CONNECTOR_COMMON_KEYS } from '../config/schema.js';
import type { Config } from '../config/schema.js';
import { bindConnector } from '../sync/bind.js';
import type { PullSchedule, SyncConnector } from '../sync/bind.js';

export function connectorsFromConfig(config: Config, definitions: readonly ConnectorDefinition[] = builtinConnectors): SyncConnector[] {
  const out: SyncConnector[] = [];
  for (const [id, instance] of Object.entries(config.connectors)) {
    if (!instance.enabled) continue;
    const definition = definitions.find((d) => d.type === instance.type);
    if (!definition) throw new Error(`connector ${id}: unknown type ${instance.type}`);
    const own = Object.fromEntries(Object.entries(instance).filter(([key]) => !(CONNECTOR_COMMON_KEYS as readonly string[]).includes(key)));
    const schedule: PullSchedule | undefined =
      instance.schedule?.every !== undefined ? { every: instance.schedule.every } : instance.schedule?.cron !== undefined ? { cron: instance.schedule.cron } : undefined;
    out.push(
      bindConnector({
        id,
        definition,
        config: definition.configSchema.parse(own),
        mapping: compileMapping(definition, instance.mappings),
        limits: instance.limits,
        ...(schedule ? { schedule } : {}),
      }),
    );
  }
  return out;
}

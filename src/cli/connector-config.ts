/**
 * What a command about one connector instance starts from (`concord unpark <id>`, `concord
 * connector setup <id>`): the config, loaded and its problems printed, and the instance's bound
 * connector; or a line naming the instances the file has.
 */
import { builtinConnectors } from '../../connectors/index.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { connectorsFromConfig, type SyncConnector } from '../sync/index.js';
import { resolveConfigPath } from './config-path.js';
import type { CliIo } from './io.js';
import { printErrors, printWarnings } from './report.js';

export interface LoadedConnector {
  file: string;
  config: Config;
  /** Every enabled instance of the file. */
  connectors: SyncConnector[];
  /** The one asked for. */
  connector: SyncConnector;
}

/** Loads the config (`--config`, `CONCORD_CONFIG` or the default) and finds instance `id`; undefined (reported) when either fails. */
export async function loadConnector(io: CliIo, command: string, id: string, configOption?: string): Promise<LoadedConnector | undefined> {
  const file = resolveConfigPath(configOption, io.env);
  const loaded = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
  if (!loaded.ok) {
    printErrors(io, loaded.errors);
    return undefined;
  }
  printWarnings(io, loaded.warnings);
  const connectors = connectorsFromConfig(loaded.config, builtinConnectors);
  const connector = connectors.find((c) => c.id === id);
  if (!connector) {
    io.error(`${command}: no enabled connector "${id}" in ${file} (known: ${connectors.map((c) => c.id).join(', ') || 'none'})`);
    return undefined;
  }
  return { file, config: loaded.config, connectors, connector };
}

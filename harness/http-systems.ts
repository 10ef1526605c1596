/**
 * The two example systems of the generic HTTP connector (`config/examples/http-crm.yaml`, a REST
 * CRM, and `config/examples/http-newsletter.yaml`, a newsletter tool) as tests and benchmarks use
 * them: the instance block loaded through the real config loader, pointed at a running HTTP
 * emulator, and split into the connector's own keys and its YAML mappings.
 */
import { readFile } from 'node:fs/promises';
import { builtinConnectors } from '../connectors/index.js';
import { HttpConfig } from '../connectors/http/config.js';
import { parseConfig } from '../src/config/load.js';
import { CONNECTOR_COMMON_KEYS } from '../src/config/schema.js';
import type { MappingEntry } from '../src/connector/mapping-schema.js';

export type ExampleSystem = 'crm' | 'newsletter';

const FILES: Record<ExampleSystem, string> = { crm: 'config/examples/http-crm.yaml', newsletter: 'config/examples/http-newsletter.yaml' };

/** The example instance `system`, at the emulator `emulatorUrl`, with the environment given (secrets, URLs). */
export interface ExampleInstance {
  /** The connector's own keys, parsed. */
  config: HttpConfig;
  /** The instance's `mappings`. */
  mappings: MappingEntry[];
}

/**
 * Loads the example instance of `system` with its base URL on the emulator at `emulatorUrl` (and its
 * `webhooksOut.url` on the emulator's inbox), plus `env` for anything else the file reads.
 */
export async function exampleInstance(
  system: ExampleSystem,
  emulatorUrl: string,
  env: Record<string, string> = {},
): Promise<ExampleInstance> {
  const file = FILES[system];
  const prefix = system === 'crm' ? '/crm/v1' : '/newsletter/api';
  const result = parseConfig(await readFile(file, 'utf8'), file, {
    connectors: builtinConnectors,
    env: {
      [system === 'crm' ? 'CRM_BASE_URL' : 'NEWSLETTER_BASE_URL']: `${emulatorUrl}${prefix}`,
      CRM_EVENTS_URL: `${emulatorUrl}/crm/v1/concord-events`,
      ...env,
    },
  });
  if (!result.ok) throw new Error(`${file}: ${result.errors.map(String).join('\n')}`);
  const block = result.config.connectors[system];
  if (block === undefined) throw new Error(`${file} has no connector ${system}`);
  const common: readonly string[] = CONNECTOR_COMMON_KEYS;
  const own = Object.fromEntries(Object.entries(block).filter(([key]) => !common.includes(key)));
  const config = HttpConfig.parse(own);
  return { config, mappings: [...block.mappings] };
}

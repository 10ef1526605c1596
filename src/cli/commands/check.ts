/**
 * `concord check [connector]`: the config is valid, and each connector instance (or the one
 * named) reaches its system with its credentials, by read-only calls (`ConnectorInstance.check`).
 * One line per check, ✔ or ✘; a ✘ names the config key to fix at file:line:col and what to do.
 * Exit 1 on any ✘.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { LineCounter, parseDocument } from 'yaml';
import { builtinConnectors } from '../../../connectors/index.js';
import { loadConfig } from '../../config/load.js';
import { positionOf } from '../../config/locate.js';
import type { ConnectionCheck } from '../../connector/define.js';
import { silentLogger } from '../../log/logger.js';
import { connectorsFromConfig } from '../../sync/index.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { printErrors } from '../report.js';

/** How long one instance's checks may take. */
const CHECK_TIMEOUT_MS = 30_000;

async function check(io: CliIo, only: string | undefined, configOption: string | undefined): Promise<number> {
  const file = resolveConfigPath(configOption, io.env);
  const loaded = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
  if (!loaded.ok) {
    printErrors(io, loaded.errors);
    io.log(`✘ config: ${file} is not valid`);
    return 1;
  }
  io.log(`✔ config: ${file} is valid`);
  const connectors = connectorsFromConfig(loaded.config, builtinConnectors).filter((c) => only === undefined || c.id === only);
  if (only !== undefined && connectors.length === 0) {
    io.error(`concord check: no enabled connector "${only}" in ${file}`);
    return 1;
  }
  const lines = new LineCounter();
  const doc = parseDocument(await readFile(file, 'utf8'), { lineCounter: lines });
  const where = (id: string, result: ConnectionCheck): string => {
    const path = ['connectors', id, ...(result.path ?? [])];
    const { line, col } = positionOf(doc, lines, path, 'value');
    return `${file}:${line}:${col}: ${path.join('.')}: `;
  };
  let failures = 0;
  for (const connector of connectors) {
    const instance = await connector.create({ logger: silentLogger() });
    try {
      if (instance.check === undefined) {
        io.log(`- ${connector.id}: the ${connector.type} connector has no connection check yet`);
        continue;
      }
      for (const result of await instance.check(AbortSignal.timeout(CHECK_TIMEOUT_MS))) {
        if (result.ok) io.log(`✔ ${connector.id}: ${result.detail}`);
        else {
          failures++;
          io.log(
            `✘ ${connector.id}: ${where(connector.id, result)}${result.detail}${result.fix === undefined ? '' : `. Fix: ${result.fix}`}`,
          );
        }
      }
    } finally {
      await instance.close?.();
    }
  }
  return failures === 0 ? 0 : 1;
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('check [connector]'))
    .description('check the config and, with read-only calls, that each connector reaches its system with its credentials')
    .action(async (connector: string | undefined, options: { config?: string }) => {
      try {
        io.exit(await check(io, connector, options.config));
      } catch (err) {
        io.error(`concord check: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}

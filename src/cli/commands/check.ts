/**
 * `concord check [connector]`: the config is valid; Redis answers and the database is reachable
 * with its schema current (without a connector named); and each connector instance (or the one
 * named) reaches its system with its credentials, has the scopes or permissions it needs, and its
 * webhook registered where the system lets us ask, by read-only calls (`ConnectorInstance.check`).
 * One line per check, ✔, ✘ or – (cannot be checked from here); a ✘ names the config key to fix at
 * file:line:col and what to do. Exit 1 on any ✘.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { LineCounter, parseDocument } from 'yaml';
import { builtinConnectors } from '../../../connectors/index.js';
import { loadConfig } from '../../config/load.js';
import { positionOf } from '../../config/locate.js';
import { checkDatabase, checkRedis } from '../../app/check.js';
import type { ConnectionCheck } from '../../connector/define.js';
import { webhookUrlOf } from '../../connector/webhook-url.js';
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
  let failures = 0;
  /** Prints one line; `prefix` is the config path its `path` is relative to. */
  const print = (subject: string, prefix: readonly (string | number)[], result: ConnectionCheck): void => {
    if (result.ok) {
      io.log(`${result.neutral ? '–' : '✔'} ${subject}: ${result.detail}`);
      return;
    }
    failures++;
    const path = [...prefix, ...(result.path ?? [])];
    const { line, col } = positionOf(doc, lines, path, 'value');
    io.log(
      `✘ ${subject}: ${file}:${line}:${col}: ${path.join('.')}: ${result.detail}${result.fix === undefined ? '' : `. Fix: ${result.fix}`}`,
    );
  };
  if (only === undefined) {
    for (const result of await checkRedis(loaded.config.hub.redisUrl)) print('redis', [], result);
    for (const result of await checkDatabase(loaded.config.hub.databaseUrl)) print('database', [], result);
  }
  for (const connector of connectors) {
    const instance = await connector.create({ logger: silentLogger() });
    try {
      if (instance.check === undefined) {
        io.log(`– ${connector.id}: the ${connector.type} connector has no connection check`);
        continue;
      }
      const hub = { webhookUrl: webhookUrlOf(loaded.config.hub.publicUrl, connector.id) };
      for (const result of await instance.check(AbortSignal.timeout(CHECK_TIMEOUT_MS), hub))
        print(connector.id, ['connectors', connector.id], result);
    } finally {
      await instance.close?.();
    }
  }
  return failures === 0 ? 0 : 1;
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('check [connector]'))
    .description(
      'check the config, Redis and the database, and (with read-only calls) that each connector reaches its system with its credentials, scopes and webhook',
    )
    .action(async (connector: string | undefined, options: { config?: string }) => {
      try {
        io.exit(await check(io, connector, options.config));
      } catch (err) {
        io.error(`concord check: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}

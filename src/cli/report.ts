/** How the CLI prints config results. */
import type { Config } from '../config/schema.js';
import type { ConfigError, ConfigWarning } from '../config/errors.js';
import type { CliIo } from './io.js';

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `config/concord.yaml: OK — 3 purposes, 2 channels, 2 topics, 0 connectors`. */
export function summaryLine(file: string, config: Config): string {
  const { purposes, channels, topics } = config.catalog;
  return `${file}: OK — ${[
    count(Object.keys(purposes).length, 'purpose', 'purposes'),
    count(Object.keys(channels).length, 'channel', 'channels'),
    count(Object.keys(topics).length, 'topic', 'topics'),
    count(Object.keys(config.connectors).length, 'connector', 'connectors'),
  ].join(', ')}`;
}

export function printErrors(io: CliIo, errors: readonly ConfigError[]): void {
  for (const error of errors) io.error(error.toString());
  io.error(`${count(errors.length, 'error', 'errors')} in the configuration.`);
}

export function printWarnings(io: CliIo, warnings: readonly ConfigWarning[]): void {
  for (const warning of warnings) io.error(warning.toString());
}

/** A database or Redis URL with its credentials masked, safe to print (the one helper: `redactUrlSecrets`). */
export { redactUrlSecrets as redactUrl } from '../log/logger.js';

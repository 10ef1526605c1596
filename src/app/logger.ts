/**
 * The hub's loggers: `createLogger` with the built-in connectors' `sensitiveKeys` (their
 * signature headers) censored like the hub's own secrets. The log module knows no connector;
 * the composition root hands it their keys.
 */
import type { Logger } from 'pino';
import { builtinConnectors } from '../../connectors/index.js';
import { createLogger, type LoggerOptions } from '../log/logger.js';

/** Every built-in connector's sensitive keys. */
export const connectorSensitiveKeys: readonly string[] = [...new Set(builtinConnectors.flatMap((c) => c.sensitiveKeys ?? []))];

/** A hub logger (see `createLogger`), censoring the connectors' sensitive keys too. */
export function createHubLogger(options: LoggerOptions = {}): Logger {
  return createLogger({ ...options, sensitiveKeys: [...(options.sensitiveKeys ?? []), ...connectorSensitiveKeys] });
}

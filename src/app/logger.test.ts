import { describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../connectors/index.js';
import { REDACTED } from '../log/logger.js';
import { connectorSensitiveKeys, createHubLogger } from './logger.js';

describe('createHubLogger', () => {
  it("censors every built-in connector's sensitive keys (HubSpot's webhook signatures), taken from the definitions", () => {
    expect(connectorSensitiveKeys).toEqual(expect.arrayContaining(['x-hubspot-signature', 'x-hubspot-signature-v3']));
    expect(connectorSensitiveKeys).toEqual([...new Set(builtinConnectors.flatMap((c) => c.sensitiveKeys ?? []))]);
    const lines: string[] = [];
    const logger = createHubLogger({ destination: { write: (line: string) => lines.push(line) } });
    logger.warn({ headers: { 'x-hubspot-signature-v3': 'c2lnbmF0dXJl' } }, 'webhook refused');
    const line = JSON.parse(lines[0] ?? '{}') as { headers?: Record<string, string> };
    expect(line.headers?.['x-hubspot-signature-v3']).toBe(REDACTED);
  });
});

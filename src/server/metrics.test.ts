import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ConnectorReport } from '../sync/index.js';
import { registerStateMetrics } from './metrics.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');

function report(connector: string, over: Partial<ConnectorReport> = {}): ConnectorReport {
  return {
    connector,
    queues: [],
    profiles: null,
    budget: { max: 100, windowMs: 10_000, used: 95, remaining: 5, blockedForMs: 0 },
    lastPull: null,
    ...over,
  };
}

const capabilities = (pull: boolean) => ({ pull, push: true, webhooks: true, erase: false, export: false, find: false });

function served(text: string, name: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = /connector="([^"]+)"/.exec(line)?.[1] ?? '';
    samples.set(labels, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return samples;
}

describe('state gauges (registerStateMetrics)', () => {
  const reports: Record<string, ConnectorReport> = {
    crm: report('crm', {
      lastPull: {
        finishedAt: new Date(NOW - 60_000).toISOString(),
        pages: 1,
        records: 3,
        error: { name: 'TransientError', message: 'HTTP 503' },
        succeededAt: new Date(NOW - 3_600_000).toISOString(),
      },
      budget: { max: 100, windowMs: 10_000, used: 95, remaining: 5, blockedForMs: 42_000 },
    }),
    cdp: report('cdp', { lastPull: { finishedAt: new Date(NOW - 30_000).toISOString(), pages: 1, records: 0, error: null } }),
    mail: report('mail'),
  };
  const connectors = [
    { id: 'crm', capabilities: capabilities(true) },
    { id: 'cdp', capabilities: capabilities(true) },
    { id: 'mail', capabilities: capabilities(false) },
  ];

  it('serves Redis up, pull lag from the last complete pull, failed pulls, parks and the call budget left', async () => {
    const registry = new Registry();
    registerStateMetrics(registry, {
      connectors,
      engine: { connectorStatus: async (id: string) => reports[id] ?? report(id) },
      redisReady: () => true,
      now: () => NOW,
    });
    const text = await registry.metrics();
    expect(served(text, 'concord_redis_up')).toEqual(new Map([['', 1]]));
    // crm's last pull failed a minute ago: its lag counts from the last one that read everything (an hour).
    // A pull without succeededAt (recorded before the field existed) that read everything counts from its end.
    expect(served(text, 'concord_connector_pull_lag_seconds')).toEqual(
      new Map([
        ['crm', 3600],
        ['cdp', 30],
      ]),
    );
    expect(served(text, 'concord_connector_last_pull_failed')).toEqual(
      new Map([
        ['crm', 1],
        ['cdp', 0],
      ]),
    );
    expect(served(text, 'concord_connector_parked_seconds').get('crm')).toBe(42);
    expect(served(text, 'concord_connector_parked_seconds').get('mail')).toBe(0);
    expect(served(text, 'concord_connector_call_budget_remaining_ratio').get('cdp')).toBe(0.05);
  });

  it('serves only concord_redis_up 0 while Redis is down, without asking the engine', async () => {
    const registry = new Registry();
    let asked = 0;
    registerStateMetrics(registry, {
      connectors,
      engine: {
        connectorStatus: async (id: string) => {
          asked++;
          return report(id);
        },
      },
      redisReady: () => false,
      now: () => NOW,
    });
    const text = await registry.metrics();
    expect(served(text, 'concord_redis_up')).toEqual(new Map([['', 0]]));
    expect(served(text, 'concord_connector_parked_seconds').size).toBe(0);
    expect(asked).toBe(0);
  });

  it('still answers the scrape when the engine fails (the connector gauges are left out)', async () => {
    const registry = new Registry();
    registerStateMetrics(registry, {
      connectors,
      engine: { connectorStatus: () => Promise.reject(new Error('Redis did not answer')) },
      redisReady: () => true,
      now: () => NOW,
    });
    const text = await registry.metrics();
    expect(served(text, 'concord_redis_up')).toEqual(new Map([['', 1]]));
    expect(served(text, 'concord_connector_call_budget_remaining_ratio').size).toBe(0);
  });
});

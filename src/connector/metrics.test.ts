import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createSyncMetrics } from '../sync/metrics.js';
import { counterOn, gaugeOn, MetricKindError } from './metrics.js';

describe('metrics on a given registry', () => {
  it('registers a metric once per registry and shares it afterwards', async () => {
    const registry = new Registry();
    const a = counterOn(registry, { name: 'concord_test_calls_total', help: 'Test calls.', labelNames: ['instance'] });
    const b = counterOn(registry, { name: 'concord_test_calls_total', help: 'Test calls.', labelNames: ['instance'] });
    expect(b).toBe(a);
    a.inc({ instance: 'one' });
    b.inc({ instance: 'two' });
    const values = (await registry.getSingleMetric('concord_test_calls_total')?.get())?.values ?? [];
    expect(values.map((v) => v.labels['instance'])).toEqual(['one', 'two']);
    // Never on prom-client's global registry.
    expect(register.getSingleMetric('concord_test_calls_total')).toBeUndefined();
  });

  it('keeps registries apart (two hubs in one process)', () => {
    const first = new Registry();
    const second = new Registry();
    const a = gaugeOn(first, { name: 'concord_test_left', help: 'Left.' });
    const b = gaugeOn(second, { name: 'concord_test_left', help: 'Left.' });
    expect(b).not.toBe(a);
  });

  it('refuses one name as two kinds', () => {
    const registry = new Registry();
    counterOn(registry, { name: 'concord_test_thing', help: 'A thing.' });
    expect(() => gaugeOn(registry, { name: 'concord_test_thing', help: 'A thing.' })).toThrow(MetricKindError);
  });

  it('lets two engines register their metrics on one registry without throwing', () => {
    const registry = new Registry();
    const first = createSyncMetrics(registry);
    const second = createSyncMetrics(registry);
    expect(second.pushes).toBe(first.pushes);
  });

  it("is the one way the hub defines metrics: no prom-client metric class is constructed anywhere else, nothing uses prom-client's global registry", () => {
    const offenders: string[] = [];
    for (const dir of ['src', 'connectors']) {
      for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        const path = join(entry.parentPath, entry.name);
        if (
          !entry.isFile() ||
          !entry.name.endsWith('.ts') ||
          entry.name.endsWith('.test.ts') ||
          path === join('src', 'connector', 'metrics.ts')
        )
          continue;
        const text = readFileSync(path, 'utf8');
        if (/new (?:client\.)?(?:Counter|Gauge|Histogram|Summary)\b/.test(text)) offenders.push(path);
        // Nor on prom-client's global registry: its `register` is never imported, default metrics go on the registry given.
        if (/import\s*\{[^}]*\bregister\b[^}]*\}\s*from 'prom-client'/.test(text) || /import \* as \w+ from 'prom-client'/.test(text))
          offenders.push(path);
        if (/collectDefaultMetrics\((?![^)]*register:)/.test(text)) offenders.push(path);
      }
    }
    expect(offenders).toEqual([]);
  });
});

/**
 * The memory connector passes the connector conformance suite against its in-memory system,
 * in-process, through the loopback bridge used by multi-process tests, and with a system that
 * erases later (`asyncErase`: `pending` outcomes followed through `eraseProgress`).
 */
import { randomUUID } from 'node:crypto';
import { runConformance } from '../../src/connector/testing/conformance.js';
import type { ConformanceEnvironment } from '../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../src/connector/testing/emulator-environment.js';
import memoryConnector from './connector.js';
import type { MemoryConfig } from './connector.js';
import { createMemorySystem, unregisterMemorySystem } from './registry.js';
import { serveMemorySystems } from './remote.js';
import type { MemorySystemOptions, WebhookDelivery } from './system.js';

async function start(overBridge: boolean, options: MemorySystemOptions = {}): Promise<ConformanceEnvironment<MemoryConfig>> {
  const name = `conformance-${randomUUID()}`;
  const system = createMemorySystem(name, options);
  const bridge = overBridge ? await serveMemorySystems({ [name]: system }) : undefined;
  if (bridge) unregisterMemorySystem(name); // the connector must find it through the bridge only
  const deliveries: WebhookDelivery[] = [];
  system.onWebhook(async (d) => {
    deliveries.push(d);
  });
  return emulatorEnvironment({
    config: { system: name, webhookSecret: system.webhookSecret, ...(bridge ? { url: bridge.url } : {}) },
    controls: system,
    webhooks: () =>
      deliveries.map((d) => ({
        method: 'POST',
        url: 'http://127.0.0.1/webhooks/memory',
        headers: d.headers,
        body: d.body,
        receivedAt: new Date().toISOString(),
      })),
    async stop() {
      await system.flushWebhooks();
      await bridge?.close();
      unregisterMemorySystem(name);
    },
  });
}

// The in-process memory system takes no credentials: only the good path of `check` is run.
runConformance({ definition: memoryConnector, ...emulatorCapabilities, wrongCredentials: 'none', start: () => start(false) });

runConformance({
  name: 'conformance: memory over the loopback bridge',
  definition: memoryConnector,
  ...emulatorCapabilities,
  wrongCredentials: 'none',
  start: () => start(true),
});

runConformance({
  name: 'conformance: memory erasing asynchronously, over the loopback bridge',
  definition: memoryConnector,
  ...emulatorCapabilities,
  wrongCredentials: 'none',
  start: () => start(true, { asyncErase: { steps: 3, checkAfterMs: 5 } }),
});

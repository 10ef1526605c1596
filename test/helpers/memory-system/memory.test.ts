/** The memory connector passes the connector conformance suite against its in-memory system. */
import { randomUUID } from 'node:crypto';
import { runConformance } from '../../../src/connector/conformance.js';
import type { RawWebhook } from '../../../src/connector/define.js';
import memoryConnector from './connector.js';
import { createMemorySystem, unregisterMemorySystem } from './registry.js';
import type { WebhookDelivery } from './system.js';

runConformance({
  definition: memoryConnector,
  canPoison: true,
  countsRequests: true,
  async start() {
    const name = `conformance-${randomUUID()}`;
    const system = createMemorySystem(name);
    const deliveries: WebhookDelivery[] = [];
    system.onWebhook(async (d) => {
      deliveries.push(d);
    });
    let n = 0;
    return {
      config: { system: name, webhookSecret: system.webhookSecret },
      rateLimitNextCall: (seconds) => system.rateLimitNextCall(seconds),
      poison: (email) => system.poison(email),
      requestCount: () => system.getStats().calls.total,
      async captureWebhook(): Promise<RawWebhook> {
        system.change({ email: `webhook-${++n}@example.com`, first_name: 'Web', email_opt_out: false, newsletter: true });
        await system.flushWebhooks();
        const d = deliveries.at(-1);
        if (!d) throw new Error('the system sent no webhook');
        return { method: 'POST', url: 'http://127.0.0.1/webhooks/memory', headers: d.headers, body: d.body, receivedAt: new Date().toISOString() };
      },
      async stop() {
        await system.flushWebhooks();
        unregisterMemorySystem(name);
      },
    };
  },
});

/**
 * The shared connector conformance suite, run against the HubSpot emulator: pull, push, read,
 * erase, export, webhooks, rate limits and a permanently rejected record.
 */
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import hubspot from '../../../connectors/hubspot/connector.js';
import type { HubSpotConfig, HubSpotConfigInput } from '../../../connectors/hubspot/config.js';
import { startHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { subscriptionMappings } from '../../../connectors/hubspot/mapping.js';
import { SubscriptionType } from '../../../connectors/hubspot/config.js';
import { startWebhookReceiver } from './webhook-receiver.js';

const SECRET = 'conformance-client-secret';
const APP_ID = 4242;
const subscriptions = [SubscriptionType.parse({ id: 101, consent: 'marketing.email' }), SubscriptionType.parse({ id: 103, topic: 'newsletter' })];

async function start(): Promise<ConformanceEnvironment<HubSpotConfig>> {
  const receiver = await startWebhookReceiver();
  const emulator = await startHubSpotEmulator({ clientSecret: SECRET, webhookUrl: receiver.url, appId: APP_ID, accessToken: 'pat-conformance' });
  const config: HubSpotConfigInput = {
    accessToken: 'pat-conformance',
    webhookSecret: SECRET,
    baseUrl: emulator.url,
    appId: APP_ID,
    subscriptions,
  };
  let n = 0;
  return {
    config,
    rateLimitNextCall: (seconds) => emulator.sideDoor.rateLimitNextCall({ retryAfterSeconds: seconds }),
    async captureWebhook() {
      await emulator.sideDoor.flushWebhooks();
      const before = receiver.received.length;
      emulator.sideDoor.createContact({ email: `webhook-${n++}@example.com`, firstname: 'Grace' });
      await emulator.sideDoor.flushWebhooks();
      const request = receiver.received[before];
      if (!request) throw new Error('the emulator sent no webhook');
      return { method: request.method, url: receiver.url, headers: request.headers, body: request.body, receivedAt: new Date().toISOString() };
    },
    poison: (email) => emulator.sideDoor.poison(email),
    requestCount: () => emulator.sideDoor.calls().total,
    async stop() {
      await emulator.close();
      await receiver.close();
    },
  };
}

runConformance({
  definition: hubspot,
  start,
  mappings: subscriptionMappings(subscriptions),
  canPoison: true,
  countsRequests: true,
  // One batch/upsert, one statuses/batch/read (statuses HubSpot already holds are not written
  // again), then statuses/batch/write of 100 inputs per call: 100 contacts with two
  // subscription types each are 200 statuses, so two calls.
  callsPerBatch: 4,
});

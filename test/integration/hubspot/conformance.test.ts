/**
 * The shared connector conformance suite, run against the HubSpot emulator: pull, push, read,
 * erase, export, webhooks, rate limits and a permanently rejected record.
 */
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../../src/connector/testing/emulator-environment.js';
import hubspot from '../../../connectors/hubspot/connector.js';
import type { HubSpotConfig, HubSpotConfigInput } from '../../../connectors/hubspot/config.js';
import { startHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { subscriptionMappings } from '../../../connectors/hubspot/mapping.js';
import { SubscriptionType } from '../../../connectors/hubspot/config.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';

const SECRET = 'conformance-client-secret';
const APP_ID = 4242;
const subscriptions = [
  SubscriptionType.parse({ id: 101, consent: 'marketing.email' }),
  SubscriptionType.parse({ id: 103, topic: 'newsletter' }),
];

async function start(): Promise<ConformanceEnvironment<HubSpotConfig>> {
  const receiver = await startWebhookReceiver();
  const emulator = await startHubSpotEmulator({
    clientSecret: SECRET,
    webhookUrl: receiver.url,
    appId: APP_ID,
    accessToken: 'pat-conformance',
  });
  const config: HubSpotConfigInput = {
    accessToken: 'pat-conformance',
    webhookSecret: SECRET,
    baseUrl: emulator.url,
    appId: APP_ID,
    subscriptions,
  };
  return emulatorEnvironment({
    config,
    controls: emulator.sideDoor,
    webhooks: () => receiver.raw(),
    async stop() {
      await emulator.close();
      await receiver.close();
    },
  });
}

runConformance({
  definition: hubspot,
  wrongCredentials: { accessToken: 'pat-conformance-wrong-token' },
  start,
  mappings: subscriptionMappings(subscriptions),
  ...emulatorCapabilities,
  // One batch/upsert, one statuses/batch/read (statuses HubSpot already holds are not written
  // again), then statuses/batch/write of 100 inputs per call: 100 contacts with two
  // subscription types each are 200 statuses, so two calls.
  callsPerBatch: 4,
  // Phones are searched (phone IN / mobilephone IN).
  findsPhones: true,
  // 100 queries: one batch read by e-mail, one by id, one phone search.
  callsPerFind: 3,
});

/**
 * The shared connector conformance suite, run against the Segment emulator: push through
 * `@segment/analytics-node`, pull and read through the Profile API over the records a push made
 * known, erasure by regulations followed until they finish, webhooks from the Webhooks destination.
 */
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../../src/connector/testing/emulator-environment.js';
import connector from '../../../connectors/segment/connector.js';
import type { SegmentConfig, SegmentConfigInput } from '../../../connectors/segment/config.js';
import { DEFAULT_SPACE_ID, startSegmentEmulator } from '../../../connectors/segment/emulator/index.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';

const SECRET = 'conformance-webhook-secret';

async function start(): Promise<ConformanceEnvironment<SegmentConfig>> {
  const receiver = await startWebhookReceiver('/webhooks/segment');
  // Regulations finish in a few steps of 20 ms, so the erase test follows one to its end.
  const emulator = await startSegmentEmulator({
    secret: SECRET,
    webhookUrl: receiver.url,
    regulationStepMs: 20,
    customIdentifiers: ['phone'],
    writeKey: 'conformance-write-key',
    profileToken: 'conformance-profile-token',
    publicApiToken: 'conformance-public-api-token',
  });
  const config: SegmentConfigInput = {
    writeKey: 'conformance-write-key',
    baseUrl: emulator.url,
    spaceId: DEFAULT_SPACE_ID,
    profileToken: 'conformance-profile-token',
    publicApiToken: 'conformance-public-api-token',
    regulationPollMs: 20,
    webhookSecret: SECRET,
    // The space resolves the phone trait as an identifier.
    phoneIdentifier: 'phone',
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
  definition: connector,
  wrongCredentials: { writeKey: 'conformance-wrong-write-key' },
  start,
  ...emulatorCapabilities,
  // Segment has no per-record error: a poisoned address's events are dropped with a 200.
  canPoison: false,
  // One /v1/batch call per push of a full batch.
  callsPerBatch: 1,
  // Phones through the space's custom `phone` identifier.
  findsPhones: true,
  // 100 queries: one Profile API lookup per e-mail and per phone (the ids asked beside them are found by those).
  callsPerFind: 200,
});

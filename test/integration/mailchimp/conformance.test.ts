/**
 * The shared connector conformance suite, run against the Mailchimp emulator: what fails is what
 * the connector or its emulator still lacks.
 */
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../../src/connector/testing/emulator-environment.js';
import connector from '../../../connectors/mailchimp/connector.js';
import type { MailchimpConfig, MailchimpConfigInput } from '../../../connectors/mailchimp/config.js';
import { startMailchimpEmulator } from '../../../connectors/mailchimp/emulator/index.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';

const SECRET = 'conformance-webhook-secret';
const TOKEN = 'conformance-token';

async function start(): Promise<ConformanceEnvironment<MailchimpConfig>> {
  const receiver = await startWebhookReceiver('/webhooks/mailchimp');
  const emulator = await startMailchimpEmulator({ secret: SECRET, accessToken: TOKEN, webhookUrl: receiver.url });
  const config: MailchimpConfigInput = { baseUrl: emulator.url, accessToken: TOKEN, webhookSecret: SECRET };
  return emulatorEnvironment({
    config,
    controls: emulator.sideDoor,
    webhooks: () =>
      receiver.received.map((r) => ({
        method: r.method,
        url: receiver.url,
        headers: r.headers,
        body: r.body,
        receivedAt: new Date().toISOString(),
      })),
    async stop() {
      await emulator.close();
      await receiver.close();
    },
  });
}

runConformance({
  definition: connector,
  start,
  ...emulatorCapabilities,
  // API calls one full push batch takes (default 1).
  callsPerBatch: 1,
});

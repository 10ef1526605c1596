/**
 * The shared connector conformance suite, run against the Mailchimp emulator: what fails is what
 * the connector or its emulator still lacks. Webhooks are signed (X-Mailchimp-Signature) and
 * carry the URL secret as the hub's route gives it (`urlToken`).
 */
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../../src/connector/testing/emulator-environment.js';
import connector from '../../../connectors/mailchimp/connector.js';
import type { MailchimpConfig, MailchimpConfigInput } from '../../../connectors/mailchimp/config.js';
import { DEFAULT_LIST_ID, startMailchimpEmulator } from '../../../connectors/mailchimp/emulator/index.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';

const URL_SECRET = 'conformance-url-secret-0123456789abcdef';
const SIGNING_SECRET = 'conformance-signing-secret';
const API_KEY = 'conformance-key-us1';

async function start(): Promise<ConformanceEnvironment<MailchimpConfig>> {
  const receiver = await startWebhookReceiver(`/webhooks/mailchimp/${URL_SECRET}`);
  const emulator = await startMailchimpEmulator({ apiKey: API_KEY, webhookUrl: receiver.url, webhookSigningSecret: SIGNING_SECRET });
  const config: MailchimpConfigInput = {
    baseUrl: emulator.apiUrl,
    apiKey: API_KEY,
    listId: DEFAULT_LIST_ID,
    webhookSecret: URL_SECRET,
    webhookSigningSecret: SIGNING_SECRET,
  };
  return emulatorEnvironment({
    config,
    controls: emulator.sideDoor,
    webhooks: () => receiver.raw(URL_SECRET),
    async stop() {
      await emulator.close();
      await receiver.close();
    },
  });
}

runConformance({
  definition: connector,
  wrongCredentials: { apiKey: 'conformance-wrong-key-us1' },
  start,
  ...emulatorCapabilities,
  // A full batch of creates is one batch subscribe call.
  callsPerBatch: 1,
  // The PHONE merge field, read a page of 1,000 members at a time.
  findsPhones: true,
  // 100 queries: one member read per e-mail (the ids asked beside them are found by it), one page of the phone scan.
  callsPerFind: 101,
});

/**
 * The shared connector conformance suite, run against the generic HTTP connector configured as
 * the two example systems (`config/examples/http-crm.yaml` and `http-newsletter.yaml`, loaded
 * through the config loader) on the HTTP emulator: the CRM with single-record writes, cursor
 * paging and webhooks that are read back; the newsletter tool with a batch endpoint, offset paging
 * and webhooks that only name the subscriber.
 */
import connector from '../../../connectors/http/connector.js';
import type { HttpConfig } from '../../../connectors/http/config.js';
import { startHttpEmulator, type RunningHttpEmulator } from '../../../connectors/http/emulator/index.js';
import type { EmulatorControls } from '../../../src/connector/emulator-kit/index.js';
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../../src/connector/testing/emulator-environment.js';
import { exampleInstance, type ExampleSystem } from '../../../harness/http-systems.js';
import { startWebhookReceiver } from '../../helpers/webhook-receiver.js';

/** The emulator's controls, with a user's change made in `system` (whose webhook the test captures). */
function controlsOf(emulator: RunningHttpEmulator, system: ExampleSystem): EmulatorControls {
  const door = emulator.sideDoor;
  return {
    calls: () => door.calls(),
    resetCalls: () => door.resetCalls(),
    rateLimitNextCall: (seconds) => door.rateLimitNextCall(seconds),
    poison: (email) => door.poison(email),
    userChange: (email) => {
      if (system === 'crm') door.userChange(email);
      else door.newsletterUserCreate(email);
    },
    flushWebhooks: () => door.flushWebhooks(),
  };
}

async function start(system: ExampleSystem): Promise<ConformanceEnvironment<HttpConfig>> {
  const receiver = await startWebhookReceiver(`/webhooks/${system}`);
  const emulator = await startHttpEmulator({ [system === 'crm' ? 'crmWebhookUrl' : 'newsletterWebhookUrl']: receiver.url });
  const { config } = await exampleInstance(system, emulator.url);
  return emulatorEnvironment({
    config,
    controls: controlsOf(emulator, system),
    webhooks: () => receiver.raw(),
    async stop() {
      await emulator.close();
      await receiver.close();
    },
  });
}

const crmMappings = (await exampleInstance('crm', 'http://127.0.0.1:1')).mappings;
const newsletterMappings = (await exampleInstance('newsletter', 'http://127.0.0.1:1')).mappings;

runConformance({
  name: 'conformance: http (the REST CRM example)',
  definition: connector,
  wrongCredentials: { auth: { type: 'bearer', token: 'conformance-wrong-http-token' } },
  start: () => start('crm'),
  mappings: crmMappings,
  ...emulatorCapabilities,
  // One call per record: the CRM has no batch endpoint.
  callsPerBatch: 100,
  // read.findPhone: the contacts list filtered by phone.
  findsPhones: true,
  // 100 queries: one read.find per e-mail and one read.findPhone per phone (the ids asked beside them are found by those).
  callsPerFind: 200,
});

runConformance({
  name: 'conformance: http (the newsletter tool example, batch endpoint)',
  definition: connector,
  wrongCredentials: { auth: { type: 'apiKey', header: 'X-API-Key', key: 'conformance-wrong-api-key' } },
  start: () => start('newsletter'),
  mappings: newsletterMappings,
  ...emulatorCapabilities,
  // One batch call for the whole batch.
  callsPerBatch: 1,
  // 100 queries: one read.find per e-mail (no phone search: the newsletter tool keeps no phone).
  callsPerFind: 100,
});

/**
 * The shared connector conformance suite, run against the Salesforce emulator: pull, push,
 * read, erase, export, Outbound Messages, rate limits and a permanently rejected record.
 *
 * The mapping carries the e-mail consent on the Contact's HasOptedOutOfEmail flag only, so
 * every person is one record; consents on ContactPointTypeConsent (one more record per
 * consent, each with its own change time) are covered in connector.test.ts.
 */
import { runConformance, type ConformanceEnvironment } from '../../../src/connector/testing/conformance.js';
import { emulatorCapabilities, emulatorEnvironment } from '../../../src/connector/testing/emulator-environment.js';
import salesforce from '../../../connectors/salesforce/connector.js';
import type { SalesforceConfig } from '../../../connectors/salesforce/config.js';
import { salesforceMappings } from '../../../connectors/salesforce/mapping.js';
import { ORG_ID, startTestOrg } from './harness.js';

async function start(): Promise<ConformanceEnvironment<SalesforceConfig>> {
  const org = await startTestOrg();
  return emulatorEnvironment({
    config: org.config,
    controls: org.emulator.sideDoor,
    webhooks: () => org.listener.received.map(org.rawWebhook),
    stop: () => org.close(),
  });
}

runConformance({
  definition: salesforce,
  wrongCredentials: { clientSecret: 'conformance-wrong-client-secret' },
  start,
  mappings: salesforceMappings({ channelFlags: { HasOptedOutOfEmail: 'marketing.email' }, dataUsePurposes: {}, contactPointTypes: {} }),
  ...emulatorCapabilities,
  // One sObject Collections upsert for the whole batch.
  callsPerBatch: 1,
  // Phone and MobilePhone are searched.
  findsPhones: true,
  // 100 queries (e-mails, half of them with an id, and phones) fit one SOQL query of at most 12,000 encoded characters, or two.
  callsPerFind: 2,
  forgeWebhook: (raw) => ({ ...raw, body: Buffer.from(raw.body.toString('utf8').replace(ORG_ID, '00D5e000000OthrAAA')) }),
});

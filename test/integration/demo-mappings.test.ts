/**
 * The demo config's attribute mappings against the emulators: HubSpot's contact property `city`
 * (listed under `properties`) and Salesforce's Contact field `MailingCountry` (listed under
 * `fields`) are read by a pull and land in the profile patch as the attributes `city` and
 * `country`.
 */
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { builtinConnectors } from '../../connectors/index.js';
import { createHubSpotInstance } from '../../connectors/hubspot/connector.js';
import { HubSpotConfig } from '../../connectors/hubspot/config.js';
import { startHubSpotEmulator } from '../../connectors/hubspot/emulator/index.js';
import { loadConfig } from '../../src/config/load.js';
import type { ConnectorConfig } from '../../src/config/schema.js';
import type { ExternalRecord } from '../../src/connector/define.js';
import { mapInbound, type CompiledMapping } from '../../src/connector/mapping.js';
import type { Json } from '../../src/profile/schema.js';
import { silentLogger } from '../../src/log/logger.js';
import { connectorsFromConfig } from '../../src/sync/from-config.js';
import { pullAll, startTestOrg } from './salesforce/harness.js';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});

/** The demo config's instance `id` and its compiled mapping (defaults, derived entries and the file's own). */
async function demoInstance(id: string): Promise<{ config: ConnectorConfig; mapping: CompiledMapping }> {
  const loaded = await loadConfig('config/concord.yaml', { connectors: builtinConnectors, env: {} });
  if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
  const config = loaded.config.connectors[id];
  const mapping = connectorsFromConfig(loaded.config, builtinConnectors).find((c) => c.id === id)?.mapping;
  if (config === undefined || mapping === undefined) throw new Error(`the demo config has no instance ${id}`);
  return { config, mapping };
}

/** The pulled record whose `emailField` is Ada's, mapped in: its attributes. */
function attributesOfAda(
  mapping: CompiledMapping,
  records: readonly ExternalRecord[],
  emailField: string,
  source: string,
): Record<string, Json> {
  const ada = records.find((r) => r.fields[emailField] === 'ada@example.com');
  if (ada === undefined) throw new Error('the pull did not return the contact');
  const { patch, errors } = mapInbound(mapping, ada, { source, receivedAt: new Date().toISOString(), patchId: 'p1' });
  expect(errors).toEqual([]);
  return patch.attributes ?? {};
}

it('pulls the HubSpot property city into the attribute city', async () => {
  const { config, mapping } = await demoInstance('hubspot');
  const emu = await startHubSpotEmulator({ clientSecret: 'demo-mappings-test-secret', appId: 4242 });
  closing.push(() => emu.close());
  emu.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', city: 'Lyon' });
  const own = HubSpotConfig.parse({
    accessToken: 'pat',
    webhookSecret: 'demo-mappings-test-secret',
    baseUrl: emu.url,
    properties: config['properties'],
  });
  const instance = await createHubSpotInstance({ instanceId: 'hubspot', config: own, logger: silentLogger(), metrics: new Registry() });
  const records: ExternalRecord[] = [];
  for await (const page of instance.pull?.(undefined, new AbortController().signal) ?? []) records.push(...page.records);
  expect(attributesOfAda(mapping, records, 'email', 'hubspot')).toMatchObject({ city: 'Lyon', firstName: 'Ada' });
});

it('pulls the Salesforce field MailingCountry into the attribute country', async () => {
  const { config, mapping } = await demoInstance('salesforce');
  const fields = config['fields'];
  if (!Array.isArray(fields)) throw new Error('the demo salesforce instance lists no fields');
  const org = await startTestOrg({ outbound: false });
  closing.push(() => org.close());
  org.emulator.sideDoor.create('Contact', { LastName: 'Lovelace', Email: 'ada@example.com', MailingCountry: 'FR' });
  const { records } = await pullAll(org.instance({ fields: fields.map(String) }));
  expect(attributesOfAda(mapping, records, 'Email', 'salesforce')).toMatchObject({ country: 'FR', lastName: 'Lovelace' });
});

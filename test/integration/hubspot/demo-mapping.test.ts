/**
 * The demo config's attribute mapping against the HubSpot emulator: the contact property
 * `city` (listed under `properties`, mapped to the attribute `city`) is read by a pull and
 * lands in the profile patch.
 */
import { afterEach, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { builtinConnectors } from '../../../connectors/index.js';
import { createHubSpotInstance } from '../../../connectors/hubspot/connector.js';
import { HubSpotConfig } from '../../../connectors/hubspot/config.js';
import { startHubSpotEmulator, type RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { loadConfig } from '../../../src/config/load.js';
import type { ExternalRecord } from '../../../src/connector/define.js';
import { mapInbound } from '../../../src/connector/mapping.js';
import { silentLogger } from '../../../src/log/logger.js';
import { connectorsFromConfig } from '../../../src/sync/from-config.js';

const SECRET = 'demo-mapping-test-secret';
const open: RunningHubSpotEmulator[] = [];
afterEach(async () => {
  for (const emu of open.splice(0)) await emu.close();
});

it('pulls the demo config’s mapped HubSpot property city into the attribute city', async () => {
  const loaded = await loadConfig('config/concord.yaml', { connectors: builtinConnectors, env: {} });
  if (!loaded.ok) expect.fail(loaded.errors.map(String).join('\n'));
  const demo = loaded.config.connectors['hubspot'];
  const mapping = connectorsFromConfig(loaded.config, builtinConnectors).find((c) => c.id === 'hubspot')?.mapping;
  if (demo === undefined || mapping === undefined) expect.fail('the demo config has no hubspot instance');

  const emu = await startHubSpotEmulator({ clientSecret: SECRET, appId: 4242 });
  open.push(emu);
  emu.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', city: 'Lyon' });
  const config = HubSpotConfig.parse({ accessToken: 'pat', webhookSecret: SECRET, baseUrl: emu.url, properties: demo['properties'] });
  const instance = await createHubSpotInstance({ instanceId: 'hubspot', config, logger: silentLogger(), metrics: new Registry() });
  const records: ExternalRecord[] = [];
  for await (const page of instance.pull?.(undefined, new AbortController().signal) ?? []) records.push(...page.records);

  const ada = records.find((r) => r.fields['email'] === 'ada@example.com');
  if (ada === undefined) expect.fail('the pull did not return the contact');
  expect(ada.fields['city']).toBe('Lyon');
  const { patch, errors } = mapInbound(mapping, ada, { source: 'hubspot', receivedAt: new Date().toISOString(), patchId: 'p1' });
  expect(errors).toEqual([]);
  expect(patch.attributes).toMatchObject({ city: 'Lyon', firstName: 'Ada' });
});

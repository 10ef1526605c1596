/**
 * Access requests read everything HubSpot holds on a person (issue 20, test 2): every contact
 * property with a value, compared field by field with the emulator's side door, with HubSpot's
 * labels, and every subscription status of the address; nobody else's data.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHubSpotInstance } from '../../../connectors/hubspot/connector.js';
import { HubSpotConfig } from '../../../connectors/hubspot/config.js';
import { startHubSpotEmulator, type RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { silentLogger } from '../../../src/log/logger.js';

const signal = (): AbortSignal => new AbortController().signal;
const open: RunningHubSpotEmulator[] = [];
afterEach(async () => {
  for (const emu of open.splice(0)) await emu.close();
});

async function setup() {
  const emu = await startHubSpotEmulator({ clientSecret: 's', extraProperties: ['favourite_colour', 'loyalty_tier'] });
  open.push(emu);
  const config = HubSpotConfig.parse({
    accessToken: 'pat',
    webhookSecret: 's',
    baseUrl: emu.url,
    // Only one subscription is mapped: the export still holds every status.
    subscriptions: [{ id: 101, consent: 'marketing.email' }],
  });
  const instance = createHubSpotInstance({ instanceId: 'hubspot', config, logger: silentLogger(), metrics: new Registry() });
  return { emu, instance };
}

describe('HubSpot export', () => {
  it('holds every property with a value (as the side door shows it), with labels, and every subscription status', async () => {
    const { emu, instance } = await setup();
    const ada = emu.sideDoor.createContact({
      email: 'ada@example.com',
      firstname: 'Ada',
      lastname: 'Lovelace',
      phone: '+44 20 7946 0000',
      city: 'London',
      jobtitle: 'Analyst',
      favourite_colour: 'green',
      loyalty_tier: 'gold',
      company: '',
    });
    emu.sideDoor.subscribe('ada@example.com', 101);
    emu.sideDoor.unsubscribe('ada@example.com', 103);
    emu.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace', city: 'Arlington' });

    const byId = await instance.export?.([{ externalId: ada.id }], signal());
    const byEmail = await instance.export?.([{ email: 'ada@example.com' }], signal());
    expect(byEmail).toEqual(byId);
    expect(byId).toHaveLength(1);
    const record = byId?.[0];
    const held = emu.sideDoor.getContact(ada.id)?.properties ?? {};
    const nonEmpty = Object.fromEntries(Object.entries(held).filter(([, v]) => v !== ''));
    // Field by field: every property HubSpot holds a value for, none it does not.
    expect(Object.keys(record?.fields ?? {}).sort()).toEqual(Object.keys(nonEmpty).sort());
    for (const [name, value] of Object.entries(nonEmpty)) expect(record?.fields[name], name).toBe(value);
    expect(record?.fields).toMatchObject({ favourite_colour: 'green', loyalty_tier: 'gold', hs_email_optout_103: 'true' });
    expect(record?.fields).not.toHaveProperty('company');
    expect(record?.labels).toMatchObject({ email: 'Email', firstname: 'First Name', city: 'City', favourite_colour: 'favourite_colour' });
    expect(Object.keys(record?.labels ?? {}).sort()).toEqual(Object.keys(nonEmpty).sort());
    const statuses = emu.sideDoor.statuses('ada@example.com');
    expect(statuses.filter((s) => s.status !== 'NOT_SPECIFIED').map((s) => s.subscriptionId)).toEqual([101, 103]);
    expect(record?.related?.subscriptionStatuses).toEqual(statuses);
    expect(JSON.stringify(byId)).not.toContain('grace');
  });

  it('reads the property list once per instance', async () => {
    const { emu, instance } = await setup();
    const a = emu.sideDoor.createContact({ email: 'a@example.com', firstname: 'A' });
    const b = emu.sideDoor.createContact({ email: 'b@example.com', firstname: 'B' });
    await instance.export?.([{ externalId: a.id }], signal());
    await instance.export?.([{ externalId: b.id }], signal());
    expect(emu.sideDoor.calls().byEndpoint['GET /crm/v3/properties/:objectType']).toBe(1);
  });
});

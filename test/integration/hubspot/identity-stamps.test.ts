/**
 * HubSpot identities carry the time their own property was set (its history), not the
 * contact's `lastmodifieddate`: an older phone edit in HubSpot, read after a later write of
 * another property (here the hub's own), must not beat a newer phone edit made elsewhere.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { primaryIdentity } from '../../../src/profile/identities.js';
import { MergePolicy } from '../../../src/profile/schema.js';
import { startHubSpotHub, type HubSpotHub } from '../../../harness/hubspot-hub.js';

const OLD_PHONE = '+14155550100';
const HUBSPOT_PHONE = '+14155550111';
const CRM_PHONE = '+14155550122';

describe('HubSpot identity stamps', () => {
  let hub: HubSpotHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it("a phone set in HubSpot at t1, read after the hub's write of another property at t3, loses to the CRM's phone set at t2", async () => {
    hub = await startHubSpotHub({ dialect: 'sqlite', echoMarker: true, crmMappings: [{ identity: 'phone', external: 'phone' }] });
    const h = hub;
    const contact = h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', phone: OLD_PHONE });
    await h.settle();
    const inCrm = h.crm.get({ email: 'ada@example.com' });
    expect(inCrm?.fields['phone']).toBe(OLD_PHONE);

    // t1: a HubSpot user edits the phone; its webhook is late.
    h.hubspot.sideDoor.pauseWebhooks();
    h.hubspot.sideDoor.editContact(contact.id, { phone: HUBSPOT_PHONE });
    const t1 = Date.parse(h.hubspot.sideDoor.getContact(contact.id)?.updatedAt ?? '');
    await sleep(30);
    // t2: a CRM rep edits the phone there (its notification comes last, below).
    const t2 = Date.now();
    await sleep(30);
    // t3: the hub writes another property to HubSpot (a first name edited in the CRM).
    h.crm.change({ first_name: 'Adele' }, { id: inCrm?.id ?? '' });
    await h.settle();
    expect(h.hubspot.sideDoor.getContact(contact.id)?.properties).toMatchObject({ firstname: 'Adele', phone: HUBSPOT_PHONE });
    const t3 = Date.parse(h.hubspot.sideDoor.getContact(contact.id)?.updatedAt ?? '');
    expect(t1).toBeLessThan(t2);
    expect(t2).toBeLessThan(t3);

    // HubSpot's webhooks arrive: the contact is read with lastmodifieddate t3 and phone set at t1.
    h.hubspot.sideDoor.resumeWebhooks();
    await h.settle();
    const policy = MergePolicy.parse({ priorities: { hubspot: 2, crm: 1 } });
    const afterHubSpot = await h.profileByEmail('ada@example.com');
    expect(primaryIdentity(afterHubSpot?.identities ?? [], { kind: 'phone' }, policy)).toMatchObject({
      value: HUBSPOT_PHONE,
      source: 'hubspot',
      at: new Date(t1).toISOString(),
    });

    // The CRM's edit made at t2 arrives last: it is the newest phone, everywhere.
    h.crm.change({ phone: CRM_PHONE }, { id: inCrm?.id ?? '', at: t2 });
    await h.settle();
    expect(h.crm.get(inCrm?.id ?? '')?.fields['phone']).toBe(CRM_PHONE);
    expect(h.hubspot.sideDoor.getContact(contact.id)?.properties['phone']).toBe(CRM_PHONE);
    const profile = await h.profileByEmail('ada@example.com');
    expect(primaryIdentity(profile?.identities ?? [], { kind: 'phone' }, policy)).toMatchObject({ value: CRM_PHONE, source: 'crm' });
    expect(h.refused).toEqual([]);
  });
});

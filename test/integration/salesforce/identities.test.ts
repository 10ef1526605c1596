/**
 * Identities through the real connectors and both emulators: a phone number or an e-mail
 * address set in HubSpot and edited later in Salesforce (the lower-priority source) ends as
 * the edit in both systems, and the person stays one profile that still knows the old values.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

const OLD_PHONE = '+14155550100';
// Sorts after the old number: a push that takes the first phone of the profile sends the old one.
const NEW_PHONE = '+14155550199';

describe('identities between HubSpot and Salesforce', () => {
  let hub: CrmHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  /** A person created in HubSpot and carried to Salesforce; returns both record ids. */
  async function seed(h: CrmHub): Promise<{ hubspotId: string; salesforceId: string }> {
    const contact = h.hubspot.sideDoor.createContact({
      email: 'ada@example.com',
      firstname: 'Ada',
      lastname: 'Lovelace',
      phone: OLD_PHONE,
    });
    await h.settle();
    const inSalesforce = h.salesforce.sideDoor.findByEmail('ada@example.com');
    expect(inSalesforce).toMatchObject({ Phone: OLD_PHONE });
    return { hubspotId: contact.id, salesforceId: String(inSalesforce?.['Id']) };
  }

  it('a phone edited later in Salesforce wins in both systems', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const { hubspotId, salesforceId } = await seed(hub);

    hub.salesforce.sideDoor.update('Contact', salesforceId, { Phone: NEW_PHONE });
    await hub.settle();

    expect(hub.hubspot.sideDoor.getContact(hubspotId)?.properties['phone']).toBe(NEW_PHONE);
    expect(hub.salesforce.sideDoor.get('Contact', salesforceId)?.['Phone']).toBe(NEW_PHONE);
    const profile = await hub.profileByEmail('ada@example.com');
    expect(profile?.identities.filter((i) => i.kind === 'phone').map((i) => [i.value, i.source])).toEqual([
      [OLD_PHONE, 'hubspot'],
      [NEW_PHONE, 'salesforce'],
    ]);
  });

  it('an e-mail changed later in Salesforce wins in both systems, on the same records and the same profile', async () => {
    hub = await startCrmHub({ dialect: 'postgres' });
    const { hubspotId, salesforceId } = await seed(hub);

    hub.salesforce.sideDoor.update('Contact', salesforceId, { Email: 'zed@example.com' });
    await hub.settle();

    expect(hub.hubspot.sideDoor.getContact(hubspotId)?.properties['email']).toBe('zed@example.com');
    expect(hub.salesforce.sideDoor.get('Contact', salesforceId)?.['Email']).toBe('zed@example.com');
    expect(hub.hubspot.sideDoor.contacts()).toHaveLength(1);
    expect(hub.salesforce.sideDoor.list('Contact')).toHaveLength(1);
    const byOld = await hub.profileByEmail('ada@example.com');
    const byNew = await hub.profileByEmail('zed@example.com');
    expect(byOld?.id).toBe(byNew?.id);
  });
});

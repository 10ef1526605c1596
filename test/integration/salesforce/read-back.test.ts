/**
 * A field the shadow never knew is not news just because the shadow never knew it (issue 14).
 * The hub creates a Salesforce Contact for a person with no marketing consent, so it sends no
 * `HasOptedOutOfEmail`; Salesforce stores its default (false). Reading the record back (the
 * create's own Outbound Message, or a pull) must not take that default for the person's choice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

let hub: CrmHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

describe('reading back a record the hub created', () => {
  it.each([
    { outbound: true, label: 'its Outbound Message, then a pull' },
    { outbound: false, label: 'a pull alone' },
  ])('a default Salesforce filled in is no news: $label', async ({ outbound }) => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    if (!outbound) hub.salesforce.sideDoor.setWebhookUrl(undefined);
    const email = 'nochoice@example.com';
    hub.hubspot.sideDoor.createContact({ email, firstname: 'No', lastname: 'Choice' });
    await hub.settle();
    const contact = hub.salesforce.sideDoor.findByEmail(email);
    expect(contact).toMatchObject({ FirstName: 'No', LastName: 'Choice' });

    await hub.engine.pullNow('salesforce');
    await hub.settle();

    const profile = await hub.profileByEmail(email);
    expect(profile?.consents['marketing']?.['email']?.value).not.toBe('granted');
    expect(hub.hubspot.sideDoor.statuses(email).find((s) => s['subscriptionId'] === 101)?.['status']).not.toBe('SUBSCRIBED');
    // The default is learned: Salesforce holds it, and it is not news on the next read either.
    const shadow = profile ? await hub.store.getShadow(profile.id, 'salesforce') : null;
    expect(shadow?.values['HasOptedOutOfEmail']).toBe(
      hub.salesforce.sideDoor.get('Contact', String(contact?.['Id']))?.['HasOptedOutOfEmail'],
    );
  });
});

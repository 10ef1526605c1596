/**
 * The generic HTTP connector end to end, through the whole hub (emulators -> HTTP webhooks ->
 * engine -> store -> the other systems): the example REST CRM (`config/examples/http-crm.yaml` as
 * written) beside HubSpot and Salesforce. A withdrawal in the preference center reaches the CRM and
 * HubSpot; a withdrawal a user makes in the CRM (a Standard Webhook, read back) reaches HubSpot and
 * Salesforce. The hub's own writes come back from the CRM as webhooks and change nothing (no echo).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Contact, RunningHttpEmulator } from '../../../connectors/http/emulator/index.js';
import { savePreferences } from '../../../harness/preference-center.js';
import { SIGNING_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';
import { waitFor } from '../../../harness/sync-hub.js';

function httpOf(hub: PrivacyHub): RunningHttpEmulator {
  if (!hub.http) throw new Error('the hub runs without the HTTP system');
  return hub.http;
}

function crmContact(hub: PrivacyHub, email: string): Contact {
  const contact = httpOf(hub).sideDoor.crmContacts(email)[0];
  if (!contact) throw new Error(`the CRM holds no ${email}`);
  return contact;
}

/** The hub's writes to the CRM so far (creates and updates). */
function crmWrites(hub: PrivacyHub): number {
  const calls = httpOf(hub).sideDoor.calls().byEndpoint;
  return (calls['POST /crm/v1/contacts'] ?? 0) + (calls['PATCH /crm/v1/contacts/:id'] ?? 0);
}

/** A person created and subscribed by a marketer in HubSpot, carried to Salesforce and the CRM; her profile id. */
async function seed(hub: PrivacyHub, email: string): Promise<string> {
  hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(email, 101);
  await hub.settle();
  const profileId = (await hub.profileByEmail(email))?.id;
  if (!profileId) throw new Error(`${email} has no profile`);
  expect(crmContact(hub, email)).toMatchObject({ first_name: 'Ada', last_name: 'Lovelace', consents: { email_marketing: true } });
  return profileId;
}

describe('the generic HTTP connector with HubSpot and Salesforce, end to end', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a withdrawal in the preference center reaches the HTTP CRM and HubSpot, once', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', http: true });
    const h = hub;
    const profileId = await seed(h, 'ada@example.com');
    const writesBefore = crmWrites(h);

    await savePreferences(h, SIGNING_SECRET, profileId, []);
    await h.settle();

    expect(crmContact(h, 'ada@example.com').consents.email_marketing).toBe(false);
    expect(h.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ HasOptedOutOfEmail: true });
    // One write carried the withdrawal; the CRM's webhook about it was an echo and wrote nothing back.
    expect(crmWrites(h)).toBe(writesBefore + 1);
    expect((await h.profileByEmail('ada@example.com'))?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'preference_center',
    });
    await new Promise((r) => setTimeout(r, 300));
    await h.settle();
    expect(crmWrites(h)).toBe(writesBefore + 1);

    // The CRM also received the change as a signed Standard Webhook (its inbox verifies with the
    // standardwebhooks library): the grant when she was created, then the withdrawal, with its source.
    const consentEvents = () =>
      httpOf(h)
        .sideDoor.inbox('crm')
        .filter((m) => m.type === 'consent.changed')
        .map((m) => m.payload);
    await waitFor(() => consentEvents().length >= 2, 15_000, 'two consent.changed webhooks at the CRM');
    expect(consentEvents()).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ profileId, consent: 'marketing.email', state: 'granted' }) }),
      expect.objectContaining({
        data: expect.objectContaining({ profileId, consent: 'marketing.email', state: 'denied', source: 'preference_center' }),
      }),
    ]);
    expect(
      httpOf(h)
        .sideDoor.inbox('crm')
        .every((m) => m.attempts === 1 && m.acknowledged),
    ).toBe(true);
  });

  it('a withdrawal a user makes in the HTTP CRM reaches HubSpot and Salesforce, and is not written back', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', http: true });
    const h = hub;
    await seed(h, 'grace@example.com');
    const writesBefore = crmWrites(h);
    const hubspotWritesBefore = h.hubspot.sideDoor.calls().total;

    // A user unticks the consent in the CRM's own UI: the CRM sends contact.updated (signed), the hub reads it back.
    httpOf(h).sideDoor.crmUserEdit(crmContact(h, 'grace@example.com').id, { consents: { email_marketing: false } });
    await h.settle();

    expect(h.hubspot.sideDoor.statuses('grace@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('grace@example.com')).toMatchObject({ HasOptedOutOfEmail: true });
    expect((await h.profileByEmail('grace@example.com'))?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'crm',
    });
    // Nothing went back to the CRM: it already holds the value.
    expect(crmWrites(h)).toBe(writesBefore);
    expect(h.hubspot.sideDoor.calls().total).toBeGreaterThan(hubspotWritesBefore);
  });
});

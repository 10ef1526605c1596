/**
 * End to end through the whole hub (emulators -> HTTP server -> engine -> store -> the other
 * system): a rep ticks "Email Opt Out" on a Salesforce Contact and HubSpot hears it as an
 * unsubscribe; a marketer unsubscribes in HubSpot and the Salesforce flag is set; neither
 * write comes back as a second write (no ping-pong). Outbound Messages travel as SOAP over
 * HTTP and are acknowledged; a malformed one gets a SOAP fault and changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { notificationsEnvelope } from '../../../connectors/salesforce/emulator/index.js';
import { startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

const STATUS_WRITE = 'POST /communication-preferences/v4/statuses/batch/write';
const SF_UPDATE = 'PATCH /services/data/:version/composite/sobjects';
const SF_UPSERT = 'PATCH /services/data/:version/composite/sobjects/:type/:field';

function hubspotWrites(hub: CrmHub): number {
  const calls = hub.hubspot.sideDoor.calls().byEndpoint;
  return (
    (calls[STATUS_WRITE] ?? 0) +
    (calls['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0) +
    (calls['POST /crm/v3/objects/contacts/batch/update'] ?? 0)
  );
}

function salesforceWrites(hub: CrmHub): number {
  const calls = hub.salesforce.sideDoor.calls().byEndpoint;
  return (calls[SF_UPDATE] ?? 0) + (calls[SF_UPSERT] ?? 0) + (calls['POST /services/data/:version/composite/sobjects'] ?? 0);
}

describe('Salesforce and HubSpot end to end', () => {
  let hub: CrmHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  /** A person subscribed in HubSpot, carried to Salesforce by the hub; returns the Contact id. */
  async function seedPerson(h: CrmHub, email: string): Promise<string> {
    h.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
    h.hubspot.sideDoor.subscribe(email, 101);
    await h.settle();
    const contact = h.salesforce.sideDoor.findByEmail(email);
    expect(contact).toMatchObject({ FirstName: 'Ada', LastName: 'Lovelace', HasOptedOutOfEmail: false });
    return String(contact?.['Id']);
  }

  it('a rep sets HasOptedOutOfEmail in Salesforce: HubSpot gets the unsubscribe, and nothing echoes', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const id = await seedPerson(hub, 'ada@example.com');
    hub.hubspot.sideDoor.resetCalls();
    hub.salesforce.sideDoor.resetCalls();

    hub.salesforce.sideDoor.update('Contact', id, { HasOptedOutOfEmail: true });
    await hub.settle();

    const consent = (await hub.profileByEmail('ada@example.com'))?.consents['marketing']?.['email'];
    expect(consent).toMatchObject({ value: 'denied', source: 'salesforce' });
    expect(hub.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    // One write to HubSpot; HubSpot's webhook about it changed nothing; Salesforce was not written back.
    expect(hub.hubspot.sideDoor.calls().byEndpoint[STATUS_WRITE]).toBe(1);
    expect(salesforceWrites(hub)).toBe(0);
    // The Outbound Message was acknowledged.
    expect(hub.salesforce.sideDoor.webhookDeliveries().every((d) => d.acked)).toBe(true);

    await new Promise((r) => setTimeout(r, 300));
    await hub.settle();
    expect(hubspotWrites(hub)).toBe(1);
    expect(salesforceWrites(hub)).toBe(0);
  });

  it('a marketer unsubscribes in HubSpot: the Salesforce flag is set, and its Outbound Message does not come back', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const id = await seedPerson(hub, 'grace@example.com');
    hub.hubspot.sideDoor.resetCalls();
    hub.salesforce.sideDoor.resetCalls();
    const delivered = hub.salesforce.sideDoor.webhookDeliveries().length;

    hub.hubspot.sideDoor.unsubscribe('grace@example.com', 101);
    await hub.settle();

    expect(hub.salesforce.sideDoor.get('Contact', id)).toMatchObject({ HasOptedOutOfEmail: true });
    const consent = (await hub.profileByEmail('grace@example.com'))?.consents['marketing']?.['email'];
    expect(consent).toMatchObject({ value: 'denied', source: 'hubspot' });
    expect(hub.salesforce.sideDoor.calls().byEndpoint[SF_UPDATE]).toBe(1);
    // Salesforce announced our write (it announces every change) with client=concord recorded...
    expect(hub.salesforce.sideDoor.webhookDeliveries().length).toBeGreaterThan(delivered);
    expect(hub.salesforce.sideDoor.changes().at(-1)).toMatchObject({ object: 'Contact', id, client: 'concord' });
    // ...which changed nothing: HubSpot is not written again.
    await new Promise((r) => setTimeout(r, 300));
    await hub.settle();
    expect(hubspotWrites(hub)).toBe(0);
    expect(salesforceWrites(hub)).toBe(1);
  });

  it('a rep undoing our opt-out moments after we wrote it is their change, not our earlier write coming back', async () => {
    // A clock tolerance wide enough that the rep's edit falls inside the echo window of our first write.
    hub = await startCrmHub({ dialect: 'sqlite', tuning: { echoToleranceMs: 10_000 } });
    const id = await seedPerson(hub, 'ada@example.com');
    hub.hubspot.sideDoor.unsubscribe('ada@example.com', 101);
    await hub.settle();
    expect(hub.salesforce.sideDoor.get('Contact', id)).toMatchObject({ HasOptedOutOfEmail: true });

    // The rep sets the flag back to what the hub first wrote: someone else's change all the same.
    // "Not opted out" grants nothing (the flag is withdraw-only), so the hub, seeing a change
    // that lost, puts the person's opt-out back; an echo would have been left alone.
    hub.salesforce.sideDoor.update('Contact', id, { HasOptedOutOfEmail: false });
    await hub.settle();
    const consent = (await hub.profileByEmail('ada@example.com'))?.consents['marketing']?.['email'];
    expect(consent).toMatchObject({ value: 'denied', source: 'hubspot' });
    expect(hub.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    expect(hub.salesforce.sideDoor.get('Contact', id)).toMatchObject({ HasOptedOutOfEmail: true });
  });

  it('answers a malformed or foreign Outbound Message with a SOAP fault and enqueues nothing', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const post = (body: string) =>
      fetch(hub?.outboundUrl ?? '', { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""' }, body });
    // A well-formed message about Ada, but from another org: it would create her profile if accepted.
    const foreign = notificationsEnvelope({
      organizationId: '00D5e000000OthrAAA',
      actionId: '04k5e0000000001AAA',
      baseUrl: 'https://other.my.salesforce.com',
      apiVersion: '62.0',
      object: 'Contact',
      notifications: [
        {
          id: '04l5e0000000001AAA',
          record: { Id: '0035e0000000001AAA', Email: 'ada@example.com', LastName: 'Lovelace', LastModifiedDate: new Date().toISOString() },
        },
      ],
    });
    for (const body of [
      '<not-xml',
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
      foreign,
    ]) {
      const res = await post(body);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).toContain('<soapenv:Fault>');
      expect(text).toMatch(/Outbound Message (refused|from another organization)/);
    }
    await hub.settle();
    const ingest = (await hub.engine.status()).queues.filter((q) => q.queue.includes('ingest'));
    expect(ingest.length).toBeGreaterThan(0);
    expect(ingest.every((q) => q.wait === 0 && q.active === 0 && q.delayed === 0 && q.failed === 0)).toBe(true);
    expect(await hub.store.findProfile({ kind: 'email', value: 'ada@example.com' })).toBeNull();
  });
});

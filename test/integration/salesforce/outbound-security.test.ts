/**
 * Forged Outbound Messages (issue 15) through the real server, engine and both emulators. A
 * message with the right OrganizationId but without the endpoint's URL token is refused before
 * its body is read; one with the token is only a hint: the hub reads the records it names back
 * from Salesforce and ingests what Salesforce holds, never what the message says.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { notificationsEnvelope } from '../../../connectors/salesforce/emulator/index.js';
import { isAck } from '../../../connectors/salesforce/emulator/outbound.js';
import { SF_ORG, startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';
import { createLogger } from '../../../src/log/logger.js';

let hub: CrmHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

const REP = '0055e000001RepXAAS';
let nextNotification = 900_000;

/** A message in Salesforce's form about these Contacts, saying whatever the forger wants. */
function forged(records: Record<string, string | boolean | null>[], org = SF_ORG): string {
  return notificationsEnvelope({
    organizationId: org,
    actionId: '04k5e0000000001AAA',
    baseUrl: 'https://forger.example',
    apiVersion: '62.0',
    object: 'Contact',
    notifications: records.map((record) => ({ id: `04l5e0000${String(nextNotification++).padStart(6, '0')}AAA`, record })),
  });
}

function post(url: string, body: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""' }, body });
}

/** Ada and Bob, subscribed in HubSpot and carried to Salesforce by the hub. */
async function seed(h: CrmHub): Promise<{ ada: string; bob: string }> {
  for (const [email, first, last] of [
    ['ada@example.com', 'Ada', 'Lovelace'],
    ['bob@example.com', 'Bob', 'Babbage'],
  ] as const) {
    h.hubspot.sideDoor.createContact({ email, firstname: first, lastname: last });
    h.hubspot.sideDoor.subscribe(email, 101);
  }
  await h.settle();
  const ada = String(h.salesforce.sideDoor.findByEmail('ada@example.com')?.['Id']);
  const bob = String(h.salesforce.sideDoor.findByEmail('bob@example.com')?.['Id']);
  expect(ada).toMatch(/^003/);
  expect(bob).toMatch(/^003/);
  return { ada, bob };
}

/** What the hub holds on the person behind a Contact, next to what Salesforce holds. */
async function sideBySide(h: CrmHub, contactId: string) {
  const contact = h.salesforce.sideDoor.get('Contact', contactId);
  const profile = await h.profileByEmail(String(contact?.['Email']));
  return {
    salesforce: {
      email: contact?.['Email'],
      firstName: contact?.['FirstName'],
      lastName: contact?.['LastName'],
      optedOut: contact?.['HasOptedOutOfEmail'],
    },
    hub: {
      email: profile?.identities.find((i) => i.kind === 'email' && profile.identities.every((j) => j.kind !== 'email' || j.at <= i.at))
        ?.value,
      firstName: profile?.attributes['firstName']?.value,
      lastName: profile?.attributes['lastName']?.value,
      optedOut: profile?.consents['marketing']?.['email']?.value === 'denied',
    },
    /** The Salesforce records the hub knows this person by. */
    salesforceIds: profile?.identities.filter((i) => i.kind === 'external' && i.system === 'salesforce').map((i) => i.value) ?? [],
  };
}

describe('a forged Outbound Message', () => {
  it('naming the right org, without the URL token or with a wrong one, is refused with a SOAP fault before the hub reads it', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const h = hub;
    const { ada } = await seed(h);
    const received = vi.spyOn(h.engine, 'receiveWebhook');
    const body = forged([
      { Id: ada, Email: 'ada@example.com', HasOptedOutOfEmail: true, LastModifiedById: REP, LastModifiedDate: new Date().toISOString() },
    ]);
    const genuineUrl = new URL(h.outboundUrl);
    const wrongToken = `${h.url}/webhooks/salesforce/${'x'.repeat(43)}`;
    for (const url of [`${h.url}/webhooks/salesforce`, wrongToken, `${h.url}/webhooks/salesforce/`]) {
      expect(url).not.toBe(genuineUrl.toString());
      const res = await post(url, body);
      expect(res.status, url).toBe(500);
      const text = await res.text();
      expect(text).toContain('<faultcode>soapenv:Client</faultcode>');
      expect(isAck(text)).toBe(false);
    }
    // Refused before the body was handed to the engine (the connector never parsed it).
    expect(received).not.toHaveBeenCalled();
    await h.settle();
    expect(h.salesforce.sideDoor.get('Contact', ada)?.['HasOptedOutOfEmail']).toBe(false);
    expect((await h.profileByEmail('ada@example.com'))?.consents['marketing']?.['email']?.value).toBe('granted');
  });

  it('with the URL token but forged values changes nothing: the hub ends holding what Salesforce holds', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const h = hub;
    const { ada, bob } = await seed(h);
    const before = { ada: await sideBySide(h, ada), bob: await sideBySide(h, bob) };
    const now = new Date(Date.now() + 1_000).toISOString();
    // Ada "unsubscribes"; then her Contact "takes" Bob's e-mail and a stranger's name.
    const messages = [
      forged([
        {
          Id: ada,
          Email: 'ada@example.com',
          FirstName: 'Ada',
          LastName: 'Lovelace',
          HasOptedOutOfEmail: true,
          LastModifiedById: REP,
          LastModifiedDate: now,
        },
      ]),
      forged([
        {
          Id: ada,
          Email: 'bob@example.com',
          FirstName: 'Mallory',
          LastName: 'Forger',
          HasOptedOutOfEmail: false,
          LastModifiedById: REP,
          LastModifiedDate: now,
        },
      ]),
    ];
    for (const body of messages) {
      const res = await post(h.outboundUrl, body);
      // A hint is taken (Salesforce would otherwise send it again for a day): it costs a read.
      expect(res.status).toBe(200);
      expect(isAck(await res.text())).toBe(true);
      await h.settle();
    }
    const after = { ada: await sideBySide(h, ada), bob: await sideBySide(h, bob) };
    expect({ ada: after.ada.salesforce, bob: after.bob.salesforce }).toEqual({ ada: before.ada.salesforce, bob: before.bob.salesforce });
    expect({ ada: after.ada.hub, bob: after.bob.hub }).toEqual({ ada: before.ada.hub, bob: before.bob.hub });
    for (const person of [after.ada, after.bob]) expect(person.hub).toEqual(person.salesforce);
    // Reading Ada's Contact back may teach the hub its id, never Bob's.
    expect(after.ada.salesforceIds.every((id) => id === ada)).toBe(true);
    expect(after.bob.salesforceIds.every((id) => id === bob)).toBe(true);
    // Nothing was written anywhere because of it.
    expect(h.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({ status: 'SUBSCRIBED' });
    expect(h.hubspot.sideDoor.findByEmail('ada@example.com')?.properties['firstname']).toBe('Ada');
  });

  it('is logged once per refusal, with a fixed reason: no tag name, value or token the sender chose', async () => {
    const lines: string[] = [];
    hub = await startCrmHub({
      dialect: 'sqlite',
      logger: createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } }),
    });
    const h = hub;
    const chosen = forged([{ Id: '0035e0000000001AAA', Email: 'ada@example.com' }])
      .replace('<sf:Email>', '<evil-Chosen-Tag attr="evil-Value">')
      .replace('</sf:Email>', '</evil-Other-Tag>');
    const wrongToken = `${h.url}/webhooks/salesforce/evil-token-${'x'.repeat(40)}`;
    const requests: [string, string][] = [
      [h.outboundUrl, chosen],
      [h.outboundUrl, forged([{ Id: '0035e0000000001AAA' }], '00D5e000000OthrAAA')],
      [wrongToken, chosen],
    ];
    for (const [url, body] of requests) expect((await post(url, body)).status).toBe(500);
    const refused = lines.filter((l) => l.includes('refused'));
    expect(refused).toHaveLength(requests.length);
    for (const line of refused) expect(JSON.parse(line)).toMatchObject({ msg: 'webhook refused', connector: 'salesforce', status: 401 });
    expect(lines.join('\n')).not.toMatch(/evil|Chosen|@example/);
  });

  it('costs one Salesforce API call for 100 notifications', async () => {
    hub = await startCrmHub({ dialect: 'sqlite' });
    const h = hub;
    const door = h.salesforce.sideDoor;
    const ids = Array.from({ length: 100 }, (_, i) =>
      String(door.create('Contact', { LastName: `Person${i}`, Email: `p${i}@example.com` })['Id']),
    );
    await h.settle();
    door.resetCalls();
    const res = await post(h.outboundUrl, forged(ids.map((Id) => ({ Id, LastName: 'Forged' }))));
    expect(res.status).toBe(200);
    await h.settle();
    expect(door.calls().total).toBe(1);
    expect((await h.profileByEmail('p42@example.com'))?.attributes['lastName']?.value).toBe('Person42');
  });
});

import { describe, expect, it } from 'vitest';
import type { RawWebhook, WebhookEvent } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { createSalesforceInstance } from './connector.js';
import { SalesforceConfig } from './config.js';
import { isAck, notificationsEnvelope } from './emulator/outbound.js';
import { ackReply, readOutboundMessage, soapFault, toWebhookEvents, verifyOutboundMessage } from './webhook.js';
import { silentLogger } from '../../src/log/logger.js';

const ORG = '00D5e000000KQ2eEAG';
const INTEGRATION_USER = '0055e000001IntgAAC';
const REP = '0055e000001RepXAAS';

function contact(i: number, overrides: Record<string, string | boolean | null> = {}): Record<string, string | boolean | null> {
  return {
    Id: `0035e00000${String(i).padStart(5, '0')}AAA`,
    Email: `person-${i}@example.com`,
    FirstName: `First${i}`,
    LastName: `Last${i}`,
    Phone: null,
    HasOptedOutOfEmail: i % 2 === 0,
    DoNotCall: false,
    IndividualId: null,
    LastModifiedDate: '2026-03-10T09:00:00.000Z',
    LastModifiedById: REP,
    SystemModstamp: '2026-03-10T09:00:00.000Z',
    ...overrides,
  };
}

function message(
  records: Record<string, string | boolean | null>[],
  options: { org?: string; object?: string; firstId?: number } = {},
): Buffer {
  return Buffer.from(
    notificationsEnvelope({
      organizationId: options.org ?? ORG,
      actionId: '04k5e0000000001AAA',
      baseUrl: 'https://example.my.salesforce.com',
      apiVersion: '62.0',
      object: options.object ?? 'Contact',
      notifications: records.map((record, i) => ({ id: `04l5e0000${String((options.firstId ?? 0) + i).padStart(6, '0')}AAA`, record })),
    }),
  );
}

const TOKEN = 'Lk2Jh7Gf4Ds9Aq1Wz6Xe3Rc8Vt5By0Nu4Mi9Ko2Pl7';
const RECEIVED_AT = '2026-03-10T09:00:05.000Z';
const raw = (body: Buffer): RawWebhook => ({
  method: 'POST',
  url: 'https://hub.example/webhooks/salesforce/<token>',
  urlToken: TOKEN,
  headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
  body,
  receivedAt: RECEIVED_AT,
});
const settings = (organizationId: string | undefined) => ({ token: TOKEN, organizationId });

function instance() {
  const config = SalesforceConfig.parse({
    clientId: 'id',
    clientSecret: 'secret',
    loginUrl: 'http://127.0.0.1:9',
    organizationId: ORG,
    integrationUserId: INTEGRATION_USER,
    outboundMessageToken: TOKEN,
  });
  return createSalesforceInstance({ instanceId: 'salesforce', config, logger: silentLogger() });
}

describe('Outbound Messages', () => {
  it('reads a valid message for its org, notification ids, objects and record ids, and nothing else', () => {
    const hand = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/${ORG}</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/${ORG}</PartnerUrl>
   <Notification>
    <Id>04l5e00000Gx7QzAAJ</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0035e00000ZkM3hAAF</sf:Id>
     <sf:Email>ada&#64;example.com</sf:Email>
     <sf:LastName>O&apos;Hara &amp; Sons — Zoë</sf:LastName>
     <sf:Phone xsi:nil="true"/>
     <sf:HasOptedOutOfEmail>true</sf:HasOptedOutOfEmail>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`);
    expect(readOutboundMessage(hand)).toEqual({
      organizationId: ORG,
      actionId: '04k5e000000CaRkAAK',
      notifications: [{ id: '04l5e00000Gx7QzAAJ', object: 'Contact', recordId: '0035e00000ZkM3hAAF' }],
    });
    expect(verifyOutboundMessage(raw(hand), settings(ORG))).toMatchObject({ ok: true });
  });

  it('turns a valid message into one changed event naming its records (never their values) and answers with an Ack', async () => {
    const sf = instance();
    const body = message([contact(1), contact(2, { LastModifiedById: INTEGRATION_USER }), contact(3, { LastModifiedById: null })]);
    expect(await sf.verify?.(raw(body))).toEqual({ ok: true });
    const events = (await sf.parse?.(raw(body))) ?? [];
    expect(events).toEqual([
      {
        kind: 'changed',
        eventId: expect.stringMatching(/^om:[0-9a-f]{32}$/),
        externalIds: ['Contact:0035e0000000001AAA', 'Contact:0035e0000000002AAA', 'Contact:0035e0000000003AAA'],
        at: RECEIVED_AT,
      },
    ]);
    // Who last modified them is for the read-back to say: the event is never marked as our echo.
    expect(events[0]).not.toHaveProperty('echo');
    const reply = sf.reply?.(events);
    expect(reply).toMatchObject({ status: 200, contentType: expect.stringContaining('text/xml') });
    expect(isAck(reply?.body ?? '')).toBe(true);
  });

  it('refuses a message naming another OrganizationId (and with none configured); the refusal is a SOAP fault', async () => {
    const sf = instance();
    const other = message([contact(1)], { org: '00D5e000000OthrAAA' });
    expect(await sf.verify?.(raw(other))).toEqual({ ok: false, reason: 'Outbound Message from another organization' });
    expect(verifyOutboundMessage(raw(message([contact(1)])), settings(undefined))).toMatchObject({ ok: false });
    // The 15-character form of the configured id is the same org.
    expect(verifyOutboundMessage(raw(message([contact(1)], { org: ORG.slice(0, 15) })), settings(ORG))).toMatchObject({ ok: true });
    const fault = sf.refuse?.({ status: 401, reason: 'Outbound Message from another organization' });
    expect(fault?.status).toBe(500);
    expect(fault?.body).toContain('<faultcode>soapenv:Client</faultcode>');
    expect(fault?.body).toContain('<faultstring>Outbound Message from another organization</faultstring>');
    expect(isAck(fault?.body ?? '')).toBe(false);
  });

  it.each([
    ['text that is not XML', 'this is not a SOAP message'],
    [
      'truncated XML',
      message([contact(1)])
        .toString('utf8')
        .slice(0, 400),
    ],
    [
      'a DOCTYPE (entity expansion)',
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>`,
    ],
    [
      'another SOAP call',
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><login/></soapenv:Body></soapenv:Envelope>',
    ],
    ['no notification', message([]).toString('utf8')],
    ['JSON', '{"unexpected": true}'],
    ['an sObject without Id', message([contact(1, { Id: null })]).toString('utf8')],
    [
      'a chosen tag name',
      message([contact(1)])
        .toString('utf8')
        .replace('<sf:Email>', '<evil-Chosen-Tag>')
        .replace('</sf:Email>', '</evil-Other-Tag>'),
    ],
  ])('refuses malformed input (%s): nothing is enqueued, and nothing the sender wrote is in the reason', async (_label, body) => {
    const sf = instance();
    const request = raw(Buffer.from(body));
    const verified = await sf.verify?.(request);
    expect(verified).toMatchObject({ ok: false });
    if (verified && !verified.ok) expect(verified.reason).not.toMatch(/evil|Chosen|lolz|login|unexpected/i);
    const err = await Promise.resolve()
      .then(() => sf.parse?.(request))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(MalformedPayloadError);
  });

  it('drops a duplicate notification once the first delivery was enqueued and acknowledged', async () => {
    const sf = instance();
    const first = message([contact(1), contact(2)]);
    const events = (await sf.parse?.(raw(first))) ?? [];
    // A redelivery before the Ack (the first delivery failed half-way) is processed again, with the same event id.
    const again = (await sf.parse?.(raw(first))) ?? [];
    expect(again.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    sf.reply?.(events);
    expect(await sf.parse?.(raw(first))).toEqual([]);
    // A later message carrying one old and one new notification keeps only the new one.
    const mixed = message([contact(2), contact(3)], { firstId: 1 });
    const next = (await sf.parse?.(raw(mixed))) ?? [];
    expect(next).toHaveLength(1);
    expect((next[0] as Extract<WebhookEvent, { kind: 'changed' }>).externalIds).toEqual(['Contact:0035e0000000003AAA']);
    // An all-duplicate message is still acknowledged, or Salesforce would keep sending it.
    expect(isAck(sf.reply?.([])?.body ?? '')).toBe(true);
  });

  it('takes 100 notifications in one message and refuses 101', async () => {
    const sf = instance();
    const hundred = Array.from({ length: 100 }, (_, i) => contact(i));
    const events = (await sf.parse?.(raw(message(hundred)))) ?? [];
    expect(events).toHaveLength(1);
    expect((events[0] as Extract<WebhookEvent, { kind: 'changed' }>).externalIds).toHaveLength(100);
    sf.reply?.(events);
    expect(await sf.parse?.(raw(message(hundred)))).toEqual([]);
    expect(() => readOutboundMessage(message(Array.from({ length: 101 }, (_, i) => contact(i))))).toThrow(/more than 100 notifications/);
  });

  it('names the people behind Individual and ContactPointTypeConsent notifications (changed events, read even when all are ours)', () => {
    const individual = {
      Id: '0PK5e0000000001AAA',
      HasOptedOutProcessing: true,
      LastModifiedDate: '2026-03-10T10:00:00.000Z',
      LastModifiedById: INTEGRATION_USER,
    };
    const consent = {
      Id: '0ZY5e0000000001AAA',
      PartyId: '0PK5e0000000001AAA',
      PrivacyConsentStatus: 'OptOut',
      LastModifiedDate: '2026-03-10T11:00:00.000Z',
      LastModifiedById: REP,
    };
    const notifications = [
      ...readOutboundMessage(message([individual], { object: 'Individual' })).notifications,
      ...readOutboundMessage(message([consent], { object: 'ContactPointTypeConsent', firstId: 5 })).notifications,
      ...readOutboundMessage(message([{ Id: '0015e0000000001AAA', Name: 'Acme' }], { object: 'Account', firstId: 9 })).notifications,
    ];
    const opts = { object: 'Contact', receivedAt: RECEIVED_AT };
    const { events, ignored } = toWebhookEvents(notifications, opts);
    expect(ignored).toBe(1);
    expect(events.map((e) => e.event)).toEqual([
      {
        kind: 'changed',
        eventId: expect.stringMatching(/^om-related:/),
        externalIds: ['Individual:0PK5e0000000001AAA', 'ContactPointTypeConsent:0ZY5e0000000001AAA'],
        at: RECEIVED_AT,
      },
    ]);
    // Last modified by the integration user names the record's last writer, not each field's: a
    // rep's edit saved moments before our write is in it too, so the record is read and compared.
    expect(toWebhookEvents(notifications.slice(0, 1), opts).events[0]?.event).not.toHaveProperty('echo');
  });

  it('writes the Ack and the fault as Salesforce expects them', () => {
    expect(ackReply().body).toContain(
      '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>',
    );
    expect(soapFault('bad <xml> & more').body).toContain('<faultstring>bad &lt;xml&gt; &amp; more</faultstring>');
  });
});

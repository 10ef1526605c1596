/**
 * The bounded Outbound Message reader: what it takes, what it refuses, and that it agrees with a
 * general XML parser (fast-xml-parser) on every message Salesforce could send.
 */
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { notificationsEnvelope } from './emulator/outbound.js';
import { OUTBOUND_LIMITS, readOutboundMessage } from './outbound-xml.js';

const ORG = '00D5e000000KQ2eEAG';
const OPEN =
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">';
const CLOSE = '</notifications></soapenv:Body></soapenv:Envelope>';
const NOTIFICATION =
  '<Notification><Id>04l5e0000000001AAA</Id><sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0035e0000000001AAA</sf:Id></sObject></Notification>';

function read(inner: string, options: { prolog?: string; after?: string } = {}) {
  return readOutboundMessage(Buffer.from(`${options.prolog ?? ''}${OPEN}${inner}${CLOSE}${options.after ?? ''}`));
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MalformedPayloadError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

const genuine = `<OrganizationId>${ORG}</OrganizationId><ActionId>04k5e0000000001AAA</ActionId>${NOTIFICATION}`;

describe('readOutboundMessage', () => {
  it('takes a BOM, an XML declaration, comments, CDATA in values, both quote styles and the five entities', () => {
    const inner = `<!-- sent by Salesforce --><OrganizationId> ${ORG}
</OrganizationId><ActionId>04k5e0000000001AAA</ActionId><Notification><Id>04l5e0000000001AAA</Id><sObject xsi:type='sf:Lead' xmlns:sf="urn:x"><sf:Id>00Q5e0000000001AAA</sf:Id><sf:Note><![CDATA[<b> & </b>]]> &amp;&lt;&gt;&quot;&apos;&#64;&#x1F600; Zoë</sf:Note></sObject></Notification>`;
    const bom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${OPEN}${inner}${CLOSE}\n`),
    ]);
    expect(readOutboundMessage(bom)).toEqual({
      organizationId: ORG,
      actionId: '04k5e0000000001AAA',
      notifications: [{ id: '04l5e0000000001AAA', object: 'Lead', recordId: '00Q5e0000000001AAA' }],
    });
  });

  it.each([
    ['a DOCTYPE', () => read(genuine, { prolog: '<!DOCTYPE x [<!ENTITY e "y">]>' }), /DOCTYPE/],
    ['a processing instruction', () => read(`<?php echo 1; ?>${genuine}`), /processing instruction/],
    ['an undefined entity', () => read(`${genuine}<x>&nbsp;</x>`), /entity/],
    ['a bare ampersand', () => read(`${genuine}<x>a & b</x>`), /entity/],
    ['a character reference to a control character', () => read(`${genuine}<x>&#1;</x>`), /entity/],
    ['a less-than in an attribute', () => read(`${genuine}<x a="<"/>`), /attribute/],
    ['a repeated attribute', () => read(`${genuine}<x a="1" a="2"/>`), /repeated attribute/],
    ['attributes without space between them', () => read(`${genuine}<x a="1"b="2"/>`), /malformed start tag/],
    ['mismatched tags', () => read(`${genuine}<x></y>`), /mismatched/],
    ['an unclosed element', () => readOutboundMessage(Buffer.from(`${OPEN}${genuine}`)), /unclosed/],
    ['two roots', () => read(genuine, { after: '<again/>' }), /more than one root/],
    ['text after the root', () => read(genuine, { after: 'trailing' }), /text outside/],
    ['another root element', () => readOutboundMessage(Buffer.from(`<Envelopes>${genuine}</Envelopes>`)), /not a SOAP envelope/],
    ['two OrganizationIds', () => read(`<OrganizationId>${ORG}</OrganizationId>${genuine}`), /more than one OrganizationId/],
    [
      'two notifications elements',
      () => readOutboundMessage(Buffer.from(`${OPEN}${genuine}</notifications><notifications>${CLOSE}`)),
      /more than one notifications/,
    ],
    ['an element inside an id', () => read(`<OrganizationId><b>${ORG}</b></OrganizationId>`), /inside an id/],
    [
      'an id with an entity in it',
      () => read(`<OrganizationId>${ORG.slice(0, -1)}&#65;</OrganizationId>${NOTIFICATION}`),
      /not a Salesforce id/,
    ],
    [
      'a Notification with two sObjects',
      () =>
        read(
          `<OrganizationId>${ORG}</OrganizationId>${NOTIFICATION.replace('</Notification>', '<sObject xsi:type="sf:Contact"><sf:Id>0035e0000000002AAA</sf:Id></sObject></Notification>')}`,
        ),
      /more than one sObject/,
    ],
    [
      'an sObject without xsi:type',
      () => read(`<OrganizationId>${ORG}</OrganizationId>${NOTIFICATION.replace(' xsi:type="sf:Contact"', '')}`),
      /xsi:type/,
    ],
    [
      'bytes that are not UTF-8',
      () =>
        readOutboundMessage(
          Buffer.concat([
            Buffer.from(`${OPEN}<OrganizationId>${ORG}</OrganizationId>${NOTIFICATION}<x>`),
            Buffer.from([0xc3, 0x28]),
            Buffer.from(`</x>${CLOSE}`),
          ]),
        ),
      /UTF-8/,
    ],
    ['a name outside ASCII', () => read(`${genuine}<zoë/>`), /malformed start tag/],
    ['a name of 129 characters', () => read(`${genuine}<${'n'.repeat(129)}/>`), /longer than 128/],
  ])('refuses %s, with fixed text', (_label, fn, reason) => {
    const message = refusal(fn);
    expect(message).toMatch(reason);
    expect(message).toMatch(/^Outbound Message refused: [a-z0-9 ,/:()-]+$/i);
  });

  it('refuses at each limit, and takes what is just under it', () => {
    const limits = { ...OUTBOUND_LIMITS, maxNodes: 20, maxAttributes: 12, maxAttributesPerElement: 3, maxDepth: 8, maxNotifications: 2 };
    const at = (inner: string) => readOutboundMessage(Buffer.from(`${OPEN}${genuine}${inner}${CLOSE}`), limits);
    // The genuine part: 3 envelope elements, OrganizationId, ActionId and 4 in the notification; 5 attributes.
    expect(at('<x/>'.repeat(11)).notifications).toHaveLength(1);
    expect(refusal(() => at('<x/>'.repeat(12)))).toMatch(/more than 20 elements/);
    expect(at('<x a="1" b="2" c="3"/>').notifications).toHaveLength(1);
    expect(refusal(() => at('<x a="1" b="2" c="3" d="4"/>'))).toMatch(/more than 3 attributes on one element/);
    expect(at('<x a="1" b="2" c="3"/><y a="1" b="2" c="3"/><z a="1"/>').notifications).toHaveLength(1);
    expect(refusal(() => at('<x a="1" b="2" c="3"/><y a="1" b="2" c="3"/><z a="1" b="2"/>'))).toMatch(/more than 12 attributes/);
    // notifications is 3 deep: five more make 8.
    expect(at('<a><b><c><d><e/></d></c></b></a>').notifications).toHaveLength(1);
    expect(refusal(() => at('<a><b><c><d><e><f/></e></d></c></b></a>'))).toMatch(/deeper than 8/);
    expect(at(NOTIFICATION).notifications).toHaveLength(2);
    expect(refusal(() => at(NOTIFICATION + NOTIFICATION))).toMatch(/more than 2 notifications/);
    expect(refusal(() => readOutboundMessage(Buffer.alloc(OUTBOUND_LIMITS.maxBytes + 1, 0x20)))).toMatch(/exceeds/);
  });

  /** A message as Salesforce writes it, with arbitrary field names and values. */
  const anyMessage = fc.record({
    object: fc.constantFrom('Contact', 'Lead', 'Individual', 'ContactPointTypeConsent'),
    records: fc.array(
      fc.record({
        fields: fc.dictionary(
          fc.stringMatching(/^[A-Z][A-Za-z0-9_]{0,20}$/).filter((n) => n !== 'Id' && n !== 'IsDeleted'),
          fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constant(null), fc.boolean()),
          { maxKeys: 8 },
        ),
        id: fc.stringMatching(/^[a-zA-Z0-9]{18}$/),
      }),
      { minLength: 1, maxLength: 100 },
    ),
  });

  it('agrees with a general XML parser on any message Salesforce could send', () => {
    const parser = new XMLParser({
      removeNSPrefix: true,
      ignoreAttributes: false,
      attributeNamePrefix: '@_',
      parseTagValue: false,
      isArray: (name) => name === 'Notification',
    });
    fc.assert(
      fc.property(anyMessage, ({ object, records }) => {
        const body = notificationsEnvelope({
          organizationId: ORG,
          actionId: '04k5e0000000001AAA',
          baseUrl: 'https://example.my.salesforce.com',
          apiVersion: '62.0',
          object,
          notifications: records.map((r, i) => ({ id: `04l5e0000${String(i).padStart(6, '0')}AAA`, record: { Id: r.id, ...r.fields } })),
        });
        expect(XMLValidator.validate(body)).toBe(true);
        const doc = parser.parse(body) as {
          Envelope: {
            Body: { notifications: { OrganizationId: string; Notification: { Id: string; sObject: Record<string, unknown> }[] } };
          };
        };
        const expected = doc.Envelope.Body.notifications.Notification.map((n) => ({
          id: n.Id,
          object: String(n.sObject['@_type']).replace(/^.*:/, ''),
          recordId: String(n.sObject['Id']),
        }));
        expect(readOutboundMessage(Buffer.from(body))).toEqual({
          organizationId: ORG,
          actionId: '04k5e0000000001AAA',
          notifications: expected,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('answers anything else with a refusal, never another error, and only takes well-formed XML', () => {
    const parts = [
      '<',
      '>',
      '/',
      '=',
      '"',
      "'",
      '&',
      ';',
      '!',
      '?',
      '[',
      ']',
      '-',
      ' ',
      'a',
      'x:y',
      'Id',
      'Notification',
      'sObject',
      'OrganizationId',
      ORG,
      '&amp;',
      '<!--',
      '-->',
      '<![CDATA[',
      ']]>',
    ];
    const mutations = fc.oneof(
      fc.string({ unit: fc.constantFrom(...parts), maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      fc.tuple(fc.nat(), fc.nat(), fc.string({ unit: fc.constantFrom(...parts), maxLength: 5 })).map(([at, cut, insert]) => {
        const whole = `${OPEN}${genuine}${CLOSE}`;
        const start = at % whole.length;
        return whole.slice(0, start) + insert + whole.slice(start + (cut % 4));
      }),
    );
    fc.assert(
      fc.property(mutations, (text) => {
        let read: unknown;
        try {
          read = readOutboundMessage(Buffer.from(text, 'latin1'));
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedPayloadError);
          return;
        }
        // Whatever it takes, a general parser takes too.
        expect(read).toBeDefined();
        expect(XMLValidator.validate(Buffer.from(text, 'latin1').toString('utf8'))).toBe(true);
      }),
      { numRuns: 3_000 },
    );
  });
});

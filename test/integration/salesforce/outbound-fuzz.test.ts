/**
 * Fuzzing the Salesforce Outbound Message endpoint through the real server, with the valid URL
 * token (issue 15): 10,000 bodies that are not a genuine message (random bytes and text, random
 * XML trees, genuine messages from another org cut, spliced and stuffed), each answered with a
 * 4xx or a SOAP fault, none crashing the server, none changing a profile. Then forged messages
 * with the right org and made-up values: acknowledged (a hint costs a read), and afterwards the
 * hub holds exactly what it held, which is what Salesforce holds.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationsEnvelope } from '../../../connectors/salesforce/emulator/index.js';
import { isAck } from '../../../connectors/salesforce/emulator/outbound.js';
import type { Profile } from '../../../src/profile/schema.js';
import { SF_ORG, startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

let hub: CrmHub;
let contacts: string[] = [];
const PEOPLE = ['ada', 'bob', 'cyd'].map((name) => `${name}@example.com`);

beforeAll(async () => {
  hub = await startCrmHub({ dialect: 'sqlite' });
  for (const email of PEOPLE) {
    hub.hubspot.sideDoor.createContact({ email, firstname: email.slice(0, 3), lastname: 'Fuzz' });
    hub.hubspot.sideDoor.subscribe(email, 101);
  }
  await hub.settle();
  contacts = PEOPLE.map((email) => String(hub.salesforce.sideDoor.findByEmail(email)?.['Id']));
}, 60_000);

afterAll(async () => {
  await hub.close();
});

/** Every profile of the hub, with its version (a change bumps it), and what both systems hold. */
async function state(): Promise<unknown> {
  const profiles = await Promise.all(PEOPLE.map((email) => hub.profileByEmail(email)));
  return {
    profiles: profiles.map(
      (p: Profile | null) =>
        p && { id: p.id, version: p.version, identities: p.identities, attributes: p.attributes, consents: p.consents },
    ),
    salesforce: contacts.map((id) => hub.salesforce.sideDoor.get('Contact', id)),
    hubspot: PEOPLE.map((email) => [hub.hubspot.sideDoor.findByEmail(email)?.properties, hub.hubspot.sideDoor.statuses(email)]),
  };
}

let notification = 500_000;
function envelope(org: string, records: Record<string, string | boolean | null>[], object = 'Contact'): string {
  return notificationsEnvelope({
    organizationId: org,
    actionId: '04k5e0000000001AAA',
    baseUrl: 'https://forger.example',
    apiVersion: '62.0',
    object,
    notifications: records.map((record) => ({ id: `04l5e0000${String(notification++).padStart(6, '0')}AAA`, record })),
  });
}

/** Made-up values for a real Contact: opt-outs, another person's e-mail, a stranger's name. */
const forgedRecord = fc.record({
  contact: fc.nat(2),
  HasOptedOutOfEmail: fc.boolean(),
  Email: fc.oneof(fc.constantFrom(...PEOPLE), fc.emailAddress()),
  FirstName: fc.string({ maxLength: 30 }),
  LastName: fc.string({ minLength: 1, maxLength: 30 }),
  LastModifiedDate: fc.date({ min: new Date('2020-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
});

const markup = [
  '<',
  '>',
  '</',
  '/>',
  '=',
  '"',
  "'",
  '&',
  '&amp;',
  '&#x41;',
  ';',
  '<!--',
  '-->',
  '<![CDATA[',
  ']]>',
  '<?xml version="1.0"?>',
  '<!DOCTYPE a [<!ENTITY e "x">]>',
  ' ',
  'xsi:type="sf:Contact"',
  'sf:',
  'Id',
  'Notification',
  'sObject',
  'OrganizationId',
  SF_ORG,
  'soapenv:Envelope',
  'soapenv:Body',
  'notifications',
];

/** A random XML-ish tree: names from the envelope's vocabulary or not, attributes, text, depth. */
const tree: fc.Arbitrary<string> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 20 }).map((t) => t.replace(/[<&]/g, '')),
    fc
      .record({
        name: fc.oneof(
          fc.constantFrom(
            'soapenv:Envelope',
            'soapenv:Body',
            'notifications',
            'OrganizationId',
            'Notification',
            'Id',
            'sObject',
            'sf:Id',
            'x',
          ),
          fc.stringMatching(/^[a-z][a-z0-9:]{0,8}$/),
        ),
        attributes: fc.array(
          fc.tuple(
            fc.stringMatching(/^[a-z][a-z:]{0,6}$/),
            fc.string({ maxLength: 12 }).map((v) => v.replace(/[<&"]/g, '')),
          ),
          { maxLength: 20 },
        ),
        children: fc.array(tie('node'), { maxLength: 6 }),
      })
      .map(
        ({ name, attributes, children }) => `<${name}${attributes.map(([a, v]) => ` ${a}="${v}"`).join('')}>${children.join('')}</${name}>`,
      ),
  ),
})).node;

/** Bodies that are not a genuine message from the configured org. */
const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
  fc.string({ unit: fc.constantFrom(...markup), maxLength: 300 }).map((t) => Buffer.from(t)),
  tree.map((t) => Buffer.from(t)),
  fc
    .tuple(
      fc.array(forgedRecord, { minLength: 1, maxLength: 5 }),
      fc.nat(),
      fc.nat(8),
      fc.string({ unit: fc.constantFrom(...markup), maxLength: 6 }),
      fc.constantFrom('Contact', 'Individual', 'Account'),
    )
    .map(([records, at, cut, insert, object]) => {
      // A well-formed message from another org, then cut, spliced and stuffed.
      const whole = envelope(
        '00D5e000000OthrAAA',
        records.map(({ contact, ...fields }) => ({ Id: contacts[contact] ?? '', ...fields })),
        object,
      );
      const start = at % (whole.length + 1);
      return Buffer.from(whole.slice(0, start) + insert + whole.slice(start + cut));
    }),
  fc.constantFrom(
    Buffer.from(
      `<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><notifications ${Array.from({ length: 20_000 }, (_, i) => `a${i}="1"`).join(' ')}/></soapenv:Body></soapenv:Envelope>`,
    ),
    Buffer.from(`${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}`),
    Buffer.alloc(300_000, 0x41),
  ),
);

function post(body: Buffer | string, url = hub.outboundUrl) {
  return hub.app.inject({
    method: 'POST',
    url: new URL(url).pathname,
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
    payload: body,
  });
}

describe('fuzzing the Salesforce endpoint with a valid token', () => {
  it('answers 10,000 bodies that are not a genuine message with a 4xx or a SOAP fault, never crashes, and changes no profile', async () => {
    const before = await state();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(garbage, async (body) => {
        const res = await post(body);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const fault =
          res.statusCode === 500 && res.body.includes('<soapenv:Fault>') && res.body.includes('<faultcode>soapenv:Client</faultcode>');
        expect(fault || (res.statusCode >= 400 && res.statusCode < 500)).toBe(true);
        expect(isAck(res.body)).toBe(false);
      }),
      { numRuns: 10_000 },
    );
    // Still up, nothing queued, nothing changed.
    expect((await hub.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await hub.settle();
    expect(await state()).toEqual(before);
    expect([...statuses.keys()].every((s) => s === 500 || (s >= 400 && s < 500))).toBe(true);
  }, 300_000);

  it('acknowledges forged messages with the right org as hints, and ends holding what Salesforce holds', async () => {
    const before = await state();
    await fc.assert(
      fc.asyncProperty(fc.array(forgedRecord, { minLength: 1, maxLength: 10 }), async (records) => {
        const res = await post(
          envelope(
            SF_ORG,
            records.map(({ contact, ...fields }) => ({ Id: contacts[contact] ?? '', LastModifiedById: '0055e000001RepXAAS', ...fields })),
          ),
        );
        expect(res.statusCode).toBe(200);
        expect(isAck(res.body)).toBe(true);
      }),
      { numRuns: 100 },
    );
    await hub.settle();
    const after = await state();
    // Reading back may teach the hub a Salesforce id it had not stored as an identity (a lookup
    // key, not a change of values); e-mails, names, consents and both systems are as they were.
    const strip = (s: unknown): unknown =>
      JSON.parse(
        JSON.stringify(s, (k, v: unknown) => {
          if (k === 'version') return undefined;
          if (k === 'identities' && Array.isArray(v)) return (v as { kind: string }[]).filter((i) => i.kind !== 'external');
          return v;
        }),
      );
    expect(strip(after)).toEqual(strip(before));
  }, 120_000);
});

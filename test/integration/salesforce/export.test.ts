/**
 * Access requests read everything Salesforce holds on a person (issue 20, test 2): every field
 * of the Contact with a value, compared field by field with the emulator's side door, with
 * Salesforce's labels, and the linked Individual and consents whole; nobody else's data.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ExportedRecord } from '../../../src/connector/define.js';
import { FIELDS_CHARS, fieldGroups } from '../../../connectors/salesforce/export.js';
import { startTestOrg, type SalesforceTestOrg } from './harness.js';

const CONSENTS = {
  channelFlags: { HasOptedOutOfEmail: 'marketing.email' },
  dataUsePurposes: { marketing: 'Marketing' },
  contactPointTypes: { email: 'Email' },
} as const;
const signal = (): AbortSignal => new AbortController().signal;

let org: SalesforceTestOrg | undefined;
afterEach(async () => {
  await org?.close();
  org = undefined;
});

/** The side door's record without empty values, as the export must hold it. */
function held(record: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record ?? {}).filter(([, v]) => v !== null && v !== ''));
}

function expectSameFields(exported: Record<string, unknown> | undefined, stored: Record<string, unknown>): void {
  expect(Object.keys(exported ?? {}).sort()).toEqual(Object.keys(stored).sort());
  for (const [name, value] of Object.entries(stored)) {
    const got = exported?.[name];
    // Date-times come back in SOQL's own format: the same instant.
    if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) expect(Date.parse(String(got)), name).toBe(Date.parse(value));
    else expect(got, name).toEqual(value);
  }
}

describe('Salesforce export', () => {
  it('holds every field with a value (as the side door shows it), with labels, and the Individual and consents whole', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const sf = org.instance();
    const door = org.emulator.sideDoor;
    const ada = door.create('Contact', {
      LastName: 'Lovelace',
      FirstName: 'Ada',
      Email: 'ada@example.com',
      Phone: '+44 20 7946 0000',
      Title: 'Analyst',
      MailingCountry: 'GB',
      Concord_Id__c: 'p-ada',
    });
    const id = String(ada['Id']);
    door.setConsent('Contact', id, 'Marketing', 'Email', 'OptIn', '2026-03-01T08:00:00.000Z');
    door.setConsent('Contact', id, 'Analytics', 'Email', 'OptOut', '2026-03-02T08:00:00.000Z');
    door.setIndividual('Contact', id, { HasOptedOutProfiling: true });
    door.create('Contact', { LastName: 'Hopper', FirstName: 'Grace', Email: 'grace@example.com' });

    const byId = await sf.export?.([{ externalId: id }], signal());
    const byEmail = await sf.export?.([{ email: 'ADA@example.com' }], signal());
    expect(byEmail).toEqual(byId);
    expect(byId).toHaveLength(1);
    const record: ExportedRecord | undefined = byId?.[0];
    const stored = held(door.get('Contact', id));
    expectSameFields(record?.fields, stored);
    expect(record?.labels).toMatchObject({
      FirstName: 'First Name',
      Phone: 'Business Phone',
      HasOptedOutOfEmail: 'Email Opt Out',
      Id: 'Contact ID',
    });
    expect(Object.keys(record?.labels ?? {}).sort()).toEqual(Object.keys(stored).sort());

    const individual = record?.related?.individual;
    const storedIndividual = held(door.individual('Contact', id));
    expect(individual).toMatchObject({ object: 'Individual', labels: { HasOptedOutProfiling: "Don't Profile" } });
    expectSameFields(
      typeof individual === 'object' && individual !== null && !Array.isArray(individual)
        ? (individual.fields as Record<string, unknown>)
        : {},
      storedIndividual,
    );

    // Every consent of the Individual, the unmapped purpose's too.
    const consents = record?.related?.consents;
    const storedConsents = door.list('ContactPointTypeConsent').filter((c) => c['PartyId'] === storedIndividual['Id']);
    expect(storedConsents).toHaveLength(2);
    expect(Array.isArray(consents) ? consents.length : 0).toBe(2);
    for (const c of storedConsents) {
      const exported = Array.isArray(consents)
        ? consents.find(
            (x) =>
              typeof x === 'object' &&
              x !== null &&
              !Array.isArray(x) &&
              typeof x.fields === 'object' &&
              x.fields !== null &&
              !Array.isArray(x.fields) &&
              x.fields['Id'] === c['Id'],
          )
        : undefined;
      expect(exported, String(c['Id'])).toBeDefined();
      expectSameFields(
        typeof exported === 'object' && exported !== null && !Array.isArray(exported) ? (exported.fields as Record<string, unknown>) : {},
        held(c),
      );
    }
    expect(JSON.stringify(byId)).not.toMatch(/grace|Hopper/);
  });

  it('reads an object with many fields in several queries (each URI under Salesforce’s limit), merged into one record', async () => {
    const custom = Array.from({ length: 250 }, (_, i) => `Custom_Field_Number_${String(i).padStart(4, '0')}__c`);
    expect(fieldGroups(['Id', ...custom]).length).toBeGreaterThan(1);
    for (const group of fieldGroups(['Id', ...custom])) {
      expect(group[0]).toBe('Id');
      expect(group.join(', ').length).toBeLessThanOrEqual(FIELDS_CHARS);
    }
    org = await startTestOrg({ emulator: { externalIdFields: ['Concord_Id__c', ...custom] } });
    const sf = org.instance();
    const door = org.emulator.sideDoor;
    const values = Object.fromEntries(custom.map((name, i) => [name, `v${i}`]));
    const ada = door.create('Contact', { LastName: 'Lovelace', Email: 'ada@example.com', ...values });
    const [record] = (await sf.export?.([{ externalId: String(ada['Id']) }], signal())) ?? [];
    expectSameFields(record?.fields, held(door.get('Contact', String(ada['Id']))));
    expect(record?.fields).toMatchObject({ Custom_Field_Number_0000__c: 'v0', Custom_Field_Number_0249__c: 'v249' });
    expect(org.emulator.sideDoor.calls().byEndpoint['GET /services/data/:version/query']).toBeGreaterThan(1);
  });

  it('describes each object once per instance', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const sf = org.instance();
    const door = org.emulator.sideDoor;
    const a = door.create('Contact', { LastName: 'A', Email: 'a@example.com' });
    const b = door.create('Contact', { LastName: 'B', Email: 'b@example.com' });
    await sf.export?.([{ externalId: String(a['Id']) }], signal());
    await sf.export?.([{ externalId: String(b['Id']) }], signal());
    expect(org.emulator.sideDoor.calls().byEndpoint['GET /services/data/:version/sobjects/:type/describe']).toBe(1);
  });
});

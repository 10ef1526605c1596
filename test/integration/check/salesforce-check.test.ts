/**
 * `check` of the Salesforce connector against the emulator: client credentials, field-level
 * security of the fields read and written (describe), the external id field, DataUsePurposes and
 * the org of Outbound Messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionCheck } from '../../../src/connector/define.js';
import { createSalesforceInstance } from '../../../connectors/salesforce/connector.js';
import { SalesforceConfig, type SalesforceConfigInput } from '../../../connectors/salesforce/config.js';
import type { SalesforceEmulatorOptionsInput } from '../../../connectors/salesforce/emulator/index.js';
import { silentLogger, startTestOrg, type SalesforceTestOrg } from '../salesforce/harness.js';

const open: SalesforceTestOrg[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** What the default mapping plus a MailingCountry attribute writes. */
const FIELD_TARGETS = {
  Email: 'identity:email',
  FirstName: 'field:firstName',
  LastName: 'field:lastName',
  MailingCountry: 'field:country',
  'Individual.HasOptedOutProcessing': 'right:restricted',
};

async function check(
  emulator: Partial<SalesforceEmulatorOptionsInput> = {},
  config: Partial<SalesforceConfigInput> = {},
): Promise<ConnectionCheck[]> {
  const org = await startTestOrg({ emulator, outbound: false });
  open.push(org);
  const parsed = SalesforceConfig.parse({ ...org.config, fields: ['MailingCountry'], ...config });
  const instance = createSalesforceInstance({
    instanceId: 'salesforce',
    config: parsed,
    logger: silentLogger,
    fieldTargets: FIELD_TARGETS,
  });
  const lines = (await instance.check?.(AbortSignal.timeout(10_000))) ?? [];
  await instance.close?.();
  return lines;
}

const failures = (lines: ConnectionCheck[]) => lines.filter((l) => !l.ok);

describe('Salesforce check', () => {
  it('passes with the client credentials and every field accessible; the Outbound Message endpoint is a neutral line', async () => {
    const lines = await check({}, { dataUsePurposes: { marketing: 'Marketing' } });
    expect(failures(lines)).toEqual([]);
    expect(lines.map((l) => l.detail)).toEqual(
      expect.arrayContaining([
        'the client credentials are accepted and Contact can be described',
        'the 1 DataUsePurposes exist',
        'Outbound Messages are taken from the org the credentials belong to',
      ]),
    );
    expect(lines.filter((l) => l.neutral)).toHaveLength(1);
  });

  it('a wrong client secret is a ✘ at clientSecret with the fix', async () => {
    const lines = await check({}, { clientSecret: 'not-the-secret' });
    expect(failures(lines)).toEqual([
      {
        ok: false,
        detail: expect.stringMatching(/^Salesforce refused the credentials/),
        path: ['clientSecret'],
        fix: expect.stringContaining('connected app'),
      },
    ]);
  });

  it('a field hidden from the integration user, a read-only written field and a missing purpose are ✘ at their keys', async () => {
    const lines = await check(
      {
        fieldSecurity: {
          'Contact.MailingCountry': 'hidden',
          'Contact.FirstName': 'readOnly',
          'Individual.HasOptedOutProcessing': 'readOnly',
        },
      },
      { dataUsePurposes: { marketing: 'Marketing', research: 'Research' } },
    );
    expect(failures(lines).map((l) => [l.path, l.detail])).toEqual([
      [['fields', 0], 'Contact.MailingCountry is not visible to the integration user'],
      [['mappings'], 'Contact.FirstName is written by the mapping but is not updateable by the integration user'],
      [['mappings'], 'Individual.HasOptedOutProcessing is written by the mapping but is not updateable by the integration user'],
      [['dataUsePurposes', 'research'], 'no DataUsePurpose is named Research'],
    ]);
    expect(failures(lines)[0]?.fix).toContain('Read access to Contact.MailingCountry');
    expect(failures(lines)[1]?.fix).toContain('Edit access to Contact.FirstName');
  });

  it('an external id field that does not exist and another org id are ✘ at their keys', async () => {
    const lines = await check({}, { externalIdField: 'Missing_Id__c', organizationId: '00D5e000000OthrAAA' });
    expect(failures(lines).map((l) => [l.path, l.fix])).toEqual([
      [['externalIdField'], expect.stringContaining('Read access to Contact.Missing_Id__c')],
      [['organizationId'], 'set organizationId to 00D5e000000TestEAA'],
    ]);
  });
});

/**
 * `find` under field-level security: a phone field the integration user cannot see (hidden from
 * its profile) is, to Salesforce, no column at all, so a query naming it fails. The connector
 * searches only the phone fields the describe shows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestOrg, type SalesforceTestOrg } from './harness.js';

let org: SalesforceTestOrg | undefined;
afterEach(async () => {
  await org?.close();
  org = undefined;
});

describe('Salesforce find under field-level security', () => {
  it('finds by phone through the visible phone field when MobilePhone is hidden', async () => {
    org = await startTestOrg({ emulator: { fieldSecurity: { 'Contact.MobilePhone': 'hidden' } } });
    const door = org.emulator.sideDoor;
    const ada = door.create('Contact', { LastName: 'Lovelace', Email: 'ada@example.com', Phone: '+15550100' });
    const sf = org.instance();
    const found = await sf.find?.(
      [
        { emails: [], phones: ['+15550100'], externalIds: [] },
        { emails: ['ada@example.com'], phones: [], externalIds: [] },
      ],
      AbortSignal.timeout(10_000),
    );
    expect(found).toEqual([
      [{ externalId: String(ada['Id']), matchedBy: ['phone'] }],
      [{ externalId: String(ada['Id']), matchedBy: ['email'] }],
    ]);
  });
});

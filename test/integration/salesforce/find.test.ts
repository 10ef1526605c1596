/**
 * Salesforce `find` beyond the conformance suite, against the emulator: a Lead found by its
 * mobile phone and by the 15-character form of its id, an address with a quote in it, and a
 * batch too long for one query split into several.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FindQuery } from '../../../src/connector/define.js';
import { startTestOrg, type SalesforceTestOrg } from './harness.js';

const signal = (): AbortSignal => new AbortController().signal;
const query = (q: Partial<FindQuery>): FindQuery => ({ emails: [], phones: [], externalIds: [], ...q });

describe('Salesforce find', () => {
  let org: SalesforceTestOrg | undefined;
  afterEach(async () => {
    await org?.close();
    org = undefined;
  });

  it('finds a Lead by mobile phone, by the 15-character id and by an address with a quote, in one query', async () => {
    org = await startTestOrg({ config: { object: 'Lead' } });
    const lead = org.emulator.sideDoor.create('Lead', {
      LastName: "O'Brien",
      Company: 'Acme',
      Email: "o'brien@example.com",
      MobilePhone: '+353861234567',
    });
    const id = String(lead['Id']);
    const instance = org.instance();
    org.emulator.sideDoor.resetCalls();
    const answers = await instance.find?.(
      [
        query({ phones: ['+353 86 123 4567'] }),
        query({ externalIds: [id.slice(0, 15)] }),
        query({ emails: ["O'Brien@example.com"] }),
        query({ externalIds: ['not-a-salesforce-id'] }),
      ],
      signal(),
    );
    expect(answers).toEqual([
      [{ externalId: id, matchedBy: ['phone'] }],
      [{ externalId: id, matchedBy: ['externalId'] }],
      [{ externalId: id, matchedBy: ['email'] }],
      [],
    ]);
    // One query, after the object's describe (which phone fields the user can see), kept 15 minutes.
    expect(org.emulator.sideDoor.calls().byEndpoint).toEqual({
      'POST /services/oauth2/token': 1,
      'GET /services/data/:version/sobjects/:type/describe': 1,
      'GET /services/data/:version/query': 1,
    });
    org.emulator.sideDoor.resetCalls();
    await instance.find?.([query({ phones: ['+353 86 123 4567'] })], signal());
    expect(org.emulator.sideDoor.calls().total).toBe(1);
  });

  it('splits a batch whose query would be too long, and finds every person', async () => {
    org = await startTestOrg();
    const emails = Array.from({ length: 600 }, (_, i) => `someone-with-a-long-address-${i}@example.com`);
    const ids = org.emulator.sideDoor.seed(
      'Contact',
      emails.map((Email, i) => ({ Email, LastName: `L${i}` })),
    );
    const instance = org.instance();
    org.emulator.sideDoor.resetCalls();
    const answers = await instance.find?.(
      emails.map((e) => query({ emails: [e] })),
      signal(),
    );
    expect(answers?.map((a) => a.map((r) => r.externalId))).toEqual(ids.map((id) => [id]));
    expect(org.emulator.sideDoor.calls().total).toBeGreaterThan(1);
  });
});

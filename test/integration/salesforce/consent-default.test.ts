/**
 * Consent only from an affirmative act (issue 14, item 1). People created in HubSpot with no
 * marketing consent are created in Salesforce by the hub. Salesforce's default for
 * `HasOptedOutOfEmail` is `false` ("not opted out"); read back (by the create's own Outbound
 * Message and by pulls) it must never become `marketing.email = granted`, and HubSpot must
 * never be told to subscribe the person. Both systems end on "not subscribed": HubSpot with no
 * subscription, Salesforce opted out (the hub writes the consent state it knows on create).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestDialect } from '../../../harness/db.js';
import { startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

const STATUS_WRITE = 'POST /communication-preferences/v4/statuses/batch/write';
const PEOPLE = 6;

describe.each<TestDialect>(['sqlite', 'postgres'])('consent a system stores by default (%s)', (dialect) => {
  let hub: CrmHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('people created in HubSpot without consent stay not subscribed everywhere after the read-back and two pulls of each system', async () => {
    hub = await startCrmHub({ dialect });
    const emails = Array.from({ length: PEOPLE }, (_, i) => `nobody${i}@example.com`);
    for (const email of emails) hub.hubspot.sideDoor.createContact({ email, firstname: 'No', lastname: 'Choice' });
    await hub.settle();

    for (let round = 0; round < 2; round++) {
      await hub.engine.pullNow('salesforce');
      await hub.engine.pullNow('hubspot');
      await hub.settle();
    }

    const report = await Promise.all(
      emails.map(async (email) => {
        const contact = hub?.salesforce.sideDoor.findByEmail(email);
        const status = hub?.hubspot.sideDoor.statuses(email).find((s) => s['subscriptionId'] === 101)?.['status'] ?? 'NOT_SPECIFIED';
        const consent = (await hub?.profileByEmail(email))?.consents['marketing']?.['email'];
        return {
          email,
          created: contact !== undefined,
          optedOut: contact?.['HasOptedOutOfEmail'],
          hubspot: status,
          consent: consent?.value ?? 'unknown',
        };
      }),
    );
    const wrong = report.filter((r) => !r.created || r.optedOut !== true || r.hubspot === 'SUBSCRIBED' || r.consent === 'granted');
    expect(wrong, `${wrong.length} of ${PEOPLE} people are not "not subscribed" everywhere`).toEqual([]);
    // The read-back of what the hub wrote is an echo, not news: no consent appears from it.
    expect(report.map((r) => r.consent)).toEqual(emails.map(() => 'unknown'));
    expect(hub.hubspot.sideDoor.calls().byEndpoint[STATUS_WRITE] ?? 0).toBe(0);
  });

  it('people a rep creates in Salesforce (not opted out by default) are carried to HubSpot with no consent', async () => {
    hub = await startCrmHub({ dialect });
    const emails = Array.from({ length: PEOPLE }, (_, i) => `rep${i}@example.com`);
    hub.salesforce.sideDoor.seed(
      'Contact',
      emails.map((Email) => ({ Email, LastName: 'Rep' })),
    );
    for (let round = 0; round < 2; round++) {
      await hub.engine.pullNow('salesforce');
      await hub.engine.pullNow('hubspot');
      await hub.settle();
    }

    const report = await Promise.all(
      emails.map(async (email) => {
        const status = hub?.hubspot.sideDoor.statuses(email).find((s) => s['subscriptionId'] === 101)?.['status'] ?? 'NOT_SPECIFIED';
        const profile = await hub?.profileByEmail(email);
        return {
          email,
          inHubSpot: hub?.hubspot.sideDoor.findByEmail(email) !== undefined,
          hubspot: status,
          consent: profile?.consents['marketing']?.['email']?.value ?? 'unknown',
        };
      }),
    );
    expect(report.filter((r) => !r.inHubSpot || r.hubspot !== 'NOT_SPECIFIED' || r.consent !== 'unknown')).toEqual([]);
    expect(hub.hubspot.sideDoor.calls().byEndpoint[STATUS_WRITE] ?? 0).toBe(0);
  });
});

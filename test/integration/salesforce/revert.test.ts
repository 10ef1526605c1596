/**
 * A rep setting a Contact field back to the value the hub last wrote there. Salesforce stamps
 * whole records (`LastModifiedDate`), never a field on its own, so a record stamped after the
 * hub's write that still holds the hub's value is the hub's value standing (a rep saved another
 * field) — but not once the hub has seen the field hold another value since: then it is the rep's
 * newer edit, which reaches HubSpot without waiting for a pull.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

let hub: CrmHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

describe('a rep setting a field back to the value the hub last wrote', () => {
  it.each(['sqlite', 'postgres'] as const)('after moving it away since, is news everywhere (%s)', async (dialect) => {
    // Past the echo tolerance of the hub's write, so the rep's records cannot be taken for it.
    hub = await startCrmHub({ dialect, tuning: { echoToleranceMs: 200 } });
    const email = 'revert@example.com';
    hub.hubspot.sideDoor.createContact({ email, firstname: 'First1', lastname: 'Up' });
    await hub.settle();
    const contact = hub.salesforce.sideDoor.findByEmail(email);
    // The hub wrote First1 to Salesforce (its write log keeps that write for 10 minutes).
    expect(contact).toMatchObject({ FirstName: 'First1' });
    const id = String(contact?.['Id']);
    const hubspotFirstName = (): unknown => hub?.hubspot.sideDoor.findByEmail(email)?.properties['firstname'];

    await sleep(400);
    hub.salesforce.sideDoor.update('Contact', id, { FirstName: 'Other' });
    await hub.settle();
    expect(hubspotFirstName()).toBe('Other');

    await sleep(400);
    hub.salesforce.sideDoor.update('Contact', id, { FirstName: 'First1' });
    await hub.settle();
    expect((await hub.profileByEmail(email))?.attributes['firstName']?.value).toBe('First1');
    expect(hubspotFirstName()).toBe('First1');
  });
});

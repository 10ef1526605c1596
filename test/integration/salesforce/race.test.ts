/**
 * A rep's edit raced by the hub's own write (issue 14, item 2). The emulator saves the rep's
 * edit just before the hub's next write to that record lands; the write (a PATCH) changes only
 * the fields the hub sent, so Salesforce ends holding both, with the integration user as last
 * modifier, and its Outbound Messages carry the record that way. The rep's value must reach
 * every system within one sync cycle (no pull is scheduled), and the hub's value too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Json } from '../../../src/profile/schema.js';
import { startCrmHub, type CrmHub } from '../../../harness/salesforce-hub.js';

let hub: CrmHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

interface Race {
  email: string;
  contactId: string;
  /** What the rep saves in Salesforce just before the hub's write lands. */
  rep: Record<string, Json>;
  /** What the marketer changes in HubSpot, which makes the hub write to Salesforce. */
  trigger: { lastname?: string; firstname?: string; unsubscribe?: true };
}

/** What each system (and the profile) holds for one person, in comparable terms. */
interface Seen {
  optedOut: boolean | undefined;
  firstName: string | undefined;
  lastName: string | undefined;
}

describe('a rep edit raced by the hub write', () => {
  it.each(['sqlite', 'postgres'] as const)(
    '20 armed races on %s: none lost, every system ends on the rep value without a pull',
    async (dialect) => {
      hub = await startCrmHub({ dialect });
      const h = hub;
      const races: Race[] = [];
      for (let i = 0; i < 20; i++) {
        const email = `race${i}@example.com`;
        h.hubspot.sideDoor.createContact({ email, firstname: `First${i}`, lastname: `Last${i}` });
        h.hubspot.sideDoor.subscribe(email, 101);
        const kind = i % 4;
        races.push({
          email,
          contactId: '',
          rep: kind <= 1 ? { HasOptedOutOfEmail: true } : kind === 2 ? { FirstName: `RepFirst${i}` } : { LastName: `RepLast${i}` },
          trigger:
            kind === 0 || kind === 2 ? { lastname: `HubLast${i}` } : kind === 1 ? { firstname: `HubFirst${i}` } : { unsubscribe: true },
        });
      }
      await h.settle();
      for (const race of races) {
        const contact = h.salesforce.sideDoor.findByEmail(race.email);
        expect(contact).toMatchObject({ HasOptedOutOfEmail: false });
        race.contactId = String(contact?.['Id']);
        h.salesforce.sideDoor.armRace('Contact', race.contactId, race.rep);
      }

      // The marketer's edits in HubSpot make the hub write to each Contact; each write meets its race.
      for (const race of races) {
        const contact = h.hubspot.sideDoor.findByEmail(race.email);
        const { unsubscribe, ...properties } = race.trigger;
        if (Object.keys(properties).length > 0) h.hubspot.sideDoor.editContact(String(contact?.id), properties);
        if (unsubscribe) h.hubspot.sideDoor.unsubscribe(race.email, 101);
      }
      await h.settle();

      // Every race ran, and left the record under the integration user's name.
      expect(h.salesforce.sideDoor.armedRaces()).toBe(0);
      const integrationUser = h.salesforce.options.integrationUserId;
      for (const race of races) expect(h.salesforce.sideDoor.get('Contact', race.contactId)?.['LastModifiedById']).toBe(integrationUser);

      const lost: string[] = [];
      const stamps: { source: string | undefined; at: boolean | undefined }[] = [];
      for (const [i, race] of races.entries()) {
        const expected: Seen = {
          optedOut: race.rep['HasOptedOutOfEmail'] === true || race.trigger.unsubscribe === true,
          firstName: typeof race.rep['FirstName'] === 'string' ? race.rep['FirstName'] : (race.trigger.firstname ?? `First${i}`),
          lastName: typeof race.rep['LastName'] === 'string' ? race.rep['LastName'] : (race.trigger.lastname ?? `Last${i}`),
        };
        const sf = h.salesforce.sideDoor.get('Contact', race.contactId);
        const hs = h.hubspot.sideDoor.findByEmail(race.email);
        const status = h.hubspot.sideDoor.statuses(race.email).find((s) => s['subscriptionId'] === 101)?.['status'];
        const profile = await h.profileByEmail(race.email);
        const seen: Record<string, Seen> = {
          salesforce: { optedOut: sf?.['HasOptedOutOfEmail'] === true, firstName: str(sf?.['FirstName']), lastName: str(sf?.['LastName']) },
          hubspot: {
            optedOut: status === 'UNSUBSCRIBED',
            firstName: str(hs?.properties['firstname']),
            lastName: str(hs?.properties['lastname']),
          },
          profile: {
            optedOut: profile?.consents['marketing']?.['email']?.value === 'denied',
            firstName: str(profile?.attributes['firstName']?.value),
            lastName: str(profile?.attributes['lastName']?.value),
          },
        };
        for (const [where, values] of Object.entries(seen)) {
          if (JSON.stringify(values) !== JSON.stringify(expected))
            lost.push(`${race.email} in ${where}: ${JSON.stringify(values)}, expected ${JSON.stringify(expected)}`);
        }
        // The rep's edit entered the profile from Salesforce, stamped with the record's time (our write's, not before the rep's edit).
        const slot =
          race.rep['HasOptedOutOfEmail'] !== undefined
            ? profile?.consents['marketing']?.['email']
            : profile?.attributes[race.rep['FirstName'] !== undefined ? 'firstName' : 'lastName'];
        stamps.push({
          source: slot?.source,
          at: slot?.at === undefined ? undefined : Date.parse(slot.at) === Date.parse(String(sf?.['LastModifiedDate'])),
        });
      }
      expect(lost).toEqual([]);
      expect(stamps).toEqual(races.map(() => ({ source: 'salesforce', at: true })));
    },
  );
});

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

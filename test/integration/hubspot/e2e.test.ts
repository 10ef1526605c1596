/**
 * End to end through the whole engine: an unsubscribe made in HubSpot (the emulator's side
 * door) reaches the store with `source: hubspot` and evidence, and from there the other
 * system; a change pushed to HubSpot and echoed back by its webhook causes no second push,
 * with and without HubSpot's change-source marker; a consent given under contract or legitimate
 * interest reaches HubSpot with that legal basis (the engine hands the connector the profile).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ProfilePatch, type LegalBasis } from '../../../src/profile/schema.js';
import { HubPatchIngest } from '../../../src/sync/inbound/hub-patch.js';
import { startHubSpotHub, type HubSpotHub } from '../../../harness/hubspot-hub.js';

const UPSERT = 'POST /crm/v3/objects/contacts/batch/upsert';
const UPDATE = 'POST /crm/v3/objects/contacts/batch/update';
const STATUS_WRITE = 'POST /communication-preferences/v4/statuses/batch/write';
const READ = 'POST /crm/v3/objects/contacts/batch/read';

describe.each([
  { echoMarker: true, label: 'with the change-source marker' },
  { echoMarker: false, label: 'with the shadow alone' },
])('HubSpot end to end ($label)', ({ echoMarker }) => {
  let hub: HubSpotHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a change pushed to HubSpot and echoed back by its webhook causes no second push', async () => {
    hub = await startHubSpotHub({ dialect: 'sqlite', echoMarker });
    const calls = (): Record<string, number> => hub?.hubspot.sideDoor.calls().byEndpoint ?? {};

    hub.crm.change({ email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', email_opt_out: false, newsletter: true });
    await hub.settle();

    const contact = hub.hubspot.sideDoor.findByEmail('ada@example.com');
    expect(contact?.properties).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace' });
    const statuses = hub.hubspot.sideDoor.statuses('ada@example.com');
    expect(statuses.find((s) => s.subscriptionId === 101)).toMatchObject({ status: 'SUBSCRIBED', legalBasis: 'CONSENT_WITH_NOTICE' });
    expect(statuses.find((s) => s.subscriptionId === 103)).toMatchObject({ status: 'SUBSCRIBED' });
    // HubSpot announced our own writes (creation, properties, opt-out properties) to the hub...
    expect(hub.hubspot.sideDoor.webhookDeliveries().length).toBeGreaterThan(0);
    // ...which changed nothing: one push, no second one, and nothing bounced back to the CRM.
    expect(calls()[UPSERT]).toBe(1);
    expect(calls()[STATUS_WRITE]).toBe(1);
    expect(calls()[UPDATE]).toBeUndefined();
    if (echoMarker) expect(calls()[READ]).toBeUndefined();
    else expect(calls()[READ]).toBeGreaterThan(0);
    expect(hub.crm.getStats().calls.upsert).toBe(0);
    const profile = await hub.profileByEmail('ada@example.com');
    expect(profile?.version).toBe(1);

    // Quiet afterwards.
    await sleep(400);
    await hub.settle();
    expect(calls()[UPSERT]).toBe(1);
    expect(calls()[STATUS_WRITE]).toBe(1);
    expect(calls()[UPDATE]).toBeUndefined();
    expect(hub.refused).toEqual([]);
  });

  it.each([
    { basis: 'contract', hubspot: 'PERFORMANCE_OF_CONTRACT', email: 'hiro@example.com' },
    { basis: 'legitimate_interest', hubspot: 'LEGITIMATE_INTEREST_OTHER', email: 'mae@example.com' },
  ] as const satisfies readonly { basis: LegalBasis; hubspot: string; email: string }[])(
    'a consent given under another legal basis reaches HubSpot with that basis mapped ($basis -> $hubspot)',
    async ({ basis, hubspot, email }) => {
      hub = await startHubSpotHub({ dialect: 'sqlite', echoMarker });
      const patches = new HubPatchIngest({ store: hub.store, redis: hub.engine.connection, prefix: hub.engine.prefix });
      try {
        const now = new Date().toISOString();
        const result = await patches.ingest(
          ProfilePatch.parse({
            id: `admin-basis-${basis}`,
            source: 'admin',
            at: now,
            receivedAt: now,
            identities: [{ kind: 'email', value: email }],
            attributes: { firstName: 'Hiro' },
            consents: {
              marketing: { email: { status: 'granted', legalBasis: basis, evidence: { method: 'admin_api', noticeVersion: '2026-01' } } },
            },
          }),
        );
        expect(result.status).toBe('applied');
        await hub.settle();
      } finally {
        await patches.close();
      }
      const statuses = hub.hubspot.sideDoor.statuses(email);
      expect(statuses.find((s) => s['subscriptionId'] === 101)).toMatchObject({
        status: 'SUBSCRIBED',
        legalBasis: hubspot,
        legalBasisExplanation: 'recorded by Concord (admin_api, notice 2026-01)',
      });
      expect(hub.refused).toEqual([]);
    },
  );

  it('an unsubscribe made in HubSpot reaches the store with source hubspot and evidence, then the CRM', async () => {
    hub = await startHubSpotHub({ dialect: 'sqlite', echoMarker });
    hub.crm.change({ email: 'grace@example.com', first_name: 'Grace', email_opt_out: false });
    await hub.settle();
    expect(hub.hubspot.sideDoor.statuses('grace@example.com').find((s) => s.subscriptionId === 101)?.status).toBe('SUBSCRIBED');

    // A marketer (or Grace, through HubSpot's preference page) unsubscribes in HubSpot.
    hub.hubspot.sideDoor.unsubscribe('grace@example.com', 101);
    await hub.settle();

    const profile = await hub.profileByEmail('grace@example.com');
    const consent = profile?.consents.marketing?.email;
    expect(consent).toMatchObject({ value: 'denied', source: 'hubspot' });
    expect(consent?.evidence.method).toMatch(/.+/);
    const history = await hub.store.consentHistory(profile?.id ?? '');
    expect(history.at(-1)).toMatchObject({
      purpose: 'marketing',
      channel: 'email',
      accepted: true,
      state: { value: 'denied', source: 'hubspot' },
    });
    // The CRM hears of it (its opt-out flag), and HubSpot is not written again.
    expect(hub.crm.get({ email: 'grace@example.com' })?.fields.email_opt_out).toBe(true);
    expect(hub.hubspot.sideDoor.calls().byEndpoint[STATUS_WRITE]).toBe(1);
    expect(hub.refused).toEqual([]);
  });
});

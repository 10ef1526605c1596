/**
 * Rectification, restriction and objection end to end with the HubSpot and Salesforce
 * emulators: each is one change from the hub, delivered to every system (Art. 19) and tracked
 * until each holds it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { DsrView } from '../../../src/privacy/index.js';
import type { ProfilePatch } from '../../../src/profile/schema.js';
import { startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

const ADA = 'ada@example.com';
const done = (v: DsrView): boolean => v.status === 'completed' || v.status === 'failed';

async function seedPerson(hub: PrivacyHub): Promise<{ hubspotId: string; salesforceId: string }> {
  const contact = hub.hubspot.sideDoor.createContact({ email: ADA, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(ADA, 101);
  await hub.settle();
  const sf = hub.salesforce.sideDoor.findByEmail(ADA);
  expect(sf).toMatchObject({ HasOptedOutOfEmail: false });
  return { hubspotId: contact.id, salesforceId: String(sf?.['Id']) };
}

async function submit(hub: PrivacyHub, input: Parameters<PrivacyHub['privacy']['submit']>[0]): Promise<DsrView> {
  const result = await hub.privacy.submit(input, { origin: 'api', actor: 'test' });
  if (!result.ok) throw result.error;
  return hub.waitFor(result.value.id, done);
}

/** An ordinary change made in the hub (an admin edit), not a data-subject request. */
async function adminEdit(hub: PrivacyHub, attributes: ProfilePatch['attributes']): Promise<void> {
  const profile = await hub.profileByEmail(ADA);
  const now = new Date().toISOString();
  const result = await hub.hubIngest.ingest({
    id: `admin:${now}:${Math.random()}`,
    source: 'admin',
    at: now,
    receivedAt: now,
    identities: profile?.identities ?? [],
    attributes,
    consents: {},
    subscriptions: {},
    rights: { objections: {} },
  });
  expect(result.status).toBe('applied');
}

function hubspotStatus(hub: PrivacyHub, id: number): unknown {
  return hub.hubspot.sideDoor.statuses(ADA).find((s) => s['subscriptionId'] === id)?.['status'];
}

describe('rectification, restriction and objection reach every system', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a restriction stops ordinary updates from reaching any system, and they resume when it is lifted', async () => {
    hub = await startPrivacyHub({ dialect: 'postgres' });
    const h = hub;
    const { hubspotId, salesforceId } = await seedPerson(h);

    const restricted = await submit(h, { kind: 'restrict', subject: { email: ADA } });
    expect(restricted.status).toBe('completed');
    expect(restricted.systems.map((s) => [s.connector, s.status, s.outcome?.outcome])).toEqual([
      ['hubspot', 'completed', 'delivered'],
      ['salesforce', 'completed', 'delivered'],
    ]);
    // Only the restriction markers went out: HasOptedOutProcessing, and unsubscribed from marketing.
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutProcessing: true });
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({ HasOptedOutOfEmail: true, LastName: 'Lovelace' });
    expect(hubspotStatus(h, 101)).toBe('UNSUBSCRIBED');

    // An ordinary update while restricted reaches no system.
    await adminEdit(h, { lastName: 'King', firstName: 'Augusta' });
    await h.settle();
    await sleep(300);
    await h.settle();
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({ LastName: 'Lovelace', FirstName: 'Ada' });
    expect(h.hubspot.sideDoor.getContact(hubspotId)?.properties).toMatchObject({ lastname: 'Lovelace', firstname: 'Ada' });
    // It is stored in the hub all the same (Art. 18: storage is allowed).
    expect((await h.profileByEmail(ADA))?.attributes['lastName']?.value).toBe('King');
    // Lifting it is an explicit request: a rep clearing the flag in Salesforce does not, and is corrected.
    h.salesforce.sideDoor.setIndividual('Contact', salesforceId, { HasOptedOutProcessing: false });
    await h.settle();
    await sleep(300);
    await h.settle();
    expect((await h.profileByEmail(ADA))?.rights.restricted?.value).toBe(true);
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutProcessing: true });
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({ LastName: 'Lovelace' });

    const lifted = await submit(h, { kind: 'unrestrict', subject: { email: ADA } });
    expect(lifted.status).toBe('completed');
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({
      LastName: 'King',
      FirstName: 'Augusta',
      HasOptedOutOfEmail: false,
    });
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutProcessing: false });
    expect(h.hubspot.sideDoor.getContact(hubspotId)?.properties).toMatchObject({ lastname: 'King', firstname: 'Augusta' });
    expect(hubspotStatus(h, 101)).toBe('SUBSCRIBED');
  });

  it('an objection to direct marketing denies marketing everywhere and survives a later "granted" from a CRM', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const { salesforceId } = await seedPerson(h);

    const objected = await submit(h, { kind: 'object', subject: { email: ADA }, objection: 'directMarketing' });
    expect(objected).toMatchObject({ status: 'completed', objection: 'directMarketing' });
    expect(hubspotStatus(h, 101)).toBe('UNSUBSCRIBED');
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({ HasOptedOutOfEmail: true });
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutSolicit: true });

    // A marketer re-subscribes Ada in HubSpot, and a rep clears the opt-out in Salesforce.
    h.hubspot.sideDoor.subscribe(ADA, 101);
    await h.settle();
    h.salesforce.sideDoor.update('Contact', salesforceId, { HasOptedOutOfEmail: false });
    await h.settle();
    await sleep(300);
    await h.settle();

    const profile = await h.profileByEmail(ADA);
    // The grants are recorded (they are what those systems reported), but the objection holds...
    expect(profile?.rights.objections.directMarketing?.value).toBe(true);
    // ...and every system is told "denied" again.
    expect(hubspotStatus(h, 101)).toBe('UNSUBSCRIBED');
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({ HasOptedOutOfEmail: true });

    // Nor can a rep lift the objection itself: Salesforce is told it again.
    h.salesforce.sideDoor.setIndividual('Contact', salesforceId, { HasOptedOutSolicit: false });
    await h.settle();
    await sleep(300);
    await h.settle();
    expect((await h.profileByEmail(ADA))?.rights.objections.directMarketing?.value).toBe(true);
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutSolicit: true });
    expect(hubspotStatus(h, 101)).toBe('UNSUBSCRIBED');
  });

  it('an objection to profiling sets HasOptedOutProfiling, and withdrawing it clears it', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const { salesforceId } = await seedPerson(h);
    const objected = await submit(h, { kind: 'object', subject: { email: ADA }, objection: 'profiling' });
    expect(objected.status).toBe('completed');
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutProfiling: true });
    expect((await h.profileByEmail(ADA))?.rights.objections.profiling?.value).toBe(true);
    // Marketing is untouched by a profiling objection.
    expect(hubspotStatus(h, 101)).toBe('SUBSCRIBED');

    const withdrawn = await submit(h, { kind: 'withdraw_objection', subject: { email: ADA }, objection: 'profiling' });
    expect(withdrawn.status).toBe('completed');
    expect(h.salesforce.sideDoor.individual('Contact', salesforceId)).toMatchObject({ HasOptedOutProfiling: false });
  });

  it('a rectification wins over older values, reaches every system, and is recorded as a rectification', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const { hubspotId, salesforceId } = await seedPerson(h);
    const rectified = await submit(h, { kind: 'rectify', subject: { email: ADA }, attributes: { lastName: 'Byron' } });
    expect(rectified.status).toBe('completed');
    expect(rectified.systems.every((s) => s.status === 'completed' && s.outcome?.outcome === 'delivered')).toBe(true);
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toMatchObject({ LastName: 'Byron' });
    expect(h.hubspot.sideDoor.getContact(hubspotId)?.properties).toMatchObject({ lastname: 'Byron' });
    const profile = await h.profileByEmail(ADA);
    expect(profile?.attributes['lastName']).toMatchObject({ value: 'Byron', source: 'admin' });
    const audit = await h.store.listAudit({ profileId: profile?.id ?? '' });
    expect(audit.find((a) => a.action === 'profile.updated' && a.detail['reason'] === 'rectification')).toMatchObject({
      detail: expect.objectContaining({ changes: ['attribute:lastName'], patchId: `dsr:${rectified.id}` }),
    });
    // The request keeps the corrected paths, never the values.
    expect(JSON.stringify(await h.store.getDsr(rectified.id))).not.toContain('Byron');
  });

  it('refuses a change for someone unknown or erased, as a value', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const unknown = await h.privacy.submit(
      { kind: 'restrict', subject: { email: 'nobody@example.com' } },
      { origin: 'api', actor: 'test' },
    );
    expect(unknown.ok ? null : unknown.error.code).toBe('subject_not_found');
    await seedPerson(h);
    h.hubspotProxy.fail(/gdpr-delete/);
    const erasing = await h.privacy.submit({ kind: 'erase', subject: { email: ADA } }, { origin: 'api', actor: 'test' });
    expect(erasing.ok).toBe(true);
    const refused = await h.privacy.submit(
      { kind: 'rectify', subject: { email: ADA }, attributes: { lastName: 'X' } },
      { origin: 'api', actor: 'test' },
    );
    expect(refused.ok ? null : refused.error.code).toBe('subject_erased');
    h.hubspotProxy.recover();
  });
});

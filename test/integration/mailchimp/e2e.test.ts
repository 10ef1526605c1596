/**
 * Mailchimp end to end with HubSpot and Salesforce, through the whole hub (emulators -> HTTP
 * webhooks -> engine -> store -> the other systems -> the privacy service): a person who
 * unsubscribes in Mailchimp is unsubscribed in HubSpot and opted out in Salesforce; a consent
 * granted in the preference center subscribes them in Mailchimp; an archived member stays
 * archived through a full resync; a member Mailchimp keeps in its compliance state does not fail
 * the sync of anyone else; an erased person is never added again. No write comes back as a
 * second write anywhere (no echo).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { savePreferences } from '../../../harness/preference-center.js';
import { SIGNING_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';
import type { RunningMailchimpEmulator } from '../../../connectors/mailchimp/emulator/index.js';

const HS_STATUS_WRITE = 'POST /communication-preferences/v4/statuses/batch/write';

/** Calls that change something (any method but GET), per system. */
function writes(calls: Record<string, number>): number {
  return Object.entries(calls)
    .filter(([endpoint]) => !endpoint.startsWith('GET'))
    .reduce((n, [, count]) => n + count, 0);
}

function mc(hub: PrivacyHub): RunningMailchimpEmulator {
  if (!hub.mailchimp) throw new Error('the hub runs without Mailchimp');
  return hub.mailchimp;
}

function resetCalls(hub: PrivacyHub): void {
  hub.hubspot.sideDoor.resetCalls();
  hub.salesforce.sideDoor.resetCalls();
  mc(hub).sideDoor.resetCalls();
}

/** A person created and subscribed by a marketer in HubSpot, carried to Salesforce and Mailchimp. */
async function seed(hub: PrivacyHub, email: string, subscribed = true): Promise<void> {
  hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  if (subscribed) hub.hubspot.sideDoor.subscribe(email, 101);
  await hub.settle();
  expect(mc(hub).sideDoor.member(email)).toMatchObject({
    status: subscribed ? 'subscribed' : 'transactional',
    merge_fields: expect.objectContaining({ FNAME: 'Ada', LNAME: 'Lovelace' }),
  });
}

/** The person ticks or unticks marketing e-mail in the preference center (a real form post, CSRF and all). */
async function preferenceCenter(hub: PrivacyHub, email: string, marketingEmail: boolean): Promise<void> {
  const profileId = (await hub.profileByEmail(email))?.id ?? '';
  await savePreferences(hub, SIGNING_SECRET, profileId, marketingEmail ? ['marketing.email'] : []);
}

async function outcomes(hub: PrivacyHub, outcome: string): Promise<number> {
  const metric = await hub.engine.metrics.registry.getSingleMetric('concord_mailchimp_member_outcomes_total')?.get();
  return metric?.values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;
}

describe('Mailchimp with HubSpot and Salesforce, end to end', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a person unsubscribes in Mailchimp: unsubscribed in HubSpot, opted out in Salesforce, and nothing echoes', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', mailchimp: true });
    const h = hub;
    await seed(h, 'ada@example.com');
    resetCalls(h);

    mc(h).sideDoor.unsubscribe('ada@example.com', { by: 'user' });
    await h.settle();

    expect((await h.profileByEmail('ada@example.com'))?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'mailchimp',
    });
    expect(h.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ HasOptedOutOfEmail: true });
    // One write to each other system; none back to Mailchimp, and the others' webhooks about
    // the hub's writes changed nothing.
    expect(h.hubspot.sideDoor.calls().byEndpoint[HS_STATUS_WRITE]).toBe(1);
    expect(writes(mc(h).sideDoor.calls().byEndpoint)).toBe(0);
    const afterFirst = [writes(h.hubspot.sideDoor.calls().byEndpoint), writes(h.salesforce.sideDoor.calls().byEndpoint)];
    await new Promise((r) => setTimeout(r, 300));
    await h.settle();
    expect([writes(h.hubspot.sideDoor.calls().byEndpoint), writes(h.salesforce.sideDoor.calls().byEndpoint)]).toEqual(afterFirst);
    expect(writes(mc(h).sideDoor.calls().byEndpoint)).toBe(0);
    expect(mc(h).sideDoor.member('ada@example.com')).toMatchObject({ status: 'unsubscribed' });
  });

  it('a consent granted in the preference center subscribes the person in Mailchimp, with the opt-in evidence', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', mailchimp: true });
    const h = hub;
    // Created without any consent: a member who may receive no marketing.
    await seed(h, 'grace@example.com', false);

    await preferenceCenter(h, 'grace@example.com', true);
    await h.settle();

    expect(mc(h).sideDoor.member('grace@example.com')).toMatchObject({ status: 'subscribed', ip_opt: '127.0.0.1' });
    expect(h.hubspot.sideDoor.statuses('grace@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'SUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('grace@example.com')).toMatchObject({ HasOptedOutOfEmail: false });
  });

  it('an archived member is not resurrected by a full resync, nor by a later edit', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', mailchimp: true });
    const h = hub;
    await seed(h, 'ada@example.com');
    mc(h).sideDoor.archive('ada@example.com');
    await h.settle();

    // A full resync of every system: cursors forgotten, everything read again.
    for (const id of ['mailchimp', 'hubspot', 'salesforce']) {
      await h.store.setCursor(id, null);
      await h.engine.pullNow(id);
    }
    await h.settle();
    // And a name edited in HubSpot, which goes to Mailchimp too.
    const contact = h.hubspot.sideDoor.findByEmail('ada@example.com');
    h.hubspot.sideDoor.editContact(contact?.id ?? '', { firstname: 'Augusta' });
    await h.settle();

    // The full pull read the audience again and the name went out (a PATCH without a status).
    const calls = mc(h).sideDoor.calls().byEndpoint;
    expect(calls['GET /3.0/lists/:list_id/members']).toBeGreaterThanOrEqual(1);
    expect(calls['PATCH /3.0/lists/:list_id/members/:subscriber_hash']).toBe(1);
    expect(mc(h).sideDoor.member('ada@example.com')).toMatchObject({
      status: 'archived',
      merge_fields: expect.objectContaining({ FNAME: 'Augusta' }),
    });
    // Nothing was refused: the hub did not try to write a status over the archive.
    expect(await outcomes(h, 'member_archived')).toBe(0);
    // Archiving is neither a grant nor a withdrawal: the consent is what it was.
    expect((await h.profileByEmail('ada@example.com'))?.consents['marketing']?.['email']).toMatchObject({ value: 'granted' });
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ FirstName: 'Augusta', HasOptedOutOfEmail: false });
  });

  it('a member Mailchimp keeps in its compliance state does not fail the sync of anyone else', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', mailchimp: true });
    const h = hub;
    await seed(h, 'ada@example.com');
    await seed(h, 'grace@example.com', false);
    // Ada unsubscribes herself in Mailchimp; later she ticks marketing e-mail in the preference
    // center, and so does Grace. Mailchimp refuses to subscribe Ada again without her own opt-in there.
    mc(h).sideDoor.unsubscribe('ada@example.com', { by: 'user' });
    await h.settle();
    await preferenceCenter(h, 'ada@example.com', true);
    await preferenceCenter(h, 'grace@example.com', true);
    await h.settle();

    expect(mc(h).sideDoor.member('ada@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(mc(h).sideDoor.member('grace@example.com')).toMatchObject({ status: 'subscribed' });
    expect(await outcomes(h, 'compliance_state')).toBe(1);
    // Everywhere else Ada's newest choice holds.
    expect(h.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'SUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ HasOptedOutOfEmail: false });
    // Refused for good, recorded, and not retried.
    const refusals = await outcomes(h, 'compliance_state');
    await new Promise((r) => setTimeout(r, 300));
    await h.settle();
    expect(await outcomes(h, 'compliance_state')).toBe(refusals);
  });

  it('an erased person is erased in Mailchimp too and never added again', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', mailchimp: true });
    const h = hub;
    await seed(h, 'ada@example.com');

    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: 'ada@example.com' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    expect(submitted.value.systems.map((s) => s.connector).sort()).toEqual(['hubspot', 'mailchimp', 'salesforce']);
    const done = await h.waitFor(submitted.value.id, (v) => v.status === 'completed');
    expect(done.systems.find((s) => s.connector === 'mailchimp')).toMatchObject({
      status: 'completed',
      outcome: expect.objectContaining({ outcome: 'erased' }),
    });
    expect(mc(h).sideDoor.member('ada@example.com')).toBeUndefined();

    // A marketer adds her in HubSpot again (an old import): the hub keeps her out of Mailchimp.
    resetCalls(h);
    h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada' });
    h.hubspot.sideDoor.subscribe('ada@example.com', 101);
    await h.settle();
    expect(mc(h).sideDoor.member('ada@example.com')).toBeUndefined();
    expect(writes(mc(h).sideDoor.calls().byEndpoint)).toBe(0);
  });
});

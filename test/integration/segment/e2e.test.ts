/**
 * Segment end to end with HubSpot and Salesforce, through the whole hub (emulators -> HTTP
 * webhooks -> engine -> store -> the other systems -> the privacy service): a withdrawal in the
 * preference center reaches Segment as an identify with the consent category false (and the
 * consent trait false); a trait a downstream tool sets in Segment reaches HubSpot through the
 * Webhooks destination; an erasure creates one regulation, the request shows its progress while
 * Segment carries it out, and completes, verified, once the profile is gone. The hub's own
 * identifies come back through the Webhooks destination and change nothing (no echo).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { savePreferences } from '../../../harness/preference-center.js';
import {
  SEGMENT_CONSENT_TRAIT,
  SEGMENT_EMAIL_CATEGORY,
  SEGMENT_WRITE_KEY,
  SIGNING_SECRET,
  startPrivacyHub,
  type PrivacyHub,
} from '../../../harness/privacy-hub.js';
import type { AcceptedEvent, RunningSegmentEmulator } from '../../../connectors/segment/emulator/index.js';

const HOUR_MS = 3_600_000;

function seg(hub: PrivacyHub): RunningSegmentEmulator {
  if (!hub.segment) throw new Error('the hub runs without Segment');
  return hub.segment;
}

/** The identifies the hub sent to Segment about one user id (its write key), oldest first. */
function hubIdentifies(hub: PrivacyHub, userId: string): AcceptedEvent['message'][] {
  return seg(hub)
    .sideDoor.events()
    .filter((e) => e.writeKey === SEGMENT_WRITE_KEY && e.message.type === 'identify' && e.message.userId === userId)
    .map((e) => e.message);
}

/** A person created and subscribed by a marketer in HubSpot, carried to Salesforce and Segment; her hub profile id (Segment's user id). */
async function seed(hub: PrivacyHub, email: string): Promise<string> {
  hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(email, 101);
  await hub.settle();
  const profileId = (await hub.profileByEmail(email))?.id;
  if (!profileId) throw new Error(`${email} has no profile`);
  expect(seg(hub).sideDoor.profile(profileId)?.traits).toMatchObject({
    email: { value: email },
    firstName: { value: 'Ada' },
    lastName: { value: 'Lovelace' },
    [SEGMENT_CONSENT_TRAIT]: { value: true },
  });
  return profileId;
}

describe('Segment with HubSpot and Salesforce, end to end', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('a withdrawal in the preference center reaches Segment as an identify with the consent category false', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', segment: true });
    const h = hub;
    const userId = await seed(h, 'ada@example.com');
    // The grant went out as the category true.
    const before = hubIdentifies(h, userId);
    expect(before.at(-1)?.['context']).toMatchObject({ consent: { categoryPreferences: { [SEGMENT_EMAIL_CATEGORY]: true } } });

    // The person unticks marketing e-mail in the preference center (a real form post, CSRF and all).
    await savePreferences(h, SIGNING_SECRET, userId, []);
    await h.settle();

    const after = hubIdentifies(h, userId);
    // Exactly one more identify: the withdrawal, in the category and the trait; nothing else echoed.
    expect(after).toHaveLength(before.length + 1);
    const withdrawal = after.at(-1);
    expect(withdrawal?.['context']).toMatchObject({ consent: { categoryPreferences: { [SEGMENT_EMAIL_CATEGORY]: false } } });
    expect((withdrawal?.['context'] as { consent: { categoryPreferences: Record<string, unknown> } }).consent.categoryPreferences).toEqual({
      [SEGMENT_EMAIL_CATEGORY]: false,
    });
    expect(withdrawal?.traits?.[SEGMENT_CONSENT_TRAIT]).toBe(false);
    expect(withdrawal?.messageId).toMatch(/^concord-/);
    expect(seg(h).sideDoor.profile(userId)?.traits[SEGMENT_CONSENT_TRAIT]?.value).toBe(false);
    // The other systems have it too.
    expect(h.hubspot.sideDoor.statuses('ada@example.com').find((s) => s['subscriptionId'] === 101)).toMatchObject({
      status: 'UNSUBSCRIBED',
    });
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ HasOptedOutOfEmail: true });
    // The withdrawal came back through the Webhooks destination and left the consent as it was.
    expect(seg(h).sideDoor.webhookDeliveries().length).toBeGreaterThanOrEqual(after.length);
    expect((await h.profileByEmail('ada@example.com'))?.consents['marketing']?.['email']).toMatchObject({
      value: 'denied',
      source: 'preference_center',
    });
    await new Promise((r) => setTimeout(r, 300));
    await h.settle();
    expect(hubIdentifies(h, userId)).toHaveLength(after.length);
  });

  it('a trait a downstream tool sets in Segment reaches HubSpot and Salesforce through the Webhooks destination', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', segment: true });
    const h = hub;
    const userId = await seed(h, 'ada@example.com');
    const sent = hubIdentifies(h, userId).length;

    seg(h).sideDoor.downstreamIdentify(userId, { firstName: 'Augusta' });
    await h.settle();

    expect((await h.profileByEmail('ada@example.com'))?.attributes['firstName']).toMatchObject({ value: 'Augusta', source: 'segment' });
    expect(h.hubspot.sideDoor.findByEmail('ada@example.com')?.properties['firstname']).toBe('Augusta');
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toMatchObject({ FirstName: 'Augusta' });
    // Segment already has it: the hub does not send it back.
    expect(hubIdentifies(h, userId)).toHaveLength(sent);
    expect(seg(h).sideDoor.profile(userId)?.traits['firstName']?.value).toBe('Augusta');
  });

  it('an erasure creates one regulation, shows its progress while it runs, and completes once the profile is gone', async () => {
    // Segment's clock is held: the regulation stays INITIALIZED until the test moves it on.
    const clock = { offsetMs: 0 };
    hub = await startPrivacyHub({
      dialect: 'sqlite',
      segment: true,
      segmentEmulator: { regulationStepMs: HOUR_MS },
      segmentEmulatorRuntime: { now: () => Date.now() + clock.offsetMs },
      privacy: { tuning: { erasePollMinMs: 20 } },
    });
    const h = hub;
    const userId = await seed(h, 'ada@example.com');

    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: 'ada@example.com' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    expect(submitted.value.systems.map((s) => s.connector).sort()).toEqual(['hubspot', 'salesforce', 'segment']);
    const id = submitted.value.id;

    const waiting = await h.waitFor(
      id,
      (v) =>
        v.systems.find((s) => s.connector === 'segment')?.progress !== null &&
        v.systems.every((s) => s.connector === 'segment' || s.status === 'completed'),
    );
    const regulations = seg(h).sideDoor.regulations();
    expect(regulations).toHaveLength(1);
    const regulation = regulations[0] as { id: string; overallStatus: string };
    expect(regulation.overallStatus).toBe('INITIALIZED');
    expect(waiting.status).toBe('in_progress');
    expect(waiting.systems.find((s) => s.connector === 'segment')).toMatchObject({
      status: 'in_progress',
      attempts: 0,
      error: null,
      progress: { text: `regulation ${regulation.id} INITIALIZED`, tickets: [regulation.id] },
    });
    // The other systems are erased already; Segment still holds the profile.
    expect(h.hubspot.sideDoor.findByEmail('ada@example.com')).toBeUndefined();
    expect(h.salesforce.sideDoor.findByEmail('ada@example.com')).toBeUndefined();
    expect(seg(h).sideDoor.profile(userId)).toBeDefined();

    // One step on: RUNNING, shown as such.
    clock.offsetMs = HOUR_MS;
    await h.waitFor(id, (v) => v.systems.find((s) => s.connector === 'segment')?.progress?.text === `regulation ${regulation.id} RUNNING`);
    expect(seg(h).sideDoor.profile(userId)).toBeDefined();

    // Two steps on: FINISHED, the profile is gone, the request completes, verified.
    clock.offsetMs = 2 * HOUR_MS;
    const done = await h.waitFor(id, (v) => v.status === 'completed');
    expect(done.systems.find((s) => s.connector === 'segment')).toMatchObject({
      status: 'completed',
      progress: null,
      outcome: expect.objectContaining({ outcome: 'erased', verified: 'yes', tickets: [regulation.id] }),
    });
    expect(done.systems.map((s) => [s.connector, s.status]).sort()).toEqual([
      ['hubspot', 'completed'],
      ['salesforce', 'completed'],
      ['segment', 'completed'],
    ]);
    expect(seg(h).sideDoor.profile(userId)).toBeUndefined();
    expect(seg(h).sideDoor.suppressed()).toEqual([userId]);
    // Still one regulation: asking how it went created none.
    expect(seg(h).sideDoor.regulations()).toHaveLength(1);
    expect(await h.profileByEmail('ada@example.com')).toBeNull();
  });
});

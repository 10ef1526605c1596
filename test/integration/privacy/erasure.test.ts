/**
 * Erasure end to end, through the whole hub (emulators -> HTTP webhooks -> engine -> store ->
 * privacy workers -> emulators): a person known to HubSpot and Salesforce is erased in both
 * and in the store, with only the proof kept; a lagging system that sends them again, by
 * webhook and by pull, even a week later, does not bring them back; a system answering 500s is
 * retried with the failure visible until it recovers; and erasures asked for by the systems
 * themselves (HubSpot privacy deletion, Salesforce ShouldForget) reach the other system.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DsrView } from '../../../src/privacy/index.js';
import type { SyncRun } from '../../../src/store/index.js';
import { startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

const ADA = 'ada@example.com';

/** A person subscribed in HubSpot and carried to Salesforce by the hub; returns both record ids. */
async function seedPerson(hub: PrivacyHub, email: string): Promise<{ hubspotId: string; salesforceId: string }> {
  const contact = hub.hubspot.sideDoor.createContact({ email, firstname: 'Ada', lastname: 'Lovelace' });
  hub.hubspot.sideDoor.subscribe(email, 101);
  await hub.settle();
  const sf = hub.salesforce.sideDoor.findByEmail(email);
  expect(sf).toMatchObject({ FirstName: 'Ada', LastName: 'Lovelace', HasOptedOutOfEmail: false });
  expect(await hub.profileByEmail(email)).not.toBeNull();
  return { hubspotId: contact.id, salesforceId: String(sf?.['Id']) };
}

const PERSONAL_TABLES = ['profiles', 'identities', 'consent_ledger', 'shadows', 'outbox', 'profile_aliases', 'profile_history'];
const NOTHING_PERSONAL = Object.fromEntries(PERSONAL_TABLES.map((table) => [table, 0]));

async function personalRows(hub: PrivacyHub): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of PERSONAL_TABLES) out[table] = await hub.db.count(table);
  return out;
}

async function suppressedCount(hub: PrivacyHub, connector: string): Promise<number> {
  const metric = await hub.engine.metrics.registry.getSingleMetric('concord_sync_suppressed_total')?.get();
  return metric?.values.find((v) => v.labels['connector'] === connector)?.value ?? 0;
}

const allCompleted = (v: DsrView): boolean => v.status === 'completed';

describe('erasure across every system', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('erases the person in every emulator and the store, keeps only the proof, and a lagging system cannot bring them back', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const { hubspotId, salesforceId } = await seedPerson(h, ADA);
    const profileId = (await h.profileByEmail(ADA))?.id ?? '';
    // Its history of values is personal data like the profile: there before, gone after.
    expect(await h.db.count('profile_history')).toBeGreaterThan(0);

    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: 'Ada@Example.com' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    expect(submitted.value.systems.map((s) => s.connector).sort()).toEqual(['hubspot', 'salesforce']);
    const done = await h.waitFor(submitted.value.id, allCompleted);

    // Every system completed, verified by reading it back.
    expect(done.systems).toEqual([
      expect.objectContaining({
        connector: 'hubspot',
        status: 'completed',
        error: null,
        outcome: expect.objectContaining({ outcome: 'erased', verified: 'yes' }),
      }),
      expect.objectContaining({
        connector: 'salesforce',
        status: 'completed',
        error: null,
        outcome: expect.objectContaining({ outcome: 'erased', verified: 'yes' }),
      }),
    ]);
    expect(done.completedAt).not.toBeNull();
    // Gone from both emulators (HubSpot blocklists the address; Salesforce flags the Individual ShouldForget).
    expect(h.hubspot.sideDoor.getContact(hubspotId)).toBeUndefined();
    expect(h.hubspot.sideDoor.findByEmail(ADA)).toBeUndefined();
    expect(h.hubspot.sideDoor.isBlocklisted(ADA)).toBe(true);
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toBeUndefined();
    expect(h.salesforce.sideDoor.findByEmail(ADA)).toBeUndefined();
    // The store holds nothing of them.
    expect(await h.profileByEmail(ADA)).toBeNull();
    expect(await h.store.getProfile(profileId)).toBeNull();
    expect(await personalRows(h)).toEqual(NOTHING_PERSONAL);

    // Only the proof: id, keyed hashes, outcome per system and times; no address anywhere.
    const row = await h.store.getDsr(done.id);
    expect(row?.detail['work']).toBeUndefined();
    expect(row?.identityHashes).toContain(h.store.hashIdentity({ kind: 'email', value: ADA }));
    expect(row?.identityHashes).toContain(h.store.hashIdentity({ kind: 'external', system: 'salesforce', value: salesforceId }));
    const dsrRows = await h.db.query('select * from dsr');
    const auditRows = await h.db.query('select * from audit_log');
    expect(JSON.stringify([dsrRows, auditRows, await h.db.query('select * from dsr_systems')]).toLowerCase()).not.toContain('ada@');
    expect(auditRows.map((r) => r['action'])).toEqual(
      expect.arrayContaining([
        'dsr.received',
        'dsr.suppressed',
        'dsr.erase.attempt',
        'dsr.erase.completed',
        'profile.deleted',
        'dsr.completed',
      ]),
    );

    // A lagging system sends them again: Salesforce by Outbound Message (a rep re-adds the Contact)...
    const suppressedBefore = await suppressedCount(h, 'salesforce');
    const again = h.salesforce.sideDoor.create('Contact', { Email: ADA, FirstName: 'Ada', LastName: 'Lovelace' });
    // ...HubSpot by webhook (a marketer re-creates the contact)...
    h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada' });
    await h.settle();
    // ...and both by pull.
    await h.engine.pullNow('salesforce');
    await h.engine.pullNow('hubspot');
    await h.settle();
    // ...and a record stamped a week later still changes nothing.
    const weekLater = new Date(Date.now() + 7 * 86_400_000).toISOString();
    await h.engine.ingest('salesforce', [{ externalId: String(again['Id']), at: weekLater, fields: { Email: ADA, FirstName: 'Ada' } }], {
      receivedAt: weekLater,
    });
    await h.settle();

    expect(await h.profileByEmail(ADA)).toBeNull();
    expect(await personalRows(h)).toEqual(NOTHING_PERSONAL);
    expect(await suppressedCount(h, 'salesforce')).toBeGreaterThan(suppressedBefore);
    expect(await suppressedCount(h, 'hubspot')).toBeGreaterThan(0);
    // The hub pushed nothing anywhere: each system has only the one record its user made.
    expect(h.salesforce.sideDoor.list('Contact').filter((c) => c['Email'] === ADA)).toHaveLength(1);
    expect(h.hubspot.sideDoor.contacts().filter((c) => c.properties['email'] === ADA)).toHaveLength(1);
    // And nothing started a second erasure.
    expect(await h.privacy.list({ kind: 'erase' })).toHaveLength(1);
  });

  it('retries a system that answers 500s, in progress with the failure visible, and completes once it recovers', async () => {
    hub = await startPrivacyHub({ dialect: 'postgres' });
    const h = hub;
    const { hubspotId } = await seedPerson(h, ADA);
    h.hubspotProxy.fail(/gdpr-delete/);

    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: ADA } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    const failing = await h.waitFor(submitted.value.id, (v) => (v.systems.find((s) => s.connector === 'hubspot')?.attempts ?? 0) >= 3);
    expect(failing.status).toBe('in_progress');
    expect(failing.systems.find((s) => s.connector === 'hubspot')).toMatchObject({
      status: 'in_progress',
      error: expect.stringMatching(/500|Transient|internal/i),
    });
    expect(failing.systems.find((s) => s.connector === 'salesforce')).toMatchObject({ status: 'completed' });
    expect(h.hubspot.sideDoor.getContact(hubspotId)).toBeDefined();
    expect(h.hubspotProxy.failed()).toBeGreaterThanOrEqual(2);
    // Still in the store (erased only once every system is), but nothing of them comes in or goes out.
    expect(await h.profileByEmail(ADA)).not.toBeNull();
    const metrics = await h.engine.metrics.registry.metrics();
    expect(metrics).toMatch(/concord_dsr_systems_failing\{connector="hubspot"\} 1/);
    expect(metrics).toMatch(/concord_dsr_failing\{kind="erase"\} 1/);

    h.hubspotProxy.recover();
    const done = await h.waitFor(submitted.value.id, allCompleted);
    expect(done.systems.find((s) => s.connector === 'hubspot')).toMatchObject({
      status: 'completed',
      error: null,
      outcome: expect.objectContaining({ outcome: 'erased' }),
    });
    expect(h.hubspot.sideDoor.getContact(hubspotId)).toBeUndefined();
    expect(await h.profileByEmail(ADA)).toBeNull();
    const retries = (await h.store.listAudit({ limit: 1000 })).filter((a) => a.action === 'dsr.erase.retry');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    // Each erase batch is a sync run: the failing ones partial, each counting the request as a
    // failed row; the last one wrote it. The row errors named the erased profile, so the erasure
    // removed them with the rest of the person's data; the counts stay.
    // The batch that completed the request records its run once it returns: wait for it (the
    // request shows completed before; taking the newest finished run then took the last failing
    // one, which failed a clean-clone CI run).
    const runs = await endedEraseRuns(h, 'hubspot');
    const wrote = runs.filter((r) => r.counts.written > 0);
    expect(wrote).toHaveLength(1);
    expect(wrote[0]).toMatchObject({ status: 'succeeded', counts: { read: 1, written: 1, failed: 0 } });
    // A batch after it may find the request completed and settle it without a call: never a failure.
    for (const later of runs.slice(0, runs.indexOf(wrote[0] as (typeof runs)[number])))
      expect(later).toMatchObject({ status: 'succeeded', counts: { written: 0, failed: 0 } });
    // The batches before it that failed the request: partial, the row error counted, its text gone.
    const failedBefore = runs.slice(runs.indexOf(wrote[0] as (typeof runs)[number]) + 1).filter((r) => r.counts.failed > 0);
    expect(failedBefore.length).toBeGreaterThanOrEqual(2);
    for (const run of failedBefore) expect(run).toMatchObject({ status: 'partial', counts: { failed: 1 }, errorCount: 1, errors: [] });
    expect(JSON.stringify(runs)).not.toContain(ADA);
  });

  it('a HubSpot privacy deletion starts an erasure that reaches Salesforce and empties the store', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const { hubspotId, salesforceId } = await seedPerson(h, ADA);
    h.hubspot.sideDoor.privacyDelete(hubspotId);
    await h.settle();
    const [request] = await h.privacy.list({ kind: 'erase' });
    expect(request).toMatchObject({ origin: 'hubspot' });
    const done = await h.waitFor(request?.id ?? '', allCompleted);
    expect(done.systems.map((s) => [s.connector, s.status, s.outcome?.outcome])).toEqual([
      ['hubspot', 'completed', 'not_found'],
      ['salesforce', 'completed', 'erased'],
    ]);
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toBeUndefined();
    expect(await h.profileByEmail(ADA)).toBeNull();
    // The deletion's echoes (Salesforce announcing its own deletion, a redelivered webhook) start nothing more.
    await h.settle();
    expect(await h.privacy.list({ kind: 'erase' })).toHaveLength(1);
  });

  it('a Salesforce ShouldForget starts an erasure that reaches HubSpot, and the record is not ingested', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const { hubspotId, salesforceId } = await seedPerson(h, ADA);
    h.salesforce.sideDoor.setIndividual('Contact', salesforceId, { ShouldForget: true });
    await h.settle();
    const [request] = await h.privacy.list({ kind: 'erase' });
    expect(request).toMatchObject({ origin: 'salesforce' });
    await h.waitFor(request?.id ?? '', allCompleted);
    expect(h.hubspot.sideDoor.getContact(hubspotId)).toBeUndefined();
    expect(h.salesforce.sideDoor.get('Contact', salesforceId)).toBeUndefined();
    expect(await h.profileByEmail(ADA)).toBeNull();
    expect(await h.privacy.list({ kind: 'erase' })).toHaveLength(1);
  });

  it('erasing someone the hub does not know suppresses the address and asks the always-erase systems', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', privacy: { alwaysErase: ['hubspot'] } });
    const h = hub;
    h.hubspot.sideDoor.pauseWebhooks();
    const contact = h.hubspot.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace' });
    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: 'grace@example.com' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    const done = await h.waitFor(submitted.value.id, allCompleted);
    expect(done.profileId).toBeNull();
    // HubSpot erased her; Salesforce was searched too and holds nothing of her.
    expect(done.systems.map((s) => [s.connector, s.outcome?.outcome])).toEqual([
      ['hubspot', 'erased'],
      ['salesforce', 'not_found'],
    ]);
    expect(h.hubspot.sideDoor.getContact(contact.id)).toBeUndefined();
    // The webhooks HubSpot held back arrive now: nothing of Grace is ingested.
    h.hubspot.sideDoor.resumeWebhooks();
    h.hubspot.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace' });
    await h.settle();
    expect(await h.profileByEmail('grace@example.com')).toBeNull();
  });
});

/** The erase runs of a system, newest first, once none of them is running (10 s at most). */
async function endedEraseRuns(h: PrivacyHub, connector: string): Promise<SyncRun[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { runs } = await h.store.listRuns({ connector, kind: 'erase' });
    if (runs.every((r) => r.status !== 'running')) return runs;
    if (Date.now() > deadline) throw new Error(`an erase run of ${connector} is still running: ${JSON.stringify(runs[0])}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The Salesforce connector against the emulator: the consent data model both ways (opt-out
 * flags, Individual, ContactPointTypeConsent), the Bulk API 2.0 paths, the look-back window,
 * tokens, limits, erasure and the origin marker on every write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { ExternalRecord, PushRecord, WebhookEvent } from '../../../src/connector/define.js';
import { AuthError, RateLimitedError } from '../../../src/connector/errors.js';
import { compileMapping, mapInbound, mapOutbound } from '../../../src/connector/mapping.js';
import { merge } from '../../../src/profile/merge.js';
import { explainConsent } from '../../../src/profile/effective.js';
import { MergePolicy, type Profile, type ProfilePatch } from '../../../src/profile/schema.js';
import salesforce from '../../../connectors/salesforce/connector.js';
import { parseSalesforceDate, salesforceMappings } from '../../../connectors/salesforce/mapping.js';
import { pullAll, startTestOrg, type SalesforceTestOrg } from './harness.js';

const CONSENTS = {
  channelFlags: { HasOptedOutOfEmail: 'marketing.email' },
  dataUsePurposes: { marketing: 'Marketing', analytics: 'Analytics' },
  contactPointTypes: { email: 'Email' },
} as const;
const mapping = compileMapping(salesforce, salesforceMappings(CONSENTS));
const policy = MergePolicy.parse({});
const signal = (): AbortSignal => new AbortController().signal;

let org: SalesforceTestOrg | undefined;
afterEach(async () => {
  await org?.close();
  org = undefined;
});

function profile(i: number, overrides: Partial<Profile> = {}): Profile {
  const at = '2026-02-01T10:00:00.000Z';
  return {
    id: `profile-${i}`,
    identities: [{ kind: 'email', value: `person-${i}@example.com`, at, source: 'hub' }],
    attributes: { firstName: { value: `First${i}`, at, source: 'hub' }, lastName: { value: `Last${i}`, at, source: 'hub' } },
    consents: {
      marketing: {
        email: {
          value: 'granted',
          at,
          source: 'preference_center',
          legalBasis: 'consent',
          evidence: { method: 'preference_center', noticeVersion: 'v3' },
        },
      },
    },
    subscriptions: {},
    rights: { objections: {} },
    version: 1,
    ...overrides,
  };
}

function toPush(p: Profile, externalId?: string): PushRecord {
  const out = mapOutbound(mapping, p, policy);
  expect(out.errors).toEqual([]);
  return { profileId: p.id, fields: out.fields, profile: p, ...(externalId ? { externalId } : {}) };
}

function inbound(record: ExternalRecord) {
  const r = mapInbound(mapping, record, { source: 'salesforce', receivedAt: new Date().toISOString(), patchId: 'x' });
  expect(r.errors).toEqual([]);
  return r.patch;
}

describe('Salesforce consent data model', () => {
  it('pushes flags, rights on a new Individual and one ContactPointTypeConsent per purpose and channel, with capture date and source', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const sf = org.instance();
    const p = profile(1, {
      rights: {
        restricted: { value: true, at: '2026-02-02T00:00:00.000Z', source: 'admin' },
        objections: { profiling: { value: true, at: '2026-02-02T00:00:00.000Z', source: 'admin' } },
      },
    });
    // Restricted: nothing may be granted while it lasts (Art. 18), so the consent goes out denied.
    const [outcome] = (await sf.push?.([toPush(p)], signal())) ?? [];
    // Salesforce says the upsert created the Contact: what it was not sent holds its defaults.
    expect(outcome).toMatchObject({ status: 'ok', profileId: 'profile-1', created: true });
    const id = outcome?.status === 'ok' ? outcome.externalId : '';
    const door = org.emulator.sideDoor;
    expect(door.get('Contact', id)).toMatchObject({
      Email: 'person-1@example.com',
      FirstName: 'First1',
      HasOptedOutOfEmail: true,
      Concord_Id__c: 'profile-1',
    });
    expect(door.individual('Contact', id)).toMatchObject({
      LastName: 'Last1',
      HasOptedOutProcessing: true,
      HasOptedOutProfiling: true,
      HasOptedOutSolicit: false,
    });
    // Every purpose is denied while restricted, the ones the person never chose included: captured
    // when the restriction began, and named as its effect (the person granted marketing).
    const consents = door.consents('Contact', id);
    expect(consents).toHaveLength(2);
    expect(consents).toContainEqual({
      purpose: 'Marketing',
      type: 'Email',
      status: 'OptOut',
      captureDate: '2026-02-02T00:00:00.000Z',
      captureSource: 'Concord (restriction in force)',
    });
    expect(consents).toContainEqual({
      purpose: 'Analytics',
      type: 'Email',
      status: 'OptOut',
      captureDate: '2026-02-02T00:00:00.000Z',
      captureSource: 'Concord (restriction in force)',
    });

    // The restriction is lifted: the same consent record is updated, not duplicated.
    const lifted = profile(1, {
      rights: { restricted: { value: false, at: '2026-02-03T00:00:00.000Z', source: 'admin' }, objections: {} },
    });
    const again = (await sf.push?.([toPush(lifted, id)], signal())) ?? [];
    expect(again).toEqual([{ status: 'ok', profileId: 'profile-1', externalId: id }]);
    expect(door.get('Contact', id)).toMatchObject({ HasOptedOutOfEmail: false });
    expect(door.individual('Contact', id)).toMatchObject({ HasOptedOutProcessing: false });
    const after = door.consents('Contact', id);
    expect(after).toHaveLength(2);
    // The grant goes out again as the person gave it: its time and evidence.
    expect(after).toContainEqual({
      purpose: 'Marketing',
      type: 'Email',
      status: 'OptIn',
      captureDate: '2026-02-01T10:00:00.000Z',
      captureSource: 'Concord (preference_center)',
    });
    expect(door.list('Individual')).toHaveLength(1);
    expect(door.list('ContactPointTypeConsent')).toHaveLength(2);
  });

  it("an objection denies a recorded grant with the objection's time and source, and reading it back changes no consent", async () => {
    // Consents on ContactPointTypeConsent only, so nothing but the consent record speaks for marketing.
    const config = { dataUsePurposes: { marketing: 'Marketing' }, contactPointTypes: { email: 'Email' } } as const;
    const onlyConsents = compileMapping(salesforce, salesforceMappings({ channelFlags: {}, ...config }));
    const objecting = MergePolicy.parse({ purposes: { marketing: { objection: 'directMarketing' } } });
    const grantedAt = '2026-02-01T10:00:00.000Z';
    const objectedAt = '2026-03-01T09:00:00.000Z';
    const p = profile(3, { rights: { objections: { directMarketing: { value: true, at: objectedAt, source: 'preference_center' } } } });
    const pushOf = (q: Profile, externalId?: string): PushRecord => {
      const out = mapOutbound(onlyConsents, q, objecting);
      expect(out.errors).toEqual([]);
      return { profileId: q.id, fields: out.fields, profile: q, ...(externalId ? { externalId } : {}) };
    };
    const readBack = async (): Promise<ProfilePatch[]> => {
      const { records } = await pullAll(sf);
      return records.map((r) => {
        const m = mapInbound(onlyConsents, r, {
          source: 'salesforce',
          receivedAt: new Date().toISOString(),
          patchId: `read:${r.externalId}:${r.at}`,
        });
        expect(m.errors).toEqual([]);
        return m.patch;
      });
    };
    org = await startTestOrg({ config });
    const sf = org.instance();
    const door = org.emulator.sideDoor;

    const [outcome] = (await sf.push?.([pushOf(p)], signal())) ?? [];
    const id = outcome?.status === 'ok' ? outcome.externalId : '';
    expect(door.individual('Contact', id)).toMatchObject({ HasOptedOutSolicit: true });
    // OptOut, captured when the person objected and named as the objection's effect, not as the grant.
    expect(door.consents('Contact', id)).toEqual([
      { purpose: 'Marketing', type: 'Email', status: 'OptOut', captureDate: objectedAt, captureSource: 'Concord (objection in force)' },
    ]);
    expect(door.list('ContactPointTypeConsent')[0]).toMatchObject({ EffectiveFrom: objectedAt });

    // Read back, it is no consent change: the grant stays recorded as the person gave it, and denied in effect.
    const patches = await readBack();
    expect(patches.some((q) => q.rights.objections.directMarketing === true)).toBe(true);
    expect(patches.filter((q) => q.consents['marketing'] !== undefined)).toEqual([]);
    const merged = patches.reduce((acc, q) => merge(acc, q, objecting).profile, p);
    expect(merged.consents['marketing']?.['email']).toEqual(p.consents['marketing']?.['email']);
    expect(explainConsent(merged, 'marketing', 'email', objecting)).toEqual({ status: 'denied', reason: 'objection' });

    // A rep sets it to OptIn in Salesforce: that is a change, at the rep's edit (not the objection's time).
    const record = door.list('ContactPointTypeConsent')[0];
    const edited = door.update('ContactPointTypeConsent', String(record?.['Id']), { PrivacyConsentStatus: 'OptIn' });
    const repPatch = (await readBack()).find((q) => q.consents['marketing']?.['email'] !== undefined);
    expect(repPatch?.consents['marketing']?.['email']).toEqual({ status: 'granted' });
    expect(Date.parse(repPatch?.at ?? '')).toBe(parseSalesforceDate(edited['LastModifiedDate']));
    // The objection still holds: Salesforce is told OptOut again, as the objection's effect.
    const corrected = repPatch ? merge(p, repPatch, objecting).profile : p;
    expect(corrected.consents['marketing']?.['email']).toMatchObject({ value: 'granted', source: 'salesforce' });
    expect(explainConsent(corrected, 'marketing', 'email', objecting).status).toBe('denied');
    await sf.push?.([pushOf(corrected, id)], signal());
    expect(door.consents('Contact', id)).toEqual([
      { purpose: 'Marketing', type: 'Email', status: 'OptOut', captureDate: objectedAt, captureSource: 'Concord (objection in force)' },
    ]);

    // The objection is withdrawn: the person's grant goes out again with its own time and evidence.
    const withdrawn: Profile = {
      ...p,
      rights: { objections: { directMarketing: { value: false, at: '2026-04-01T00:00:00.000Z', source: 'preference_center' } } },
    };
    await sf.push?.([pushOf(withdrawn, id)], signal());
    expect(door.consents('Contact', id)).toEqual([
      { purpose: 'Marketing', type: 'Email', status: 'OptIn', captureDate: grantedAt, captureSource: 'Concord (preference_center)' },
    ]);
  });

  it('an expired consent goes out as OptOut captured at its expiry', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const sf = org.instance();
    const expiresAt = '2026-02-15T00:00:00.000Z';
    const expired = profile(4, {
      consents: {
        marketing: {
          email: {
            value: 'granted',
            at: '2026-02-01T10:00:00.000Z',
            source: 'preference_center',
            legalBasis: 'consent',
            evidence: { method: 'preference_center' },
            expiresAt,
          },
        },
      },
    });
    const out = mapOutbound(mapping, expired, policy, new Date());
    const [o] = (await sf.push?.([{ profileId: expired.id, fields: out.fields, profile: expired }], signal())) ?? [];
    const id = o?.status === 'ok' ? o.externalId : '';
    expect(org.emulator.sideDoor.consents('Contact', id)).toContainEqual({
      purpose: 'Marketing',
      type: 'Email',
      status: 'OptOut',
      captureDate: expiresAt,
      captureSource: 'Concord (consent expired)',
    });
  });

  it('pulls consent changes a rep makes in Salesforce as canonical changes, each at its own time', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const sf = org.instance();
    const door = org.emulator.sideDoor;
    const contact = door.create('Contact', { LastName: 'Lovelace', FirstName: 'Ada', Email: 'ada@example.com' });
    const id = String(contact['Id']);
    const first = await pullAll(sf);
    const cursor = first.cursors.at(-1);
    expect(cursor?.phase).toBe('incremental');

    door.setConsent('Contact', id, 'Analytics', 'Email', 'OptOut', '2026-03-01T08:00:00.000Z');
    door.setIndividual('Contact', id, { HasOptedOutSolicit: true });
    const { records } = await pullAll(sf, cursor);
    const patches = records.filter((r) => r.externalId === id).map(inbound);
    const consent = patches.find((p) => p.consents['analytics']?.['email']);
    expect(consent?.consents['analytics']?.['email']).toEqual({ status: 'denied' });
    expect(consent?.at).toBe('2026-03-01T08:00:00.000Z');
    expect(consent?.identities).toContainEqual({ kind: 'email', value: 'ada@example.com' });
    const rights = patches.find((p) => p.rights.objections.directMarketing !== undefined);
    expect(rights?.rights.objections.directMarketing).toBe(true);
    // Seen / NotSeen records no choice: nothing is reported.
    door.setConsent('Contact', id, 'Marketing', 'Email', 'Seen');
    const seen = await pullAll(sf, cursor);
    expect(seen.records.some((r) => Object.keys(r.fields).some((f) => f.includes(':Marketing')))).toBe(false);
  });

  it('reads the people behind Individual and consent ids (as Outbound Messages on those objects name them)', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Hopper', Email: 'grace@example.com' })['Id']);
    const consent = door.setConsent('Contact', id, 'Marketing', 'Email', 'OptIn');
    const individual = door.individual('Contact', id);
    const sf = org.instance();
    const viaConsent = (await sf.read?.([`ContactPointTypeConsent:${String(consent['Id'])}`], signal())) ?? [];
    expect(new Set(viaConsent.map((r) => r.externalId))).toEqual(new Set([id]));
    expect(viaConsent.some((r) => r.fields['ContactPointTypeConsent:Email:Marketing'] === 'OptIn')).toBe(true);
    const viaIndividual = (await sf.read?.([`Individual:${String(individual?.['Id'])}`, 'Individual:0PK5e0000000zzzAAA'], signal())) ?? [];
    expect(new Set(viaIndividual.map((r) => r.externalId))).toEqual(new Set([id]));
  });

  it('erases: ShouldForget on the Individual, the Contact deleted', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Doe', Email: 'jane@example.com' })['Id']);
    door.setIndividual('Contact', id, { HasOptedOutProfiling: true });
    const individualId = String(door.individual('Contact', id)?.['Id']);
    const sf = org.instance();
    expect(await sf.erase?.([{ email: 'jane@example.com' }, { externalId: '0035e000000zzzzAAA' }], signal())).toEqual([
      { status: 'erased', ref: { email: 'jane@example.com' } },
      { status: 'not_found', ref: { externalId: '0035e000000zzzzAAA' } },
    ]);
    expect(door.get('Contact', id)).toBeUndefined();
    expect(door.get('Individual', individualId)).toMatchObject({ ShouldForget: true });
  });
});

describe('Salesforce writes', () => {
  it('marks every write with Sforce-Call-Options client=concord; a rep change has no client', async () => {
    org = await startTestOrg({ config: CONSENTS });
    const sf = org.instance();
    await sf.push?.([toPush(profile(2))], signal());
    org.emulator.sideDoor.create('Contact', { LastName: 'Rep-made' });
    const changes = org.emulator.sideDoor.changes();
    const api = changes.filter((c) => c.userId === org?.emulator.options.integrationUserId);
    expect(api.length).toBeGreaterThanOrEqual(3);
    expect(api.every((c) => c.client === 'concord')).toBe(true);
    expect(changes.filter((c) => c.userId === org?.emulator.options.repUserId).every((c) => c.client === undefined)).toBe(true);
    await org.emulator.sideDoor.flushWebhooks();
    expect(org.emulator.sideDoor.notifications().some((n) => n.client === 'concord')).toBe(true);
  });

  // Chaos (e): an operator and a rep withdrew at once; the hub wrote the opt-out the rep had just
  // ticked, before the rep's Outbound Message reached it (a write that changes nothing).
  it('does not write an opt-out flag Salesforce already holds', async () => {
    org = await startTestOrg();
    const sf = org.instance();
    const [o] =
      (await sf.push?.(
        [{ profileId: 'p-7', fields: { Email: 'seven@example.com', LastName: 'Seven', HasOptedOutOfEmail: false } }],
        signal(),
      )) ?? [];
    const id = o?.status === 'ok' ? o.externalId : '';
    org.emulator.sideDoor.update('Contact', id, { HasOptedOutOfEmail: true });
    const outcomes = await sf.push?.([{ profileId: 'p-7', externalId: id, fields: { HasOptedOutOfEmail: true } }], signal());
    expect(outcomes).toEqual([{ status: 'ok', profileId: 'p-7', externalId: id }]);
    const [named] =
      (await sf.push?.([{ profileId: 'p-7', externalId: id, fields: { FirstName: 'Sev', HasOptedOutOfEmail: true } }], signal())) ?? [];
    expect(named?.status).toBe('ok');
    expect(org.emulator.sideDoor.findByEmail('seven@example.com')).toMatchObject({ FirstName: 'Sev', HasOptedOutOfEmail: true });
    expect(org.emulator.sideDoor.idleWrites()).toEqual([]);
  });

  // Chaos (c): the push process died mid-create; a rep edited the Contact it had made; the
  // restarted push upserted the hub's whole record over the rep's LastName.
  it('does not write over a record an earlier write may have created: answers retryable with its Id', async () => {
    org = await startTestOrg();
    const sf = org.instance();
    const record = { profileId: 'p-8', fields: { Email: 'eight@example.com', LastName: 'Hub', HasOptedOutOfEmail: true } };
    const [first] = (await sf.push?.([record], signal())) ?? [];
    const id = first?.status === 'ok' ? first.externalId : '';
    org.emulator.sideDoor.update('Contact', id, { LastName: 'Rep' });
    const [again] =
      (await sf.push?.(
        [
          { ...record, mayExist: true },
          { profileId: 'p-9', fields: { Email: 'nine@example.com', LastName: 'Nine' }, mayExist: true },
        ],
        signal(),
      )) ?? [];
    expect(again).toMatchObject({ status: 'retryable', profileId: 'p-8', externalId: id });
    expect(org.emulator.sideDoor.findByEmail('eight@example.com')).toMatchObject({ LastName: 'Rep' });
    expect(org.emulator.sideDoor.findByEmail('nine@example.com')).toMatchObject({ LastName: 'Nine' });
  });

  // Chaos (e): a rep saved a new LastName while the hub's push of an older one was on its way;
  // the push wrote over it and the Outbound Message then showed the hub's value.
  it('does not write over a field changed since the hub last read it: answers retryable with its Id, writes the rest', async () => {
    org = await startTestOrg();
    const sf = org.instance();
    const [o] =
      (await sf.push?.([{ profileId: 'p-10', fields: { Email: 'ten@example.com', LastName: 'Ten', FirstName: 'T' } }], signal())) ?? [];
    const [p] = (await sf.push?.([{ profileId: 'p-11', fields: { Email: 'eleven@example.com', LastName: 'Eleven' } }], signal())) ?? [];
    const id = o?.status === 'ok' ? o.externalId : '';
    const other = p?.status === 'ok' ? p.externalId : '';
    org.emulator.sideDoor.update('Contact', id, { LastName: 'Rep' });
    const outcomes = await sf.push?.(
      [
        { profileId: 'p-10', externalId: id, fields: { LastName: 'Hub', FirstName: 'Tina' }, held: { LastName: 'Ten', FirstName: 'T' } },
        { profileId: 'p-11', externalId: other, fields: { LastName: 'Elva' }, held: { LastName: 'Eleven' } },
      ],
      signal(),
    );
    expect(outcomes?.[0]).toMatchObject({ status: 'retryable', profileId: 'p-10', externalId: id });
    expect(outcomes?.[1]).toEqual({ status: 'ok', profileId: 'p-11', externalId: other });
    expect(org.emulator.sideDoor.findByEmail('ten@example.com')).toMatchObject({ LastName: 'Rep', FirstName: 'T' });
    expect(org.emulator.sideDoor.findByEmail('eleven@example.com')).toMatchObject({ LastName: 'Elva' });
    // The rep chose the very value the hub sends: nothing to write, nothing to wait for.
    org.emulator.sideDoor.update('Contact', id, { LastName: 'Hub' });
    const [same] =
      (await sf.push?.([{ profileId: 'p-10', externalId: id, fields: { LastName: 'Hub' }, held: { LastName: 'Rep' } }], signal())) ?? [];
    expect(same).toEqual({ status: 'ok', profileId: 'p-10', externalId: id });
    expect(org.emulator.sideDoor.idleWrites()).toEqual([]);
  });

  it('creates a Lead with the Company placeholder when the object is Lead', async () => {
    org = await startTestOrg({ config: { object: 'Lead', leadCompany: 'Unknown company' } });
    const sf = org.instance();
    const [o] = (await sf.push?.([{ profileId: 'lead-1', fields: { Email: 'lead@example.com', LastName: 'Lead' } }], signal())) ?? [];
    expect(o?.status).toBe('ok');
    expect(org.emulator.sideDoor.findByEmail('lead@example.com', 'Lead')).toMatchObject({
      Company: 'Unknown company',
      Concord_Id__c: 'lead-1',
    });
  });

  it('writes a contact deleted in Salesforce again by external id', async () => {
    org = await startTestOrg();
    const sf = org.instance();
    const [o] = (await sf.push?.([{ profileId: 'p-9', fields: { Email: 'nine@example.com', LastName: 'Nine' } }], signal())) ?? [];
    const id = o?.status === 'ok' ? o.externalId : '';
    org.emulator.sideDoor.delete('Contact', id);
    const [again] =
      (await sf.push?.([{ profileId: 'p-9', externalId: id, fields: { FirstName: 'Nina', LastName: 'Nine' } }], signal())) ?? [];
    expect(again?.status).toBe('ok');
    expect(again?.status === 'ok' && again.externalId).not.toBe(id);
    // Without the required LastName the record cannot be created again: rejected, with the reason.
    const newId = again?.status === 'ok' ? again.externalId : '';
    org.emulator.sideDoor.delete('Contact', newId);
    const [refused] = (await sf.push?.([{ profileId: 'p-9', externalId: newId, fields: { FirstName: 'Nino' } }], signal())) ?? [];
    expect(refused).toMatchObject({ status: 'rejected', code: 'REQUIRED_FIELD_MISSING' });
  });

  it('loads a batch over the threshold through Bulk API 2.0 ingest, with per-record outcomes', async () => {
    org = await startTestOrg({ config: { bulkIngestThreshold: 1_000 } });
    const sf = org.instance();
    org.emulator.sideDoor.poison('bulk-7@example.com');
    const batch: PushRecord[] = Array.from({ length: 1_500 }, (_, i) => ({
      profileId: `bulk-${i}`,
      fields: { Email: `bulk-${i}@example.com`, LastName: `Bulk${i}` },
    }));
    const outcomes = (await sf.push?.(batch, signal())) ?? [];
    expect(outcomes).toHaveLength(1_500);
    expect(outcomes.filter((o) => o.status === 'ok' && o.created === true)).toHaveLength(1_499);
    expect(outcomes[7]).toMatchObject({ status: 'rejected', code: 'INVALID_EMAIL_ADDRESS', profileId: 'bulk-7' });
    expect(outcomes[7]?.status === 'rejected' && outcomes[7].reason).not.toContain('@');
    const calls = org.emulator.sideDoor.calls().byEndpoint;
    expect(calls['POST /services/data/:version/jobs/ingest']).toBe(1);
    expect(calls['PATCH /services/data/:version/composite/sobjects/:type/:field']).toBeUndefined();
    expect(org.emulator.sideDoor.list('Contact')).toHaveLength(1_499);
  });
});

describe('Salesforce pulls', () => {
  it('backfills 5,000 contacts through Bulk API 2.0 query, paging by Sforce-Locator, and resumes from a saved locator', async () => {
    org = await startTestOrg({ config: { bulkQueryThreshold: 1_000, bulkQueryPageSize: 2_000 }, outbound: false });
    org.emulator.sideDoor.seed(
      'Contact',
      Array.from({ length: 5_000 }, (_, i) => ({ LastName: `Seed${i}`, Email: `seed-${i}@example.com` })),
    );
    const sf = org.instance();
    const { records, cursors } = await pullAll(sf);
    expect(new Set(records.map((r) => r.externalId)).size).toBe(5_000);
    expect(cursors.map((c) => c.phase)).toEqual(['bulk', 'bulk', 'incremental']);
    const calls = org.emulator.sideDoor.calls().byEndpoint;
    expect(calls['POST /services/data/:version/jobs/query']).toBe(1);
    expect(calls['GET /services/data/:version/jobs/query/:id/results']).toBe(3);
    expect(calls['GET /services/data/:version/query']).toBe(1); // the COUNT() deciding on Bulk
    // A crash after the first page: the saved cursor resumes at the second.
    const resumed = await pullAll(org.instance(), cursors[0]);
    expect(resumed.records).toHaveLength(3_000);
  });

  it('pages SOQL by nextRecordsUrl under the threshold and saves a cursor after each page', async () => {
    org = await startTestOrg({ config: { queryBatchSize: 200 }, outbound: false });
    org.emulator.sideDoor.seed(
      'Contact',
      Array.from({ length: 450 }, (_, i) => ({ LastName: `Seed${i}` })),
    );
    const { records, cursors } = await pullAll(org.instance());
    expect(records).toHaveLength(450);
    expect(cursors.map((c) => c.phase)).toEqual(['full', 'full', 'incremental']);
    expect(org.emulator.sideDoor.calls().byEndpoint['GET /services/data/:version/query/:locator']).toBe(2);
  });

  it('re-reads a look-back window behind the cursor, where late commits land', async () => {
    const clock = Date.parse('2026-04-01T12:00:00.000Z');
    // The org stamps records two minutes behind the hub's clock: a commit that landed late.
    org = await startTestOrg({ outbound: false, runtime: { now: () => clock - 120_000 } });
    org.emulator.sideDoor.create('Contact', { LastName: 'Late' });
    const cursor = { phase: 'incremental' as const, since: clock };
    const seen = await pullAll(org.instance({}, { now: () => clock }), cursor);
    expect(seen.records.map((r) => r.fields['LastName'])).toEqual(['Late']);
    expect(seen.cursors.at(-1)).toEqual({ phase: 'incremental', since: clock });
    const missed = await pullAll(org.instance({ lookBackMs: 0 }, { now: () => clock }), cursor);
    expect(missed.records).toEqual([]);
    // Nothing changed: nothing is yielded and the cursor stays.
    expect((await pullAll(org.instance({ lookBackMs: 0 }, { now: () => clock }), cursor)).cursors).toEqual([]);
  });
});

describe('Salesforce echoes in a process that only receives webhooks', () => {
  /** The events a fresh instance (an `api`-role process: it never pushed or pulled) makes of what the listener received. */
  async function parsedByFreshInstance(o: SalesforceTestOrg, overrides: Parameters<SalesforceTestOrg['instance']>[0] = {}) {
    await o.emulator.sideDoor.flushWebhooks();
    const api = o.instance(overrides);
    const events = [];
    for (const m of o.listener.received) events.push(...((await api.parse?.(o.rawWebhook(m))) ?? []));
    return events;
  }

  /** What a fresh ingest process reads back for those events. */
  async function readBack(o: SalesforceTestOrg, events: WebhookEvent[]): Promise<ExternalRecord[]> {
    const ids = events.flatMap((e) => (e.kind === 'changed' ? e.externalIds : []));
    return (await o.instance().read?.(ids, signal())) ?? [];
  }

  it('takes Outbound Messages without calling Salesforce; the read-back learns the integration user and marks the records Concord wrote as echoes', async () => {
    org = await startTestOrg({ config: CONSENTS });
    // The worker process writes; the api process only hears about it.
    await org.instance().push?.([toPush(profile(7))], signal());
    await org.emulator.sideDoor.flushWebhooks();
    const before = org.emulator.sideDoor.calls();
    const events = await parsedByFreshInstance(org);
    // The api process made no call at all: no token, no query.
    expect(org.emulator.sideDoor.calls()).toEqual(before);
    expect(events.length).toBeGreaterThan(0);
    // Only ids, to be read back and compared field by field: never marked as our echo.
    expect(events.every((e) => e.kind === 'changed' && e.echo === undefined)).toBe(true);
    const records = await readBack(org, events);
    expect(records.length).toBeGreaterThan(0);
    expect(records.map((r) => r.echo)).toEqual(records.map(() => true));

    // A rep's change, read back by another fresh process, is not an echo.
    org.listener.received.splice(0);
    const contact = org.emulator.sideDoor.findByEmail('person-7@example.com');
    org.emulator.sideDoor.update('Contact', String(contact?.['Id']), { HasOptedOutOfEmail: true });
    const rep = await readBack(org, await parsedByFreshInstance(org));
    expect(rep.length).toBeGreaterThan(0);
    expect(rep.every((r) => r.echo === false)).toBe(true);
    expect(rep.find((r) => r.externalId === contact?.['Id'])?.fields['HasOptedOutOfEmail']).toBe(true);
  });

  it('accepts Outbound Messages when it cannot log in (it never needs to), and the read-back fails until it can', async () => {
    org = await startTestOrg({ config: CONSENTS });
    await org.instance().push?.([toPush(profile(8))], signal());
    await org.emulator.sideDoor.flushWebhooks();
    const tokens = (): number => org?.emulator.sideDoor.calls().byEndpoint['POST /services/oauth2/token'] ?? 0;
    const before = tokens();
    const api = org.instance({ clientSecret: 'wrong' });
    const message = org.listener.received[0];
    expect(message).toBeDefined();
    if (!message) return;
    const first = (await api.parse?.(org.rawWebhook(message))) ?? [];
    expect(first.length).toBeGreaterThan(0);
    // The same message again (Salesforce retries what it got no Ack for), and any others.
    for (const m of [message, ...org.listener.received.slice(1)]) expect((await api.parse?.(org.rawWebhook(m)))?.length).toBeGreaterThan(0);
    expect(tokens()).toBe(before);
    const ids = first.flatMap((e) => (e.kind === 'changed' ? e.externalIds : []));
    await expect(api.read?.(ids, signal())).rejects.toBeInstanceOf(AuthError);
  });

  it("reads a person by plain id whole (its Individual and consents too: the engine's read of a record a write made unseen), and a Contact notification as the Contact alone", async () => {
    org = await startTestOrg({ config: CONSENTS, outbound: false });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Whole', Email: 'whole@example.com' })['Id']);
    door.setIndividual('Contact', id, { HasOptedOutProfiling: true });
    door.setConsent('Contact', id, 'Marketing', 'Email', 'OptIn', '2026-03-01T10:00:00.000Z');
    const sf = org.instance();
    await sf.read?.([`Contact:${id}`], signal()); // the token and the purposes, outside the count
    door.resetCalls();
    const whole = (await sf.read?.([id], signal())) ?? [];
    expect(door.calls().total).toBe(1);
    expect(whole.map((r) => Object.keys(r.fields).sort())).toEqual(
      expect.arrayContaining([
        expect.arrayContaining(['LastName']),
        expect.arrayContaining(['Individual.HasOptedOutProfiling']),
        expect.arrayContaining(['ContactPointTypeConsent:Email:Marketing']),
      ]),
    );
    door.resetCalls();
    const notified = (await sf.read?.([`Contact:${id}`], signal())) ?? [];
    expect(door.calls().total).toBe(1);
    expect(notified).toHaveLength(1);
    expect(notified[0]?.fields).toMatchObject({ LastName: 'Whole', Email: 'whole@example.com' });
  });

  it('reads back the records 100 notifications name in one API call, and Individual and consent notifications in one Composite call', async () => {
    org = await startTestOrg({ config: CONSENTS, outbound: false });
    const door = org.emulator.sideDoor;
    const ids = Array.from({ length: 100 }, (_, i) =>
      String(door.create('Contact', { LastName: `Person${i}`, Email: `p${i}@example.com` })['Id']),
    );
    const individuals = ids.slice(0, 3).map((id) => String(door.setIndividual('Contact', id, { HasOptedOutProcessing: true })['Id']));
    const consents = ids
      .slice(3, 5)
      .map((id) => String(door.setConsent('Contact', id, 'Marketing', 'Email', 'OptIn', '2026-03-01T10:00:00.000Z')['Id']));
    const sf = org.instance();
    await sf.read?.([`Contact:${ids[99] ?? ''}`], signal()); // the token, outside the count
    door.resetCalls();
    const people =
      (await sf.read?.(
        ids.map((id) => `Contact:${id}`),
        signal(),
      )) ?? [];
    expect(door.calls().total).toBe(1);
    expect(people.map((r) => r.externalId).sort()).toEqual([...ids].sort());
    expect(people.find((r) => r.externalId === ids[42])?.fields).toMatchObject({ LastName: 'Person42', Email: 'p42@example.com' });

    door.resetCalls();
    const rights =
      (await sf.read?.(
        individuals.map((id) => `Individual:${id}`),
        signal(),
      )) ?? [];
    expect(door.calls()).toMatchObject({ total: 1, byEndpoint: { 'POST /services/data/:version/composite': 1 } });
    expect(
      rights
        .filter((r) => r.fields['Individual.HasOptedOutProcessing'] === true)
        .map((r) => r.externalId)
        .sort(),
    ).toEqual(ids.slice(0, 3).sort());

    door.resetCalls();
    const granted =
      (await sf.read?.(
        consents.map((id) => `ContactPointTypeConsent:${id}`),
        signal(),
      )) ?? [];
    expect(door.calls().total).toBe(1);
    const optIns = granted.filter((r) => Object.values(r.fields).includes('OptIn'));
    expect(optIns.map((r) => r.externalId).sort()).toEqual(ids.slice(3, 5).sort());
    expect(optIns.every((r) => r.at === '2026-03-01T10:00:00.000Z')).toBe(true);
  });
});

describe('Salesforce tokens and limits', () => {
  it('gets a new token once on INVALID_SESSION_ID and retries', async () => {
    org = await startTestOrg();
    const sf = org.instance();
    await sf.push?.([{ profileId: 't-1', fields: { LastName: 'One' } }], signal());
    org.emulator.sideDoor.expireTokens();
    const [o] = (await sf.push?.([{ profileId: 't-2', fields: { LastName: 'Two' } }], signal())) ?? [];
    expect(o?.status).toBe('ok');
    expect(org.emulator.sideDoor.calls().byEndpoint['POST /services/oauth2/token']).toBe(2);
  });

  it('refuses wrong client credentials as AuthError', async () => {
    org = await startTestOrg();
    const sf = org.instance({ clientSecret: 'wrong' });
    await expect(sf.push?.([{ profileId: 'x', fields: { LastName: 'X' } }], signal())).rejects.toBeInstanceOf(AuthError);
  });

  it('tracks Sforce-Limit-Info and parks on REQUEST_LIMIT_EXCEEDED without calling again', async () => {
    org = await startTestOrg();
    const budgets: { remaining: number; max?: number; window: string }[] = [];
    const { createSalesforceInstance } = await import('../../../connectors/salesforce/connector.js');
    const { SalesforceConfig } = await import('../../../connectors/salesforce/config.js');
    const { silentLogger } = await import('./harness.js');
    const metrics = new Registry();
    const sf = createSalesforceInstance({
      instanceId: 'sf-limits',
      config: SalesforceConfig.parse({ ...org.config, requestLimitPark: '1m' }),
      logger: silentLogger,
      metrics,
      reportBudget: (b) => budgets.push(b),
    });
    org.emulator.sideDoor.setDailyLimit(3);
    await sf.push?.([{ profileId: 'l-1', fields: { LastName: 'One' } }], signal());
    expect(budgets.at(-1)).toEqual({ remaining: 2, max: 3, window: 'DAILY' });
    const metric = await metrics.getSingleMetric('concord_salesforce_api_requests_remaining')?.get();
    expect(metric?.values.find((v) => v.labels['instance'] === 'sf-limits')?.value).toBe(2);
    await sf.push?.([{ profileId: 'l-2', fields: { LastName: 'Two' } }], signal());
    await sf.push?.([{ profileId: 'l-3', fields: { LastName: 'Three' } }], signal());
    const err = await sf.push?.([{ profileId: 'l-4', fields: { LastName: 'Four' } }], signal()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ policy: 'REQUEST_LIMIT_EXCEEDED', retryAfterMs: 60_000, status: 403 });
    const before = org.emulator.sideDoor.calls().total;
    await expect(sf.push?.([{ profileId: 'l-5', fields: { LastName: 'Five' } }], signal())).rejects.toBeInstanceOf(RateLimitedError);
    expect(org.emulator.sideDoor.calls().total).toBe(before);

    // The allowance is back early and an operator lifts the park: calls go again.
    org.emulator.sideDoor.setDailyLimit(100);
    sf.unpark?.();
    await expect(sf.push?.([{ profileId: 'l-5', fields: { LastName: 'Five' } }], signal())).resolves.toMatchObject([{ status: 'ok' }]);
    expect(org.emulator.sideDoor.calls().total).toBeGreaterThan(before);
  });
});

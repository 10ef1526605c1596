/**
 * Find before you act: an erasure or an export searches every connected system for the person
 * (by e-mail, phone and the system's own ids), so a person the hub never synced (created
 * directly in one system) is found and erased or exported there; a system that holds nothing is
 * recorded as "searched, not found" with when and by which identities (keyed hashes), never left
 * out. Each system's erasure completes only after a read-back shows the records gone, and the
 * outcome keeps the evidence: the calls made, the search and the read-back.
 *
 * Every connector searches through `find` (HubSpot's batch reads by e-mail, Salesforce's SOQL);
 * `search.test.ts` in src/privacy covers the `export` fallback of a connector without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describe as describeRequest } from '../../../src/cli/commands/dsr.js';
import { DsrView as DsrViewSchema, PrivacyService } from '../../../src/privacy/index.js';
import type { DsrView } from '../../../src/privacy/index.js';
import type { SettledRequest } from '../../../src/privacy/context.js';
import { DSR_KEY, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';
import { startHub, waitFor as waitUntil, type Hub } from '../../../harness/sync-hub.js';
import type { MemorySystem, MemorySystemOptions } from '../../../connectors/memory/index.js';
import type { FindKind } from '../../../src/connector/define.js';

const GRACE = 'grace@example.com';
const ADA = 'ada@example.com';
const PHONE = '+44 20 7946 0018';

const system = (view: DsrView, connector: string) => view.systems.find((s) => s.connector === connector);

describe('find before you act (HubSpot and Salesforce emulators)', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  /** Grace, created by a user in HubSpot while its webhooks to the hub are off: the hub never hears of her. */
  function unknownInHubSpot(h: PrivacyHub): string {
    h.hubspot.sideDoor.setWebhookUrl(undefined);
    const contact = h.hubspot.sideDoor.createContact({ email: GRACE, firstname: 'Grace', lastname: 'Hopper', city: 'Arlington' });
    return contact.id;
  }

  it('erases a person only HubSpot holds: found by search, erased, read back; Salesforce searched, not found', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const contactId = unknownInHubSpot(h);
    expect(await h.profileByEmail(GRACE)).toBeNull();

    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: GRACE } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    expect(submitted.value.systems.map((s) => s.connector).sort()).toEqual(['hubspot', 'salesforce']);
    const done = await h.waitFor(submitted.value.id, (v) => v.status === 'completed' || v.status === 'failed');
    expect(done.status).toBe('completed');

    // Gone from HubSpot.
    expect(h.hubspot.sideDoor.getContact(contactId)).toBeUndefined();
    expect(h.hubspot.sideDoor.findByEmail(GRACE)).toBeUndefined();

    const emailHash = h.store.hashIdentity({ kind: 'email', value: GRACE });
    const idHash = h.store.hashIdentity({ kind: 'external', system: 'hubspot', value: contactId });
    expect(system(done, 'hubspot')).toMatchObject({
      status: 'completed',
      error: null,
      outcome: {
        outcome: 'erased',
        records: 1,
        verified: 'yes',
        evidence: {
          searched: { via: 'find', identities: [{ kind: 'email', hash: emailHash }], found: 1, records: [idHash] },
          calls: { find: expect.objectContaining({ count: 2 }), erase: expect.objectContaining({ count: 1 }) },
          readBack: { via: 'find', found: 0, records: [] },
        },
      },
    });
    expect(system(done, 'salesforce')).toMatchObject({
      status: 'completed',
      error: null,
      outcome: {
        outcome: 'not_found',
        records: 0,
        evidence: {
          searched: { via: 'find', identities: [{ kind: 'email', hash: emailHash }], found: 0, records: [] },
          calls: { find: expect.objectContaining({ count: 1 }) },
        },
      },
    });
    // Salesforce was only searched: nothing erased there.
    expect(system(done, 'salesforce')?.outcome?.evidence?.calls['erase']).toBeUndefined();
    // The view as the admin API gives it (through its response schema) and `concord dsr show` prints it.
    const response = await h.app.inject({ method: 'GET', url: `/api/v1/dsr/${done.id}`, headers: { authorization: `Bearer ${DSR_KEY}` } });
    expect(response.statusCode).toBe(200);
    expect(DsrViewSchema.parse(response.json()).systems.map((s) => s.outcome?.evidence?.searched?.found)).toEqual([1, 0]);
    expect(describeRequest(done)).toMatch(/salesforce +completed .*\n +searched .*email .*: not found/);
    expect(describeRequest(done)).toMatch(/hubspot +completed .*\n +searched .*: 1 record\(s\)[\s\S]*read back .*: none left/);

    // The proof holds no address: keyed hashes only.
    const rows = [
      await h.db.query('select * from dsr'),
      await h.db.query('select * from audit_log'),
      await h.db.query('select * from dsr_systems'),
    ];
    expect(JSON.stringify(rows).toLowerCase()).not.toContain('grace@');
    // Her HubSpot record id is suppressed too: a late webhook about it is dropped.
    expect(await h.store.isSuppressed([idHash])).toBe(true);
  });

  it('exports a person only HubSpot holds: their record read from HubSpot; Salesforce searched, not found', async () => {
    hub = await startPrivacyHub({ dialect: 'postgres' });
    const h = hub;
    const contactId = unknownInHubSpot(h);

    const submitted = await h.privacy.submit(
      { kind: 'export', subject: { email: GRACE }, includeLive: true },
      { origin: 'api', actor: 'test' },
    );
    if (!submitted.ok) throw submitted.error;
    const done = await h.waitFor(submitted.value.id, (v) => v.status === 'completed' || v.status === 'failed');
    expect(done.status).toBe('completed');
    expect(done.systems.map((s) => [s.connector, s.status, s.outcome?.outcome])).toEqual([
      ['hubspot', 'completed', 'exported'],
      ['salesforce', 'completed', 'not_found'],
    ]);
    expect(system(done, 'salesforce')?.outcome?.evidence?.searched).toMatchObject({ found: 0 });
    const doc = await h.privacy.exportDocument(done.id);
    if (!doc.ok) throw doc.error;
    const live = doc.value.live ?? [];
    const hubspotLive = live.find((l) => l.connector === 'hubspot');
    expect(hubspotLive?.status).toBe('read');
    expect(hubspotLive?.records.map((r) => r.externalId)).toEqual([contactId]);
    expect(hubspotLive?.records[0]?.fields).toMatchObject({ email: GRACE, firstname: 'Grace', lastname: 'Hopper' });
    // The export says how each system was searched (keyed hashes, never the address).
    const emailHash = h.store.hashIdentity({ kind: 'email', value: GRACE });
    expect(hubspotLive?.search).toMatchObject({ via: 'find', identities: [{ kind: 'email', hash: emailHash }], found: 1 });
    expect(live.find((l) => l.connector === 'salesforce')).toMatchObject({ status: 'read', records: [], search: { found: 0 } });
  });
});

describe('find before you act (in-memory systems that find)', () => {
  let h: { hub: Hub; privacy: PrivacyService; crm: MemorySystem; mail: MemorySystem } | undefined;
  afterEach(async () => {
    await h?.privacy.close();
    await h?.hub.close();
    h = undefined;
  });

  /** `findsBy`: the kinds each system's find searches by (absent: all). */
  async function start(
    findsBy: { crm?: FindKind[]; mail?: FindKind[] } = {},
    crmSystem?: MemorySystemOptions,
    onSettled?: (settled: SettledRequest) => void,
  ): Promise<NonNullable<typeof h>> {
    const hub = await startHub({
      dialect: 'sqlite',
      systems: [
        {
          id: 'crm',
          webhooks: false,
          ...(findsBy.crm ? { config: { findsBy: findsBy.crm } } : {}),
          ...(crmSystem ? { system: crmSystem } : {}),
        },
        { id: 'mail', ...(findsBy.mail ? { config: { findsBy: findsBy.mail } } : {}) },
      ],
    });
    const privacy = new PrivacyService({
      store: hub.store,
      redis: hub.engine.connection,
      prefix: hub.engine.prefix,
      connectors: hub.connectors,
      policy: hub.policy,
      ingestPatch: () => Promise.reject(new Error('this test makes no hub patches')),
      ...(onSettled ? { onSettled } : {}),
      metrics: hub.engine.metrics.registry,
      options: {
        tuning: { eraseBatchWaitMs: 20, backoff: { baseMs: 50, maxMs: 300, jitter: 0.2 }, callRetryMinMs: 10, limiterMarginMs: 10 },
      },
    });
    await privacy.start(hub.engine);
    return { hub, privacy, crm: hub.systems['crm'] as MemorySystem, mail: hub.systems['mail'] as MemorySystem };
  }

  async function waitDone(privacy: PrivacyService, id: string): Promise<DsrView> {
    let last: DsrView | undefined;
    await waitUntil(
      async () => {
        const view = await privacy.get(id);
        if (!view.ok) throw view.error;
        last = view.value;
        return view.value.status === 'completed' || view.value.status === 'failed';
      },
      20_000,
      `request ${id}`,
    );
    if (!last) throw new Error('no view');
    return last;
  }

  it('erases by phone a person only one system holds, several requests searched in one find call, read back with find', async () => {
    h = await start();
    const { crm, mail, privacy } = h;
    // Made in the CRM, whose webhooks the hub does not receive: the hub never hears of them.
    const grace = crm.change({ email: GRACE, phone: PHONE, first_name: 'Grace' });
    const ada = crm.change({ email: ADA, first_name: 'Ada' });
    crm.resetCalls();
    mail.resetCalls();

    const byPhone = await privacy.submit({ kind: 'erase', subject: { phone: '+442079460018' } }, { origin: 'api', actor: 'test' });
    const byEmail = await privacy.submit({ kind: 'erase', subject: { email: ADA } }, { origin: 'api', actor: 'test' });
    if (!byPhone.ok) throw byPhone.error;
    if (!byEmail.ok) throw byEmail.error;
    expect(byPhone.value.systems.map((s) => s.connector)).toEqual(['crm', 'mail']);
    const [one, two] = [await waitDone(privacy, byPhone.value.id), await waitDone(privacy, byEmail.value.id)];
    expect([one.status, two.status]).toEqual(['completed', 'completed']);
    expect(crm.get(grace.id)).toBeUndefined();
    expect(crm.get(ada.id)).toBeUndefined();

    const phoneHash = h.hub.store.hashIdentity({ kind: 'phone', value: '+442079460018' });
    expect(system(one, 'crm')?.outcome).toMatchObject({
      outcome: 'erased',
      records: 1,
      verified: 'yes',
      evidence: {
        searched: { via: 'find', identities: [{ kind: 'phone', hash: phoneHash }], found: 1 },
        calls: { find: expect.objectContaining({ count: 2 }), erase: expect.objectContaining({ count: 1 }) },
        readBack: { via: 'find', found: 0, records: [] },
      },
    });
    expect(system(one, 'mail')?.outcome).toMatchObject({
      outcome: 'not_found',
      evidence: { searched: { via: 'find', identities: [{ kind: 'phone', hash: phoneHash }], found: 0 } },
    });
    // Both requests were searched, erased and read back together: one call each per system.
    expect(crm.calls().byEndpoint).toEqual({ search: 2, erase: 1 });
    expect(mail.calls().byEndpoint).toEqual({ search: 1 });
  });

  it('a rate limit while searching parks the erase queue without spending an attempt, then the search goes on', async () => {
    h = await start();
    const { crm, privacy } = h;
    crm.change({ email: GRACE, first_name: 'Grace' });
    crm.rateLimitNextCall(1);
    const submitted = await privacy.submit({ kind: 'erase', subject: { email: GRACE } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    const done = await waitDone(privacy, submitted.value.id);
    expect(system(done, 'crm')).toMatchObject({ status: 'completed', attempts: 1, outcome: { outcome: 'erased' } });
    expect(crm.getStats().rateLimited).toBe(1);
    expect(crm.get({ email: GRACE })).toBeUndefined();
    // One attempt, audited once: the parked run wrote none.
    const attempts = (await h.hub.store.listAudit({ limit: 1000 })).filter(
      (a) => a.action === 'dsr.erase.attempt' && a.detail['connector'] === 'crm',
    );
    expect(attempts.map((a) => a.detail['attempt'])).toEqual([1]);
  });
  it('exports a person only one system holds, found with find and read; a rate limit delays the export without spending an attempt', async () => {
    h = await start();
    const { crm, mail, privacy } = h;
    const grace = crm.change({ email: GRACE, phone: PHONE, first_name: 'Grace' });
    crm.resetCalls();
    mail.resetCalls();
    crm.rateLimitNextCall(1);
    const submitted = await privacy.submit(
      { kind: 'export', subject: { email: GRACE }, includeLive: true },
      { origin: 'api', actor: 'test' },
    );
    if (!submitted.ok) throw submitted.error;
    expect(submitted.value.systems.map((s) => s.connector)).toEqual(['crm', 'mail']);
    const done = await waitDone(privacy, submitted.value.id);
    expect(done.status).toBe('completed');
    expect(system(done, 'crm')).toMatchObject({
      status: 'completed',
      attempts: 0,
      error: null,
      outcome: {
        outcome: 'exported',
        records: 1,
        evidence: { searched: { via: 'find', found: 1 }, calls: { find: { count: 1 }, export: { count: 1 } } },
      },
    });
    expect(system(done, 'mail')?.outcome).toMatchObject({ outcome: 'not_found', records: 0, evidence: { searched: { found: 0 } } });
    expect(crm.getStats().rateLimited).toBe(1);
    // The refused search, the search again, then the record read by its id.
    expect(crm.calls().byEndpoint).toEqual({ search: 2, find: 1 });
    expect(mail.calls().byEndpoint).toEqual({ search: 1 });
    const doc = await privacy.exportDocument(done.id);
    if (!doc.ok) throw doc.error;
    expect(doc.value.live?.find((l) => l.connector === 'crm')?.records).toEqual([
      expect.objectContaining({ externalId: grace.id, fields: expect.objectContaining({ email: GRACE, phone: PHONE }) }),
    ]);
  });

  it('a system that cannot search by the person’s phone is no "searched, not found": it fails, to be checked by hand', async () => {
    h = await start({ crm: ['email', 'externalId'] });
    const { crm, privacy } = h;
    // Held by the CRM, whose find cannot search by phone: it would not find her.
    const grace = crm.change({ email: GRACE, phone: PHONE, first_name: 'Grace' });
    crm.resetCalls();
    const submitted = await privacy.submit({ kind: 'erase', subject: { phone: '+442079460018' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    const done = await waitDone(privacy, submitted.value.id);
    expect(done.status).toBe('failed');
    const phoneHash = h.hub.store.hashIdentity({ kind: 'phone', value: '+442079460018' });
    expect(system(done, 'crm')).toMatchObject({
      status: 'failed',
      error: "cannot be searched by the person's identities (phone): check by hand",
      outcome: { outcome: 'failed', evidence: { unsearchable: [{ kind: 'phone', hash: phoneHash }] } },
    });
    expect(system(done, 'crm')?.outcome?.evidence?.searched).toBeUndefined();
    // Not asked by what it cannot search by, and not claimed erased.
    expect(crm.calls().byEndpoint).toEqual({});
    expect(crm.get(grace.id)).toBeDefined();
    // The mail system searches by phone: searched, not found, nothing unsearchable.
    expect(system(done, 'mail')?.outcome).toMatchObject({
      outcome: 'not_found',
      evidence: { searched: { via: 'find', identities: [{ kind: 'phone', hash: phoneHash }], found: 0 } },
    });
    expect(system(done, 'mail')?.outcome?.evidence?.unsearchable).toBeUndefined();
    expect(describeRequest(done)).toMatch(/crm +failed .*\n[\s\S]*not searchable here: phone /);
  });

  it('an export holds the records the hub knows even where the search misses them, and fails where nothing can be searched', async () => {
    // The mail system's find searches by phone only: it cannot find Grace by her address nor by her id.
    h = await start({ mail: ['phone'] });
    const { mail, privacy } = h;
    const grace = mail.change({ email: GRACE, first_name: 'Grace' });
    await h.hub.settle();
    const known = await privacy.submit({ kind: 'export', subject: { email: GRACE }, includeLive: true }, { origin: 'api', actor: 'test' });
    if (!known.ok) throw known.error;
    const done = await waitDone(privacy, known.value.id);
    expect(done.status).toBe('completed');
    expect(system(done, 'mail')?.outcome).toMatchObject({ outcome: 'exported', records: 1 });
    expect(
      system(done, 'mail')
        ?.outcome?.evidence?.unsearchable?.map((i) => i.kind)
        .sort(),
    ).toEqual(['email', 'external']);
    const doc = await privacy.exportDocument(done.id);
    if (!doc.ok) throw doc.error;
    const live = doc.value.live?.find((l) => l.connector === 'mail');
    expect(live?.records.map((r) => r.externalId)).toEqual([grace.id]);
    expect(live?.unsearchable?.map((i) => i.kind).sort()).toEqual(['email', 'external']);

    // Ada, unknown to the hub: the mail system cannot be searched by her address, so it is no "not found".
    const unknown = await privacy.submit({ kind: 'export', subject: { email: ADA }, includeLive: true }, { origin: 'api', actor: 'test' });
    if (!unknown.ok) throw unknown.error;
    const failed = await waitDone(privacy, unknown.value.id);
    expect(failed.status).toBe('failed');
    expect(system(failed, 'mail')).toMatchObject({
      status: 'failed',
      error: "cannot be searched by the person's identities (email): check by hand",
    });
    expect(system(failed, 'crm')?.outcome).toMatchObject({ outcome: 'not_found' });
  });

  it('a record found only on reading back is erased on the next attempt and suppressed like those found by searching', async () => {
    h = await start({}, { asyncErase: { steps: 1, checkAfterMs: 30 } });
    const { crm, privacy } = h;
    const grace = crm.change({ email: GRACE, first_name: 'Grace' });
    crm.holdErasures();
    const submitted = await privacy.submit({ kind: 'erase', subject: { email: GRACE } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    await waitUntil(
      async () => {
        const view = await privacy.get(submitted.value.id);
        return view.ok && system(view.value, 'crm')?.progress !== undefined && system(view.value, 'crm')?.progress !== null;
      },
      10_000,
      'the CRM erasing later',
    );
    // While the CRM is erasing her, a user deletes her record and makes a new one: only the read-back finds it.
    crm.remove({ id: grace.id });
    const late = crm.change({ email: GRACE, first_name: 'Grace (2)' });
    expect(late.id).not.toBe(grace.id);
    crm.holdErasures(false);
    const done = await waitDone(privacy, submitted.value.id);
    expect(done.status).toBe('completed');
    expect(crm.get(late.id)).toBeUndefined();
    const hashOf = (id: string) => h?.hub.store.hashIdentity({ kind: 'external', system: 'crm', value: id }) ?? '';
    expect(await h.hub.store.isSuppressed([hashOf(grace.id)])).toBe(true);
    expect(await h.hub.store.isSuppressed([hashOf(late.id)])).toBe(true);
  });

  it('tells onSettled of a failed request too, and of an open erasure asked for again, once per requester', async () => {
    const settled: SettledRequest[] = [];
    h = await start({ crm: ['email', 'externalId'] }, { asyncErase: { steps: 1, checkAfterMs: 30 } }, (s) => settled.push(s));
    const { crm, mail, privacy } = h;
    // Failed: the CRM cannot be searched by phone (see above).
    const byPhone = await privacy.submit(
      { kind: 'erase', subject: { phone: '+442079460018' } },
      { origin: 'api', actor: 'test', notify: 'n-phone' },
    );
    if (!byPhone.ok) throw byPhone.error;
    expect((await waitDone(privacy, byPhone.value.id)).status).toBe('failed');
    await waitUntil(() => settled.length === 1, 5_000, 'the failure notice');
    expect(settled[0]).toMatchObject({ id: byPhone.value.id, status: 'failed', notify: 'n-phone' });

    // Grace, known to the hub (from the mail system) and held by the CRM, which erases later.
    crm.change({ email: GRACE, first_name: 'Grace' });
    mail.change({ email: GRACE, first_name: 'Grace' });
    await h.hub.settle();
    crm.holdErasures();
    const meta = { origin: 'preference_center', actor: 'verified_email' };
    const first = await privacy.submit({ kind: 'erase', subject: { email: GRACE } }, { ...meta, notify: 'n-1' });
    if (!first.ok) throw first.error;
    await waitUntil(
      async () => {
        const view = await privacy.get(first.value.id);
        return view.ok && (system(view.value, 'crm')?.progress ?? null) !== null;
      },
      10_000,
      'the CRM erasing later',
    );
    // Asked again while it is open: the same request, and this requester is told too.
    const again = await privacy.submit({ kind: 'erase', subject: { email: GRACE } }, { ...meta, notify: 'n-2' });
    if (!again.ok) throw again.error;
    expect(again.value.id).toBe(first.value.id);
    crm.holdErasures(false);
    expect((await waitDone(privacy, first.value.id)).status).toBe('completed');
    await waitUntil(() => settled.length === 3, 5_000, 'both completion notices');
    expect(
      settled
        .slice(1)
        .map((s) => [s.id, s.status, s.notify])
        .sort(),
    ).toEqual([
      [first.value.id, 'completed', 'n-1'],
      [first.value.id, 'completed', 'n-2'],
    ]);
    // The proof keeps no reference.
    expect(JSON.stringify(await h.hub.store.getDsr(first.value.id))).not.toMatch(/n-[12]/);
  });

  it('a search that found nothing is kept, so a run parked later (on the erase call) does not search again', async () => {
    // The mail system's find cannot search by her address nor her id: its search finds nothing,
    // and it answers one call per window, so the erase call after it is refused (429) and parks.
    h = await start({ mail: ['phone'] });
    const { mail, privacy } = h;
    const grace = mail.change({ email: GRACE, first_name: 'Grace' });
    await h.hub.settle();
    mail.setRateLimit({ requests: 1, windowMs: 300 });
    const submitted = await privacy.submit({ kind: 'erase', subject: { email: GRACE } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    const done = await waitDone(privacy, submitted.value.id);
    mail.setRateLimit(undefined);
    expect(done.status).toBe('completed');
    expect(mail.get(grace.id)).toBeUndefined();
    expect(mail.getStats().rateLimited).toBeGreaterThan(0);
    const searched = system(done, 'mail')?.outcome?.evidence?.searched;
    expect(searched).toMatchObject({ found: 0 });
    // Parked at least once after searching (two runs' attempts), and searched in the first run only.
    const attempts = (await h.hub.store.listAudit({ limit: 1000 }))
      .filter((a) => a.action === 'dsr.erase.attempt' && a.detail['connector'] === 'mail')
      .map((a) => Date.parse(a.at))
      .sort((a, b) => a - b);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(Date.parse(searched?.at ?? '')).toBeLessThan(attempts[1] ?? 0);
  });
});

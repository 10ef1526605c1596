/**
 * HubSpot connector behaviour beyond the shared conformance suite, against the emulator:
 * incremental pulls (look-back, windows, the search cap), push details (legal basis, e-mail
 * changes, partial failures), the DAILY limit, and webhooks from the emulator.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance, ExternalRecord, FindQuery, PushRecord } from '../../../src/connector/define.js';
import { RateLimitedError } from '../../../src/connector/errors.js';
import type { Profile } from '../../../src/profile/schema.js';
import { createHubSpotInstance } from '../../../connectors/hubspot/connector.js';
import { HubSpotApi } from '../../../connectors/hubspot/api.js';
import { HubSpotReader } from '../../../connectors/hubspot/read.js';
import { HubSpotConfig, type HubSpotConfigInput, type HubSpotCursor } from '../../../connectors/hubspot/config.js';
import {
  startHubSpotEmulator,
  type HubSpotEmulatorOptionsInput,
  type RunningHubSpotEmulator,
} from '../../../connectors/hubspot/emulator/index.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { createLogger, silentLogger } from '../../../src/log/logger.js';

const SECRET = 'connector-test-secret';
const APP_ID = 5150;
const signal = (): AbortSignal => new AbortController().signal;

interface Setup {
  emu: RunningHubSpotEmulator;
  receiver: WebhookReceiver;
  instance: ConnectorInstance<HubSpotCursor>;
  logs: string[];
  /** The registry the instance's metrics are on. */
  metrics: Registry;
  /** The instance's config, parsed. */
  config: HubSpotConfig;
}

const open: Setup[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    await s.emu.close();
    await s.receiver.close();
  }
});

async function setup(
  emulator: Partial<HubSpotEmulatorOptionsInput> = {},
  config: Partial<HubSpotConfigInput> = {},
  runtime: { now?: () => number } = {},
): Promise<Setup> {
  const receiver = await startWebhookReceiver();
  const emu = await startHubSpotEmulator({ clientSecret: SECRET, webhookUrl: receiver.url, appId: APP_ID, ...emulator }, runtime);
  const logs: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  });
  const parsed = HubSpotConfig.parse({
    accessToken: 'pat',
    webhookSecret: SECRET,
    baseUrl: emu.url,
    appId: APP_ID,
    subscriptions: [
      { id: 101, consent: 'marketing.email' },
      { id: 103, topic: 'newsletter' },
    ],
    ...config,
  });
  const metrics = new Registry();
  const instance = await createHubSpotInstance({ instanceId: 'hubspot', config: parsed, logger, metrics }, runtime);
  const s = { emu, receiver, instance, logs, metrics, config: parsed };
  open.push(s);
  return s;
}

async function pullAll(
  instance: ConnectorInstance<HubSpotCursor>,
  cursor?: HubSpotCursor,
): Promise<{ records: ExternalRecord[]; cursor: HubSpotCursor | undefined }> {
  const records: ExternalRecord[] = [];
  let last = cursor;
  for await (const page of instance.pull?.(cursor, signal()) ?? []) {
    records.push(...page.records);
    last = page.cursor;
  }
  return { records, cursor: last };
}

function profileWith(basis: Profile['consents'][string][string]['legalBasis']): Profile {
  const stamp = { at: '2026-11-29T10:00:00.000Z', source: 'admin' };
  return {
    id: 'p1',
    identities: [{ kind: 'email', value: 'lb@example.com', ...stamp }],
    attributes: {},
    consents: {
      marketing: { email: { value: 'granted', legalBasis: basis, evidence: { method: 'checkout', noticeVersion: 'v3' }, ...stamp } },
    },
    subscriptions: {},
    rights: { objections: {} },
    version: 1,
  };
}

describe('HubSpot connector: pull', () => {
  it('pages the full list first, then pulls changes incrementally from its cursor', async () => {
    const { emu, instance } = await setup();
    for (let i = 0; i < 250; i++) emu.sideDoor.createContact({ email: `full${i}@example.com`, firstname: `F${i}` });
    emu.sideDoor.unsubscribe('full7@example.com', 101);
    const first = await pullAll(instance);
    expect(first.records).toHaveLength(250);
    expect(first.cursor?.phase).toBe('incremental');
    const seven = first.records.find((r) => r.fields.email === 'full7@example.com');
    expect(seven?.fields).toMatchObject({ firstname: 'F7', 'subscription:101': 'UNSUBSCRIBED' });
    // Unset values (no last name, newsletter NOT_SPECIFIED) are left out rather than sent as null.
    expect(seven?.fields).not.toHaveProperty('lastname');
    expect(seven?.fields).not.toHaveProperty('subscription:103');

    const c = emu.sideDoor.findByEmail('full3@example.com');
    emu.sideDoor.editContact(c?.id ?? '', { lastname: 'Changed' });
    const second = await pullAll(instance, first.cursor);
    // The look-back re-reads recent contacts; the changed one is among them with its new value,
    // each value stamped with its own time (search gives no history: the contacts found are read
    // again, 100 per call, and the changed ones once more with their history).
    const changed = second.records.find((r) => r.externalId === c?.id);
    expect(changed?.fields.lastname).toBe('Changed');
    expect(changed?.fieldsAt?.['lastname']).toBeDefined();
    // A contact untouched since its creation: its values stamped with its creation, read with history or not.
    const hundred = second.records.find((r) => r.fields.email === 'full100@example.com');
    expect(hundred).toMatchObject({ fields: { firstname: 'F100' } });
    expect(hundred?.fieldsAt?.['firstname'] ?? hundred?.at).toBe(emu.sideDoor.findByEmail('full100@example.com')?.createdAt);
    const searches = emu.sideDoor.calls().byEndpoint['POST /crm/v3/objects/contacts/search'] ?? 0;
    expect(searches).toBeGreaterThan(0);
  });

  it('re-reads through the look-back what was not yet searchable', async () => {
    const { emu, instance } = await setup({ searchIndexLagMs: 400 });
    emu.sideDoor.createContact({ email: 'early@example.com' });
    await sleep(450);
    const first = await pullAll(instance, { phase: 'incremental', since: Date.now() - 60_000 });
    expect(first.records.map((r) => r.fields.email)).toEqual(['early@example.com']);
    const late = emu.sideDoor.createContact({ email: 'late@example.com' });
    const second = await pullAll(instance, first.cursor);
    expect(second.records.map((r) => r.externalId)).not.toContain(late.id);
    await sleep(450);
    const third = await pullAll(instance, second.cursor);
    expect(third.records.map((r) => r.externalId)).toContain(late.id);
  });

  it('never pages a search past the result cap: windows move by lastmodifieddate', async () => {
    let t = Date.parse('2026-11-29T08:00:00.000Z');
    const now = (): number => t;
    const { emu, instance } = await setup(
      { searchResultCap: 50, rateLimit: { searchPerSecond: 1000, max: 10_000 } },
      { searchRequestsPerSecond: 1000, requestsPer10Seconds: 10_000 },
      { now },
    );
    for (let i = 0; i < 300; i++) {
      t += 7;
      emu.sideDoor.createContact({ email: `cap${i}@example.com` });
    }
    t += 60_000;
    const { records } = await pullAll(instance, { phase: 'incremental', since: Date.parse('2026-11-29T07:00:00.000Z') });
    expect(new Set(records.map((r) => r.fields.email)).size).toBe(300);
    expect(emu.sideDoor.calls().byEndpoint['POST /crm/v3/objects/contacts/search']).toBeGreaterThan(3);
  });

  it('pages with offsets inside one millisecond when a whole page shares it', async () => {
    let t = Date.parse('2026-11-29T08:00:00.000Z');
    const now = (): number => t;
    const { emu, instance } = await setup(
      { rateLimit: { searchPerSecond: 1000, max: 10_000 } },
      { searchRequestsPerSecond: 1000, requestsPer10Seconds: 10_000 },
      { now },
    );
    emu.sideDoor.createContact({ email: 'before@example.com' });
    t += 1;
    for (let i = 0; i < 250; i++) emu.sideDoor.createContact({ email: `same${i}@example.com` });
    t += 1;
    emu.sideDoor.createContact({ email: 'after@example.com' });
    t += 60_000;
    const { records } = await pullAll(instance, { phase: 'incremental', since: Date.parse('2026-11-29T07:00:00.000Z') });
    expect(new Set(records.map((r) => r.fields.email)).size).toBe(252);
  });

  it('walks several windows when the time since the cursor is wider than one window', async () => {
    let t = Date.parse('2026-11-20T00:00:00.000Z');
    const now = (): number => t;
    const { emu, instance } = await setup(
      { rateLimit: { searchPerSecond: 1000, max: 10_000 } },
      { incrementalWindowMs: 3_600_000, searchRequestsPerSecond: 1000, requestsPer10Seconds: 10_000 },
      { now },
    );
    for (let day = 0; day < 3; day++) {
      t += 24 * 3_600_000;
      emu.sideDoor.createContact({ email: `day${day}@example.com` });
    }
    const { records, cursor } = await pullAll(instance, { phase: 'incremental', since: Date.parse('2026-11-20T00:00:00.000Z') });
    expect(records.map((r) => r.fields.email)).toEqual(['day0@example.com', 'day1@example.com', 'day2@example.com']);
    expect(cursor).toEqual({ phase: 'incremental', since: t + 1 });
  });
});

describe('HubSpot connector: push', () => {
  it('writes subscription statuses with the legal basis mapped from the canonical consent', async () => {
    const { emu, instance } = await setup();
    const record = (profile: Profile): PushRecord => ({
      profileId: 'p1',
      fields: { email: 'lb@example.com', 'subscription:101': 'SUBSCRIBED' },
      profile,
    });
    const [ok] = (await instance.push?.([record(profileWith('contract'))], signal())) ?? [];
    expect(ok?.status).toBe('ok');
    const status = emu.sideDoor.statuses('lb@example.com').find((s) => s.subscriptionId === 101);
    expect(status).toMatchObject({ status: 'SUBSCRIBED', legalBasis: 'PERFORMANCE_OF_CONTRACT' });
    expect(String(status?.legalBasisExplanation)).toContain('checkout, notice v3');

    emu.sideDoor.unsubscribe('lb@example.com', 101);
    await instance.push?.([record(profileWith('legal_obligation'))], signal());
    const again = emu.sideDoor.statuses('lb@example.com').find((s) => s.subscriptionId === 101);
    expect(again).toMatchObject({ status: 'SUBSCRIBED', legalBasis: 'LEGITIMATE_INTEREST_OTHER' });
    expect(String(again?.legalBasisExplanation)).toContain('Art. 6(1)(c)');
  });

  it('the emulator tells a status a person set between our read and our identical write (crossed) from an echo write', async () => {
    // A stopped clock: the person's change falls in the millisecond of our read and still comes after it.
    const { emu } = await setup({}, {}, { now: () => 1_796_000_000_000 });
    emu.sideDoor.createContact({ email: 'x@example.com' });
    emu.sideDoor.subscribe('x@example.com', 101);
    const api = (path: string, body: unknown) =>
      fetch(`${emu.url}/communication-preferences/v4/statuses/batch/${path}?channel=EMAIL`, {
        method: 'POST',
        headers: { authorization: 'Bearer pat', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const unsubscribe = {
      inputs: [{ subscriberIdString: 'x@example.com', subscriptionId: 101, channel: 'EMAIL', statusState: 'UNSUBSCRIBED' }],
    };
    expect((await api('read', { inputs: ['x@example.com'] })).ok).toBe(true);
    emu.sideDoor.unsubscribe('x@example.com', 101);
    expect((await api('write', unsubscribe)).ok).toBe(true);
    // Written again with nothing new in between: that one is ours to avoid.
    expect((await api('write', unsubscribe)).ok).toBe(true);
    expect(emu.sideDoor.idleWrites().map((w) => w.crossed ?? false)).toEqual([true, false]);
  });

  // Chaos (e): an operator and a marketer made the same choice at once; the hub wrote the
  // status HubSpot already held before the marketer's webhook reached it (an echo write).
  it('does not write a subscription status HubSpot already holds, and still answers ok', async () => {
    const { emu, instance } = await setup();
    const contact = emu.sideDoor.createContact({ email: 'lb@example.com' });
    emu.sideDoor.subscribe('lb@example.com', 101);
    emu.sideDoor.unsubscribe('lb@example.com', 103);
    const outcomes = await instance.push?.(
      [
        {
          profileId: 'p1',
          externalId: contact.id,
          fields: { 'subscription:101': 'SUBSCRIBED', 'subscription:103': 'UNSUBSCRIBED' },
          profile: profileWith('consent'),
        },
      ],
      signal(),
    );
    // Each status stood since HubSpot's stamp of it: that is when the hub's value landed.
    const stamps = Object.fromEntries(
      emu.sideDoor.statuses('lb@example.com').map((s) => [`subscription:${String(s.subscriptionId)}`, s.timestamp]),
    );
    expect(outcomes).toEqual([
      {
        status: 'ok',
        profileId: 'p1',
        externalId: contact.id,
        fieldsWrittenAt: { 'subscription:101': stamps['subscription:101'], 'subscription:103': stamps['subscription:103'] },
      },
    ]);
    expect(emu.sideDoor.idleWrites()).toEqual([]);
    // A different legal basis is a change worth writing.
    await instance.push?.(
      [{ profileId: 'p1', externalId: contact.id, fields: { 'subscription:101': 'SUBSCRIBED' }, profile: profileWith('contract') }],
      signal(),
    );
    expect(emu.sideDoor.statuses('lb@example.com').find((s) => s.subscriptionId === 101)).toMatchObject({
      legalBasis: 'PERFORMANCE_OF_CONTRACT',
    });
    expect(emu.sideDoor.idleWrites()).toEqual([]);
  });

  // Chaos (e): the hub was to unsubscribe (an opt-out chosen at T); a marketer had unsubscribed
  // and subscribed again in HubSpot after T; the write buried the marketer's newer choice.
  it("does not write over a status chosen in HubSpot after the hub's value: answers retryable with the id, writes nothing", async () => {
    const { emu, instance } = await setup();
    const contact = emu.sideDoor.createContact({ email: 'late@example.com', firstname: 'Late' });
    const oursAt = new Date(Date.now() - 1_000).toISOString();
    const knownAt = new Date(Date.now() - 500).toISOString();
    emu.sideDoor.subscribe('late@example.com', 101);
    const record: PushRecord = {
      profileId: 'p1',
      externalId: contact.id,
      fields: { firstname: 'Hub', 'subscription:101': 'UNSUBSCRIBED' },
      profile: profileWith('consent'),
      held: { firstname: 'Late', 'subscription:101': 'SUBSCRIBED' },
      heldAt: knownAt,
      valuesAt: { firstname: oursAt, 'subscription:101': oursAt },
    };
    const [outcome] = (await instance.push?.([record], signal())) ?? [];
    expect(outcome).toMatchObject({ status: 'retryable', profileId: 'p1', externalId: contact.id });
    expect(emu.sideDoor.statuses('late@example.com').find((s) => s.subscriptionId === 101)).toMatchObject({ status: 'SUBSCRIBED' });
    expect(emu.sideDoor.getContact(contact.id)?.properties['firstname']).toBe('Late');
    // Our own earlier write of that status, known since: no newer choice, the hub's value is written.
    const [ours] = (await instance.push?.([{ ...record, heldAt: new Date(Date.now() + 1_000).toISOString() }], signal())) ?? [];
    expect(ours).toMatchObject({ status: 'ok', profileId: 'p1' });
    expect(emu.sideDoor.statuses('late@example.com').find((s) => s.subscriptionId === 101)).toMatchObject({ status: 'UNSUBSCRIBED' });
  });

  // Issue 14 leftover: the hub wrote UNSUBSCRIBED (T1); a rep's grant reached the hub (chosen
  // T1.5); a marketer unsubscribed again in HubSpot (T2); the shadow row was refreshed by the
  // first name (T3) before the status's webhook came. Judged by the row's time, HubSpot's
  // UNSUBSCRIBED at T2 looked like the one the hub knew, and SUBSCRIBED was written over the
  // marketer's newer "no". The hub knew that status only as of T1: its own time decides.
  it('judges a held status by when the hub learnt that field, not when the shadow row last changed', async () => {
    let clock = Date.parse('2026-12-04T10:00:00.000Z');
    const { emu, instance } = await setup({}, {}, { now: () => clock });
    const contact = emu.sideDoor.createContact({ email: 'field-time@example.com', firstname: 'F' });
    const t1 = new Date(clock).toISOString();
    clock += 100;
    const chosenAt = new Date(clock).toISOString();
    clock += 100;
    emu.sideDoor.unsubscribe('field-time@example.com', 101);
    clock += 100;
    const rowAt = new Date(clock).toISOString();
    const record: PushRecord = {
      profileId: 'p1',
      externalId: contact.id,
      fields: { 'subscription:101': 'SUBSCRIBED' },
      profile: profileWith('consent'),
      held: { 'subscription:101': 'UNSUBSCRIBED' },
      heldAt: rowAt,
      heldFieldsAt: { 'subscription:101': t1 },
      valuesAt: { 'subscription:101': chosenAt },
    };
    const [outcome] = (await instance.push?.([record], signal())) ?? [];
    expect(outcome).toMatchObject({ status: 'retryable', profileId: 'p1', externalId: contact.id });
    expect(emu.sideDoor.statuses('field-time@example.com').find((s) => s.subscriptionId === 101)).toMatchObject({ status: 'UNSUBSCRIBED' });
    // Known since (the field's own time is after HubSpot's stamp): the hub's newer value is written.
    const [known] = (await instance.push?.([{ ...record, heldFieldsAt: { 'subscription:101': rowAt } }], signal())) ?? [];
    expect(known).toMatchObject({ status: 'ok', profileId: 'p1' });
    expect(emu.sideDoor.statuses('field-time@example.com').find((s) => s.subscriptionId === 101)).toMatchObject({ status: 'SUBSCRIBED' });
  });

  // Storm (api+worker), traced: our UNSUBSCRIBED landed at .237 by HubSpot's stamp; a marketer
  // subscribed at .265, before the hub's call ended. With no stamp for the status, the hub took
  // the subscribe for one our write may have overwritten and its shadow kept UNSUBSCRIBED; the
  // marketer's unsubscribe at .857 then equalled that stale shadow (no change), and a later
  // push wrote SUBSCRIBED over it. HubSpot stamps each status it writes: that is when ours landed.
  it('says when each subscription status landed: the stamp HubSpot gave the write, or the one it already held', async () => {
    let clock = Date.parse('2026-12-04T10:00:00.000Z');
    const { emu, instance } = await setup({}, {}, { now: () => clock });
    const contact = emu.sideDoor.createContact({ email: 'stamp@example.com', firstname: 'S' });
    emu.sideDoor.unsubscribe('stamp@example.com', 103);
    const heldAt = new Date(clock).toISOString();
    clock += 237;
    const [outcome] =
      (await instance.push?.(
        [
          {
            profileId: 'p1',
            externalId: contact.id,
            fields: { firstname: 'Hub', 'subscription:101': 'UNSUBSCRIBED', 'subscription:103': 'UNSUBSCRIBED' },
            profile: profileWith('consent'),
          },
        ],
        signal(),
      )) ?? [];
    const landed = emu.sideDoor.statuses('stamp@example.com').find((s) => s.subscriptionId === 101);
    expect(landed).toMatchObject({ status: 'UNSUBSCRIBED', timestamp: new Date(clock).toISOString() });
    expect(outcome).toMatchObject({
      status: 'ok',
      fieldsWrittenAt: {
        firstname: new Date(clock).toISOString(),
        'subscription:101': landed?.timestamp,
        // Held already, so not written: it has stood since HubSpot's stamp of it.
        'subscription:103': heldAt,
      },
    });
  });

  // Storm (api+worker), traced: a marketer set a last name at .845; our write of the first name
  // landed at .943 (the contact's lastmodifieddate); the read of the contact stamped the
  // marketer's name .943, so it beat an operator's newer name (.938) in the hub. A value read
  // carries the time it was set (its newest version in the property's history), not the contact's.
  // The same for identities: a phone edited in HubSpot, then a later write of ours of another
  // property, stamped the phone with our write and beat a newer phone edited elsewhere.
  it('reads each property, e-mail and phone included, with the time its value was set, not when the contact last changed', async () => {
    let clock = Date.parse('2026-12-04T10:00:00.845Z');
    const { emu, instance } = await setup({}, {}, { now: () => clock });
    const contact = emu.sideDoor.createContact({ email: 'older@example.com', firstname: 'F', lastname: 'Before', phone: '+14155550100' });
    const createdAt = new Date(clock).toISOString();
    clock += 100;
    emu.sideDoor.editContact(contact.id, { lastname: 'Marketer', phone: '+14155550111' });
    const marketerAt = new Date(clock).toISOString();
    clock += 98;
    const [pushed] = (await instance.push?.([{ profileId: 'p1', externalId: contact.id, fields: { firstname: 'Hub' } }], signal())) ?? [];
    expect(pushed).toMatchObject({ status: 'ok' });
    const ourAt = new Date(clock).toISOString();
    clock += 20;
    const [record] = (await instance.read?.([contact.id], signal())) ?? [];
    expect(record).toMatchObject({ at: ourAt, fields: { firstname: 'Hub', lastname: 'Marketer' } });
    const stamps = { lastname: marketerAt, phone: marketerAt, email: createdAt, firstname: ourAt };
    expect(record?.fieldsAt).toMatchObject(stamps);
    // A pull finds the same (search gives no history: the contacts found are read with it), the full list too.
    const full = await pullAll(instance);
    expect(full.records.find((r) => r.externalId === contact.id)?.fieldsAt).toMatchObject(stamps);
    const incremental = await pullAll(instance, { phase: 'incremental', since: clock - 1_000 });
    const pulled = incremental.records.find((r) => r.externalId === contact.id);
    expect(pulled).toMatchObject({ at: ourAt, fields: { lastname: 'Marketer' }, fieldsAt: stamps });
  });

  it('reads contacts untouched since their creation 100 per call without history, and those changed since again with it (50 per call)', async () => {
    let clock = Date.parse('2026-12-06T10:00:00.000Z');
    const { emu, instance } = await setup({}, { subscriptions: [] }, { now: () => clock });
    const READ = 'POST /crm/v3/objects/contacts/batch/read';
    const ids = Array.from({ length: 160 }, (_, i) => {
      clock += 1;
      return emu.sideDoor.createContact({ email: `many${i}@example.com`, firstname: `F${i}`, lastname: `L${i}` }).id;
    });
    const createdAt = (i: number): string => new Date(Date.parse('2026-12-06T10:00:00.000Z') + i + 1).toISOString();
    emu.sideDoor.resetCalls();
    const fresh = (await instance.read?.(ids.slice(0, 60), signal())) ?? [];
    expect(fresh).toHaveLength(60);
    // Every value was set when the contact was created: its creation stamps them all.
    expect(fresh.find((r) => r.externalId === ids[7])).toMatchObject({ at: createdAt(7), fields: { firstname: 'F7', lastname: 'L7' } });
    expect(fresh.every((r) => r.fieldsAt === undefined)).toBe(true);
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ [READ]: 1 });

    // A last name edited since: that contact's values carry their own times (its history).
    clock += 1_000;
    const edited = [61, 62, 155].map((i) => ids[i] ?? '');
    for (const id of edited) emu.sideDoor.editContact(id, { lastname: 'Edited' });
    const editedAt = new Date(clock).toISOString();
    clock += 1_000;
    emu.sideDoor.resetCalls();
    const mixed = (await instance.read?.(ids.slice(60), signal())) ?? [];
    expect(mixed).toHaveLength(100);
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ [READ]: 2 });
    expect(mixed.find((r) => r.externalId === ids[61])).toMatchObject({
      at: editedAt,
      fields: { firstname: 'F61', lastname: 'Edited' },
      fieldsAt: { firstname: createdAt(61), lastname: editedAt },
    });
    expect(mixed.find((r) => r.externalId === ids[70])).toMatchObject({ at: createdAt(70), fields: { lastname: 'L70' } });
    expect(mixed.find((r) => r.externalId === ids[70])?.fieldsAt).toBeUndefined();

    // 50 contacts or fewer are one call either way: read with their history at once.
    emu.sideDoor.resetCalls();
    const few = (await instance.read?.(edited, signal())) ?? [];
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ [READ]: 1 });
    expect(few.every((r) => r.fieldsAt?.['lastname'] === editedAt)).toBe(true);
  });

  it('reads an untouched contact with the same stamps with its history or without; a contact merged between the two reads comes back once, as the winner', async () => {
    let clock = Date.parse('2026-12-06T11:00:00.000Z');
    const { emu, instance, config } = await setup({}, { subscriptions: [] }, { now: () => clock });
    const ids = Array.from({ length: 70 }, (_, i) => {
      clock += 1;
      return emu.sideDoor.createContact({ email: `same${i}@example.com`, firstname: `F${i}`, phone: `+1415555${String(1000 + i)}` }).id;
    });
    clock += 1_000;
    const stamps = (r: ExternalRecord | undefined): Record<string, string | undefined> =>
      Object.fromEntries(Object.keys(r?.fields ?? {}).map((f) => [f, r?.fieldsAt?.[f] ?? r?.at]));
    const valuesFirst = (await instance.read?.(ids.slice(0, 60), signal())) ?? [];
    const withHistory = (await instance.read?.(ids.slice(0, 10), signal())) ?? [];
    expect(withHistory.every((r) => r.fieldsAt !== undefined)).toBe(true);
    for (const r of withHistory) {
      expect(stamps(r)).toEqual(stamps(valuesFirst.find((v) => v.externalId === r.externalId)));
    }

    // The values read finds contact 61 changed; before its history read, HubSpot merges it into 62.
    const [winner, loser] = [ids[62] ?? '', ids[61] ?? ''];
    emu.sideDoor.editContact(loser, { lastname: 'Loser' });
    class MergingReader extends HubSpotReader {
      private reads = 0;
      override async readContacts(...args: Parameters<HubSpotReader['readContacts']>): ReturnType<HubSpotReader['readContacts']> {
        const read = await super.readContacts(...args);
        if (++this.reads === 1) emu.sideDoor.merge(winner, loser);
        return read;
      }
    }
    const api = new HubSpotApi(config, { instanceId: 'hubspot', logger: silentLogger() }, () => clock);
    const found = await new MergingReader(api, config).readStamped(ids.slice(0, 70));
    expect(found.filter((c) => c.id === winner)).toHaveLength(1);
    expect(found.find((c) => c.id === winner)?.propertiesWithHistory).toBeDefined();
    expect(found.find((c) => c.id === loser)).toBeUndefined();
    expect(found).toHaveLength(69);
  });

  it('updates a known contact by id (an e-mail change does not create another), and finds its e-mail for statuses', async () => {
    const { emu, instance } = await setup();
    const [created] = (await instance.push?.([{ profileId: 'p', fields: { email: 'old@example.com', firstname: 'O' } }], signal())) ?? [];
    const id = created?.status === 'ok' ? created.externalId : '';
    const [moved] = (await instance.push?.([{ profileId: 'p', externalId: id, fields: { email: 'new@example.com' } }], signal())) ?? [];
    // A properties-only update says when it landed (HubSpot's updatedAt).
    expect(moved).toEqual({ status: 'ok', profileId: 'p', externalId: id, writtenAt: expect.any(String) });
    expect(emu.sideDoor.contacts()).toHaveLength(1);
    expect(emu.sideDoor.getContact(id)?.properties.email).toBe('new@example.com');

    const [unsub] =
      (await instance.push?.([{ profileId: 'p', externalId: id, fields: { 'subscription:103': 'UNSUBSCRIBED' } }], signal())) ?? [];
    expect(unsub?.status).toBe('ok');
    expect(emu.sideDoor.statuses('new@example.com').find((s) => s.subscriptionId === 103)?.status).toBe('UNSUBSCRIBED');
  });

  it('recreates a contact deleted in HubSpot when its e-mail is known, and rejects it when not', async () => {
    const { emu, instance } = await setup();
    const a = emu.sideDoor.createContact({ email: 'gone@example.com' });
    const b = emu.sideDoor.createContact({ email: 'gone2@example.com' });
    emu.sideDoor.deleteContact(a.id);
    emu.sideDoor.deleteContact(b.id);
    const outcomes = await instance.push?.(
      [
        { profileId: 'a', externalId: a.id, fields: { email: 'gone@example.com', firstname: 'Back' } },
        { profileId: 'b', externalId: b.id, fields: { firstname: 'Lost' } },
      ],
      signal(),
    );
    expect(outcomes?.[0]?.status).toBe('ok');
    expect(outcomes?.[0]?.status === 'ok' && outcomes[0].externalId).not.toBe(a.id);
    expect(outcomes?.[1]).toMatchObject({ status: 'rejected', code: 'OBJECT_NOT_FOUND' });
  });

  it('handles a 207 record by record and keeps e-mail addresses out of reasons', async () => {
    const { instance } = await setup();
    const outcomes = await instance.push?.(
      [
        { profileId: 'good', fields: { email: 'good@example.com' } },
        { profileId: 'bad', fields: { email: 'bad@@example' } },
        { profileId: 'none', fields: { firstname: 'NoMail' } },
      ],
      signal(),
    );
    expect(outcomes?.map((o) => o.status)).toEqual(['ok', 'rejected', 'rejected']);
    const bad = outcomes?.[1];
    expect(bad?.status === 'rejected' && bad.code).toBe('VALIDATION_ERROR');
    expect(bad?.status === 'rejected' && bad.reason).not.toContain('bad@@example');
    expect(outcomes?.[2]).toMatchObject({ code: 'missing_email' });
  });
});

describe('HubSpot connector: rate limits', () => {
  // Chaos (e): webhook reads spent the 10-second budget; a push then slept in the pacer for
  // seconds between its calls, its write open all along (webhooks received meanwhile taken
  // for snapshots predating it) and its lease running out (the same records pushed twice).
  it('a push takes the slots of all its calls before the first one, or parks without writing anything', async () => {
    const { emu, instance } = await setup({}, { requestsPer10Seconds: 4 });
    const contact = emu.sideDoor.createContact({ email: 'paced@example.com', firstname: 'Before' });
    await instance.read?.([contact.id], signal()); // a contact read and a statuses read: 2 of 4 slots
    const started = Date.now();
    // Properties, then the contact's e-mail for its status, then the status: 3 calls, 2 slots left.
    const err = await instance
      .push?.([{ profileId: 'p', externalId: contact.id, fields: { firstname: 'After', 'subscription:101': 'UNSUBSCRIBED' } }], signal())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBeGreaterThan(5_000);
    expect((err as RateLimitedError).nothingWritten).toBe(true);
    expect(emu.sideDoor.getContact(contact.id)?.properties.firstname).toBe('Before');
    expect(emu.sideDoor.calls().byEndpoint['POST /crm/v3/objects/contacts/batch/update']).toBeUndefined();
  }, 30_000);

  it('parks for the window (the interval header) on TEN_SECONDLY_ROLLING, as when another process spent the budget', async () => {
    const first = await setup({ rateLimit: { max: 2, intervalMs: 10_000 } });
    // One read of a contact and its statuses: both calls of the window.
    const contact = first.emu.sideDoor.createContact({ email: 'spent@example.com' });
    await first.instance.read?.([contact.id], signal());
    // A second instance with the same token (another worker process) knows nothing of those calls.
    const config = HubSpotConfig.parse({ accessToken: 'pat', webhookSecret: SECRET, baseUrl: first.emu.url });
    const other = await createHubSpotInstance({ instanceId: 'hubspot', config, logger: silentLogger() });
    const err = await other.read?.(['1'], signal()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).policy).toBe('TEN_SECONDLY_ROLLING');
    expect((err as RateLimitedError).retryAfterMs).toBe(10_000);
    // The first instance read the remaining budget from the headers and paces itself instead.
    expect(first.emu.sideDoor.calls().rateLimited).toBe(1);
  });

  it('parks until the reset on DAILY, with a metric and an alert log line, and stops calling', async () => {
    const { emu, instance, logs, metrics } = await setup({ rateLimit: { daily: 1 } });
    const metric = async (): Promise<number> => {
      const values = (await metrics.getSingleMetric('concord_hubspot_daily_limit_reached_total')?.get())?.values ?? [];
      return values.find((v) => v.labels.instance === 'hubspot')?.value ?? 0;
    };
    const before = await metric();
    await instance.read?.(['1'], signal());
    const err = await instance.read?.(['1'], signal()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimitedError);
    const limited = err as RateLimitedError;
    expect(limited.policy).toBe('DAILY');
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(Math.abs(Date.now() + limited.retryAfterMs - midnight.getTime())).toBeLessThan(5_000);
    expect(await metric()).toBe(before + 1);
    const alert = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.alert === 'hubspot_daily_limit');
    expect(alert).toMatchObject({ level: 50, connector: 'hubspot' });

    const calls = emu.sideDoor.calls().total;
    await expect(instance.read?.(['1'], signal())).rejects.toBeInstanceOf(RateLimitedError);
    expect(emu.sideDoor.calls().total).toBe(calls);

    // The allowance is back early and an operator lifts the park: calls go again.
    emu.sideDoor.resetDailyLimit();
    instance.unpark?.();
    await expect(instance.read?.(['1'], signal())).resolves.toEqual([]);
    expect(emu.sideDoor.calls().total).toBe(calls + 1);
  });

  it('parks for dailyLimitPark on DAILY when it is set, and serves the allowance left as a gauge', async () => {
    const { instance, metrics } = await setup({ rateLimit: { daily: 2 } }, { dailyLimitPark: '20s' });
    await instance.read?.(['1'], signal());
    const left = (await metrics.getSingleMetric('concord_hubspot_daily_remaining')?.get())?.values.find(
      (v) => v.labels.instance === 'hubspot',
    );
    expect(left?.value).toBe(1);
    await instance.read?.(['1'], signal());
    const err = await instance.read?.(['1'], signal()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ policy: 'DAILY', retryAfterMs: 20_000 });
  });
});

describe('HubSpot connector: webhooks from the emulator', () => {
  async function delivered(s: Setup): Promise<{ events: Awaited<ReturnType<NonNullable<ConnectorInstance<HubSpotCursor>['parse']>>> }> {
    await s.emu.sideDoor.flushWebhooks();
    const events = [];
    for (const r of s.receiver.received.splice(0)) {
      const raw = { method: r.method, url: s.receiver.url, headers: r.headers, body: r.body, receivedAt: new Date().toISOString() };
      expect(await s.instance.verify?.(raw)).toEqual({ ok: true });
      const parsed = (await s.instance.parse?.(raw)) ?? [];
      s.instance.reply?.(parsed);
      events.push(...parsed);
    }
    return { events };
  }

  it('marks our own writes as echoes, not the marketer’s, and reads changed contacts in full', async () => {
    const s = await setup();
    const [pushed] =
      (await s.instance.push?.(
        [{ profileId: 'p', fields: { email: 'echo@example.com', firstname: 'E', 'subscription:101': 'UNSUBSCRIBED' } }],
        signal(),
      )) ?? [];
    const ours = await delivered(s);
    expect(ours.events.length).toBeGreaterThan(0);
    expect(ours.events.every((e) => e.kind === 'changed' && e.echo === true)).toBe(true);

    const id = pushed?.status === 'ok' ? pushed.externalId : '';
    s.emu.sideDoor.editContact(id, { lastname: 'Marketer' });
    s.emu.sideDoor.subscribe('echo@example.com', 101);
    const theirs = await delivered(s);
    // The marketer's signed lastname comes with its value too; the contact is read in full all the same.
    expect(theirs.events).toEqual([
      expect.objectContaining({
        kind: 'records',
        records: [expect.objectContaining({ externalId: id, fields: { lastname: 'Marketer' }, knownOnly: true })],
      }),
      expect.objectContaining({ kind: 'changed', externalIds: [id] }),
    ]);
    expect(theirs.events[1]).not.toHaveProperty('echo');
    const [record] = (await s.instance.read?.([id], signal())) ?? [];
    expect(record?.fields).toMatchObject({ lastname: 'Marketer', 'subscription:101': 'SUBSCRIBED' });
  });

  it('turns a merge into an identity merge and a GDPR delete into an erasure', async () => {
    const s = await setup();
    const a = s.emu.sideDoor.createContact({ email: 'keep@example.com' });
    const b = s.emu.sideDoor.createContact({ email: 'dup@example.com' });
    await delivered(s);
    s.emu.sideDoor.merge(a.id, b.id);
    s.emu.sideDoor.privacyDelete(a.id);
    const { events } = await delivered(s);
    expect(events.find((e) => e.kind === 'merge')).toMatchObject({ winnerId: a.id, loserIds: [b.id] });
    expect(events.find((e) => e.kind === 'erase')).toMatchObject({ externalIds: [a.id] });
  });
});

describe('find', () => {
  const query = (q: Partial<FindQuery>): FindQuery => ({ emails: [], phones: [], externalIds: [], ...q });

  it('finds a merged-away id and a merged-away address in the contact they went into', async () => {
    const { emu, instance } = await setup();
    const winner = emu.sideDoor.createContact({ email: 'winner@example.com', firstname: 'W' });
    const loser = emu.sideDoor.createContact({ email: 'loser@example.com', firstname: 'L' });
    emu.sideDoor.merge(winner.id, loser.id);
    const answers = await instance.find?.([query({ externalIds: [loser.id] }), query({ emails: ['loser@example.com'] })], signal());
    expect(answers).toEqual([[{ externalId: winner.id, matchedBy: ['externalId'] }], [{ externalId: winner.id, matchedBy: ['email'] }]]);
  });

  it('searches phones and mobile phones 100 numbers a call, every result page', async () => {
    const { emu, instance } = await setup();
    const phone = (i: number): string => `+4930${String(i).padStart(6, '0')}`;
    const ids = Array.from(
      { length: 150 },
      (_, i) =>
        emu.sideDoor.createContact({ email: `p${i}@example.com`, ...(i % 2 === 0 ? { phone: phone(i) } : { mobilephone: phone(i) }) }).id,
    );
    emu.sideDoor.resetCalls();
    const answers = await instance.find?.(
      ids.map((_, i) => query({ phones: [phone(i)] })),
      signal(),
    );
    expect(answers).toEqual(ids.map((id) => [{ externalId: id, matchedBy: ['phone'] }]));
    // 150 numbers: two searches (100 and 50 numbers), each answered in one page of at most 100.
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ 'POST /crm/v3/objects/contacts/search': 2 });
  });

  it('pages through the results of a number many contacts share', async () => {
    const { emu, instance } = await setup();
    const ids = Array.from({ length: 130 }, (_, i) => emu.sideDoor.createContact({ email: `s${i}@example.com`, phone: '+4930999999' }).id);
    emu.sideDoor.resetCalls();
    const [found] = (await instance.find?.([query({ phones: ['+49 30 999999'] })], signal())) ?? [];
    expect(found?.map((r) => r.externalId).sort()).toEqual([...ids].sort());
    expect(emu.sideDoor.calls().byEndpoint).toEqual({ 'POST /crm/v3/objects/contacts/search': 2 });
  });
});

/**
 * The generic HTTP connector's Standard Webhooks, in and out, beyond conformance: real deliveries
 * from the emulator's CRM through the connector's own verify / parse / reply (a genuine one, a
 * delete, the body limit, secret rotation, a replay outside the window, a redelivery handled
 * once, an authoritative payload against a read back); an erasure announced by
 * `dsr.erasure_requested` alone; and the `consent.changed` / `subscription.changed` messages a
 * push gives rise to, with their ids, also for an instance written by its webhooks alone.
 */
import { describe, expect, it } from 'vitest';
import type { HttpConfig } from '../../../connectors/http/config.js';
import { standardWebhookHeaders, type RunningHttpEmulator } from '../../../connectors/http/emulator/index.js';
import type { PushRecord, RawWebhook } from '../../../src/connector/define.js';
import { emptyProfile } from '../../../src/profile/merge.js';
import type { Profile } from '../../../src/profile/schema.js';
import { exampleOnEmulator, FakeOutbound, instanceOf, signal } from './connector-helpers.js';
import { newSecret, receiver } from './emulator-helpers.js';

/** The CRM example on an emulator whose CRM sends its webhooks to a receiver (signed with `secret`). */
async function crmWithWebhooks(secret = newSecret()) {
  const r = await receiver('/webhooks/crm');
  const { emu, config } = await exampleOnEmulator('crm', { crmWebhookUrl: r.url, webhookSecret: secret });
  return { emu, r, config, secret };
}

/** The config with these inbound webhook secrets. */
function withSecrets(config: HttpConfig, secrets: string[]): HttpConfig {
  if (config.webhooks === undefined) throw new Error('the example declares webhooks');
  return { ...config, webhooks: { ...config.webhooks, secrets } };
}

/** The webhooks delivered so far, after a user edit in the CRM. */
async function userEdit(emu: RunningHttpEmulator, r: { raw(): RawWebhook[] }, email: string): Promise<RawWebhook> {
  emu.sideDoor.userChange(email);
  await emu.sideDoor.flushWebhooks();
  const last = r.raw().at(-1);
  if (last === undefined) throw new Error('no webhook arrived');
  return last;
}

const headerOf = (raw: RawWebhook, name: string): string => String(raw.headers[name]);

describe('http connector: Standard Webhooks in, from the emulator', () => {
  it('verifies and parses a genuine delivery into a read-back event for the contact', async () => {
    const { emu, r, config, secret } = await crmWithWebhooks();
    const crm = instanceOf(withSecrets(config, [secret]));
    const raw = await userEdit(emu, r, 'ada@example.com');
    const id = emu.sideDoor.crmContacts('ada@example.com')[0]?.id;

    expect(await crm.verify(raw)).toEqual({ ok: true });
    expect(await crm.parse(raw)).toEqual([
      { kind: 'changed', eventId: headerOf(raw, 'webhook-id'), externalIds: [id], at: expect.any(String) },
    ]);
    // Another secret does not verify it.
    expect(await instanceOf(withSecrets(config, [newSecret()])).verify(raw)).toEqual({ ok: false, reason: 'no matching signature' });
  });

  it('parses a contact deleted in the CRM as a deleted event; admits a body up to maxBodyBytes only', async () => {
    const { emu, r, config, secret } = await crmWithWebhooks();
    const crm = instanceOf(withSecrets(config, [secret]));
    const contact = emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.crmUserDelete(contact.id);
    await emu.sideDoor.flushWebhooks();
    const raw = r.raw().at(-1);
    if (raw === undefined) throw new Error('no webhook arrived');

    expect(await crm.verify(raw)).toEqual({ ok: true });
    expect(await crm.parse(raw)).toEqual([
      { kind: 'deleted', eventId: headerOf(raw, 'webhook-id'), externalIds: [contact.id], at: expect.any(String) },
    ]);
    const head = (length: number) => ({ method: 'POST', url: raw.url, headers: { ...raw.headers, 'content-length': String(length) } });
    expect(crm.admit?.(head(256 * 1024))).toEqual({ ok: true });
    expect(crm.admit?.(head(256 * 1024 + 1))).toEqual({ ok: false, status: 413, reason: 'webhook body too large' });
  });

  it('verify refuses a body over maxBodyBytes as admit does, even signed (a raw webhook may reach it without admit)', async () => {
    const { config } = await exampleOnEmulator('crm');
    const secret = newSecret();
    const base = withSecrets(config, [secret]);
    if (base.webhooks === undefined) throw new Error('the example declares webhooks');
    const crm = instanceOf({ ...base, webhooks: { ...base.webhooks, maxBodyBytes: 1024 } });
    const signed = (body: string): RawWebhook => {
      const at = new Date();
      return {
        method: 'POST',
        url: 'http://127.0.0.1/webhooks/crm',
        headers: standardWebhookHeaders([secret], 'msg_1', at, body),
        body: Buffer.from(body),
        receivedAt: at.toISOString(),
      };
    };
    const payload = (note: string) =>
      JSON.stringify({ type: 'contact.updated', timestamp: new Date().toISOString(), data: { id: 'c_1', note } });

    expect(await crm.verify(signed(payload('short')))).toEqual({ ok: true });
    expect(await crm.verify(signed(payload('x'.repeat(2000))))).toEqual({ ok: false, reason: 'webhook body too large' });
  });

  it('accepts either secret during a rotation, on both sides', async () => {
    const [oldSecret, newer] = [newSecret(), newSecret()];
    const { emu, r, config } = await crmWithWebhooks(oldSecret);
    const rotating = instanceOf(withSecrets(config, [oldSecret, newer]));
    const oldOnly = instanceOf(withSecrets(config, [oldSecret]));

    const before = await userEdit(emu, r, 'a@example.com');
    expect(await rotating.verify(before)).toEqual({ ok: true });

    // The system signs with both (two v1 entries), then with the new one only.
    emu.sideDoor.setWebhookSecrets('crm', [newer, oldSecret]);
    const during = await userEdit(emu, r, 'b@example.com');
    expect(headerOf(during, 'webhook-signature').split(' ')).toHaveLength(2);
    expect(await rotating.verify(during)).toEqual({ ok: true });
    expect(await oldOnly.verify(during)).toEqual({ ok: true });

    emu.sideDoor.setWebhookSecrets('crm', [newer]);
    const after = await userEdit(emu, r, 'c@example.com');
    expect(await rotating.verify(after)).toEqual({ ok: true });
    expect(await oldOnly.verify(after)).toEqual({ ok: false, reason: 'no matching signature' });
  });

  it('also takes a delivery from an emulator started mid-rotation (previousWebhookSecret)', async () => {
    const [oldSecret, newer] = [newSecret(), newSecret()];
    const r = await receiver('/webhooks/crm');
    const { emu, config } = await exampleOnEmulator('crm', {
      crmWebhookUrl: r.url,
      webhookSecret: newer,
      previousWebhookSecret: oldSecret,
    });
    const raw = await userEdit(emu, r, 'ada@example.com');
    expect(await instanceOf(withSecrets(config, [oldSecret])).verify(raw)).toEqual({ ok: true });
    expect(await instanceOf(withSecrets(config, [newer])).verify(raw)).toEqual({ ok: true });
  });

  it('refuses a replay more than 5 minutes from its arrival (raw.receivedAt), either way', async () => {
    const { emu, r, config, secret } = await crmWithWebhooks();
    const crm = instanceOf(withSecrets(config, [secret]));
    const raw = await userEdit(emu, r, 'ada@example.com');
    const sentAt = Number(headerOf(raw, 'webhook-timestamp')) * 1000;
    const arriving = (offsetMs: number): RawWebhook => ({ ...raw, receivedAt: new Date(sentAt + offsetMs).toISOString() });

    expect(await crm.verify(arriving(4 * 60_000))).toEqual({ ok: true });
    expect(await crm.verify(arriving(-4 * 60_000))).toEqual({ ok: true });
    expect(await crm.verify(arriving(6 * 60_000))).toEqual({ ok: false, reason: 'webhook-timestamp outside the tolerance' });
    expect(await crm.verify(arriving(-6 * 60_000))).toEqual({ ok: false, reason: 'webhook-timestamp outside the tolerance' });
  });

  it('yields the events of a webhook-id once, after reply acknowledged them; a redelivery then yields none', async () => {
    const { emu, r, config, secret } = await crmWithWebhooks();
    const crm = instanceOf(withSecrets(config, [secret]));
    const first = await userEdit(emu, r, 'ada@example.com');
    const id = headerOf(first, 'webhook-id');

    // The system retries the same message (re-signed, same id).
    emu.sideDoor.redeliverWebhooks([id]);
    await emu.sideDoor.flushWebhooks();
    const again = r.raw().at(-1);
    if (again === undefined) throw new Error('no redelivery');
    expect(headerOf(again, 'webhook-id')).toBe(id);
    expect(await crm.verify(again)).toEqual({ ok: true });

    const events = await crm.parse(first);
    expect(events).toHaveLength(1);
    // Not acknowledged yet (the enqueue may have failed): a redelivery still carries the event.
    expect(await crm.parse(again)).toHaveLength(1);
    expect(crm.reply(events)).toEqual({ status: 200 });
    expect(await crm.parse(again)).toEqual([]);
  });

  it('ingests the payload of an authoritativeRecord instance without a read; a read-back instance reads it once', async () => {
    const { emu, r, config, secret } = await crmWithWebhooks();
    const base = withSecrets(config, [secret]);
    if (base.webhooks === undefined) throw new Error('the example declares webhooks');
    const authoritative = instanceOf({ ...base, webhooks: { ...base.webhooks, authoritativeRecord: '$.data' } });
    const readBack = instanceOf(base);
    emu.sideDoor.userChange('ada@example.com');
    const contact = emu.sideDoor.crmUserEdit(emu.sideDoor.crmContacts('ada@example.com')[0]?.id ?? '', { first_name: 'Ada' });
    await emu.sideDoor.flushWebhooks();
    const raw = r.raw().at(-1);
    if (raw === undefined) throw new Error('no webhook arrived');
    emu.sideDoor.resetCalls();

    const [fromPayload] = await authoritative.parse(raw);
    expect(fromPayload).toMatchObject({
      kind: 'records',
      records: [{ externalId: contact.id, at: contact.updated_at, fields: { first_name: 'Ada', email: 'ada@example.com' } }],
    });
    expect(emu.sideDoor.calls().total).toBe(0);

    const [hint] = await readBack.parse(raw);
    if (hint?.kind !== 'changed') throw new Error(`expected a read-back event, got ${hint?.kind}`);
    const records = await readBack.read(hint.externalIds, signal());
    expect(records).toMatchObject([{ externalId: contact.id, fields: { first_name: 'Ada' } }]);
    expect(emu.sideDoor.calls()).toMatchObject({ total: 1, byEndpoint: { 'GET /crm/v1/contacts/:id': 1 } });
  });
});

/** The CRM example without its delete endpoint: erasure reaches the CRM by `dsr.erasure_requested` alone. */
async function webhookOnlyErasure() {
  const { emu, config } = await exampleOnEmulator('crm');
  const { delete: _omitted, ...rest } = config;
  const outbound = new FakeOutbound();
  return { emu, outbound, crm: instanceOf(rest, { outboundWebhooks: outbound }) };
}

describe('http connector: erasure announced by dsr.erasure_requested only', () => {
  it('is pending with the message id as its ticket, and calls nothing', async () => {
    const { emu, outbound, crm } = await webhookOnlyErasure();
    const contact = emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.resetCalls();

    const [outcome] = await crm.erase([{ externalId: contact.id, email: 'ada@example.com' }], signal());
    expect(outcome).toMatchObject({ status: 'pending', checkAfterMs: expect.any(Number) });
    expect(outbound.messages).toEqual([
      {
        id: outcome?.status === 'pending' ? outcome.ticket : '',
        type: 'dsr.erasure_requested',
        data: { externalId: contact.id, email: 'ada@example.com' },
        at: expect.any(String),
      },
    ]);
    expect(emu.sideDoor.calls().total).toBe(0);
    expect(emu.sideDoor.crmContacts('ada@example.com')).toHaveLength(1);
  });

  it('maps the delivery state: pending stays pending, delivered is done, failed is failed', async () => {
    const { outbound, crm } = await webhookOnlyErasure();
    const outcomes = await crm.erase([{ email: 'a@example.com' }, { email: 'b@example.com' }, { email: 'c@example.com' }], signal());
    const tickets = outcomes.map((o) => (o.status === 'pending' ? o.ticket : ''));
    expect(new Set(tickets).size).toBe(3);
    const [stillPending = '', delivered = '', failed = ''] = tickets;
    outbound.states.set(delivered, 'delivered');
    outbound.states.set(failed, 'failed');

    expect(await crm.eraseProgress([stillPending, delivered, failed, 'msg_unknown'], signal())).toEqual([
      { ticket: stillPending, status: 'pending', progress: expect.any(String), checkAfterMs: expect.any(Number) },
      { ticket: delivered, status: 'done', progress: expect.any(String) },
      { ticket: failed, status: 'failed', reason: expect.any(String), retryable: false },
      { ticket: 'msg_unknown', status: 'failed', reason: expect.any(String), retryable: true },
    ]);
  });
});

describe('http connector: erasure and export by e-mail without read.find', () => {
  /** The CRM example without read.find (and without webhooksOut: the delete endpoint is the only way). */
  async function crmWithoutFind() {
    const { emu, config } = await exampleOnEmulator('crm');
    const { find: _find, ...read } = config.read;
    const { webhooksOut: _out, ...rest } = config;
    return { emu, crm: instanceOf({ ...rest, read }) };
  }

  it('an erasure by e-mail fails, not retryable, instead of reporting nothing held', async () => {
    const { emu, crm } = await crmWithoutFind();
    emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.resetCalls();

    expect(await crm.erase([{ email: 'ada@example.com' }], signal())).toEqual([
      {
        status: 'failed',
        ref: { email: 'ada@example.com' },
        reason: 'cannot look a record up by e-mail: declare read.find',
        retryable: false,
      },
    ]);
    expect(emu.sideDoor.calls().total).toBe(0);
    expect(emu.sideDoor.crmContacts('ada@example.com')).toHaveLength(1);
  });

  it('an erasure by e-mail with the erasure webhook is left to the webhook (it carries the e-mail)', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const { find: _find, ...read } = config.read;
    const outbound = new FakeOutbound();
    const crm = instanceOf({ ...config, read }, { outboundWebhooks: outbound });
    emu.sideDoor.resetCalls();

    expect(await crm.erase([{ email: 'ada@example.com' }], signal())).toEqual([
      {
        status: 'pending',
        ref: { email: 'ada@example.com' },
        ticket: outbound.messages[0]?.id,
        checkAfterMs: expect.any(Number),
        progress: expect.any(String),
      },
    ]);
    expect(emu.sideDoor.calls().total).toBe(0);
  });

  it('find says it cannot search by e-mail and ignores addresses, still finding by id and phone', async () => {
    const { emu, crm } = await crmWithoutFind();
    const { id } = emu.sideDoor.userChange('ada@example.com');
    expect(crm.findsBy).toEqual(['phone', 'externalId']);
    emu.sideDoor.resetCalls();
    expect(
      await crm.find?.(
        [
          { emails: ['ada@example.com'], phones: [], externalIds: [id] },
          { emails: ['ada@example.com'], phones: [], externalIds: [] },
        ],
        signal(),
      ),
    ).toEqual([[{ externalId: id, matchedBy: ['externalId'] }], []]);
    // Only the read by id: no lookup by e-mail was attempted.
    expect(emu.sideDoor.calls().total).toBe(1);
  });

  it('an export by e-mail is refused with the same reason', async () => {
    const { crm } = await crmWithoutFind();
    await expect(crm.export([{ email: 'ada@example.com' }], signal())).rejects.toThrow(
      expect.objectContaining({ name: 'RejectedError', message: 'cannot look a record up by e-mail: declare read.find' }),
    );
  });
});

describe('http connector: the erasure message id', () => {
  it('is the same for a retry the same (UTC) day, and another for a later, separate erasure of the same person', async () => {
    const { config } = await exampleOnEmulator('crm');
    const { delete: _omitted, ...rest } = config;
    const outbound = new FakeOutbound();
    let now = Date.parse('2026-12-01T09:00:00.000Z');
    const crm = instanceOf(rest, { outboundWebhooks: outbound }, { now: () => now });
    const ticketOf = async () => {
      const [outcome] = await crm.erase([{ email: 'ada@example.com' }], signal());
      return outcome?.status === 'pending' ? outcome.ticket : 'not pending';
    };

    const first = await ticketOf();
    now = Date.parse('2026-12-01T23:59:00.000Z');
    expect(await ticketOf()).toBe(first);
    now = Date.parse('2027-03-02T08:00:00.000Z');
    const later = await ticketOf();
    expect(later).not.toBe(first);
    expect(outbound.messages.map((m) => m.id)).toEqual([first, later]);
  });
});

/** Ada's profile with marketing e-mail consent `value` (chosen at `at`) and the newsletter subscription. */
function ada(value: 'granted' | 'denied', at: string): Profile {
  return {
    ...emptyProfile('p_ada'),
    version: 3,
    consents: {
      marketing: { email: { value, at, source: 'preference_center', legalBasis: 'consent', evidence: { method: 'preference_center' } } },
    },
    subscriptions: { newsletter: { value: true, at, source: 'preference_center' } },
  };
}

const FIELD_TARGETS = {
  email: 'identity:email',
  first_name: 'field:firstName',
  'consents.email_marketing': 'consent:marketing.email',
  newsletter: 'topic:newsletter',
};

function record(externalId: string, value: 'granted' | 'denied', at: string): PushRecord {
  return {
    profileId: 'p_ada',
    externalId,
    fields: { 'consents.email_marketing': value === 'granted', newsletter: true, first_name: 'Ada' },
    profile: ada(value, at),
    valuesAt: { 'consents.email_marketing': at, newsletter: at, first_name: at },
  };
}

describe('http connector: Standard Webhooks out after a push', () => {
  it('announces consent.changed and subscription.changed from fieldTargets, with the hub state, same ids on a retried push', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const outbound = new FakeOutbound();
    const crm = instanceOf(config, { outboundWebhooks: outbound, fieldTargets: FIELD_TARGETS });
    const contact = emu.sideDoor.userChange('ada@example.com');
    const t1 = '2026-11-01T10:00:00.000Z';

    expect(await crm.push([record(contact.id, 'denied', t1)], signal())).toMatchObject([{ status: 'ok', externalId: contact.id }]);
    // The example sends consent.changed, subscription.changed and dsr.erasure_requested (no profile.updated).
    expect(outbound.messages).toEqual([
      {
        id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
        type: 'consent.changed',
        data: {
          profileId: 'p_ada',
          externalId: contact.id,
          consent: 'marketing.email',
          state: 'denied',
          at: t1,
          source: 'preference_center',
          legalBasis: 'consent',
        },
        at: expect.any(String),
      },
      {
        id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
        type: 'subscription.changed',
        data: { profileId: 'p_ada', externalId: contact.id, topic: 'newsletter', subscribed: true, at: t1, source: 'preference_center' },
        at: expect.any(String),
      },
    ]);
    const firstIds = outbound.messages.map((m) => m.id);

    // The engine retries the same push (its answer was lost): the same messages, the same ids.
    const retried = new FakeOutbound();
    await instanceOf(config, { outboundWebhooks: retried, fieldTargets: FIELD_TARGETS }).push([record(contact.id, 'denied', t1)], signal());
    expect(retried.messages.map((m) => m.id)).toEqual(firstIds);
  });

  it('gives a value chosen again later a new id (granted, denied, then denied again)', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const outbound = new FakeOutbound();
    const crm = instanceOf(config, { outboundWebhooks: outbound, fieldTargets: FIELD_TARGETS });
    const contact = emu.sideDoor.userChange('ada@example.com');
    const consentIds = () => outbound.messages.filter((m) => m.type === 'consent.changed').map((m) => m.id);

    await crm.push([record(contact.id, 'denied', '2026-11-01T10:00:00.000Z')], signal());
    await crm.push([record(contact.id, 'granted', '2026-11-02T10:00:00.000Z')], signal());
    await crm.push([record(contact.id, 'denied', '2026-11-03T10:00:00.000Z')], signal());
    expect(new Set(consentIds()).size).toBe(3);
  });

  it('an instance without write endpoints is written by its webhooks alone: the messages are queued, then the records are ok', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const outbound = new FakeOutbound();
    const crm = instanceOf({ ...config, write: {} }, { outboundWebhooks: outbound, fieldTargets: FIELD_TARGETS });
    emu.sideDoor.resetCalls();

    const outcomes = await crm.push([record('c_9', 'denied', '2026-11-01T10:00:00.000Z')], signal());
    expect(outcomes).toEqual([{ status: 'ok', profileId: 'p_ada', externalId: 'c_9' }]);
    expect(outbound.messages.map((m) => m.type)).toEqual(['consent.changed', 'subscription.changed']);
    expect(emu.sideDoor.calls().total).toBe(0);
  });

  it('without a profile, the time the values were chosen (valuesAt) still keeps a retry on one id', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const contact = emu.sideDoor.userChange('ada@example.com');
    const { profile: _profile, ...bare } = record(contact.id, 'denied', '2026-11-01T10:00:00.000Z');
    const ids: string[][] = [];
    for (const at of [1_000, 2_000]) {
      const outbound = new FakeOutbound();
      await instanceOf(config, { outboundWebhooks: outbound, fieldTargets: FIELD_TARGETS }, { now: () => at }).push([bare], signal());
      expect(outbound.messages.map((m) => [m.type, m.data])).toEqual([
        ['consent.changed', { profileId: 'p_ada', externalId: contact.id, consent: 'marketing.email', state: 'denied' }],
        ['subscription.changed', { profileId: 'p_ada', externalId: contact.id, topic: 'newsletter', subscribed: true }],
      ]);
      ids.push(outbound.messages.map((m) => m.id));
    }
    expect(ids[1]).toEqual(ids[0]);
  });
});

/**
 * The Mailchimp connector against its emulator, for what the conformance suite does not cover:
 * Mailchimp's status rules (archived, compliance state, forgotten e-mail, sign-up churn), the
 * existing-contact answer, consent-only-when-granted on create, tags, /batches, the per-key
 * in-flight ceiling, Retry-After, paging by cursor, webhooks (signed, forged, wrong URL
 * secret, upemail) read back through `read`.
 */
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ExternalRecord, FindQuery, PushRecord, RawWebhook } from '../../../src/connector/define.js';
import { RateLimitedError } from '../../../src/connector/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { Profile } from '../../../src/profile/schema.js';
import { MailchimpConfig, type MailchimpConfigInput, type MailchimpCursor } from '../../../connectors/mailchimp/config.js';
import { createMailchimpInstance } from '../../../connectors/mailchimp/connector.js';
import {
  DEFAULT_INTEREST_IDS,
  DEFAULT_LIST_ID,
  DEFAULT_PERMISSION_IDS,
  startMailchimpEmulator,
  type MailchimpEmulatorOptionsInput,
  type RunningMailchimpEmulator,
} from '../../../connectors/mailchimp/emulator/index.js';
import { setupWebhook } from '../../../connectors/mailchimp/setup.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

const API_KEY = 'integration-key-us1';
const URL_SECRET = 'integration-url-secret-0123456789abcdef';
const SIGNING_SECRET = 'integration-signing-secret';
const md5 = (s: string) => createHash('md5').update(s.toLowerCase()).digest('hex');
const signal = () => new AbortController().signal;

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

interface Setup {
  emulator: RunningMailchimpEmulator;
  receiver: WebhookReceiver;
  instance: ReturnType<typeof createMailchimpInstance>;
  registry: Registry;
  config: MailchimpConfig;
}

async function setup(
  options: { config?: Partial<MailchimpConfigInput>; emulator?: MailchimpEmulatorOptionsInput; now?: () => number } = {},
): Promise<Setup> {
  const receiver = await startWebhookReceiver(`/webhooks/mailchimp/${URL_SECRET}`);
  const emulator = await startMailchimpEmulator(
    { apiKey: API_KEY, webhookUrl: receiver.url, ...options.emulator },
    options.now ? { now: options.now } : {},
  );
  open.push(async () => {
    await emulator.close();
    await receiver.close();
  });
  const config = MailchimpConfig.parse({
    baseUrl: emulator.apiUrl,
    apiKey: API_KEY,
    listId: DEFAULT_LIST_ID,
    webhookSecret: URL_SECRET,
    ...options.config,
  });
  const registry = new Registry();
  const instance = createMailchimpInstance({ instanceId: 'mc', config, logger: silentLogger(), metrics: registry });
  return { emulator, receiver, instance, registry, config };
}

function record(email: string, fields: PushRecord['fields'] = {}, extra: Partial<PushRecord> = {}): PushRecord {
  return { profileId: `p-${email}`, fields: { email_address: email, 'merge:FNAME': 'Ada', ...fields }, ...extra };
}

const AT = '2026-11-20T09:00:00.000Z';

/** A profile holding the e-mail marketing consent in `state`, with evidence. */
function profile(email: string, state: 'granted' | 'denied', rights: Profile['rights'] = { objections: {} }): Profile {
  return {
    id: `p-${email}`,
    identities: [{ kind: 'email', value: email, at: AT, source: 'admin' }],
    attributes: {},
    consents: {
      marketing: {
        email: {
          value: state,
          at: AT,
          source: 'preference_center',
          legalBasis: 'consent',
          evidence: { method: 'form', ip: '198.51.100.7' },
        },
      },
    },
    subscriptions: {},
    rights,
    version: 1,
  };
}

async function createOne(s: Setup, email: string, fields: PushRecord['fields'] = {}): Promise<string> {
  const [outcome] = (await s.instance.push?.([record(email, fields)], signal())) ?? [];
  if (outcome?.status !== 'ok') throw new Error(`create of ${email} was ${outcome?.status}`);
  return outcome.externalId;
}

function memberOf(s: Setup, email: string): Record<string, unknown> | undefined {
  return s.emulator.sideDoor.member(email);
}

async function outcomeCount(registry: Registry, outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric('concord_mailchimp_member_outcomes_total')?.get();
  return metric?.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe('creates', () => {
  it('subscribe only a consent the hub holds as granted, with its opt-in evidence; unknown is transactional', async () => {
    const s = await setup();
    const outcomes = await s.instance.push?.(
      [
        record('granted@example.com', { status: 'subscribed' }, { profile: profile('granted@example.com', 'granted') }),
        // The field says subscribed, the profile does not hold the consent as granted: never subscribed.
        record('notgranted@example.com', { status: 'subscribed' }, { profile: profile('notgranted@example.com', 'denied') }),
        record('denied@example.com', { status: 'unsubscribed' }),
        record('unknown@example.com'),
      ],
      signal(),
    );
    expect(outcomes?.map((o) => o.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(outcomes?.[0]).toMatchObject({ created: true });
    expect(memberOf(s, 'granted@example.com')).toMatchObject({
      status: 'subscribed',
      ip_opt: '198.51.100.7',
      timestamp_opt: '2026-11-20T09:00:00+00:00',
    });
    expect(memberOf(s, 'notgranted@example.com')).toMatchObject({ status: 'transactional' });
    expect(memberOf(s, 'denied@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(memberOf(s, 'unknown@example.com')).toMatchObject({ status: 'transactional' });
  });

  it('an address that is a member already is retryable with its contact_id (read before writing), never overwritten', async () => {
    const s = await setup();
    const id = await createOne(s, 'exists@example.com');
    const [again] = (await s.instance.push?.([record('exists@example.com', { 'merge:FNAME': 'Eve' }, { mayExist: true })], signal())) ?? [];
    expect(again).toMatchObject({ status: 'retryable', externalId: id });
    expect(memberOf(s, 'exists@example.com')).toMatchObject({ merge_fields: expect.objectContaining({ FNAME: 'Ada' }) });
  });

  it('an erased (forgotten) address is rejected for good, not a failed job', async () => {
    const s = await setup();
    const id = await createOne(s, 'forgotten@example.com');
    expect(await s.instance.erase?.([{ externalId: id }], signal())).toEqual([{ status: 'erased', ref: { externalId: id } }]);
    const [outcome] = (await s.instance.push?.([record('forgotten@example.com')], signal())) ?? [];
    expect(outcome).toMatchObject({ status: 'rejected', code: 'forgotten_email' });
    if (outcome?.status === 'rejected') expect(outcome.reason).not.toContain('forgotten@example.com');
    expect(await outcomeCount(s.registry, 'forgotten_email')).toBe(1);
  });

  it('tags go through the tags endpoint', async () => {
    const s = await setup();
    await createOne(s, 'tagged@example.com', { tags: ['vip', 'beta'] });
    const tags = (memberOf(s, 'tagged@example.com')?.tags as { name: string }[]).map((t) => t.name).sort();
    expect(tags).toEqual(['beta', 'vip']);
  });
});

describe('updates', () => {
  // Found by the bench: one job's signal covers every request of its push, each with an abort
  // listener (the gate's wait, axios), and Node warned of a leak on every push of over 10 updates.
  it('a push of many updates on one signal raises no listener-leak warning', async () => {
    const s = await setup();
    const created = await s.instance.push?.(
      Array.from({ length: 30 }, (_, i) => record(`many${i}@example.com`)),
      signal(),
    );
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const updates = (created ?? []).map((o, i) =>
        record(`many${i}@example.com`, { 'merge:FNAME': `N${i}` }, { externalId: o.status === 'ok' ? o.externalId : '' }),
      );
      expect((await s.instance.push?.(updates, signal()))?.every((o) => o.status === 'ok')).toBe(true);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('an archived member is not resurrected by a status write; an attribute update leaves it archived', async () => {
    const s = await setup();
    const id = await createOne(s, 'archived@example.com', { status: 'subscribed' });
    s.emulator.sideDoor.archive('archived@example.com');
    const [status] =
      (await s.instance.push?.([record('archived@example.com', { status: 'subscribed' }, { externalId: id })], signal())) ?? [];
    expect(status).toMatchObject({ status: 'rejected', code: 'member_archived' });
    const [attribute] =
      (await s.instance.push?.([record('archived@example.com', { 'merge:FNAME': 'Grace' }, { externalId: id })], signal())) ?? [];
    expect(attribute).toMatchObject({ status: 'ok', externalId: id });
    expect(memberOf(s, 'archived@example.com')).toMatchObject({
      status: 'archived',
      merge_fields: expect.objectContaining({ FNAME: 'Grace' }),
    });
    expect(await outcomeCount(s.registry, 'member_archived')).toBe(1);
  });

  it('a member in a compliance state is rejected (compliance_state), and the rest of the batch goes through', async () => {
    const s = await setup();
    const a = await createOne(s, 'left@example.com', { status: 'subscribed' });
    const b = await createOne(s, 'stays@example.com', { status: 'subscribed' });
    // The person unsubscribed through Mailchimp's own link: the API cannot subscribe them again.
    s.emulator.sideDoor.unsubscribe('left@example.com');
    const outcomes = await s.instance.push?.(
      [
        record('left@example.com', { status: 'subscribed' }, { externalId: a }),
        record('stays@example.com', { 'merge:LNAME': 'Lovelace' }, { externalId: b }),
      ],
      signal(),
    );
    expect(outcomes).toMatchObject([
      { status: 'rejected', code: 'compliance_state' },
      { status: 'ok', externalId: b },
    ]);
    expect(memberOf(s, 'left@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(await outcomeCount(s.registry, 'compliance_state')).toBe(1);
  });

  it('a restriction unsubscribes, and archives where the operator chose it; an archived member takes a withdrawal as it is', async () => {
    const s = await setup({ config: { archiveOnRestriction: true } });
    const id = await createOne(s, 'restricted@example.com', { status: 'subscribed' });
    const gated = profile('restricted@example.com', 'granted', { restricted: { value: true, at: AT, source: 'admin' }, objections: {} });
    const withdraw = () =>
      s.instance.push?.([{ profileId: gated.id, externalId: id, fields: { status: 'unsubscribed' }, profile: gated }], signal());
    expect(await withdraw()).toMatchObject([{ status: 'ok', externalId: id }]);
    expect(memberOf(s, 'restricted@example.com')).toMatchObject({ status: 'archived' });
    expect(await withdraw()).toMatchObject([{ status: 'ok', externalId: id }]);
    // Without the option, the same withdrawal only unsubscribes.
    const plain = await setup();
    const other = await createOne(plain, 'restricted@example.com', { status: 'subscribed' });
    await plain.instance.push?.([{ profileId: gated.id, externalId: other, fields: { status: 'unsubscribed' }, profile: gated }], signal());
    expect(memberOf(plain, 'restricted@example.com')).toMatchObject({ status: 'unsubscribed' });
  });

  it('quick unsubscribe/resubscribe churn is rejected (too_many_signups)', async () => {
    const s = await setup({ emulator: { churnFlips: 2 } });
    const id = await createOne(s, 'churn@example.com', { status: 'subscribed' });
    const push = (status: string) => s.instance.push?.([record('churn@example.com', { status }, { externalId: id })], signal());
    // Creating is no status change; then unsubscribe, resubscribe, unsubscribe: the next resubscribe is refused.
    for (const status of ['unsubscribed', 'subscribed', 'unsubscribed']) expect(await push(status)).toMatchObject([{ status: 'ok' }]);
    expect(await push('subscribed')).toMatchObject([{ status: 'rejected', code: 'too_many_signups' }]);
    expect(await outcomeCount(s.registry, 'too_many_signups')).toBe(1);
  });

  it('status is sent only with a consent change, and not when Mailchimp holds it already', async () => {
    const s = await setup();
    const id = await createOne(s, 'same@example.com', { status: 'unsubscribed' });
    const before = s.emulator.sideDoor.calls().byEndpoint;
    const patches = (): number =>
      Object.entries(s.emulator.sideDoor.calls().byEndpoint)
        .filter(([k]) => k.startsWith('PATCH'))
        .reduce((n, [, v]) => n + v, 0);
    const patchesBefore = Object.entries(before)
      .filter(([k]) => k.startsWith('PATCH'))
      .reduce((n, [, v]) => n + v, 0);
    expect(await s.instance.push?.([record('same@example.com', { status: 'unsubscribed' }, { externalId: id })], signal())).toMatchObject([
      { status: 'ok' },
    ]);
    // Read, found unsubscribed already; the merge field is written, the status is not.
    expect(patches() - patchesBefore).toBe(1);
    expect(memberOf(s, 'same@example.com')).toMatchObject({ status: 'unsubscribed' });
  });

  it('a status chosen in Mailchimp after the hub’s value is read before writing (retryable with the id)', async () => {
    const s = await setup();
    const id = await createOne(s, 'newer@example.com', { status: 'subscribed' });
    s.emulator.sideDoor.unsubscribe('newer@example.com', { by: 'admin' });
    const [outcome] =
      (await s.instance.push?.(
        [
          record(
            'newer@example.com',
            { status: 'subscribed' },
            { externalId: id, held: { status: 'subscribed' }, heldAt: AT, valuesAt: { status: AT } },
          ),
        ],
        signal(),
      )) ?? [];
    expect(outcome).toMatchObject({ status: 'retryable', externalId: id });
    expect(memberOf(s, 'newer@example.com')).toMatchObject({ status: 'unsubscribed' });
  });

  it('a field edited in Mailchimp since the hub’s last view is read before a write that reads the member', async () => {
    const s = await setup();
    const id = await createOne(s, 'edited@example.com', { status: 'subscribed' });
    s.emulator.sideDoor.edit('edited@example.com', { FNAME: 'Grace' });
    const push = (held: PushRecord['held']) =>
      s.instance.push?.(
        [record('edited@example.com', { status: 'unsubscribed', 'merge:FNAME': 'Bea' }, { externalId: id, held })],
        signal(),
      );
    expect(await push({ status: 'subscribed', 'merge:FNAME': 'Ada' })).toMatchObject([{ status: 'retryable', externalId: id }]);
    expect(memberOf(s, 'edited@example.com')).toMatchObject({
      status: 'subscribed',
      merge_fields: expect.objectContaining({ FNAME: 'Grace' }),
    });
    // Read back, the hub knows Grace: its write goes through.
    expect(await push({ status: 'subscribed', 'merge:FNAME': 'Grace' })).toMatchObject([{ status: 'ok' }]);
    expect(memberOf(s, 'edited@example.com')).toMatchObject({
      status: 'unsubscribed',
      merge_fields: expect.objectContaining({ FNAME: 'Bea' }),
    });
  });

  it('an address change is an update of the same member (contact_id kept); an erased address is refused', async () => {
    const s = await setup();
    const id = await createOne(s, 'before@example.com');
    const gone = await createOne(s, 'gone@example.com');
    await s.instance.erase?.([{ externalId: gone }], signal());
    expect(await s.instance.push?.([record('after@example.com', {}, { externalId: id })], signal())).toMatchObject([
      { status: 'ok', externalId: id },
    ]);
    expect(memberOf(s, 'after@example.com')).toMatchObject({ contact_id: id });
    expect(memberOf(s, 'before@example.com')).toBeUndefined();
    expect(await s.instance.push?.([record('gone@example.com', {}, { externalId: id })], signal())).toMatchObject([
      { status: 'rejected', code: 'forgotten_email' },
    ]);
  });

  it('tags removed since the hub’s last view become inactive', async () => {
    const s = await setup();
    const id = await createOne(s, 'retag@example.com', { tags: ['vip', 'beta'] });
    await s.instance.push?.(
      [record('retag@example.com', { tags: ['vip'] }, { externalId: id, held: { tags: ['vip', 'beta'] } })],
      signal(),
    );
    expect((memberOf(s, 'retag@example.com')?.tags as { name: string }[]).map((t) => t.name)).toEqual(['vip']);
  });

  it('more updates than batchOperationsAbove go as one /batches operation, results mapped back per record', async () => {
    const s = await setup({ config: { batchOperationsAbove: 2, batchPollMs: 10 } });
    const emails = ['b1@example.com', 'b2@example.com', 'b3@example.com', 'b4@example.com'];
    const created = await s.instance.push?.(
      emails.map((e) => record(e)),
      signal(),
    );
    const ids = created?.map((o) => (o.status === 'ok' ? o.externalId : '')) ?? [];
    // One of them is erased meanwhile, one is poisoned: their operations fail, the others land.
    await s.instance.erase?.([{ externalId: ids[1] ?? '' }], signal());
    s.emulator.sideDoor.poison('b3@example.com');
    const outcomes = await s.instance.push?.(
      emails.map((e, i) => record(e, { 'merge:FNAME': `New${i}`, tags: ['batched'] }, { externalId: ids[i] ?? '' })),
      signal(),
    );
    expect(outcomes).toMatchObject([
      { status: 'ok', externalId: ids[0] },
      { status: 'rejected', code: 'member_not_found' },
      { status: 'rejected', code: 'invalid_member' },
      { status: 'ok', externalId: ids[3] },
    ]);
    expect(memberOf(s, 'b4@example.com')).toMatchObject({
      merge_fields: expect.objectContaining({ FNAME: 'New3' }),
      tags: [expect.objectContaining({ name: 'batched' })],
    });
    const endpoints = Object.keys(s.emulator.sideDoor.calls().byEndpoint);
    expect(endpoints.some((k) => k.startsWith('POST') && k.endsWith('/batches'))).toBe(true);
    expect(endpoints.some((k) => k.startsWith('PATCH'))).toBe(false);
  });

  // Review finding: a batch that outlived the push's wait kept running and could land after the
  // newer writes of the same records.
  it('a batch that does not finish in time is deleted, and its records are answered retryable', async () => {
    const s = await setup({ config: { batchOperationsAbove: 1, batchPollMs: 10, batchTimeoutMs: 100 }, emulator: { batchStepMs: 60_000 } });
    const created = await s.instance.push?.(
      ['slow1@example.com', 'slow2@example.com'].map((e) => record(e)),
      signal(),
    );
    const updates = (created ?? []).map((o, i) =>
      record(`slow${i + 1}@example.com`, { 'merge:FNAME': 'Late' }, { externalId: o.status === 'ok' ? o.externalId : '' }),
    );
    expect(await s.instance.push?.(updates, signal())).toMatchObject([{ status: 'retryable' }, { status: 'retryable' }]);
    const calls = s.emulator.sideDoor.calls().byEndpoint;
    expect(calls['DELETE /3.0/batches/:batch_id']).toBe(1);
    expect(memberOf(s, 'slow1@example.com')).toMatchObject({ merge_fields: expect.objectContaining({ FNAME: 'Ada' }) });
  });

  it('a GDPR permission change never goes through /batches', async () => {
    const perm = DEFAULT_PERMISSION_IDS.email;
    const s = await setup({ config: { batchOperationsAbove: 1, batchPollMs: 10 } });
    const created = await s.instance.push?.(
      ['p1@example.com', 'p2@example.com', 'p3@example.com'].map((e) => record(e)),
      signal(),
    );
    const updates = (created ?? []).map((o, i) =>
      record(`p${i + 1}@example.com`, i === 0 ? { [`permission:${perm}`]: false } : { 'merge:FNAME': 'B' }, {
        externalId: o.status === 'ok' ? o.externalId : '',
      }),
    );
    expect((await s.instance.push?.(updates, signal()))?.every((o) => o.status === 'ok')).toBe(true);
    expect(s.emulator.sideDoor.calls().byEndpoint['PATCH /3.0/lists/:list_id/members/:subscriber_hash']).toBe(1);
    expect(s.emulator.sideDoor.calls().byEndpoint['POST /3.0/batches']).toBe(1);
  });
});

describe('limits', () => {
  it('never more than 10 requests in flight for a key, across instances, under 50 parallel reads', async () => {
    const s = await setup();
    const created = await s.instance.push?.(
      Array.from({ length: 50 }, (_, i) => record(`r${i}@example.com`)),
      signal(),
    );
    const ids = created?.map((o) => (o.status === 'ok' ? o.externalId : '')) ?? [];
    const other = createMailchimpInstance({ instanceId: 'mc-2', config: s.config, logger: silentLogger() });
    const door = s.emulator.sideDoor;
    door.resetPeakInFlight();
    door.holdRequests();
    const reading = Promise.all([s.instance.read?.(ids.slice(0, 25), signal()), other.read?.(ids.slice(25), signal())]);
    // Ten are admitted and held open by the emulator; the other forty wait in the connector.
    await vi.waitFor(() => expect(door.peakInFlight()).toBe(10));
    door.releaseRequests();
    const [a, b] = await reading;
    expect([...(a ?? []), ...(b ?? [])].map((r) => r.externalId).sort()).toEqual([...ids].sort());
    expect(door.peakInFlight()).toBe(10);
    expect(door.calls().rateLimited).toBe(0);
    expect(s.instance.api.gate.peak).toBeLessThanOrEqual(10);
  });

  it('honours Retry-After: no call reaches Mailchimp before it, until an operator lifts the park', async () => {
    const s = await setup();
    const id = await createOne(s, 'wait@example.com');
    s.emulator.sideDoor.rateLimitNextCall(30);
    const first = await s.instance.read?.([id], signal()).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(RateLimitedError);
    expect((first as RateLimitedError).retryAfterMs).toBe(30_000);
    const total = s.emulator.sideDoor.calls().total;
    const second = await s.instance.read?.([id], signal()).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RateLimitedError);
    expect(s.emulator.sideDoor.calls().total).toBe(total);
    s.instance.unpark?.();
    expect((await s.instance.read?.([id], signal()))?.map((r) => r.externalId)).toEqual([id]);
  });
});

describe('pull', () => {
  async function pullAll(s: Setup, cursor?: MailchimpCursor): Promise<{ records: ExternalRecord[]; cursors: MailchimpCursor[] }> {
    const records: ExternalRecord[] = [];
    const cursors: MailchimpCursor[] = [];
    for await (const page of s.instance.pull?.(cursor, signal()) ?? []) {
      records.push(...page.records);
      cursors.push(page.cursor);
    }
    return { records, cursors };
  }

  it('pages by offset inside one second, saves a cursor per page, resumes from any of them without skipping', async () => {
    const s = await setup({ config: { pageSize: 2, lookBackMs: 0 } });
    const created = await s.instance.push?.(
      Array.from({ length: 5 }, (_, i) => record(`page${i}@example.com`)),
      signal(),
    );
    const ids = created?.map((o) => (o.status === 'ok' ? o.externalId : '')) ?? [];
    const full = await pullAll(s);
    expect(full.cursors).toHaveLength(3);
    expect(full.records.map((r) => r.externalId).sort()).toEqual([...ids].sort());
    const ats = full.records.map((r) => Date.parse(r.at));
    expect(ats).toEqual([...ats].sort((x, y) => x - y));
    expect(full.cursors.map((c) => c.complete)).toEqual([false, false, true]);
    // A pull interrupted after its first page resumes with the rest.
    const rest = await pullAll(s, full.cursors[0]);
    expect(new Set([...full.records.slice(0, 2), ...rest.records].map((r) => r.externalId))).toEqual(new Set(ids));
    // After a finished walk, a later change is found.
    s.emulator.sideDoor.edit('page3@example.com', { FNAME: 'Edited' });
    const later = await pullAll(s, full.cursors.at(-1));
    expect(later.records.find((r) => r.externalId === ids[3])?.fields['merge:FNAME']).toBe('Edited');
  });

  /**
   * A clock for the emulator and the connector, and members created in whole seconds of it
   * (`counts[i]` members in second i, named `<tag><i>-<n>@example.com`); their contact ids.
   */
  async function membersBySecond(config: Partial<MailchimpConfigInput>, tag: string, counts: readonly number[]) {
    const start = Date.parse('2026-12-01T10:00:00.000Z');
    const clock = { now: start };
    const s = await setup({ config, now: () => clock.now });
    const ids: string[] = [];
    for (const [second, count] of counts.entries()) {
      clock.now = start + second * 1000 + 100;
      const out = await s.instance.push?.(
        Array.from({ length: count }, (_, i) => record(`${tag}${second}-${i}@example.com`)),
        signal(),
      );
      ids.push(...(out ?? []).map((o) => (o.status === 'ok' ? o.externalId : '')));
    }
    return { s, ids, clock };
  }

  it('pages across seconds: nothing skipped and nothing read twice, the first pull included', async () => {
    const { s, ids } = await membersBySecond({ pageSize: 2 }, 's', [3, 3, 2]);
    // The first pull learns that the bound is inclusive and asks that page again: no member twice.
    const first = await pullAll(s);
    expect(first.records.map((r) => r.externalId).sort()).toEqual([...ids].sort());
    const second = await pullAll(s);
    expect(second.records.map((r) => r.externalId).sort()).toEqual([...ids].sort());
  });

  // Review finding: offsets count the members of the boundary seconds read so far; one of them
  // changing during the walk moves to its end, every later member one place up, and the member
  // after the offset was never read (the look-back behind the final cursor did not reach it).
  it('a member read in the walk that changes during it costs a re-walk from its second, never a skipped neighbour', async () => {
    const { s, ids, clock } = await membersBySecond({ pageSize: 2, lookBackMs: 0 }, 'm', [3, 3]);
    clock.now = Date.parse('2026-12-01T10:00:09.000Z');
    const seen = new Set<string>();
    let cursor: MailchimpCursor | undefined;
    let edited = false;
    for await (const page of s.instance.pull?.(undefined, signal()) ?? []) {
      for (const r of page.records) seen.add(r.externalId);
      cursor = page.cursor;
      if (!edited) {
        // The hub's own push edits a member of the first page while the walk goes on.
        const first = page.records[0]?.fields['email_address'];
        s.emulator.sideDoor.edit(String(first), { FNAME: 'Moved' });
        edited = true;
      }
    }
    expect(cursor?.complete).toBe(false);
    // The next pull walks again from the moved member's second.
    for await (const page of s.instance.pull?.(cursor, signal()) ?? []) for (const r of page.records) seen.add(r.externalId);
    expect([...seen].sort()).toEqual([...ids].sort());
  });

  it('reads status as a grant, a withdrawal or neither, and interests and permissions as booleans', async () => {
    const s = await setup({ config: { interests: [{ id: DEFAULT_INTEREST_IDS.newsletter, topic: 'newsletter' }] } });
    // Subscribed with the hub's opt-in evidence (the connector sends timestamp_opt and ip_opt).
    const [sub] =
      (await s.instance.push?.(
        [
          record(
            'sub@example.com',
            { status: 'subscribed', [`interest:${DEFAULT_INTEREST_IDS.newsletter}`]: true },
            { profile: profile('sub@example.com', 'granted') },
          ),
        ],
        signal(),
      )) ?? [];
    expect(sub?.status).toBe('ok');
    // Subscribed by a marketer's import, with no opt-in evidence: no grant.
    s.emulator.sideDoor.userChange('form@example.com');
    await createOne(s, 'imported@example.com', { status: 'subscribed' });
    await createOne(s, 'arch@example.com', { status: 'subscribed' });
    await createOne(s, 'clean@example.com', { status: 'subscribed' });
    s.emulator.sideDoor.archive('arch@example.com');
    s.emulator.sideDoor.clean('clean@example.com');
    const { records } = await pullAll(s);
    const byEmail = new Map(records.map((r) => [r.fields.email_address, r]));
    expect(byEmail.get('sub@example.com')?.fields).toMatchObject({
      status: 'subscribed',
      [`interest:${DEFAULT_INTEREST_IDS.newsletter}`]: true,
    });
    expect(byEmail.get('imported@example.com')?.fields).toMatchObject({ status: null, member_status: 'subscribed' });
    // A form sign-up carries its opt-in time: a grant.
    expect(byEmail.get('form@example.com')?.fields).toMatchObject({ status: 'subscribed' });
    // Archived: no status reported (neither grant nor withdrawal), only the raw member status.
    expect(byEmail.get('arch@example.com')?.fields).toMatchObject({ member_status: 'archived' });
    expect(byEmail.get('arch@example.com')?.fields).not.toHaveProperty('status');
    expect(byEmail.get('clean@example.com')?.fields).toMatchObject({ status: 'unsubscribed', member_status: 'cleaned' });
  });
});

describe('webhooks from the emulator', () => {
  async function delivered(s: Setup, act: () => unknown, token = URL_SECRET): Promise<RawWebhook> {
    await s.emulator.sideDoor.flushWebhooks();
    const before = s.receiver.received.length;
    act();
    await s.emulator.sideDoor.flushWebhooks();
    const r = s.receiver.received[before];
    if (!r) throw new Error('no webhook delivered');
    return {
      method: r.method,
      url: s.receiver.url,
      urlToken: token,
      headers: r.headers,
      body: r.body,
      receivedAt: new Date().toISOString(),
    };
  }

  it('signed: verified; forged body or wrong URL secret refused; a hint read back through read', async () => {
    const s = await setup({ emulator: { webhookSigningSecret: SIGNING_SECRET }, config: { webhookSigningSecret: SIGNING_SECRET } });
    const raw = await delivered(s, () => s.emulator.sideDoor.userChange('signup@example.com'));
    expect(s.instance.admit?.({ method: 'POST', url: raw.url, headers: raw.headers, urlToken: URL_SECRET })).toEqual({ ok: true });
    expect(await s.instance.verify?.(raw)).toEqual({ ok: true });
    const forged = Buffer.from(raw.body.toString('utf8').replace('signup%40example.com', 'victim%40example.com'));
    expect(await s.instance.verify?.({ ...raw, body: forged })).toMatchObject({ ok: false });
    expect(await s.instance.verify?.({ ...raw, urlToken: 'x'.repeat(URL_SECRET.length) })).toMatchObject({ ok: false });
    expect(s.instance.admit?.({ method: 'POST', url: raw.url, headers: raw.headers, urlToken: 'wrong' })).toMatchObject({
      ok: false,
      status: 401,
    });
    const events = await s.instance.parse?.(raw);
    expect(events).toEqual([expect.objectContaining({ kind: 'changed', externalIds: [`hash.${md5('signup@example.com')}`] })]);
    const ids = events?.[0]?.kind === 'changed' ? events[0].externalIds : [];
    const [member] = (await s.instance.read?.(ids, signal())) ?? [];
    expect(member?.fields).toMatchObject({ email_address: 'signup@example.com', status: 'subscribed' });
  });

  it('unsigned: the URL secret alone admits it (a hint only)', async () => {
    const s = await setup();
    const raw = await delivered(s, () => s.emulator.sideDoor.userChange('plain@example.com'));
    expect(await s.instance.verify?.(raw)).toEqual({ ok: true });
    expect(await s.instance.verify?.({ ...raw, urlToken: undefined })).toMatchObject({ ok: false });
  });

  it('upemail: the member is read by its new address and keeps its contact_id', async () => {
    const s = await setup();
    const id = await createOne(s, 'old@example.com');
    const raw = await delivered(s, () => s.emulator.sideDoor.changeEmail('old@example.com', 'new@example.com'));
    const [event] = (await s.instance.parse?.(raw)) ?? [];
    expect(event).toMatchObject({ kind: 'changed', externalIds: [`hash.${md5('new@example.com')}`] });
    const records = await s.instance.read?.(event?.kind === 'changed' ? event.externalIds : [], signal());
    expect(records?.map((r) => [r.externalId, r.fields.email_address])).toEqual([[id, 'new@example.com']]);
  });

  it('our own API writes send no webhook (api source off)', async () => {
    const s = await setup();
    await createOne(s, 'quiet@example.com', { status: 'subscribed' });
    await s.emulator.sideDoor.flushWebhooks();
    expect(s.receiver.received).toEqual([]);
  });
});

describe('webhook setup', () => {
  it('registers the webhook with sources user and admin, api off; keeps a right one, replaces a wrong one', async () => {
    const s = await setup();
    // The emulator's pre-registered webhook is what the connector needs.
    expect(await setupWebhook(s.instance.api, s.receiver.url)).toMatchObject({
      action: 'kept',
      url: expect.stringMatching(/<webhookSecret>$/),
    });
    const url = `${s.receiver.url.replace(URL_SECRET, 'another-url-secret-0123456789abcdefgh')}`;
    const created = await setupWebhook(s.instance.api, url);
    expect(created).toMatchObject({ action: 'created', signingSecret: expect.stringMatching(/.{16,}/) });
    expect(JSON.stringify(created)).not.toContain('another-url-secret');
    expect(await setupWebhook(s.instance.api, url)).toMatchObject({ action: 'kept', webhookId: created.webhookId });
    // One that also fires on our own API writes (echoes) is replaced.
    const echoing = `${s.receiver.url.replace(URL_SECRET, 'echoing-url-secret-0123456789abcdefghi')}`;
    await s.instance.api.request('POST', `/lists/${DEFAULT_LIST_ID}/webhooks`, {
      data: { url: echoing, events: { subscribe: true }, sources: { user: true, admin: true, api: true } },
    });
    expect(await setupWebhook(s.instance.api, echoing)).toMatchObject({ action: 'replaced' });
    const hooks = await s.instance.api.request<{ webhooks: { url: string; sources: Record<string, boolean> }[] }>(
      'GET',
      `/lists/${DEFAULT_LIST_ID}/webhooks`,
    );
    expect(hooks.data.webhooks.find((w) => w.url === echoing)?.sources).toEqual({ user: true, admin: true, api: false });
  });
});

describe('export', () => {
  it('returns the member with every field Mailchimp holds', async () => {
    const s = await setup();
    const id = await createOne(s, 'export@example.com', { status: 'subscribed' });
    const [r] = (await s.instance.export?.([{ externalId: id }, { email: 'export@example.com' }], signal())) ?? [];
    expect(r?.externalId).toBe(id);
    expect(r?.fields).toMatchObject({ status: 'subscribed', contact_id: id, id: md5('export@example.com') });
    expect(Object.keys(r?.fields ?? {})).toEqual(expect.arrayContaining(['unique_email_id', 'last_changed', 'merge_fields']));
  });
});

describe('find', () => {
  const query = (q: Partial<FindQuery>): FindQuery => ({ emails: [], phones: [], externalIds: [], ...q });

  it('finds a phone by reading the audience a page of 1,000 members at a time, and an e-mail by its hash', async () => {
    const { emulator, instance } = await setup();
    for (let i = 0; i < 1003; i++)
      emulator.sideDoor.userChange(`m${i}@example.com`, { FNAME: `M${i}`, ...(i >= 1001 ? { PHONE: `+44 20 7946 0${i}` } : {}) });
    const last = emulator.sideDoor.member('m1002@example.com');
    const first = emulator.sideDoor.member('m0@example.com');
    emulator.sideDoor.resetCalls();
    const answers = await instance.find?.([query({ phones: ['+4420794601002'] }), query({ emails: ['M0@example.com'] })], signal());
    expect(answers).toEqual([
      [{ externalId: last?.['contact_id'], matchedBy: ['phone'] }],
      [{ externalId: first?.['contact_id'], matchedBy: ['email'] }],
    ]);
    // Two pages of members for the phone, one member read for the e-mail.
    expect(emulator.sideDoor.calls().total).toBe(3);
  });
});

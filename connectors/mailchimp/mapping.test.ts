import { describe, expect, it } from 'vitest';
import { compileMapping, mapInbound } from '../../src/connector/mapping.js';
import { MailchimpConfig } from './config.js';
import mailchimp from './connector.js';
import { fromMergeValue, mailchimpDate, statusFieldValue, toMailchimpTimestamp, toMergeValue, withdraws } from './mapping.js';
import { toRecord, type Member } from './read.js';

const SECRET = 'x'.repeat(32);
const base = { apiKey: 'key-us21', listId: 'list1', webhookSecret: SECRET };

/** The entry `statusConsent` implies, written out. */
function statusEntry(consent: string) {
  return {
    path: ['statusConsent'],
    entry: { consent, external: 'status', transform: [{ type: 'map', values: { granted: 'subscribed', denied: 'unsubscribed' } }] },
  };
}

describe('the mapping entries the config implies (derivedMappings)', () => {
  const config = MailchimpConfig.parse({
    ...base,
    interests: [{ id: 'int1', topic: 'newsletter' }],
    marketingPermissions: [{ id: 'perm-email', consent: 'marketing.email_gdpr' }],
  });

  it('status <-> statusConsent, each interest <-> its topic, each permission <-> its consent, at the key that names it', () => {
    expect(mailchimp.derivedMappings?.(config)).toEqual([
      statusEntry('marketing.email'),
      { path: ['interests', 0, 'topic'], entry: { topic: 'newsletter', external: 'interest:int1' } },
      { path: ['marketingPermissions', 0, 'consent'], entry: { consent: 'marketing.email_gdpr', external: 'permission:perm-email' } },
    ]);
  });

  it('only the status consent without interests or permissions, with the configured purpose', () => {
    const own = MailchimpConfig.parse({ ...base, statusConsent: 'news.email' });
    expect(mailchimp.derivedMappings?.(own)).toEqual([statusEntry('news.email')]);
  });

  it('compile: subscribed grants, unsubscribed withdraws, null (pending, transactional, archived) does neither', () => {
    const mapping = compileMapping(
      mailchimp,
      mailchimp.derivedMappings?.(config).map((d) => d.entry),
    );
    const ctx = { source: 'mailchimp', receivedAt: '2026-12-01T00:00:00.000Z', patchId: 'p' };
    const at = '2026-12-01T00:00:00.000Z';
    const of = (status: string) =>
      mapInbound(mapping, { externalId: 'c1', at, fields: { email_address: 'a@example.com', status: statusFieldValue(status) } }, ctx).patch
        .consents.marketing?.email?.status;
    expect(of('subscribed')).toBe('granted');
    expect(of('unsubscribed')).toBe('denied');
    expect(of('cleaned')).toBe('denied');
    for (const neither of ['pending', 'transactional', 'archived']) expect(of(neither)).toBeUndefined();
    const patch = mapInbound(
      mapping,
      { externalId: 'c1', at, fields: { 'interest:int1': true, 'permission:perm-email': false, 'merge:FNAME': 'Ada', language: 'fr' } },
      ctx,
    ).patch;
    expect(patch.subscriptions.newsletter).toBe(true);
    expect(patch.consents.marketing?.email_gdpr?.status).toBe('denied');
    expect(patch.attributes).toEqual({ firstName: 'Ada', locale: 'fr' });
  });
});

describe('config', () => {
  it('takes the data center from the key, refuses a key without one unless baseUrl is set', () => {
    expect(MailchimpConfig.safeParse({ ...base, apiKey: 'nodc' }).success).toBe(false);
    expect(MailchimpConfig.safeParse({ ...base, apiKey: 'nodc', baseUrl: 'http://127.0.0.1:4030/3.0' }).success).toBe(true);
    const c = MailchimpConfig.parse(base);
    expect([c.maxInFlight, c.pageSize, c.batchOperationsAbove, c.statusConsent, c.archiveOnRestriction]).toEqual([
      10,
      1000,
      100,
      'marketing.email',
      false,
    ]);
    expect(MailchimpConfig.safeParse({ ...base, maxInFlight: 11 }).success).toBe(false);
    expect(MailchimpConfig.safeParse({ ...base, webhookSecret: 'short' }).success).toBe(false);
  });
});

describe('members as records', () => {
  const member: Member = {
    id: 'b642b4217b34b1e8d3bd915fc65c4452',
    contact_id: 'ct_1',
    email_address: 'ada@example.com',
    status: 'subscribed',
    merge_fields: { FNAME: 'Ada', LNAME: '', ADDRESS: { addr1: '', city: '' }, PHONE: '+33 1 23 45 67 89' },
    interests: { int1: true, int2: false },
    marketing_permissions: [{ marketing_permission_id: 'perm-email', enabled: true, text: 'Email' }],
    language: '',
    tags: [{ id: 1, name: 'vip' }],
    last_changed: '2026-11-30T10:00:05+00:00',
    timestamp_opt: '2026-11-01 08:00:00',
    ip_opt: '',
    ip_signup: '',
    member_rating: 2,
  };

  it('are keyed by contact_id, stamped with last_changed, the status with the opt-in time; "" values absent', () => {
    expect(toRecord(member)).toEqual({
      externalId: 'ct_1',
      at: '2026-11-30T10:00:05.999Z',
      fields: {
        email_address: 'ada@example.com',
        'merge:FNAME': 'Ada',
        'merge:PHONE': '+33 1 23 45 67 89',
        status: 'subscribed',
        member_status: 'subscribed',
        'interest:int1': true,
        'interest:int2': false,
        'permission:perm-email': true,
        tags: ['vip'],
      },
      // A grant dates from the first instant of its second, a withdrawal from the latest.
      fieldsAt: { status: '2026-11-01T08:00:00.000Z', 'permission:perm-email': '2026-11-01T08:00:00.000Z' },
    });
  });

  it('a subscribed member without opt-in evidence (no timestamp_opt, no ip_opt) neither grants nor withdraws', () => {
    const imported = toRecord({ ...member, timestamp_opt: '', ip_opt: '' });
    expect(imported.fields.status).toBeNull();
    expect(imported.fields.member_status).toBe('subscribed');
    expect(toRecord({ ...member, timestamp_opt: '', ip_opt: '198.51.100.7' }).fields.status).toBe('subscribed');
  });

  // Mailchimp's stamps have whole seconds: a change stamped 10:00:05 was made up to 999 ms later,
  // and no later than the hub read it. The latest such time is taken, so a person's unsubscribe in
  // the second of an older grant elsewhere (stamped to the millisecond) is not taken for older.
  it('are stamped at the latest moment of the stamp’s second that is not after the read', () => {
    const readAt = Date.parse('2026-11-30T10:00:05.250Z');
    const unsubscribed = toRecord({ ...member, status: 'unsubscribed' }, () => readAt);
    expect(unsubscribed.at).toBe('2026-11-30T10:00:05.250Z');
    expect(unsubscribed.fieldsAt).toEqual({ status: '2026-11-30T10:00:05.250Z', 'permission:perm-email': '2026-11-01T08:00:00.000Z' });
    // A permission withdrawn dates from the last change, at its latest.
    const withdrawn = toRecord(
      { ...member, marketing_permissions: [{ marketing_permission_id: 'perm-email', enabled: false, text: 'Email' }] },
      () => readAt,
    );
    expect(withdrawn.fieldsAt?.['permission:perm-email']).toBe('2026-11-30T10:00:05.250Z');
    // A stamp with milliseconds is exact.
    expect(toRecord({ ...member, last_changed: '2026-11-30T10:00:05.123Z' }, () => readAt).at).toBe('2026-11-30T10:00:05.123Z');
  });

  it('an archived member neither grants nor withdraws: its status is not reported, only the raw member status', () => {
    const r = toRecord({ ...member, status: 'archived' });
    expect(r.fields).not.toHaveProperty('status');
    expect(r.fields.member_status).toBe('archived');
    expect(r.fieldsAt).not.toHaveProperty('status');
    expect(toRecord({ ...member, status: 'pending' }).fields.status).toBeNull();
    expect(withdraws('cleaned')).toBe(true);
    expect(withdraws('archived')).toBe(false);
  });
});

describe('values', () => {
  it('merge values: "" and empty addresses are absent, a cleared field is written as ""', () => {
    expect(fromMergeValue('')).toBeUndefined();
    expect(fromMergeValue({ addr1: '', city: '' })).toBeUndefined();
    expect(fromMergeValue({ addr1: '1 rue', city: 'Paris', zip: '' })).toEqual({ addr1: '1 rue', city: 'Paris' });
    expect(toMergeValue(null)).toBe('');
    expect(toMergeValue(3)).toBe(3);
  });

  it('dates: "" is absent, a zone-less timestamp is UTC, and back', () => {
    expect(mailchimpDate('')).toBeUndefined();
    expect(mailchimpDate('2026-11-01 08:00:00')).toBe('2026-11-01T08:00:00.000Z');
    expect(mailchimpDate('2026-11-01T09:00:00+01:00')).toBe('2026-11-01T08:00:00.000Z');
    expect(toMailchimpTimestamp('2026-11-01T08:00:00.123Z')).toBe('2026-11-01 08:00:00');
  });
});

import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawWebhook } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { createMailchimpInstance } from './connector.js';
import { MailchimpConfig } from './config.js';
import { admitMailchimpWebhook, parseMailchimpForm, toWebhookEvents, validationReply, verifyMailchimpWebhook } from './webhook.js';

const URL_SECRET = 'u'.repeat(40);
const SIGNING = 'whsec_test_signing_secret';
const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A subscribe delivery exactly as Mailchimp form-encodes it. */
const SUBSCRIBE =
  'type=subscribe&fired_at=2026-12-04+11%3A59%3A58&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D=list1' +
  '&data%5Bemail%5D=Ada.Lovelace%40Example.com&data%5Bemail_type%5D=html&data%5Bmerges%5D%5BEMAIL%5D=Ada.Lovelace%40Example.com' +
  '&data%5Bmerges%5D%5BFNAME%5D=Ada&data%5Bmerges%5D%5BINTERESTS%5D=Weekly%2C+Offers&data%5Bip_opt%5D=10.20.10.30';

function raw(body: string, options: { token?: string; headers?: Record<string, string>; receivedAt?: number } = {}): RawWebhook {
  return {
    method: 'POST',
    url: `https://hub.example.com/webhooks/mailchimp/${options.token ?? URL_SECRET}`,
    urlToken: options.token ?? URL_SECRET,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
    body: Buffer.from(body, 'utf8'),
    receivedAt: new Date(options.receivedAt ?? NOW).toISOString(),
  };
}

/** `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, computed here independently of the connector. */
function signature(body: string, t: number, secret = SIGNING): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

describe('admit and verify: the URL secret', () => {
  const secrets = { urlSecret: URL_SECRET };

  it('admits the right token only, and refuses a declared body over the limit', () => {
    const head = { method: 'POST', url: '/x', headers: {} };
    expect(admitMailchimpWebhook({ ...head, urlToken: URL_SECRET }, secrets)).toEqual({ ok: true });
    expect(admitMailchimpWebhook({ ...head, urlToken: `${URL_SECRET}x` }, secrets)).toMatchObject({ ok: false, status: 401 });
    expect(admitMailchimpWebhook(head, secrets)).toMatchObject({ ok: false, status: 401 });
    expect(admitMailchimpWebhook({ ...head, urlToken: URL_SECRET, headers: { 'content-length': '10000000' } }, secrets)).toMatchObject({
      ok: false,
      status: 413,
    });
  });

  it('verify checks the token again (a raw webhook may reach the engine without admit)', () => {
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE), secrets)).toEqual({ ok: true });
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE, { token: 'w'.repeat(40) }), secrets)).toMatchObject({ ok: false });
    const { urlToken: _dropped, ...noToken } = raw(SUBSCRIBE);
    expect(verifyMailchimpWebhook(noToken, secrets)).toMatchObject({ ok: false });
  });

  it('answers the validation GET with 200 for the right URL only', () => {
    expect(validationReply({ method: 'GET', url: '/x', headers: {}, urlToken: URL_SECRET }, secrets)).toEqual({ status: 200 });
    expect(validationReply({ method: 'GET', url: '/x', headers: {}, urlToken: 'nope' }, secrets)).toEqual({ status: 401 });
  });
});

describe('verify: X-Mailchimp-Signature', () => {
  const secrets = { urlSecret: URL_SECRET, signingSecret: SIGNING };
  const t = Math.floor(NOW / 1000) - 2;

  it('accepts a genuine signature', () => {
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE, { headers: { 'x-mailchimp-signature': signature(SUBSCRIBE, t) } }), secrets)).toEqual({
      ok: true,
    });
  });

  it('refuses a forged body, another secret, a missing header, and a signature outside 5 minutes', () => {
    const forged = SUBSCRIBE.replace('subscribe', 'unsubscribe');
    expect(verifyMailchimpWebhook(raw(forged, { headers: { 'x-mailchimp-signature': signature(SUBSCRIBE, t) } }), secrets)).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
    expect(
      verifyMailchimpWebhook(raw(SUBSCRIBE, { headers: { 'x-mailchimp-signature': signature(SUBSCRIBE, t, 'other') } }), secrets).ok,
    ).toBe(false);
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE), secrets)).toEqual({ ok: false, reason: 'missing X-Mailchimp-Signature' });
    const old = Math.floor((NOW - 5 * 60_000) / 1000) - 1;
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE, { headers: { 'x-mailchimp-signature': signature(SUBSCRIBE, old) } }), secrets).ok).toBe(
      false,
    );
    const recent = Math.floor((NOW - 4 * 60_000) / 1000);
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE, { headers: { 'x-mailchimp-signature': signature(SUBSCRIBE, recent) } }), secrets).ok).toBe(
      true,
    );
    expect(verifyMailchimpWebhook(raw(SUBSCRIBE, { headers: { 'x-mailchimp-signature': 'v1=abc' } }), secrets).ok).toBe(false);
  });

  it('a correct signature does not save a wrong URL secret', () => {
    const r = raw(SUBSCRIBE, { token: 'z'.repeat(40), headers: { 'x-mailchimp-signature': signature(SUBSCRIBE, t) } });
    expect(verifyMailchimpWebhook(r, secrets)).toMatchObject({ ok: false });
  });
});

describe('parse', () => {
  it('a form body: type, fired_at (UTC, no zone) and the data keys', () => {
    const hook = parseMailchimpForm(Buffer.from(SUBSCRIBE));
    expect(hook.type).toBe('subscribe');
    expect(hook.firedAt).toBe('2026-12-04T11:59:58.000Z');
    expect(hook.data['merges][FNAME']).toBe('Ada');
    expect(hook.data['email']).toBe('Ada.Lovelace@Example.com');
  });

  it('subscribe, unsubscribe, profile and cleaned name the member by the hash of its lower-cased address', () => {
    for (const type of ['subscribe', 'unsubscribe', 'profile', 'cleaned']) {
      const events = toWebhookEvents(parseMailchimpForm(Buffer.from(SUBSCRIBE.replace('type=subscribe', `type=${type}`))), 'list1');
      expect(events).toEqual([
        {
          kind: 'changed',
          eventId: expect.stringMatching(/^mc-[0-9a-f]{40}$/),
          externalIds: [`hash.${md5('ada.lovelace@example.com')}`],
          at: '2026-12-04T11:59:58.000Z',
        },
      ]);
    }
  });

  it('upemail names the member by its new address', () => {
    const body =
      'type=upemail&fired_at=2026-12-04+11%3A00%3A00&data%5Blist_id%5D=list1&data%5Bnew_id%5D=51aa6d4e2b' +
      '&data%5Bnew_email%5D=new%40example.com&data%5Bold_email%5D=old%40example.com';
    const [event] = toWebhookEvents(parseMailchimpForm(Buffer.from(body)), 'list1');
    expect(event).toMatchObject({ kind: 'changed', externalIds: [`hash.${md5('new@example.com')}`] });
  });

  it('campaign and other audiences give no event; a body without type or fired_at is malformed', () => {
    const campaign = 'type=campaign&fired_at=2026-12-04+11%3A00%3A00&data%5Bid%5D=5aa2102003&data%5Blist_id%5D=list1&data%5Bstatus%5D=sent';
    expect(toWebhookEvents(parseMailchimpForm(Buffer.from(campaign)), 'list1')).toEqual([]);
    expect(toWebhookEvents(parseMailchimpForm(Buffer.from(SUBSCRIBE)), 'another-list')).toEqual([]);
    for (const bad of ['this is not the expected payload', '{"unexpected": true}', 'type=subscribe', 'fired_at=2026-12-04+11%3A00%3A00']) {
      expect(() => parseMailchimpForm(Buffer.from(bad))).toThrow(MalformedPayloadError);
    }
    const noEmail = 'type=subscribe&fired_at=2026-12-04+11%3A00%3A00&data%5Blist_id%5D=list1';
    expect(() => toWebhookEvents(parseMailchimpForm(Buffer.from(noEmail)), 'list1')).toThrow(MalformedPayloadError);
  });

  it('event ids are stable for a redelivery and differ between events', () => {
    const a = toWebhookEvents(parseMailchimpForm(Buffer.from(SUBSCRIBE)), 'list1');
    const b = toWebhookEvents(parseMailchimpForm(Buffer.from(SUBSCRIBE)), 'list1');
    const later = toWebhookEvents(parseMailchimpForm(Buffer.from(SUBSCRIBE.replace('11%3A59%3A58', '11%3A59%3A59'))), 'list1');
    expect(a[0]?.eventId).toBe(b[0]?.eventId);
    expect(later[0]?.eventId).not.toBe(a[0]?.eventId);
  });

  it('the instance drops a redelivery once the engine acknowledged it (reply)', async () => {
    const config = MailchimpConfig.parse({ apiKey: 'k-us1', listId: 'list1', webhookSecret: URL_SECRET });
    const instance = createMailchimpInstance({ instanceId: 'mailchimp', config, logger: silentLogger() });
    const first = await instance.parse?.(raw(SUBSCRIBE));
    expect(first).toHaveLength(1);
    // Not acknowledged yet (the enqueue may have failed): the retry is processed again.
    expect(await instance.parse?.(raw(SUBSCRIBE))).toEqual(first);
    expect(instance.reply?.(first ?? [])).toEqual({ status: 200 });
    expect(await instance.parse?.(raw(SUBSCRIBE))).toEqual([]);
  });
});

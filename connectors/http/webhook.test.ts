import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { ExternalRecord, RawWebhook } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { isValidJsonPath, parseStandardWebhook, verifyStandardWebhook, type InboundEventRule } from './webhook.js';

const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = newSecret();
const OLD_SECRET = newSecret();
const UNKNOWN_SECRET = newSecret();

/** Far from the test's own clock: verification is judged against receivedAt only. */
const RECEIVED_AT = '2026-03-01T12:00:00.000Z';
const minutes = (n: number): number => n * 60_000;

interface Message {
  id?: string;
  /** Offset of the signed timestamp from RECEIVED_AT. */
  offsetMs?: number;
  body?: string;
  /** Every secret that signs (the sender's rotation): one `v1,` entry each. */
  signers?: readonly string[];
  headers?: Record<string, string | undefined>;
}

/** A request as a Standard Webhooks sender makes it, signed by the official library. */
function message(options: Message = {}): RawWebhook {
  const id = options.id ?? 'msg_2kFqYt';
  const body = options.body ?? JSON.stringify({ type: 'contact.updated', timestamp: '2026-03-01T11:59:58.123Z', data: { id: 'c_1' } });
  const sentAt = new Date(Date.parse(RECEIVED_AT) + (options.offsetMs ?? -2_000));
  const signature = (options.signers ?? [SECRET]).map((secret) => new Webhook(secret).sign(id, sentAt, body)).join(' ');
  return {
    method: 'POST',
    url: 'https://hub.example/webhooks/crm',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': signature,
      ...options.headers,
    },
    body: Buffer.from(body),
    receivedAt: RECEIVED_AT,
  };
}

describe('verifyStandardWebhook', () => {
  it('accepts a message signed by the configured secret', () => {
    expect(verifyStandardWebhook([SECRET], message())).toEqual({ ok: true });
  });

  it('rotation: accepts a message signed only by the second configured secret', () => {
    expect(verifyStandardWebhook([OLD_SECRET, SECRET], message({ signers: [SECRET] }))).toEqual({ ok: true });
    expect(verifyStandardWebhook([SECRET, OLD_SECRET], message({ signers: [SECRET] }))).toEqual({ ok: true });
  });

  it('rotation: accepts a message carrying two signatures, one of them by a secret it does not know', () => {
    expect(verifyStandardWebhook([SECRET], message({ signers: [UNKNOWN_SECRET, SECRET] }))).toEqual({ ok: true });
    expect(verifyStandardWebhook([SECRET], message({ signers: [SECRET, UNKNOWN_SECRET] }))).toEqual({ ok: true });
  });

  it('skips v1a (ed25519) entries and other versions', () => {
    const signed = message();
    const v1 = String(signed.headers['webhook-signature']);
    const headers = { ...signed.headers, 'webhook-signature': `v1a,${randomBytes(64).toString('base64')} v2,abc ${v1}` };
    expect(verifyStandardWebhook([SECRET], { ...signed, headers })).toEqual({ ok: true });
    expect(verifyStandardWebhook([SECRET], { ...signed, headers: { ...headers, 'webhook-signature': v1.replace('v1,', 'v1a,') } })).toEqual(
      {
        ok: false,
        reason: 'no matching signature',
      },
    );
  });

  it('refuses a message signed by another secret', () => {
    expect(verifyStandardWebhook([SECRET, OLD_SECRET], message({ signers: [UNKNOWN_SECRET] }))).toEqual({
      ok: false,
      reason: 'no matching signature',
    });
  });

  it('refuses a tampered body, id or timestamp', () => {
    const signed = message();
    expect(verifyStandardWebhook([SECRET], { ...signed, body: Buffer.from(signed.body.toString().replace('c_1', 'c_2')) })).toMatchObject({
      ok: false,
    });
    expect(verifyStandardWebhook([SECRET], { ...signed, headers: { ...signed.headers, 'webhook-id': 'msg_other' } })).toMatchObject({
      ok: false,
    });
    const timestamp = Number(signed.headers['webhook-timestamp']);
    expect(
      verifyStandardWebhook([SECRET], { ...signed, headers: { ...signed.headers, 'webhook-timestamp': String(timestamp - 1) } }),
    ).toEqual({
      ok: false,
      reason: 'no matching signature',
    });
  });

  it.each([
    ['6 min old', -minutes(6), false],
    ['6 min ahead', minutes(6), false],
    ['4 min old', -minutes(4), true],
    ['4 min ahead', minutes(4), true],
  ])('judges a timestamp %s against receivedAt (ok: %s)', (_label, offsetMs, ok) => {
    const result = verifyStandardWebhook([SECRET], message({ offsetMs }));
    expect(result).toEqual(ok ? { ok: true } : { ok: false, reason: 'webhook-timestamp outside the tolerance' });
  });

  it('takes a tolerance of its own', () => {
    expect(verifyStandardWebhook([SECRET], message({ offsetMs: -minutes(6) }), minutes(10))).toEqual({ ok: true });
    expect(verifyStandardWebhook([SECRET], message({ offsetMs: -minutes(2) }), minutes(1))).toMatchObject({ ok: false });
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('refuses a message without %s', (header) => {
    expect(verifyStandardWebhook([SECRET], message({ headers: { [header]: undefined } }))).toEqual({
      ok: false,
      reason: 'missing webhook-id, webhook-timestamp or webhook-signature',
    });
  });

  it("refuses a webhook-id containing '.', even correctly signed", () => {
    expect(verifyStandardWebhook([SECRET], message({ id: 'msg.1' }))).toEqual({ ok: false, reason: "webhook-id contains '.'" });
  });

  it.each(['soon', '1.5e9', '-1700000000', '1772366400abc'])('refuses the webhook-timestamp %j', (timestamp) => {
    expect(verifyStandardWebhook([SECRET], message({ headers: { 'webhook-timestamp': timestamp } }))).toEqual({
      ok: false,
      reason: 'webhook-timestamp is not a number of seconds',
    });
  });

  it('never throws: no secret, a secret the library cannot use', () => {
    expect(verifyStandardWebhook([], message())).toEqual({ ok: false, reason: 'no webhook secret is configured' });
    expect(verifyStandardWebhook(['whsec_'], message())).toEqual({ ok: false, reason: 'no matching signature' });
    expect(verifyStandardWebhook(['whsec_', SECRET], message())).toEqual({ ok: true });
  });

  it('agrees with the library: what it accepts, the library verifies too', () => {
    const now = new Date();
    const body = '{"type":"contact.created","timestamp":"2026-03-01T12:00:00.000Z","data":{"id":"c_9"}}';
    const headers = {
      'webhook-id': 'msg_lib',
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(SECRET).sign('msg_lib', now, body),
    };
    const raw: RawWebhook = {
      method: 'POST',
      url: 'https://hub.example/webhooks/crm',
      headers,
      body: Buffer.from(body),
      receivedAt: now.toISOString(),
    };
    expect(verifyStandardWebhook([SECRET], raw)).toEqual({ ok: true });
    expect(new Webhook(SECRET).verify(body, headers)).toMatchObject({ data: { id: 'c_9' } });
  });
});

const RULES: InboundEventRule[] = [
  { type: 'contact.*', id: '$.data.id', kind: 'changed' },
  { type: 'contact.deleted', id: '$.data.id', kind: 'deleted' },
  { type: 'contact.forget', id: "$['data']['ref']", kind: 'erase' },
  { type: 'subscriber.changed', id: '$.data.subscriber_id', kind: 'changed' },
  { type: 'batch.*', id: '$.data.items[*].id', kind: 'changed' },
  { type: 'batch.removed.*', id: '$.data.items[*].id', kind: 'deleted' },
];

function delivery(payload: unknown, id = 'msg_1'): RawWebhook {
  return message({ id, body: JSON.stringify(payload) });
}

describe('parseStandardWebhook', () => {
  it('an exact rule: eventId = webhook-id, the id by JSONPath, at = the payload timestamp', () => {
    expect(
      parseStandardWebhook(
        delivery({ type: 'subscriber.changed', timestamp: '2026-03-01T11:00:00Z', data: { subscriber_id: 's7' } }, 'msg_a'),
        RULES,
      ),
    ).toEqual([{ kind: 'changed', eventId: 'msg_a', externalIds: ['s7'], at: '2026-03-01T11:00:00.000Z' }]);
  });

  it('a prefix rule takes every type under it; an exact rule wins over it', () => {
    const at = '2026-03-01T11:00:00.000Z';
    expect(parseStandardWebhook(delivery({ type: 'contact.created', timestamp: at, data: { id: 'c_1' } }), RULES)).toMatchObject([
      { kind: 'changed', externalIds: ['c_1'] },
    ]);
    expect(parseStandardWebhook(delivery({ type: 'contact.updated', timestamp: at, data: { id: 'c_1' } }), RULES)).toMatchObject([
      { kind: 'changed' },
    ]);
    expect(parseStandardWebhook(delivery({ type: 'contact.deleted', timestamp: at, data: { id: 'c_1' } }), RULES)).toMatchObject([
      { kind: 'deleted', externalIds: ['c_1'] },
    ]);
    expect(parseStandardWebhook(delivery({ type: 'contact.forget', timestamp: at, data: { ref: 'c_1' } }), RULES)).toMatchObject([
      { kind: 'erase', externalIds: ['c_1'] },
    ]);
  });

  it('the longest matching prefix rule wins', () => {
    const payload = { type: 'batch.removed.soft', timestamp: '2026-03-01T11:00:00Z', data: { items: [{ id: 'a' }] } };
    expect(parseStandardWebhook(delivery(payload), RULES)).toMatchObject([{ kind: 'deleted', externalIds: ['a'] }]);
  });

  it('an unknown type yields no event', () => {
    expect(parseStandardWebhook(delivery({ type: 'invoice.paid', timestamp: '2026-03-01T11:00:00Z', data: { id: 'i1' } }), RULES)).toEqual(
      [],
    );
    expect(parseStandardWebhook(delivery({ type: 'contact', timestamp: '2026-03-01T11:00:00Z', data: { id: 'c_1' } }), RULES)).toEqual([]);
  });

  it('JSONPath ids: numbers become strings, a selector matching several values names several records', () => {
    expect(parseStandardWebhook(delivery({ type: 'contact.updated', data: { id: 42 } }), RULES)).toMatchObject([{ externalIds: ['42'] }]);
    const batch = { type: 'batch.changed', timestamp: '2026-03-01T11:00:00Z', data: { items: [{ id: 'a' }, { id: 7 }] } };
    expect(parseStandardWebhook(delivery(batch), RULES)).toMatchObject([{ kind: 'changed', externalIds: ['a', '7'] }]);
    const filtered: InboundEventRule[] = [{ type: 'x.y', id: '$.data.refs[?@.kind=="crm"].value', kind: 'changed' }];
    const payload = {
      type: 'x.y',
      data: {
        refs: [
          { kind: 'erp', value: 'e1' },
          { kind: 'crm', value: 'c9' },
        ],
      },
    };
    expect(parseStandardWebhook(delivery(payload), filtered)).toMatchObject([{ externalIds: ['c9'] }]);
  });

  it('at falls back to receivedAt when the payload has no timestamp, or not a date', () => {
    expect(parseStandardWebhook(delivery({ type: 'contact.updated', data: { id: 'c_1' } }), RULES)).toMatchObject([{ at: RECEIVED_AT }]);
    expect(parseStandardWebhook(delivery({ type: 'contact.updated', timestamp: 'yesterday', data: { id: 'c_1' } }), RULES)).toMatchObject([
      { at: RECEIVED_AT },
    ]);
  });

  it('authoritative: a changed rule yields the records it makes from the payload', () => {
    const payload = { type: 'contact.updated', timestamp: '2026-03-01T11:00:00.000Z', data: { id: 'c_1', email: 'a@example.com' } };
    const seen: [unknown, string][] = [];
    const authoritative = (p: unknown, id: string): ExternalRecord => {
      seen.push([p, id]);
      return { externalId: id, at: '2026-03-01T11:00:00.000Z', fields: { email: 'a@example.com' } };
    };
    expect(parseStandardWebhook(delivery(payload, 'msg_r'), RULES, authoritative)).toEqual([
      {
        kind: 'records',
        eventId: 'msg_r',
        records: [{ externalId: 'c_1', at: '2026-03-01T11:00:00.000Z', fields: { email: 'a@example.com' } }],
      },
    ]);
    expect(seen).toEqual([[payload, 'c_1']]);
  });

  it('authoritative: a deleted rule still yields deleted; a record it cannot make is read back instead', () => {
    const record = (_p: unknown, id: string): ExternalRecord | undefined =>
      id === 'a' ? { externalId: id, at: '2026-03-01T11:00:00.000Z', fields: {} } : undefined;
    expect(parseStandardWebhook(delivery({ type: 'contact.deleted', data: { id: 'a' } }), RULES, record)).toMatchObject([
      { kind: 'deleted', externalIds: ['a'] },
    ]);
    const batch = { type: 'batch.changed', data: { items: [{ id: 'a' }, { id: 'b' }] } };
    expect(parseStandardWebhook(delivery(batch), RULES, record)).toMatchObject([{ kind: 'changed', externalIds: ['a', 'b'] }]);
  });

  const MARKER = 'do-not-echo-4711';
  it.each([
    ['not JSON', `{"type": "contact.updated", ${MARKER}`],
    ['a JSON array', JSON.stringify([{ type: 'contact.updated', data: { id: MARKER } }])],
    ['no type', JSON.stringify({ data: { id: MARKER } })],
    ['a type that is not a string', JSON.stringify({ type: 7, data: { id: MARKER } })],
    ['no id where the rule points', JSON.stringify({ type: 'contact.updated', data: { ref: MARKER } })],
    ['an object id', JSON.stringify({ type: 'contact.updated', data: { id: { v: MARKER } } })],
    ['a boolean id', JSON.stringify({ type: 'contact.updated', data: { id: true }, note: MARKER })],
    ['a null id', JSON.stringify({ type: 'contact.updated', data: { id: null }, note: MARKER })],
    ['an empty id', JSON.stringify({ type: 'contact.updated', data: { id: '' }, note: MARKER })],
    ['one bad id among several', JSON.stringify({ type: 'batch.changed', data: { items: [{ id: 'a' }, { id: [MARKER] }] } })],
  ])('refuses %s with MalformedPayloadError, none of the payload in the message', (_label, body) => {
    const parse = (): unknown => parseStandardWebhook(message({ body }), RULES);
    expect(parse).toThrow(MalformedPayloadError);
    expect(parse).not.toThrow(MARKER);
  });
});

describe('isValidJsonPath', () => {
  it.each(['$', '$.data.id', "$['data']['id']", '$..id', '$.data.items[*].id', '$.data.refs[?@.kind=="crm"].value'])(
    'accepts %s',
    (expression) => {
      expect(isValidJsonPath(expression)).toBe(true);
    },
  );

  it.each(['', 'data.id', '$.', '$[', '$.data.', '$.data[?(@.id)]].x'])('refuses %j', (expression) => {
    expect(isValidJsonPath(expression)).toBe(false);
  });
});

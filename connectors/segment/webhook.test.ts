import { describe, expect, it } from 'vitest';
import type { RawWebhook } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { messageIdOf } from './push.js';
import { parseMessages, segmentSignature, toWebhookEvents, verifySegmentWebhook } from './webhook.js';

const SECRET = 'shared-secret';
const WINDOW = 12 * 3_600_000;
const NOW = '2026-12-04T12:00:00.000Z';

function identify(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'identify',
    messageId: 'ajs-1',
    userId: 'u-1',
    traits: { email: 'a@example.com', newsletter: true },
    timestamp: '2026-12-04T11:59:00.000Z',
    receivedAt: '2026-12-04T11:59:01.000Z',
    ...over,
  };
}

function raw(body: unknown, signWith = SECRET, receivedAt = NOW): RawWebhook {
  const bytes = Buffer.from(JSON.stringify(body));
  return {
    method: 'POST',
    url: 'https://hub.example/webhooks/segment',
    headers: { 'x-signature': segmentSignature(signWith, bytes) },
    body: bytes,
    receivedAt,
  };
}

describe('Segment webhooks', () => {
  it('accepts a body signed with the shared secret, one message or a batch', () => {
    expect(verifySegmentWebhook(SECRET, WINDOW, raw(identify()))).toEqual({ ok: true });
    expect(verifySegmentWebhook(SECRET, WINDOW, raw([identify(), identify({ messageId: 'ajs-2' })]))).toEqual({ ok: true });
  });

  it('refuses another secret, a changed byte, no signature, no secret configured', () => {
    expect(verifySegmentWebhook(SECRET, WINDOW, raw(identify(), 'other'))).toMatchObject({ ok: false });
    const genuine = raw(identify());
    const tampered = Buffer.from(genuine.body);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(verifySegmentWebhook(SECRET, WINDOW, { ...genuine, body: tampered })).toMatchObject({ ok: false });
    expect(verifySegmentWebhook(SECRET, WINDOW, { ...genuine, headers: {} })).toEqual({ ok: false, reason: 'missing X-Signature' });
    expect(verifySegmentWebhook(undefined, WINDOW, genuine)).toMatchObject({ ok: false });
  });

  it('refuses a replay: a signed receivedAt older than the window, or none at all', () => {
    expect(verifySegmentWebhook(SECRET, WINDOW, raw(identify(), SECRET, '2026-12-04T23:59:01.000Z'))).toEqual({ ok: true });
    expect(verifySegmentWebhook(SECRET, WINDOW, raw(identify(), SECRET, '2026-12-04T23:59:02.000Z'))).toEqual({
      ok: false,
      reason: 'stale delivery (received by Segment before the replay window)',
    });
    expect(verifySegmentWebhook(SECRET, WINDOW, raw(identify({ receivedAt: undefined, sentAt: undefined })))).toMatchObject({ ok: false });
  });

  it('turns identifies into records stamped with Segment’s timestamp, keyed by messageId; other types yield nothing', () => {
    const events = toWebhookEvents(
      parseMessages(raw([identify(), { type: 'track', event: 'Clicked', messageId: 'ajs-3', userId: 'u-1' }]).body),
    );
    expect(events).toEqual([
      {
        kind: 'records',
        eventId: 'ajs-1',
        records: [
          { externalId: 'u-1', at: '2026-12-04T11:59:00.000Z', fields: { email: 'a@example.com', newsletter: true }, knownOnly: true },
        ],
      },
    ]);
    // An anonymous identify names no one the hub can know.
    expect(toWebhookEvents(parseMessages(raw(identify({ userId: null, anonymousId: 'anon' })).body))).toEqual([]);
  });

  it('marks the hub’s own events coming back (a hint), by the messageId it made', () => {
    const ours = messageIdOf('scope', { profileId: 'p1', fields: { email: 'a@example.com' } });
    const [event] = toWebhookEvents(parseMessages(raw(identify({ messageId: ours })).body));
    expect(event?.kind === 'records' && event.records[0]?.echo).toBe(true);
  });

  it('throws MalformedPayloadError on a body that is no Segment message', () => {
    for (const body of ['not json', '{"unexpected":true}', '[]', '[{"type":"identify"}]'])
      expect(() => parseMessages(Buffer.from(body))).toThrow(MalformedPayloadError);
  });
});

describe('Segment messageId', () => {
  const record = {
    profileId: 'p1',
    fields: { firstName: 'Ada', email: 'a@example.com' },
    valuesAt: { firstName: '2026-12-01T00:00:00.000Z' },
  };

  it('is the same for a retry of the same change, whatever the key order', () => {
    const again = {
      profileId: 'p1',
      fields: { email: 'a@example.com', firstName: 'Ada' },
      valuesAt: { firstName: '2026-12-01T00:00:00.000Z' },
    };
    expect(messageIdOf('s', again)).toBe(messageIdOf('s', record));
    expect(messageIdOf('s', record)).toMatch(/^concord-[\w-]{32}$/);
  });

  it('differs for another value, the same value chosen again later, another profile or another hub', () => {
    const id = messageIdOf('s', record);
    expect(messageIdOf('s', { ...record, fields: { ...record.fields, firstName: 'Grace' } })).not.toBe(id);
    expect(messageIdOf('s', { ...record, valuesAt: { firstName: '2026-12-02T00:00:00.000Z' } })).not.toBe(id);
    expect(messageIdOf('s', { ...record, profileId: 'p2' })).not.toBe(id);
    expect(messageIdOf('t', record)).not.toBe(id);
  });
});

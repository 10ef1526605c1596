import { describe, expect, it } from 'vitest';
import { MAX_WEBHOOK_BODY_BYTES, OutboundWebhookMessageError, toDeliveries } from './messages.js';

const message = (id: string, data: unknown = { n: 1 }) => ({
  id,
  type: 'profile.updated',
  data: JSON.parse(JSON.stringify(data)),
  at: '2026-01-01T00:00:00.000Z',
});

describe('toDeliveries', () => {
  it('stores the Standard Webhooks body {type, timestamp, data}, the first message of each id', () => {
    expect(toDeliveries([message('msg_1'), message('msg_2', { n: 2 }), message('msg_1', { n: 3 })])).toEqual([
      {
        messageId: 'msg_1',
        type: 'profile.updated',
        body: '{"type":"profile.updated","timestamp":"2026-01-01T00:00:00.000Z","data":{"n":1}}',
      },
      {
        messageId: 'msg_2',
        type: 'profile.updated',
        body: '{"type":"profile.updated","timestamp":"2026-01-01T00:00:00.000Z","data":{"n":2}}',
      },
    ]);
  });

  it.each(['', 'msg.1', 'msg 1', 'é', 'x'.repeat(257)])('refuses the id %j (webhook-id is signed as id.timestamp.body)', (id) => {
    expect(() => toDeliveries([message(id)])).toThrow(OutboundWebhookMessageError);
  });

  it('refuses an empty type and a body over the limit', () => {
    expect(() => toDeliveries([{ ...message('a'), type: ' ' }])).toThrow(OutboundWebhookMessageError);
    expect(() => toDeliveries([message('big', { s: 'x'.repeat(MAX_WEBHOOK_BODY_BYTES) })])).toThrow(/over/);
    expect(() => toDeliveries([message('big')])).not.toThrow();
  });
});

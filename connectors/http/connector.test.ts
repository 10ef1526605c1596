import { describe, expect, it } from 'vitest';
import type { RawWebhook } from '../../src/connector/define.js';
import { silentLogger } from '../../src/log/logger.js';
import { HttpConfig } from './config.js';
import { createHttpInstance } from './connector.js';

/** An instance taking `contact.*` webhooks whose payload is authoritative at `$.data[*]` (an event may name several records). */
function authoritativeInstance() {
  const config = HttpConfig.parse({
    baseUrl: 'https://crm.example.com',
    record: { id: 'id', updatedAt: 'updated_at' },
    read: { get: { path: '/contacts/{id}', record: '$.data' } },
    webhooks: {
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      events: [
        { type: 'contacts.updated', id: '$.data[*].id' },
        { type: 'contact.updated', id: '$.subject' },
      ],
      authoritativeRecord: '$.data[*]',
    },
  });
  const instance = createHttpInstance({ instanceId: 'crm', logger: silentLogger(), config });
  return (payload: unknown, id = 'msg_1') => {
    const raw: RawWebhook = {
      method: 'POST',
      url: '/webhooks/crm',
      headers: { 'webhook-id': id },
      body: Buffer.from(JSON.stringify(payload)),
      receivedAt: '2026-12-01T10:00:05.000Z',
    };
    return instance.parse?.(raw);
  };
}

describe('http connector: an authoritative webhook payload', () => {
  it('gives each id named the record with that id, among several, the payload timestamp standing in for a missing change time', () => {
    const parse = authoritativeInstance();
    const events = parse({
      type: 'contacts.updated',
      timestamp: '2026-12-01T10:00:00.000Z',
      data: [
        { id: 'a', email: 'a@example.com', updated_at: '2026-12-01T09:00:00.000Z', optin: true },
        { id: 'b', email: 'b@example.com', optin: false },
      ],
    });
    expect(events).toEqual([
      {
        kind: 'records',
        eventId: 'msg_1',
        records: [
          {
            externalId: 'a',
            at: '2026-12-01T09:00:00.000Z',
            fields: { id: 'a', email: 'a@example.com', updated_at: '2026-12-01T09:00:00.000Z', optin: true },
          },
          { externalId: 'b', at: '2026-12-01T10:00:00.000Z', fields: { id: 'b', email: 'b@example.com', optin: false } },
        ],
      },
    ]);
  });

  it('reads the ids back, rather than fail, when a record is missing or malformed', () => {
    const parse = authoritativeInstance();
    // No timestamp to stand in for b's change time, and no record for c.
    expect(parse({ type: 'contacts.updated', data: [{ id: 'a', updated_at: '2026-12-01T09:00:00.000Z' }, { id: 'b' }] }, 'msg_2')).toEqual([
      { kind: 'changed', eventId: 'msg_2', externalIds: ['a', 'b'], at: '2026-12-01T10:00:05.000Z' },
    ]);
    // The event names c; the payload holds a only.
    const payload = {
      type: 'contact.updated',
      timestamp: '2026-12-01T10:00:00.000Z',
      subject: 'c',
      data: [{ id: 'a', updated_at: '2026-12-01T09:00:00.000Z' }],
    };
    expect(parse(payload, 'msg_3')).toEqual([{ kind: 'changed', eventId: 'msg_3', externalIds: ['c'], at: '2026-12-01T10:00:00.000Z' }]);
  });
});

describe('http connector: find', () => {
  it('says it can search by nothing without read.find, read.findPhone, read.get or export, and makes no call', async () => {
    const config = HttpConfig.parse({ baseUrl: 'https://crm.example.com', record: { id: 'id', updatedAt: 'updated_at' } });
    const instance = createHttpInstance({ instanceId: 'crm', logger: silentLogger(), config });
    const signal = new AbortController().signal;
    // A data-subject request then records these identities as not searchable here, never as "not found".
    expect(instance.findsBy).toEqual([]);
    // baseUrl is not reachable from a test (a call would fail instead of answering).
    await expect(instance.find?.([{ emails: ['a@example.com'], phones: ['+15550100'], externalIds: ['x'] }], signal)).resolves.toEqual([
      [],
    ]);
  });
});

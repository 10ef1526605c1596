import { describe, expect, it } from 'vitest';
import type { RawWebhook, WebhookEvent } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { createHubSpotInstance } from './connector.js';
import { HubSpotConfig } from './config.js';
import { canonicalUri, parseHubSpotEvents, signV3, toWebhookEvents, verifyHubSpotSignature, type HubSpotWebhookEvent } from './webhook.js';
import { silentLogger } from '../../src/log/logger.js';

const SECRET = 'client-secret-abc';
const URL_ = 'https://hub.example.com/webhooks/hubspot';
const NOW = Date.parse('2026-11-29T12:00:00.000Z');

function event(overrides: Partial<HubSpotWebhookEvent> = {}): HubSpotWebhookEvent {
  return {
    eventId: 1,
    subscriptionId: 10,
    portalId: 62515,
    appId: 777,
    occurredAt: NOW - 1000,
    subscriptionType: 'contact.propertyChange',
    attemptNumber: 0,
    objectId: 501,
    propertyName: 'firstname',
    propertyValue: 'Ada',
    changeSource: 'CRM_UI',
    ...overrides,
  };
}

function signed(body: string, options: { secret?: string; uri?: string; timestamp?: number; url?: string } = {}): RawWebhook {
  const timestamp = String(options.timestamp ?? NOW - 2000);
  const signature = signV3({ clientSecret: options.secret ?? SECRET, method: 'POST', uri: options.uri ?? URL_, body, timestamp });
  return {
    method: 'POST',
    url: options.url ?? URL_,
    headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp },
    body: Buffer.from(body, 'utf8'),
    receivedAt: new Date(NOW).toISOString(),
  };
}

describe('HubSpot signature v3', () => {
  const body = JSON.stringify([event()]);

  it('accepts a valid request', () => {
    expect(verifyHubSpotSignature(signed(body), { clientSecret: SECRET })).toEqual({ ok: true });
  });

  it('refuses a tampered body', () => {
    const raw = signed(body);
    raw.body = Buffer.from(body.replace('Ada', 'Eve'), 'utf8');
    expect(verifyHubSpotSignature(raw, { clientSecret: SECRET })).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses a request signed with another secret', () => {
    expect(verifyHubSpotSignature(signed(body, { secret: 'someone-else' }), { clientSecret: SECRET }).ok).toBe(false);
  });

  it('refuses a stale timestamp (older than 5 minutes), even with a valid signature', () => {
    const raw = signed(body, { timestamp: NOW - 5 * 60_000 - 1 });
    expect(verifyHubSpotSignature(raw, { clientSecret: SECRET })).toEqual({ ok: false, reason: 'timestamp outside the 5-minute window' });
    expect(verifyHubSpotSignature(signed(body, { timestamp: NOW - 5 * 60_000 + 1000 }), { clientSecret: SECRET }).ok).toBe(true);
  });

  it('refuses a missing signature or timestamp', () => {
    const raw = signed(body);
    delete raw.headers['x-hubspot-signature-v3'];
    expect(verifyHubSpotSignature(raw, { clientSecret: SECRET }).ok).toBe(false);
  });

  it('covers the exact URI, query string included, with the encodings HubSpot decodes', () => {
    const withQuery = 'https://hub.example.com/webhooks/hubspot?tenant=eu%3Awest&x=a%2Cb';
    const raw = signed(body, { uri: withQuery, url: withQuery });
    expect(verifyHubSpotSignature(raw, { clientSecret: SECRET }).ok).toBe(true);
    // The same request presented without its query string does not verify.
    expect(verifyHubSpotSignature({ ...raw, url: URL_ }, { clientSecret: SECRET }).ok).toBe(false);
    // HubSpot signs %3A and %2C decoded, so the decoded form signs the same.
    expect(canonicalUri(withQuery)).toBe('https://hub.example.com/webhooks/hubspot?tenant=eu:west&x=a,b');
    const decodedSigner = signed(body, { uri: 'https://hub.example.com/webhooks/hubspot?tenant=eu:west&x=a,b', url: withQuery });
    expect(verifyHubSpotSignature(decodedSigner, { clientSecret: SECRET }).ok).toBe(true);
    // A configured target URL wins over the URL the request arrived at (e.g. behind a proxy).
    const proxied = { ...raw, url: 'http://10.0.0.5:8080/webhooks/hubspot' };
    expect(verifyHubSpotSignature(proxied, { clientSecret: SECRET, webhookUrl: withQuery }).ok).toBe(true);
  });

  it('drops a replayed event id once the first delivery was handled, but not before', async () => {
    const config = HubSpotConfig.parse({ accessToken: 't', webhookSecret: SECRET, baseUrl: 'http://127.0.0.1:9' });
    const instance = await createHubSpotInstance({ instanceId: 'hubspot', config, logger: silentLogger() });
    // E-mail changes: only read (a plain property's change would carry its value as well).
    const raw = signed(
      JSON.stringify([event({ eventId: 42, propertyName: 'email' }), event({ eventId: 43, objectId: 502, propertyName: 'email' })]),
    );
    expect(await instance.verify?.(raw)).toEqual({ ok: true });
    const first = (await instance.parse?.(raw)) ?? [];
    expect(first.map((e) => e.eventId).sort()).toEqual(['42', '43']);
    // Not yet confirmed (the engine has not enqueued them): a retry is still processed.
    expect(((await instance.parse?.(raw)) ?? []).length).toBe(2);
    instance.reply?.(first);
    expect(await instance.parse?.(raw)).toEqual([]);
    // A redelivery with one new event keeps only the new one.
    const mixed = signed(
      JSON.stringify([event({ eventId: 42, propertyName: 'email' }), event({ eventId: 44, objectId: 503, propertyName: 'email' })]),
    );
    expect(((await instance.parse?.(mixed)) ?? []).map((e) => e.eventId)).toEqual(['44']);
  });
});

describe('HubSpot webhook events', () => {
  const kinds = (events: WebhookEvent[]): string[] => events.map((e) => e.kind).sort();

  it('groups a contact’s changes into one changed event, marked echo only when all came from our app', () => {
    const own = { changeSource: 'INTEGRATION', sourceId: '777' };
    const mapped = toWebhookEvents(
      [
        event({ eventId: 1, objectId: 1, subscriptionType: 'contact.creation', ...own }),
        event({ eventId: 2, objectId: 1, ...own }),
        event({ eventId: 3, objectId: 2, ...own }),
        event({ eventId: 4, objectId: 2, changeSource: 'CRM_UI' }),
        event({ eventId: 5, objectId: 3, changeSource: 'INTEGRATION', sourceId: '999' }),
      ],
      { appId: 777 },
    );
    const byId = new Map(mapped.map((m) => [m.event.kind === 'changed' ? m.event.externalIds[0] : '', m]));
    expect(byId.get('1')?.event).toMatchObject({ kind: 'changed', echo: true });
    expect(byId.get('1')?.hubspotEventIds).toEqual([1, 2]);
    expect(byId.get('2')?.event).not.toHaveProperty('echo');
    expect(byId.get('3')?.event).not.toHaveProperty('echo');
    // Without a configured app id nothing is an echo.
    expect(toWebhookEvents([event({ ...own })], {}).every((m) => !('echo' in m.event))).toBe(true);
  });

  // Chaos (e): a marketer's lastname, made 50 ms before our push of an older value landed, was
  // read back after the push: only our value was left to see, and the marketer's newer edit lost.
  it('a change of a plain mapped property by someone else carries its value and time; the contact is named changed as well', () => {
    const valueProperties = new Set(['firstname', 'lastname']);
    const mapped = toWebhookEvents(
      [
        event({ eventId: 21, objectId: 5, propertyName: 'lastname', propertyValue: 'L67', occurredAt: NOW - 500 }),
        event({ eventId: 22, objectId: 5, propertyName: 'email', propertyValue: 'x@example.com' }),
        event({ eventId: 23, objectId: 6, propertyName: 'firstname', propertyValue: 'Ours', changeSource: 'INTEGRATION', sourceId: '777' }),
        event({ eventId: 24, objectId: 7, propertyName: 'firstname', propertyValue: '' }),
      ],
      { appId: 777, valueProperties },
    );
    const records = mapped.flatMap((m) => (m.event.kind === 'records' ? m.event.records : []));
    const at = new Date(NOW - 500).toISOString();
    expect(records).toEqual([
      { externalId: '5', at, fields: { lastname: 'L67' }, fieldsAt: { lastname: at }, knownOnly: true, echo: false },
    ]);
    expect(mapped.find((m) => m.event.kind === 'records')?.hubspotEventIds).toEqual([21]);
    expect(kinds(mapped.map((m) => m.event))).toEqual(['changed', 'changed', 'changed', 'records']);
  });

  it('asks for a read only of unknown contacts when every change carries its value; any other change reads the contact', () => {
    const valueProperties = new Set(['firstname', 'lastname', 'renewal_date']);
    const own = { changeSource: 'INTEGRATION', sourceId: '777' };
    const mapped = toWebhookEvents(
      [
        // 1: two plain properties by someone else; 2: one of them with our own change of the e-mail.
        event({ eventId: 41, objectId: 1, propertyName: 'firstname', propertyValue: 'Ada' }),
        event({ eventId: 42, objectId: 1, propertyName: 'lastname', propertyValue: 'Lovelace' }),
        event({ eventId: 43, objectId: 2, propertyName: 'firstname', propertyValue: 'Grace' }),
        event({ eventId: 44, objectId: 2, propertyName: 'email', propertyValue: 'g@example.com', ...own }),
        // 3: an identity; 4: a plain property cleared (no value to carry); 5: a creation; 6: an opt-in mirror turning "false".
        event({ eventId: 45, objectId: 3, propertyName: 'firstname', propertyValue: 'Alan' }),
        event({ eventId: 46, objectId: 3, propertyName: 'email', propertyValue: 'a@example.com' }),
        event({ eventId: 47, objectId: 4, propertyName: 'lastname', propertyValue: '' }),
        event({ eventId: 48, objectId: 5, subscriptionType: 'contact.creation' }),
        event({ eventId: 49, objectId: 5, propertyName: 'firstname', propertyValue: 'New' }),
        event({ eventId: 50, objectId: 6, propertyName: 'hs_email_optout_101', propertyValue: 'false' }),
        // 7: an unsubscription; 8: a restore; 9: an account's own property (a date, formatted
        // otherwise in webhooks); 10: an unsubscription from a type the hub does not sync.
        event({ eventId: 51, objectId: 7, propertyName: 'hs_email_optout_101', propertyValue: 'true' }),
        event({ eventId: 52, objectId: 8, subscriptionType: 'contact.restore' }),
        event({ eventId: 53, objectId: 9, propertyName: 'renewal_date', propertyValue: '1430438400000' }),
        event({ eventId: 54, objectId: 10, propertyName: 'hs_email_optout_202', propertyValue: 'true' }),
      ],
      { appId: 777, valueProperties, subscriptionIds: new Set([101]) },
    ).map((m) => m.event);
    const changed = new Map(mapped.flatMap((e) => (e.kind === 'changed' ? [[e.externalIds[0], e] as const] : [])));
    for (const id of ['1', '2', '7']) expect(changed.get(id), id).toMatchObject({ readIfUnknown: true });
    for (const id of ['3', '4', '5', '6', '8', '9', '10']) expect(changed.get(id), id).not.toHaveProperty('readIfUnknown');
    // Their values come with the webhook: Ada's two, Grace's (not our e-mail), Alan's and New's
    // first names, the unsubscription and the date (carried as before, and read).
    const values = mapped.flatMap((e) => (e.kind === 'records' ? e.records.map((r) => [r.externalId, r.fields] as const) : []));
    expect(values).toEqual([
      ['1', { firstname: 'Ada' }],
      ['1', { lastname: 'Lovelace' }],
      ['2', { firstname: 'Grace' }],
      ['3', { firstname: 'Alan' }],
      ['5', { firstname: 'New' }],
      ['7', { 'subscription:101': 'UNSUBSCRIBED' }],
      ['9', { renewal_date: '1430438400000' }],
    ]);
  });

  // Chaos (e): a marketer unsubscribed 37 ms before our push of an older SUBSCRIBED landed; the
  // read-back showed only our value, and the unsubscription was lost everywhere.
  it('an unsubscription by someone else (hs_email_optout_<id> turning true) carries its status and time; "false" carries nothing', () => {
    const subscriptionIds = new Set([101]);
    const mapped = toWebhookEvents(
      [
        event({ eventId: 31, objectId: 5, propertyName: 'hs_email_optout_101', propertyValue: 'true', occurredAt: NOW - 300 }),
        event({ eventId: 32, objectId: 6, propertyName: 'hs_email_optout_101', propertyValue: 'false' }),
        event({ eventId: 33, objectId: 7, propertyName: 'hs_email_optout_202', propertyValue: 'true' }),
        event({
          eventId: 34,
          objectId: 8,
          propertyName: 'hs_email_optout_101',
          propertyValue: 'true',
          changeSource: 'INTEGRATION',
          sourceId: '777',
        }),
      ],
      { appId: 777, subscriptionIds },
    );
    const records = mapped.flatMap((m) => (m.event.kind === 'records' ? m.event.records : []));
    const at = new Date(NOW - 300).toISOString();
    expect(records).toEqual([
      {
        externalId: '5',
        at,
        fields: { 'subscription:101': 'UNSUBSCRIBED' },
        fieldsAt: { 'subscription:101': at },
        knownOnly: true,
        echo: false,
      },
    ]);
    expect(kinds(mapped.map((m) => m.event))).toEqual(['changed', 'changed', 'changed', 'changed', 'records']);
  });

  it('maps deletion, privacyDeletion (erasure) and merge', () => {
    const mapped = toWebhookEvents(
      [
        event({ eventId: 7, subscriptionType: 'contact.deletion', objectId: 9 }),
        event({ eventId: 8, subscriptionType: 'contact.privacyDeletion', objectId: 10 }),
        event({ eventId: 9, subscriptionType: 'contact.merge', objectId: 11, primaryObjectId: 11, mergedObjectIds: [12], newObjectId: 11 }),
        event({ eventId: 10, subscriptionType: 'contact.associationChange', objectId: 13 }),
      ],
      {},
    ).map((m) => m.event);
    expect(kinds(mapped)).toEqual(['deleted', 'erase', 'merge']);
    expect(mapped.find((e) => e.kind === 'erase')).toMatchObject({ externalIds: ['10'], at: new Date(NOW - 1000).toISOString() });
    expect(mapped.find((e) => e.kind === 'merge')).toMatchObject({ winnerId: '11', loserIds: ['12'] });
  });

  it('takes our own GDPR delete coming back for no erasure request', () => {
    const mapped = toWebhookEvents(
      [
        event({ eventId: 8, subscriptionType: 'contact.privacyDeletion', objectId: 10, changeSource: 'INTEGRATION', sourceId: '777' }),
        event({ eventId: 9, subscriptionType: 'contact.privacyDeletion', objectId: 11, changeSource: 'CRM_UI', sourceId: 'userId:1' }),
      ],
      { appId: 777 },
    ).map((m) => m.event);
    expect(mapped).toEqual([expect.objectContaining({ kind: 'erase', externalIds: ['11'] })]);
  });

  it('treats a merge into a new record as both old ids losing', () => {
    const [m] = toWebhookEvents(
      [event({ subscriptionType: 'contact.merge', primaryObjectId: 1, mergedObjectIds: [2], newObjectId: 3 })],
      {},
    );
    expect(m?.event).toMatchObject({ kind: 'merge', winnerId: '3', loserIds: ['2', '1'] });
  });

  it('refuses bodies that are not a JSON event array', () => {
    expect(() => parseHubSpotEvents(Buffer.from('not json'))).toThrow(MalformedPayloadError);
    expect(() => parseHubSpotEvents(Buffer.from('{"eventId":1}'))).toThrow(MalformedPayloadError);
    expect(() => parseHubSpotEvents(Buffer.from('[{"eventId":"x"}]'))).toThrow(MalformedPayloadError);
    expect(parseHubSpotEvents(Buffer.from(JSON.stringify([event({ changeFlag: 'NEW' })])))[0]?.changeFlag).toBe('NEW');
  });
});

/**
 * What a signed HubSpot webhook may make the hub do, through the real server: the signature is
 * checked against the URL configured for the hub (its publicUrl), never one the request names in
 * its Host header; and a privacy deletion starts an erasure only for a contact that HubSpot has,
 * or that is gone from HubSpot and known to the hub.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { signV3 } from '../../../connectors/hubspot/signature.js';
import { HUBSPOT_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

let nextEventId = 9_000_000;

/** One HubSpot event array, signed v3 for `signedUrl` as HubSpot signs it. */
function signedDelivery(signedUrl: string, events: Record<string, unknown>[]): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(
    events.map((e) => ({
      eventId: nextEventId++,
      subscriptionId: 1,
      portalId: 1,
      appId: 8088,
      occurredAt: Date.now(),
      attemptNumber: 0,
      changeSource: 'CRM_UI',
      ...e,
    })),
  );
  const timestamp = String(Date.now());
  const signature = signV3({ clientSecret: HUBSPOT_SECRET, method: 'POST', uri: signedUrl, body, timestamp });
  return {
    body,
    headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp },
  };
}

describe('HubSpot webhook signatures', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('verify against publicUrl: a request signed for another address of the same app is refused whatever its Host says', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    const event = { subscriptionType: 'contact.propertyChange', objectId: 1234, propertyName: 'firstname', propertyValue: 'Mallory' };
    // Signed for a staging hub of the same HubSpot app, replayed here with the staging Host.
    const replay = signedDelivery('http://staging.example.net/webhooks/hubspot', [event]);
    const refused = await h.app.inject({
      method: 'POST',
      url: '/webhooks/hubspot',
      headers: { ...replay.headers, host: 'staging.example.net' },
      payload: replay.body,
    });
    expect(refused.statusCode).toBe(401);
    // Signed for this hub's public URL: accepted, whatever Host the proxy in front of it sends.
    const genuine = signedDelivery(`${h.url}/webhooks/hubspot`, [event]);
    const accepted = await h.app.inject({
      method: 'POST',
      url: '/webhooks/hubspot',
      headers: { ...genuine.headers, host: 'internal-lb.local:8080' },
      payload: genuine.body,
    });
    expect(accepted.statusCode).toBe(200);
  });

  /** Posts a signed `contact.privacyDeletion` for `objectId` to the hub, as HubSpot would. */
  async function privacyDeletion(h: PrivacyHub, objectId: number): Promise<number> {
    const delivery = signedDelivery(`${h.url}/webhooks/hubspot`, [{ subscriptionType: 'contact.privacyDeletion', objectId }]);
    const response = await fetch(`${h.url}/webhooks/hubspot`, { method: 'POST', headers: delivery.headers, body: delivery.body });
    return response.status;
  }

  /** Waits for an audit row of `action` (the privacy workers answer asynchronously). */
  async function auditRow(h: PrivacyHub, action: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = (await h.store.listAudit({ limit: 1000 })).find((a) => a.action === action);
      if (row) return row.detail;
      if (Date.now() > deadline) throw new Error(`no audit row ${action}`);
      await sleep(50);
    }
  }

  it('a privacy deletion of a contact neither HubSpot nor the hub knows starts no erasure: HubSpot is asked first', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    expect(await privacyDeletion(h, 987_654_321)).toBe(200);
    await h.settle();
    expect(await h.privacy.list({ kind: 'erase' })).toEqual([]);
    // HubSpot was read back and does not have it: the request is set aside, and said so.
    expect(await auditRow(h, 'dsr.source_request.ignored')).toMatchObject({
      connector: 'hubspot',
      externalId: '987654321',
      reason: 'unknown_record',
    });
    expect(await h.privacy.list({ kind: 'erase' })).toEqual([]);
    expect(await h.db.count('suppression')).toBe(0);
  });

  it('a privacy deletion of a contact HubSpot still has, unknown to the hub, starts an erasure once HubSpot confirms the contact', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    const h = hub;
    h.hubspot.sideDoor.pauseWebhooks();
    const contact = h.hubspot.sideDoor.createContact({ email: 'grace@example.com', firstname: 'Grace' });
    expect(await privacyDeletion(h, Number(contact.id))).toBe(200);
    const deadline = Date.now() + 15_000;
    let requests = await h.privacy.list({ kind: 'erase' });
    while (requests.length === 0 && Date.now() < deadline) {
      await sleep(50);
      requests = await h.privacy.list({ kind: 'erase' });
    }
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ origin: 'hubspot' });
    await h.waitFor(requests[0]?.id ?? '', (v) => v.status === 'completed');
    expect(h.hubspot.sideDoor.getContact(contact.id)).toBeUndefined();
  });
});

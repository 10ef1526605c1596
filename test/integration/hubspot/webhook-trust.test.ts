/**
 * What a signed HubSpot webhook may make the hub do, through the real server: the signature is
 * checked against the URL configured for the hub (its publicUrl), never one the request names in
 * its Host header.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signV3 } from '../../../connectors/hubspot/signature.js';
import { HUBSPOT_SECRET, startPrivacyHub, type PrivacyHub } from '../privacy/harness.js';

let nextEventId = 9_000_000;

/** One HubSpot event array, signed v3 for `signedUrl` as HubSpot signs it. */
function signedDelivery(signedUrl: string, events: Record<string, unknown>[]): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(
    events.map((e) => ({ eventId: nextEventId++, subscriptionId: 1, portalId: 1, appId: 8088, occurredAt: Date.now(), attemptNumber: 0, changeSource: 'CRM_UI', ...e })),
  );
  const timestamp = String(Date.now());
  const signature = signV3({ clientSecret: HUBSPOT_SECRET, method: 'POST', uri: signedUrl, body, timestamp });
  return { body, headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp } };
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
    const refused = await h.app.inject({ method: 'POST', url: '/webhooks/hubspot', headers: { ...replay.headers, host: 'staging.example.net' }, payload: replay.body });
    expect(refused.statusCode).toBe(401);
    // Signed for this hub's public URL: accepted, whatever Host the proxy in front of it sends.
    const genuine = signedDelivery(`${h.url}/webhooks/hubspot`, [event]);
    const accepted = await h.app.inject({ method: 'POST', url: '/webhooks/hubspot', headers: { ...genuine.headers, host: 'internal-lb.local:8080' }, payload: genuine.body });
    expect(accepted.statusCode).toBe(200);
  });
});

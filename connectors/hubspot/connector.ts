/**
 * The HubSpot connector: contacts (CRM v3) and e-mail subscription statuses (communication
 * preferences v4), both ways, with signed webhooks and GDPR deletion. Every call goes through
 * the official client, `@hubspot/api-client`. See README.md beside this file.
 */
import { defineConnector, type ConnectorContext, type ConnectorInstance, type EraseOutcome, type EraseRef, type ExternalRecord } from '../../src/connector/define.js';
import { isRetryable, RejectedError } from '../../src/connector/errors.js';
import { HubSpotApi, redactEmails } from './api.js';
import { HUBSPOT_SECRET_KEYS, HubSpotConfig, HubSpotCursor } from './config.js';
import { hubspotDefaultMappings } from './mapping.js';
import { pullContacts } from './pull.js';
import { HubSpotPusher } from './push.js';
import { HubSpotReader } from './read.js';
import { EventIdMemory, parseHubSpotEvents, toWebhookEvents, verifyHubSpotSignature } from './webhook.js';

/** Events parsed but not yet confirmed by `reply`, bounded so a stream of failures cannot grow it. */
const MAX_PENDING = 10_000;

export interface HubSpotRuntime {
  /** Clock (tests). */
  now?: () => number;
}

export function createHubSpotInstance(ctx: ConnectorContext<HubSpotConfig>, runtime: HubSpotRuntime = {}): ConnectorInstance<HubSpotCursor> {
  const { config, logger } = ctx;
  const now = runtime.now ?? Date.now;
  const api = new HubSpotApi(config, ctx, now);
  const reader = new HubSpotReader(api, config);
  const pusher = new HubSpotPusher(api, reader, config);
  const handled = new EventIdMemory();
  const pending = new Map<string, number[]>();

  async function recordsOf(found: Awaited<ReturnType<HubSpotReader['readContacts']>>, signal: AbortSignal): Promise<ExternalRecord[]> {
    const records = await reader.toRecords(found.found, signal);
    const at = new Date(now()).toISOString();
    return [...records, ...found.missing.map((id) => ({ externalId: id, at, fields: {}, deleted: true }))];
  }

  /** https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-gdpr-delete */
  async function gdprDelete(objectId: string, idProperty: 'email' | undefined, signal: AbortSignal): Promise<void> {
    await api.call('standard', signal, () =>
      api.client.crm.contacts.basicApi.purgeWithHttpInfo({ objectId, ...(idProperty ? { idProperty } : {}) }),
    );
  }

  async function eraseOne(ref: EraseRef, signal: AbortSignal): Promise<EraseOutcome> {
    if (ref.externalId) {
      try {
        await gdprDelete(ref.externalId, undefined, signal);
        return { status: 'erased', ref };
      } catch (err) {
        if (!(err instanceof RejectedError && err.status === 404)) throw err;
        if (!ref.email) return { status: 'not_found', ref };
      }
    }
    if (!ref.email) return { status: 'failed', ref, reason: 'neither an external id nor an e-mail to erase by', retryable: false };
    // An address no contact has is blocklisted by HubSpot, which is what an erasure wants.
    await gdprDelete(ref.email, 'email', signal);
    return { status: 'erased', ref };
  }

  return {
    pull(cursor, signal) {
      return pullContacts({ api, reader, config, logger, now }, cursor, signal);
    },

    push(batch, signal) {
      return pusher.push(batch, signal);
    },

    async read(externalIds, signal) {
      return recordsOf(await reader.readContacts(externalIds, signal), signal);
    },

    async erase(refs, signal) {
      const out: EraseOutcome[] = [];
      for (const ref of refs) {
        try {
          out.push(await eraseOne(ref, signal));
        } catch (err) {
          const reason = redactEmails(err instanceof Error ? err.message : String(err)).slice(0, 300);
          out.push({ status: 'failed', ref, reason, retryable: isRetryable(err) });
        }
      }
      return out;
    },

    async export(refs, signal) {
      const byId = await reader.readContacts(refs.flatMap((r) => (r.externalId ? [r.externalId] : [])), signal);
      const byEmail = await reader.readContacts(refs.flatMap((r) => (!r.externalId && r.email ? [r.email] : [])), signal, 'email');
      const contacts = [...byId.found, ...byEmail.found.filter((c) => !byId.found.some((f) => f.id === c.id))];
      return reader.toRecords(contacts, signal);
    },

    verify(raw) {
      return verifyHubSpotSignature(raw, { clientSecret: config.webhookSecret, ...(config.webhookUrl ? { webhookUrl: config.webhookUrl } : {}) });
    },

    parse(raw) {
      const fresh = parseHubSpotEvents(raw.body).filter((e) => !handled.has(e.eventId));
      const mapped = toWebhookEvents(fresh, config.appId === undefined ? {} : { appId: config.appId });
      for (const m of mapped) pending.set(m.event.eventId, m.hubspotEventIds);
      while (pending.size > MAX_PENDING) {
        const oldest = pending.keys().next();
        if (oldest.done) break;
        pending.delete(oldest.value);
      }
      return mapped.map((m) => m.event);
    },

    reply(events) {
      // The events are safely enqueued: a redelivery of them can now be dropped.
      for (const e of events) {
        handled.remember(pending.get(e.eventId) ?? []);
        pending.delete(e.eventId);
      }
      return { status: 200 };
    },
  };
}

export default defineConnector<HubSpotConfig, HubSpotCursor>({
  type: 'hubspot',
  configSchema: HubSpotConfig,
  cursorSchema: HubSpotCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true },
  // One push or pull page is one or two HubSpot calls; the connector paces the calls themselves.
  limits: { requestsPerWindow: 100, windowMs: 10_000, maxBatch: 100, concurrency: 2 },
  defaultMappings: hubspotDefaultMappings,
  secretKeys: HUBSPOT_SECRET_KEYS,
  create: (ctx) => createHubSpotInstance(ctx),
});

/**
 * The HubSpot connector: contacts (CRM v3) and e-mail subscription statuses (communication
 * preferences v4), both ways, with signed webhooks and GDPR deletion. Every call goes through
 * the official client, `@hubspot/api-client`. See README.md beside this file.
 */
import { defineConnector, type ConnectorContext, type ConnectorInstance, type EraseOutcome, type EraseRef } from '../../src/connector/define.js';
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

  /** https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-gdpr-delete */
  async function gdprDelete(objectId: string, idProperty: 'email' | undefined, signal: AbortSignal): Promise<void> {
    await api.call('standard', signal, () =>
      api.client.crm.contacts.basicApi.purgeWithHttpInfo({ objectId, ...(idProperty ? { idProperty } : {}) }),
    );
  }

  async function eraseOne(ref: EraseRef, known: ReadonlySet<string>, signal: AbortSignal): Promise<EraseOutcome> {
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
    // Deleting an address no contact has still blocklists it in HubSpot, which an erasure wants.
    await gdprDelete(ref.email, 'email', signal);
    return { status: known.has(ref.email.trim().toLowerCase()) ? 'erased' : 'not_found', ref };
  }

  return {
    pull(cursor, signal) {
      return pullContacts({ api, reader, config, logger, now }, cursor, signal);
    },

    push(batch, signal) {
      return pusher.push(batch, signal);
    },

    async read(externalIds, signal) {
      // Ids HubSpot does not know are left out; a merged-away id answers with the winner.
      return reader.toRecords((await reader.readContacts(externalIds, signal)).found, signal);
    },

    async erase(refs, signal) {
      const out: EraseOutcome[] = [];
      // Which addresses have a contact, to tell "erased" from "not found" (one call for all).
      let known = new Set<string>();
      try {
        const emails = refs.flatMap((r) => (r.email ? [r.email] : []));
        const { found } = await reader.readContacts(emails, signal, 'email');
        known = new Set(found.flatMap((c) => [c.properties.email ?? '', ...(c.properties.hs_additional_emails ?? '').split(';')]).map((e) => e.toLowerCase()));
      } catch (err) {
        if (!isRetryable(err)) throw err;
      }
      for (const ref of refs) {
        try {
          out.push(await eraseOne(ref, known, signal));
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

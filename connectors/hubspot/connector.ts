/**
 * The HubSpot connector: contacts (CRM v3) and e-mail subscription statuses (communication
 * preferences v4), both ways, with signed webhooks and GDPR deletion. Every call goes through
 * the official client, `@hubspot/api-client`. See README.md beside this file.
 */
import { chunks, WebhookAcks } from '../../src/connector/kit/index.js';
import { defineConnector, type ConnectorContext, type ConnectorInstance } from '../../src/connector/define.js';
import { HubSpotApi } from './api.js';
import { HUBSPOT_SECRET_KEYS, HubSpotConfig, HubSpotCursor } from './config.js';
import { HubSpotEraser } from './erase.js';
import { HubSpotFinder } from './find.js';
import { HubSpotExporter } from './export.js';
import { derivedSubscriptionMappings, HUBSPOT_OPT_OUT_PROPERTIES, hubspotDefaultMappings } from './mapping.js';
import { pullContacts } from './pull.js';
import { HubSpotPusher } from './push.js';
import { BATCH, HubSpotReader, valueProperties } from './read.js';
import { parseHubSpotEvents, toWebhookEvents, verifyHubSpotSignature } from './webhook.js';
import { SIGNATURE_HEADER, SIGNATURE_V3_HEADER } from './signature.js';
import { checkHubSpot } from './check.js';

/** Events parsed but not yet confirmed by `reply`, bounded so a stream of failures cannot grow it. */
const MAX_PENDING = 10_000;

export interface HubSpotRuntime {
  /** Clock (tests). */
  now?: () => number;
}

export function createHubSpotInstance(
  ctx: ConnectorContext<HubSpotConfig>,
  runtime: HubSpotRuntime = {},
): ConnectorInstance<HubSpotCursor> {
  const { config, logger } = ctx;
  const now = runtime.now ?? Date.now;
  const api = new HubSpotApi(config, ctx, now);
  const reader = new HubSpotReader(api, config);
  const pusher = new HubSpotPusher(api, reader, config);
  const eraser = new HubSpotEraser(api, reader, now);
  const finder = new HubSpotFinder(api);
  const exporter = new HubSpotExporter(api);
  const acks = new WebhookAcks<number>({ capacity: 50_000, maxPending: MAX_PENDING });
  // Properties whose webhook values are ingested as they are (identities and opt-out mirrors are read).
  const valuesTaken = new Set(valueProperties(config));
  const subscriptionIds = new Set(config.subscriptions.map((s) => s.id));

  return {
    pull(cursor, signal) {
      return pullContacts({ api, reader, config, logger, now }, cursor, signal);
    },

    push(batch, signal) {
      return pusher.push(batch, signal);
    },

    async read(externalIds, signal) {
      // Ids HubSpot does not know are left out; a merged-away id answers with the winner. The
      // contacts (each value stamped when it was set: `readStamped`) and their statuses are read
      // back to back: one record, one moment.
      const unique = [...new Set(externalIds)];
      const statusReads = config.subscriptions.length > 0 ? chunks(unique, BATCH).length : 0;
      const plan = reader.planStampedRead(unique.length);
      // The most calls the read may make: those it does not are given back at once.
      const reservation = await api.reserveWaiting(plan.maxCalls + statusReads, signal);
      try {
        const found = await reader.readStamped(unique, signal, reservation, plan.valuesFirst);
        return await reader.toRecords(found, signal, reservation);
      } finally {
        api.release(reservation);
      }
    },

    erase(refs, signal) {
      return eraser.erase(refs, signal);
    },

    export(refs, signal) {
      return exporter.export(refs, signal);
    },

    find(queries, signal) {
      return finder.find(queries, signal);
    },

    verify(raw) {
      return verifyHubSpotSignature(raw, {
        clientSecret: config.webhookSecret,
        ...(config.webhookUrl ? { webhookUrl: config.webhookUrl } : {}),
      });
    },

    parse(raw) {
      const fresh = acks.fresh(parseHubSpotEvents(raw.body), (e) => e.eventId);
      const mapped = toWebhookEvents(fresh, {
        valueProperties: valuesTaken,
        subscriptionIds,
        ...(config.appId === undefined ? {} : { appId: config.appId }),
      });
      for (const m of mapped) acks.expect(m.event.eventId, m.hubspotEventIds);
      return mapped.map((m) => m.event);
    },

    reply(events) {
      // The events are safely enqueued: a redelivery of them can now be dropped.
      acks.acknowledge(events.map((e) => e.eventId));
      return { status: 200 };
    },

    check(signal) {
      return checkHubSpot(api, config, signal);
    },

    unpark() {
      api.unpark();
    },
  };
}

export default defineConnector<HubSpotConfig, HubSpotCursor>({
  type: 'hubspot',
  configSchema: HubSpotConfig,
  cursorSchema: HubSpotCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true, find: true },
  // One push or pull page is one or two HubSpot calls; the connector paces the calls themselves.
  limits: { requestsPerWindow: 100, windowMs: 10_000, maxBatch: 100, concurrency: 2 },
  defaultMappings: hubspotDefaultMappings,
  // Each configured subscription type maps its status to its consent or topic.
  derivedMappings: derivedSubscriptionMappings,
  // The contact properties mirroring opt-outs read "false" for people who never chose: a consent
  // mapped on them can be withdrawn, never granted (grants come from a SUBSCRIBED status).
  withdrawOnlyFields: HUBSPOT_OPT_OUT_PROPERTIES,
  secretKeys: HUBSPOT_SECRET_KEYS,
  // The v1/v2 and v3 webhook signatures: whoever holds one can replay that delivery.
  sensitiveKeys: [SIGNATURE_HEADER, SIGNATURE_V3_HEADER],
  create: (ctx) => createHubSpotInstance(ctx),
});

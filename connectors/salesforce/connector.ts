/**
 * The Salesforce connector: Contacts or Leads and the consent data model (opt-out flags,
 * Individual, ContactPointTypeConsent), both ways, with Outbound Messages, GDPR erasure and
 * export. Every call goes through jsforce. See README.md beside this file.
 */
import { chunks, redactContacts, splitRefs, uniqueBy, WebhookAcks } from '../../src/connector/kit/index.js';
import {
  defineConnector,
  type ConnectorContext,
  type ConnectorInstance,
  type EraseOutcome,
  type RawWebhook,
} from '../../src/connector/define.js';
import { isRetryable, MalformedPayloadError, RateLimitedError } from '../../src/connector/errors.js';
import { SalesforceApi } from './api.js';
import { SalesforceBulk } from './bulk.js';
import { SALESFORCE_SECRET_KEYS, SalesforceConfig, SalesforceCursor } from './config.js';
import { CHANNEL_FLAGS, derivedFlagMappings, salesforceDefaultMappings } from './mapping.js';
import { findPeople, PHONE_FIELDS } from './find.js';
import { pullPeople } from './pull.js';
import { COLLECTION_LIMIT, SalesforcePusher } from './push.js';
import { NotifiedReader } from './notified.js';
import { SalesforceReader, type RawRecord } from './read.js';
import { SalesforceExporter } from './export.js';
import { checkSalesforce } from './check.js';
import {
  ackReply,
  admitOutboundMessage,
  soapFault,
  toWebhookEvents,
  verifyOutboundMessage,
  type OutboundMessage,
  type OutboundSettings,
} from './webhook.js';

/** Events parsed but not yet confirmed by `reply`, bounded so a stream of failures cannot grow it. */
const MAX_PENDING = 10_000;

export interface SalesforceRuntime {
  /** Clock (tests). */
  now?: () => number;
}

export function createSalesforceInstance(
  ctx: ConnectorContext<SalesforceConfig>,
  runtime: SalesforceRuntime = {},
): ConnectorInstance<SalesforceCursor> {
  const { config, logger } = ctx;
  const now = runtime.now ?? Date.now;
  const api = new SalesforceApi(config, ctx, now);
  const reader = new SalesforceReader(api, config);
  const exporter = new SalesforceExporter(api, config, reader.readsConsents);
  const bulk = new SalesforceBulk(api, config, now);
  const pusher = new SalesforcePusher(api, reader, bulk, config, now);
  const notified = new NotifiedReader(api, reader, config, now, (message) =>
    logger.warn(
      { error: message },
      'fieldHistory is on but the field history could not be read: records keep their own time (is Field History Tracking on for the object, and may the integration user read it?)',
    ),
  );
  const acks = new WebhookAcks<string>({ capacity: 100_000, maxPending: MAX_PENDING });
  const outbound: OutboundSettings = { token: config.outboundMessageToken, organizationId: config.organizationId };
  /** Messages `verify` read, for `parse` (the engine hands both the same request). */
  const verified = new WeakMap<RawWebhook, OutboundMessage>();
  if (config.organizationId && !config.outboundMessageToken) {
    logger.warn(
      { connector: ctx.instanceId },
      'Outbound Messages are taken without a URL token (outboundMessageToken is not set); production requires one',
    );
  }

  /**
   * Erasure: ShouldForget on each person's Individual, then the person is deleted.
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_delete.htm
   */
  async function erasePeople(
    people: RawRecord[],
    signal: AbortSignal,
  ): Promise<Map<string, { ok: true } | { ok: false; reason: string; retryable: boolean }>> {
    const out = new Map<string, { ok: true } | { ok: false; reason: string; retryable: boolean }>();
    const individuals = [
      ...new Set(people.flatMap((p) => (typeof p['IndividualId'] === 'string' && p['IndividualId'] !== '' ? [p['IndividualId']] : []))),
    ];
    await api.call(signal, async (conn) => {
      for (const part of chunks(individuals, COLLECTION_LIMIT)) {
        const results = await conn.sobject('Individual').update(
          part.map((Id) => ({ Id, ShouldForget: true })),
          { allOrNone: false },
        );
        results.forEach((r, i) => {
          if (!r.success)
            logger.warn({ individual: part[i], errors: r.errors.map((e) => e.errorCode) }, 'could not set ShouldForget on an Individual');
        });
      }
      for (const part of chunks(
        people.map((p) => String(p['Id'])),
        COLLECTION_LIMIT,
      )) {
        const results = await conn.sobject(config.object).destroy(part, { allOrNone: false });
        part.forEach((id, i) => {
          const r = results[i];
          if (r?.success) out.set(id, { ok: true });
          else {
            const e = r?.errors[0];
            const code = e?.errorCode ?? 'UNKNOWN_EXCEPTION';
            out.set(
              id,
              code === 'ENTITY_IS_DELETED'
                ? { ok: true }
                : {
                    ok: false,
                    reason: `${code}: ${redactContacts(e?.message ?? '')}`.slice(0, 300),
                    retryable: code === 'UNABLE_TO_LOCK_ROW',
                  },
            );
          }
        });
      }
    });
    return out;
  }

  return {
    check: (signal) => checkSalesforce(api, config, ctx.fieldTargets, signal),

    unpark() {
      api.unpark();
    },

    pull(cursor, signal) {
      return pullPeople({ api, reader, bulk, config, logger, now }, cursor, signal);
    },

    push(batch, signal) {
      return pusher.push(batch, signal);
    },

    read(externalIds, signal) {
      return notified.read(externalIds, signal);
    },

    async erase(refs, signal) {
      const { ids, emails } = splitRefs(refs);
      const targets = uniqueBy([await reader.readPeople(ids, signal), await reader.readPeopleByEmail(emails, signal)], (p) =>
        String(p['Id']),
      );
      let results = new Map<string, { ok: true } | { ok: false; reason: string; retryable: boolean }>();
      let callFailure: { reason: string; retryable: boolean } | undefined;
      try {
        results = await erasePeople(targets, signal);
      } catch (err) {
        // A rate limit (REQUEST_LIMIT_EXCEEDED) is thrown, so the engine parks the erase queue without spending an attempt.
        if (err instanceof RateLimitedError) throw err;
        callFailure = {
          reason: redactContacts(err instanceof Error ? err.message : String(err)).slice(0, 300),
          retryable: isRetryable(err),
        };
      }
      return refs.map((ref): EraseOutcome => {
        const matches = targets.filter((p) =>
          ref.externalId
            ? String(p['Id']).slice(0, 15) === ref.externalId.slice(0, 15)
            : typeof p['Email'] === 'string' && p['Email'].toLowerCase() === ref.email?.trim().toLowerCase(),
        );
        if (matches.length === 0) return { status: 'not_found', ref };
        if (callFailure) return { status: 'failed', ref, ...callFailure };
        const failed = matches.map((p) => results.get(String(p['Id']))).find((r) => r !== undefined && !r.ok);
        if (failed && !failed.ok) return { status: 'failed', ref, reason: failed.reason, retryable: failed.retryable };
        return { status: 'erased', ref };
      });
    },

    export(refs, signal) {
      return exporter.export(refs, signal);
    },

    async find(queries, signal) {
      // Only the phone fields the integration user can see: SOQL knows no hidden column.
      const visible = new Set((await exporter.describe(config.object, signal)).fields);
      return findPeople(
        api,
        config,
        queries,
        signal,
        PHONE_FIELDS.filter((f) => visible.has(f)),
      );
    },

    admit(head) {
      return admitOutboundMessage(head, outbound);
    },

    // Refusals are logged once, by the HTTP surface, with these fixed reasons.
    verify(raw) {
      const result = verifyOutboundMessage(raw, outbound);
      if (!result.ok) return result;
      verified.set(raw, result.message);
      return { ok: true };
    },

    parse(raw) {
      // The engine verifies first; a caller that did not gets the same checks here.
      let message = verified.get(raw);
      if (!message) {
        const result = verifyOutboundMessage(raw, outbound);
        if (!result.ok) throw new MalformedPayloadError(result.reason);
        message = result.message;
      }
      const fresh = acks.fresh(message.notifications, (n) => n.id);
      const { events, ignored } = toWebhookEvents(fresh, { object: config.object, receivedAt: raw.receivedAt });
      if (ignored > 0)
        logger.info(
          { connector: ctx.instanceId, ignored },
          'Outbound Message notifications of objects this connector does not read were ignored',
        );
      // Notifications that produced no event (nothing to read) are handled as soon as they are acknowledged.
      const mappedIds = new Set(events.flatMap((e) => e.notificationIds));
      acks.expectNoEvent(fresh.filter((n) => !mappedIds.has(n.id)).map((n) => n.id));
      for (const e of events) acks.expect(e.event.eventId, e.notificationIds);
      return events.map((e) => e.event);
    },

    reply(events) {
      // The events are safely enqueued: a redelivery of their notifications can now be dropped.
      acks.acknowledge(events.map((e) => e.eventId));
      return ackReply();
    },

    refuse(failure) {
      return soapFault(failure.reason, failure.status >= 500 ? 'Server' : 'Client');
    },
  };
}

export default defineConnector<SalesforceConfig, SalesforceCursor>({
  type: 'salesforce',
  configSchema: SalesforceConfig,
  cursorSchema: SalesforceCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true, find: true },
  // Salesforce allows 25 long-running calls at once and an org-wide daily allowance; sObject
  // Collections take 200 records per call.
  limits: { requestsPerWindow: 100, windowMs: 10_000, maxBatch: 200, concurrency: 4 },
  defaultMappings: salesforceDefaultMappings,
  // Each opt-out flag in channelFlags maps to its consent, withdraw-only.
  derivedMappings: derivedFlagMappings,
  // "Not opted out" is each flag's default on a new record: consent on them is withdraw-only.
  withdrawOnlyFields: CHANNEL_FLAGS,
  // A person's "forget me" is recorded on their Individual: such a record starts an erasure.
  erasureFlag: { field: 'Individual.ShouldForget', value: true },
  secretKeys: SALESFORCE_SECRET_KEYS,
  // The consumer key and secret are Salesforce's; the URL token is the operator's own.
  generatedSecretKeys: ['outboundMessageToken'],
  checkConfig: (config, hub) =>
    // Anyone can write an Outbound Message: in production the endpoint URL must carry a secret.
    hub.mode === 'production' && config.organizationId !== undefined && config.outboundMessageToken === undefined
      ? [
          {
            path: ['organizationId'],
            message:
              'Outbound Messages are on (organizationId is set), and production requires outboundMessageToken: set outboundMessageToken: ${env:NAME} to a fresh secret (concord secret prints one; or openssl rand -hex 32), and make the Outbound Message endpoint URL in Salesforce <publicUrl>/webhooks/<connector id>/<that token>',
          },
        ]
      : [],
  create: (ctx) => createSalesforceInstance(ctx),
});

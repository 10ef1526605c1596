/**
 * The Segment connector: the CDP. Out, one `identify` per changed profile (traits, subscriptions
 * and consents as traits, consent categories in `context.consent.categoryPreferences`) through
 * `@segment/analytics-node`; in, traits from Unify's Profile API (optional) and from a Webhooks
 * (Actions) destination signed with `X-Signature`; erasure by Public API regulations, followed
 * until Segment finishes them. See README.md beside this file.
 */
import { checkSegment } from './check.js';
import { defineConnector, type ConnectorContext, type ConnectorInstance, type FindKind } from '../../src/connector/define.js';
import { WebhookAcks } from '../../src/connector/kit/index.js';
import { SegmentApi } from './api.js';
import { SEGMENT_SECRET_KEYS, SegmentConfig, SegmentCursor, segmentHosts } from './config.js';
import { eraseUsers, regulationProgress } from './erase.js';
import { categoryField, derivedSegmentMappings, segmentDefaultMappings } from './mapping.js';
import { exportProfiles, pullProfiles, readProfiles } from './profiles.js';
import { findProfiles } from './find.js';
import { SegmentPusher } from './push.js';
import { parseMessages, SIGNATURE_HEADER, toWebhookEvents, verifySegmentWebhook } from './webhook.js';

const EVERY_KIND: readonly FindKind[] = ['email', 'phone', 'externalId'];
const WITHOUT_PHONE: readonly FindKind[] = ['email', 'externalId'];

export interface SegmentRuntime {
  /** Clock (tests). */
  now?: () => number;
}

/** How long `close` lets pushes in flight finish. */
const CLOSE_TIMEOUT_MS = 10_000;

export function createSegmentInstance(
  ctx: ConnectorContext<SegmentConfig>,
  runtime: SegmentRuntime = {},
): ConnectorInstance<SegmentCursor> {
  const config = SegmentConfig.parse(ctx.config);
  const now = runtime.now ?? Date.now;
  const api = new SegmentApi(config, ctx, now);
  const pusher = new SegmentPusher(config, segmentHosts(config).events, ctx.instanceId, now);
  // A delivery counts as handled once the engine has enqueued its events (`reply`).
  const acks = new WebhookAcks<string>({ capacity: 50_000, maxPending: 10_000 });
  const knownRecords = ctx.knownRecords?.bind(ctx);

  return {
    pull: (cursor, signal) => pullProfiles(api, knownRecords, cursor, config.profilesPerPull, signal, now),
    push: (batch, signal) => pusher.push(batch, signal),
    // Without the Profile API nothing can be read back: read, export and find are not offered (a
    // DSR export says so, and an erasure is verified by Segment's own regulation status only).
    ...(api.hasProfiles
      ? {
          read: (externalIds: string[], signal: AbortSignal) => readProfiles(api, externalIds, signal, now),
          export: (refs: Parameters<typeof exportProfiles>[1], signal: AbortSignal) => exportProfiles(api, refs, signal, now),
          find: (queries: Parameters<typeof findProfiles>[2], signal: AbortSignal) =>
            findProfiles(api, config.phoneIdentifier, queries, signal),
          // Segment's default identifiers hold no phone: only a custom one makes phones searchable.
          findsBy: config.phoneIdentifier === undefined ? WITHOUT_PHONE : EVERY_KIND,
        }
      : {}),
    erase: (refs, signal) => eraseUsers(api, refs, config.regulationPollMs, signal),
    eraseProgress: (tickets, signal) => regulationProgress(api, tickets, config.regulationPollMs, signal),
    verify: (raw) => verifySegmentWebhook(config.webhookSecret, config.webhookReplayWindowMs, raw),
    parse(raw) {
      return acks.freshEvents(toWebhookEvents(parseMessages(raw.body)));
    },
    reply(events) {
      acks.acknowledge(events.map((e) => e.eventId));
      return { status: 200 };
    },
    check: (signal) => checkSegment(api, config, signal),
    unpark: () => api.unpark(),
    close: () => pusher.close(CLOSE_TIMEOUT_MS),
  };
}

export default defineConnector<SegmentConfig, SegmentCursor>({
  type: 'segment',
  configSchema: SegmentConfig,
  cursorSchema: SegmentCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true, find: true },
  // The Tracking API publishes no request limit; the Profile API allows 100 requests a second per
  // space (paced in api.ts, as are the Public API's 600 regulations a minute). A push of 500
  // identifies is one /v1/batch call (push.ts cuts a batch past 460 KB).
  limits: { requestsPerWindow: 100, windowMs: 1_000, maxBatch: 500, concurrency: 4 },
  defaultMappings: segmentDefaultMappings,
  derivedMappings: derivedSegmentMappings,
  // An identify without its consent categories reaches every destination unenforced.
  contextFields: (config) => config.consentCategories.map((c) => categoryField(c.category)),
  secretKeys: SEGMENT_SECRET_KEYS,
  // The operator chooses the Webhooks destination's shared secret (`concord secret` prints one).
  generatedSecretKeys: ['webhookSecret'],
  sensitiveKeys: [SIGNATURE_HEADER],
  create: (ctx) => createSegmentInstance(ctx),
});

/**
 * The generic HTTP connector, for a REST system declared in YAML. Reads through a list endpoint
 * (incremental filter, declared paging) and a get-one endpoint, writes through create/update,
 * upsert or a batch endpoint, erases and exports through declared endpoints, takes Standard
 * Webhooks in (read back unless declared authoritative) and sends them out through the hub's
 * durable delivery. See README.md beside this file.
 */
import {
  defineConnector,
  type ConnectorContext,
  type ConnectorInstance,
  type ExternalRecord,
  type PushOutcome,
  type PushRecord,
} from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { WebhookAcks } from '../../src/connector/kit/index.js';
import { HttpApi } from './api.js';
import { checkConnection } from './check.js';
import { HttpConfig, HttpCursor } from './config.js';
import { pushMessages } from './events-out.js';
import { HttpPrivacy } from './privacy.js';
import { findRecords, httpFindsBy } from './find.js';
import { HttpPusher } from './push.js';
import { pullRecords, readRecords } from './read.js';
import { getPath, idOf, instantFrom, isObject, select, toExternalRecord } from './records.js';
import { parseStandardWebhook, verifyStandardWebhook } from './webhook.js';

export interface HttpRuntime {
  /** Clock (tests). */
  now?: () => number;
}

/**
 * The record `id` names in an authoritative payload: among those `selector` selects, the one whose
 * own id is `id` (an event may carry several), its change time defaulting to the payload's
 * `timestamp`. `undefined` when there is none or it is malformed: the id is then read back.
 */
function authoritativeRecord(payload: unknown, id: string, selector: string, config: HttpConfig): ExternalRecord | undefined {
  const timestamp = isObject(payload) ? instantFrom(payload['timestamp'], 'iso') : undefined;
  try {
    const record = select(payload, selector).find((candidate) => idOf(getPath(candidate, config.record.id)) === id);
    return record === undefined ? undefined : toExternalRecord(record, config.record, timestamp);
  } catch (error) {
    if (error instanceof MalformedPayloadError) return undefined;
    throw error;
  }
}

export function createHttpInstance(ctx: ConnectorContext<HttpConfig>, runtime: HttpRuntime = {}): ConnectorInstance<HttpCursor> {
  const config = HttpConfig.parse(ctx.config);
  const now = runtime.now ?? Date.now;
  const api = new HttpApi(config, now);
  const pusher = new HttpPusher(api, config);
  const privacy = new HttpPrivacy(api, config, ctx.instanceId, ctx.outboundWebhooks, now);
  const acks = new WebhookAcks<string>({ capacity: 50_000, maxPending: 10_000 });
  const inbound = config.webhooks;
  const selector = inbound?.authoritativeRecord;
  const authoritative =
    selector === undefined ? undefined : (payload: unknown, id: string) => authoritativeRecord(payload, id, selector, config);

  /** Sends the push's webhooks (when declared) for the records written, before the push answers. */
  async function announce(batch: readonly PushRecord[], outcomes: PushOutcome[]): Promise<PushOutcome[]> {
    const out = config.webhooksOut;
    const sender = ctx.outboundWebhooks;
    if (out === undefined || sender === undefined) return outcomes;
    const at = new Date(now()).toISOString();
    const messages = batch.flatMap((record, i) => {
      const outcome = outcomes[i];
      // With write endpoints, only what was written is announced; without, every record is (the webhook is the write).
      if (pusher.writes && outcome?.status !== 'ok') return [];
      const externalId = outcome?.status === 'ok' ? outcome.externalId : record.externalId;
      return pushMessages(ctx.instanceId, record, externalId, ctx.fieldTargets ?? {}, out.events, at);
    });
    await sender.enqueue(messages);
    // Without write endpoints the webhook is the write: the record is "written" once it is queued durably.
    return pusher.writes
      ? outcomes
      : batch.map((r): PushOutcome => ({ status: 'ok', profileId: r.profileId, externalId: r.externalId ?? r.profileId }));
  }

  return {
    pull: (cursor, signal) => pullRecords(api, config, cursor, signal, ctx.logger),
    push: async (batch, signal) =>
      announce(batch, pusher.writes || ctx.outboundWebhooks === undefined ? await pusher.push(batch, signal) : []),
    read: (externalIds, signal) => readRecords(api, config, externalIds, signal),
    erase: (refs, signal) => privacy.erase(refs, signal),
    eraseProgress: (tickets) => privacy.eraseProgress(tickets),
    export: (refs, signal) => privacy.export(refs, signal),
    find: (queries, signal) => findRecords(api, config, queries, signal),
    findsBy: httpFindsBy(config),
    verify(raw) {
      if (inbound === undefined) return { ok: false, reason: 'this instance takes no webhooks' };
      // As admit, for a raw webhook handed over without it.
      if (raw.body.length > inbound.maxBodyBytes) return { ok: false, reason: 'webhook body too large' };
      return verifyStandardWebhook(inbound.secrets, raw);
    },
    parse(raw) {
      return acks.freshEvents(parseStandardWebhook(raw, inbound?.events ?? [], authoritative));
    },
    reply(events) {
      acks.acknowledge(events.map((e) => e.eventId));
      return { status: 200 };
    },
    admit(head) {
      const length = Number(head.headers['content-length'] ?? 0);
      if (inbound !== undefined && length > inbound.maxBodyBytes) return { ok: false, status: 413, reason: 'webhook body too large' };
      return { ok: true };
    },
    check: (signal) => checkConnection(api, config, signal),
    unpark: () => api.unpark(),
  };
}

export default defineConnector<HttpConfig, HttpCursor>({
  type: 'http',
  configSchema: HttpConfig,
  cursorSchema: HttpCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true, find: true },
  // The engine's own bound per call; the instance's `rateLimit` paces every HTTP request it makes.
  limits: { requestsPerWindow: 100, windowMs: 1_000, maxBatch: 100, concurrency: 4 },
  secretKeys: [],
  sensitiveKeys: ['webhook-signature', 'authorization', 'x-api-key'],
  checkConfig: (config, hub) =>
    // The SSRF guard is what stands between a YAML typo (or a system's redirect) and the hub's own network.
    hub.mode === 'production' && config.allowPrivateNetwork
      ? [
          {
            path: ['allowPrivateNetwork'],
            message:
              'production refuses private, loopback and link-local targets (the SSRF guard): remove allowPrivateNetwork and give the system a public address; it is for the emulators and development only',
          },
        ]
      : [],
  outboundWebhooks: (config) =>
    config.webhooksOut === undefined
      ? undefined
      : {
          url: config.webhooksOut.url,
          secrets: config.webhooksOut.secrets,
          retryScheduleMs: config.webhooksOut.retrySchedule,
          timeoutMs: config.webhooksOut.timeout,
          allowPrivateNetwork: config.allowPrivateNetwork,
        },
  create: (ctx) => createHttpInstance(ctx),
});

/**
 * Turning a verified webhook into ingest jobs. The HTTP surface (server/) calls
 * `Engine.receiveWebhook` with the raw request; the answer tells it what to reply, once the
 * events are safely in Redis. Records of webhooks arriving together share one job (see
 * `enqueuerOf`); the records events only name are gathered per connector and read in batches
 * (`changed-reads.ts`: one read job per connector and short window). Event ids are remembered for `WEBHOOK_DEDUPE_TTL_MS` once enqueued, and a
 * redelivery within that time is dropped. They are marked only after the enqueue succeeded, so
 * a failure never loses an event; two deliveries racing each other may both be enqueued,
 * which is harmless (merge is idempotent, and a record equal to the shadow changes nothing).
 */
import type { JobsOptions } from 'bullmq';
import { MalformedPayloadError } from '../../connector/errors.js';
import type { ExternalRecord, RawWebhook, WebhookEvent, WebhookReply } from '../../connector/define.js';
import type { EngineContext } from '../context.js';
import type { IngestJobData, IngestRecordsJob } from './ingest.js';
import { jobOptions } from '../../queue/job-options.js';
import { MicroBatcher } from './micro-batcher.js';
import { noteChanged } from './changed-reads.js';

export type WebhookResult =
  | { ok: true; reply: WebhookReply; events: number; enqueued: number; /** Events dropped as redeliveries. */ duplicates: number }
  | { ok: false; status: 400 | 401 | 404; reason: string };

/** Events the engine does not handle itself (deletions, erasure requests, merges), for privacy/. */
export type UnhandledEventListener = (connector: string, event: WebhookEvent) => void | Promise<void>;

/** How long an enqueued event id is remembered: senders retry for up to about 24 hours. */
export const WEBHOOK_DEDUPE_TTL_MS = 25 * 3600_000;

/** Most records one ingest job carries. */
const RECORDS_PER_JOB = 200;

export function ingestJobOptions(ctx: EngineContext, id?: string): JobsOptions {
  return {
    ...jobOptions.ingest(ctx.tuning.ingestAttempts, ctx.tuning.keepIngestedForSec),
    ...(id ? { jobId: id } : {}),
  };
}

export async function receiveWebhook(
  ctx: EngineContext,
  connectorId: string,
  raw: RawWebhook,
  onUnhandled?: UnhandledEventListener,
): Promise<WebhookResult> {
  const connector = ctx.connectors.get(connectorId);
  if (!connector) return { ok: false, status: 404, reason: 'unknown connector' };
  const instance = await ctx.instance(connectorId);
  if (!instance.parse) return { ok: false, status: 404, reason: 'connector takes no webhooks' };
  if (instance.verify) {
    const verified = await instance.verify(raw);
    if (!verified.ok) return { ok: false, status: 401, reason: verified.reason };
  }
  let events: WebhookEvent[];
  try {
    events = await instance.parse(raw);
  } catch (err) {
    if (err instanceof MalformedPayloadError) return { ok: false, status: 400, reason: err.message };
    throw err;
  }
  // Plain commands, not a pipeline: the engine's connection auto-pipelines, so the checks of
  // webhooks arriving together share one round trip.
  const seenReplies = await Promise.all(events.map((event) => ctx.redis.exists(ctx.keys.seenEvent(connectorId, event.eventId))));
  const fresh = events.filter((_, i) => seenReplies[i] !== 1);
  const changed: string[] = [];
  const ifUnknown: string[] = [];
  const records: ExternalRecord[] = [];
  for (const event of fresh) {
    switch (event.kind) {
      case 'records':
        records.push(...event.records);
        break;
      case 'changed':
        if (event.echo) break;
        (event.readIfUnknown ? ifUnknown : changed).push(...event.externalIds);
        break;
      default:
        if (onUnhandled) await onUnhandled(connectorId, event);
        else ctx.logger.info({ connector: connectorId, kind: event.kind, eventId: event.eventId }, 'webhook event not handled by sync');
    }
  }
  changed.push(...(await unknownOf(ctx, connectorId, ifUnknown)));
  const receivedAtMs = Date.parse(raw.receivedAt);
  await Promise.all([
    changed.length > 0 ? noteChanged(ctx, connectorId, changed, Number.isNaN(receivedAtMs) ? Date.now() : receivedAtMs) : undefined,
    records.length > 0 ? enqueuerOf(ctx).submit({ connector: connectorId, records, receivedAt: raw.receivedAt }) : undefined,
  ]);
  if (fresh.length > 0) {
    await Promise.all(
      fresh.map((event) => ctx.redis.set(ctx.keys.seenEvent(connectorId, event.eventId), '1', 'PX', WEBHOOK_DEDUPE_TTL_MS)),
    );
  }
  const reply = instance.reply ? instance.reply(events) : { status: 200 };
  return {
    ok: true,
    reply,
    events: events.length,
    enqueued: (changed.length > 0 ? 1 : 0) + (records.length > 0 ? 1 : 0),
    duplicates: events.length - fresh.length,
  };
}

/**
 * The records the hub links to no profile yet, of those a webhook named with their values
 * (`readIfUnknown`): the linked ones' values are ingested from the webhook itself, so only the
 * others need a read (one store query per webhook).
 */
async function unknownOf(ctx: EngineContext, connector: string, externalIds: readonly string[]): Promise<string[]> {
  if (externalIds.length === 0) return [];
  const unique = [...new Set(externalIds)];
  const profiles = await ctx.store.findProfileIdsByExternalIds(connector, unique);
  return unique.filter((_, i) => profiles[i] === null);
}

interface Arrival {
  connector: string;
  records: ExternalRecord[];
  receivedAt: string;
}

const enqueuers = new WeakMap<EngineContext['queues']['ingest'], MicroBatcher<Arrival, void>>();

/**
 * Records of the webhooks that arrive together become one ingest job per connector (in
 * arrival order, each record with its own receipt time): under load, one job carries many
 * webhooks instead of one job each. A webhook is answered once its job is in the queue.
 */
function enqueuerOf(ctx: EngineContext): MicroBatcher<Arrival, void> {
  let enqueuer = enqueuers.get(ctx.queues.ingest);
  if (!enqueuer) {
    enqueuer = new MicroBatcher<Arrival, void>(
      async (arrivals) => {
        const jobs: { name: string; data: IngestJobData; opts: JobsOptions }[] = [];
        const open = new Map<string, IngestRecordsJob & { receivedAts: string[] }>();
        for (const arrival of arrivals) {
          for (const record of arrival.records) {
            let job = open.get(arrival.connector);
            if (!job || job.records.length >= RECORDS_PER_JOB) {
              job = {
                kind: 'records',
                connector: arrival.connector,
                origin: 'webhooks',
                receivedAt: arrival.receivedAt,
                records: [],
                receivedAts: [],
              };
              open.set(arrival.connector, job);
              jobs.push({ name: 'records', data: job, opts: ingestJobOptions(ctx) });
            }
            job.records.push(record);
            job.receivedAts.push(arrival.receivedAt);
          }
        }
        if (jobs.length > 0) await ctx.queues.ingest.addBulk(jobs);
        return arrivals.map(() => undefined);
      },
      { maxSize: 500, maxWaitMs: ctx.tuning.webhookBatchWaitMs },
    );
    enqueuers.set(ctx.queues.ingest, enqueuer);
  }
  return enqueuer;
}

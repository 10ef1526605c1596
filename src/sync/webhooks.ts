/**
 * Turning a verified webhook into ingest jobs. The HTTP surface (server/) calls
 * `Engine.receiveWebhook` with the raw request; the answer tells it what to reply. Each event
 * becomes one job whose id is derived from the event id, so a redelivered webhook is not
 * ingested twice while the first is still known; a duplicate that slips through is harmless
 * (merge is idempotent and echoes die at the shadow).
 */
import type { JobsOptions } from 'bullmq';
import { MalformedPayloadError } from '../connector/errors.js';
import type { RawWebhook, WebhookEvent, WebhookReply } from '../connector/define.js';
import type { EngineContext } from './context.js';
import { BACKOFF_TYPE } from './backoff.js';
import type { IngestJobData } from './ingest.js';
import { jobId } from './keys.js';

export type WebhookResult =
  | { ok: true; reply: WebhookReply; events: number; enqueued: number }
  | { ok: false; status: 400 | 401 | 404; reason: string };

/** Events the engine does not handle itself (deletions, erasure requests, merges), for privacy/. */
export type UnhandledEventListener = (connector: string, event: WebhookEvent) => void | Promise<void>;

/** Records per ingest job when one event carries many. */
const RECORDS_PER_JOB = 100;

export function ingestJobOptions(ctx: EngineContext, id?: string): JobsOptions {
  return {
    ...(id ? { jobId: id } : {}),
    attempts: ctx.tuning.ingestAttempts,
    backoff: { type: BACKOFF_TYPE },
    removeOnComplete: { age: ctx.tuning.keepIngestedForSec, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
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
  const jobs: { name: string; data: IngestJobData; opts: JobsOptions }[] = [];
  for (const event of events) {
    const origin = `webhook:${event.eventId}`;
    switch (event.kind) {
      case 'records':
        for (let i = 0; i < event.records.length; i += RECORDS_PER_JOB) {
          const part = i / RECORDS_PER_JOB;
          jobs.push({
            name: 'records',
            data: { kind: 'records', connector: connectorId, origin, receivedAt: raw.receivedAt, records: event.records.slice(i, i + RECORDS_PER_JOB) },
            opts: ingestJobOptions(ctx, jobId('wh', connectorId, event.eventId, part)),
          });
        }
        break;
      case 'changed':
        if (event.echo) break;
        jobs.push({
          name: 'changed',
          data: { kind: 'changed', connector: connectorId, origin, receivedAt: raw.receivedAt, externalIds: event.externalIds },
          opts: ingestJobOptions(ctx, jobId('wh', connectorId, event.eventId)),
        });
        break;
      default:
        if (onUnhandled) await onUnhandled(connectorId, event);
        else ctx.logger.info({ connector: connectorId, kind: event.kind, eventId: event.eventId }, 'webhook event not handled by sync');
    }
  }
  if (jobs.length > 0) await ctx.queues.ingest.addBulk(jobs);
  const reply = instance.reply ? instance.reply(events) : { status: 200 };
  return { ok: true, reply, events: events.length, enqueued: jobs.length };
}

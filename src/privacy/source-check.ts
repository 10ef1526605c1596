/**
 * An erasure a source system asks for by webhook (HubSpot `contact.privacyDeletion`) names a
 * record. When the hub knows that record (or already erased its person), the request starts at
 * once. When it does not, a signed webhook alone is no reason to act: a job reads the record back
 * from the system, through the engine's limiter for it, and the erasure starts only if the system
 * has it. A record neither the system nor the hub knows starts nothing; the audit log says so
 * (`dsr.source_request.ignored`). A system that cannot be read back (no `read`) cannot confirm,
 * so nothing starts either.
 */
import type { Job } from 'bullmq';
import type { Engine } from '../sync/index.js';
import { jobId } from '../queue/keys.js';
import { callSystem, retriedJobOptions } from './context.js';
import type { PrivacyContext, SystemCallDeps } from './context.js';

export interface SourceCheckJobData {
  connector: string;
  externalId: string;
  /** The webhook event that asked (dedupe and audit). */
  eventId: string;
}

/** Why a source's erasure request started nothing. */
export type IgnoredReason = 'unknown_record' | 'unverifiable';

export interface SourceCheckDeps extends SystemCallDeps {
  engine: Pick<Engine, 'instance' | 'metrics'>;
  /** Starts the erasure once the record is confirmed (`PrivacyService.requestFromSource`). */
  start(connector: string, externalId: string): Promise<unknown>;
}

/** Queues the check of a record the hub does not know; one job per event and record. */
export async function scheduleSourceCheck(ctx: PrivacyContext, data: SourceCheckJobData): Promise<void> {
  const id = jobId('source-check', data.connector, data.eventId, data.externalId);
  await ctx.queues.requests.add('source-check', data, retriedJobOptions(ctx, id, ctx.options.tuning.sourceCheckAttempts));
}

export class SourceCheck {
  constructor(
    private readonly ctx: PrivacyContext,
    private readonly deps: SourceCheckDeps,
  ) {}

  /** Reads the record back and starts the erasure if the system has it (or the hub learnt it meanwhile). */
  async process(job: Job<SourceCheckJobData>, signal?: AbortSignal): Promise<{ started: boolean }> {
    const { ctx } = this;
    const { connector: id, externalId, eventId } = job.data;
    const connector = ctx.connectors.get(id);
    if (!connector) return { started: false };
    if ((await ctx.store.findProfileIdByExternalId(id, externalId)) !== null) {
      await this.deps.start(id, externalId);
      return { started: true };
    }
    const instance = await this.deps.engine.instance(id);
    const read = instance.read;
    if (!read) return this.ignore(job.data, 'unverifiable');
    const abort = signal ?? new AbortController().signal;
    const records = await callSystem(ctx, this.deps, connector, 'read', () => read([externalId], abort), { signal: abort });
    // A merged-away id answers with the contact it went into: the system still has the person.
    if (records.length === 0) return this.ignore(job.data, 'unknown_record');
    ctx.logger.info({ connector: id, eventId }, 'erasure request for a record the hub did not know: the system has it');
    await this.deps.start(id, externalId);
    return { started: true };
  }

  private async ignore(data: SourceCheckJobData, reason: IgnoredReason): Promise<{ started: boolean }> {
    this.ctx.logger.warn(
      { connector: data.connector, eventId: data.eventId, reason },
      'erasure request from a source system ignored: the record is not known',
    );
    await this.ctx.store.appendAudit({
      actor: data.connector,
      action: 'dsr.source_request.ignored',
      profileId: null,
      detail: { connector: data.connector, externalId: data.externalId, eventId: data.eventId, reason },
    });
    return { started: false };
  }
}

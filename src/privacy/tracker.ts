/**
 * Tracking that a change reached every system (GDPR Art. 19: every recipient is told of a
 * rectification or restriction). Rectify, restrict, unrestrict, object and withdraw-objection
 * requests apply one patch, which the engine delivers like any other change; the tracker then
 * checks each push-capable system until what the hub would send it equals what it is known to
 * hold (its shadow): `delivered`. A system that holds no record of a restricted person gets
 * nothing (`not_held`: no new record is created while processing is restricted). A dead letter
 * for the profile fails that system; so does no confirmation within `trackForMs`.
 */
import type { Job } from 'bullmq';
import { changedFields, mapOutbound } from '../connector/mapping.js';
import type { Profile } from '../profile/schema.js';
import { DeadLetter, gateProfile } from '../sync/index.js';
import type { SyncConnector } from '../sync/index.js';
import { jobOptions } from '../queue/job-options.js';
import { engineKeys, jobId } from '../queue/keys.js';
import { audit, encodeDetail, readDetail, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import { settleRequest } from './settle.js';

export interface TrackJobData {
  dsrId: string;
  /** Checks made so far (the delay grows with it). */
  check: number;
}

export type DeliveryState = { state: 'delivered' | 'not_held' | 'pending' } | { state: 'failed'; reason: string };

export const TRACKED_KINDS = ['rectify', 'restrict', 'unrestrict', 'object', 'withdraw_objection'] as const;

/** Where one system stands with the profile as it is now. */
export async function deliveryState(ctx: PrivacyContext, connector: SyncConnector, profile: Profile | null): Promise<DeliveryState> {
  if (!profile) return { state: 'not_held' };
  const shadow = await ctx.store.getShadow(profile.id, connector.id);
  const gated = gateProfile(profile);
  if (gated.restricted && !shadow?.externalId) return { state: 'not_held' };
  const out = mapOutbound(connector.mapping, gated.profile, ctx.policy, ctx.now());
  if (Object.keys(changedFields(out.fields, shadow?.values)).length === 0) return { state: shadow ? 'delivered' : 'not_held' };
  const raw = await ctx.redis.hget(engineKeys(ctx.prefix).dead(connector.id), profile.id);
  if (raw !== null) {
    const letter = DeadLetter.safeParse(JSON.parse(raw));
    return { state: 'failed', reason: letter.success ? `dead-lettered: ${letter.data.reason}` : 'dead-lettered' };
  }
  return { state: 'pending' };
}

/** Adds the next check of a tracked request. */
export async function scheduleTrack(ctx: PrivacyContext, dsrId: string, check: number, delayMs?: number): Promise<void> {
  const t = ctx.options.tuning;
  const delay = delayMs ?? Math.min(t.trackMaxDelayMs, t.trackFirstDelayMs * 2 ** Math.min(check, 20));
  await ctx.queues.requests.add('track', { dsrId, check } satisfies TrackJobData, {
    ...jobOptions.track(),
    jobId: jobId('track', dsrId, check),
    delay,
  });
}

export class Tracker {
  constructor(private readonly ctx: PrivacyContext) {}

  async process(job: Job<TrackJobData>): Promise<{ open: number }> {
    const { ctx } = this;
    const { dsrId, check } = job.data;
    const started = performance.now();
    const open = await withLock(ctx, dsrId, async () => {
      const request = await ctx.store.getDsr(dsrId);
      if (!request || request.status === 'completed' || request.status === 'failed') return 0;
      const profile = request.profileId ? await ctx.store.getProfile(request.profileId) : null;
      const detail = readDetail(request);
      const expired = detail.trackUntil !== undefined && Date.parse(detail.trackUntil) <= ctx.now().getTime();
      let left = 0;
      const settled = { delivered: 0, not_held: 0, failed: 0 };
      for (const system of request.systems) {
        if (system.status !== 'pending' && system.status !== 'in_progress') continue;
        const connector = ctx.connectors.get(system.connector);
        const state: DeliveryState = connector ? await deliveryState(ctx, connector, profile) : { state: 'not_held' };
        const at = ctx.now().toISOString();
        if (state.state === 'delivered' || state.state === 'not_held') {
          detail.outcomes[system.connector] = { outcome: state.state, at };
          await ctx.store.updateDsrSystem(dsrId, system.connector, {
            status: state.state === 'delivered' ? 'completed' : 'not_applicable',
            error: null,
          });
          await audit(ctx, `dsr.${state.state}`, request, { connector: system.connector });
          ctx.metrics.systemOutcomes.inc({ kind: request.kind, connector: system.connector, outcome: state.state });
          settled[state.state]++;
        } else if (state.state === 'failed' || expired) {
          const reason =
            state.state === 'failed' ? state.reason : `not confirmed within ${Math.round(ctx.options.tuning.trackForMs / 60_000)} minutes`;
          detail.outcomes[system.connector] = { outcome: 'failed', at };
          await ctx.store.updateDsrSystem(dsrId, system.connector, { status: 'failed', error: reason });
          await audit(ctx, 'dsr.delivery_failed', request, { connector: system.connector, reason });
          ctx.metrics.systemOutcomes.inc({ kind: request.kind, connector: system.connector, outcome: 'failed' });
          settled.failed++;
        } else {
          await ctx.store.updateDsrSystem(dsrId, system.connector, { status: 'in_progress', attempts: system.attempts + 1 });
          left++;
        }
      }
      const changed = settled.delivered + settled.not_held + settled.failed;
      if (changed > 0) await ctx.store.updateDsr(dsrId, { detail: encodeDetail(detail) });
      await settleRequest(ctx, dsrId);
      // One line per check that settled systems (a check that only waits writes none).
      if (changed > 0)
        ctx.logger.info(
          { dsrId, kind: request.kind, check, ...settled, open: left, ms: Math.round(performance.now() - started) },
          'delivery check processed',
        );
      return left;
    });
    if (open > 0) await scheduleTrack(ctx, dsrId, check + 1);
    return { open };
  }
}

/**
 * Closing a request once every system is done. Called with the request's lock held.
 *
 * - Some system still pending or in progress: the request stays in progress.
 * - Some system failed for good: the request is `failed` (it can be retried); an erasure keeps
 *   its references so a retry can finish it, and the profile stays in the store (suppressed).
 * - Every system completed or not applicable: the request is `completed`. An erasure then
 *   deletes the profile's data from the store and keeps only the proof: the request id, the
 *   keyed hashes of the identities, the outcome per system, and the times.
 *
 * A completed or failed request is then handed to the `onSettled` callback, if any (e.g. the
 * notice mail to a person who made it through the public request page), once per opaque
 * reference it was made with (`notify`, and `alsoNotify` for those who asked again while it was
 * open); the proof keeps no such reference.
 */
import { engineKeys } from '../queue/keys.js';
import { audit, encodeDetail, readDetail } from './context.js';
import type { PrivacyContext, SettledRequest } from './context.js';
import type { DsrDetail } from './schema.js';
import { execAll } from '../queue/redis-health.js';

export async function settleRequest(ctx: PrivacyContext, dsrId: string): Promise<void> {
  const request = await ctx.store.getDsr(dsrId);
  if (!request || request.status === 'completed') return;
  if (request.systems.some((s) => s.status === 'pending' || s.status === 'in_progress')) {
    if (request.status === 'received') await ctx.store.updateDsr(dsrId, { status: 'in_progress' });
    return;
  }
  const detail = readDetail(request);
  const failed = request.systems.filter((s) => s.status === 'failed');
  if (failed.length > 0) {
    if (request.status === 'failed') return;
    const failure = `${failed.map((s) => s.connector).join(', ')} failed`;
    await ctx.store.updateDsr(dsrId, { status: 'failed', detail: encodeDetail({ ...detail, failure }) });
    await audit(ctx, 'dsr.failed', request, { systems: failed.map((s) => s.connector), errors: failed.map((s) => s.error ?? '') });
    ctx.logger.warn({ dsrId, kind: request.kind, systems: failed.map((s) => s.connector) }, 'data-subject request failed');
    notifySettled(ctx, { id: dsrId, kind: request.kind, status: 'failed', origin: detail.origin }, detail);
    return;
  }
  const now = ctx.now();
  const proof = { ...detail };
  delete proof.work;
  delete proof.search;
  delete proof.evidence;
  delete proof.erasing;
  delete proof.failure;
  delete proof.notify;
  delete proof.alsoNotify;
  if (request.kind === 'erase') {
    if (request.profileId) {
      await ctx.store.deleteProfileData(request.profileId);
      // The engine's per-profile leftovers in Redis (dead letters, retry counts) go too.
      const keys = engineKeys(ctx.prefix);
      // One pipeline per connector: each connector's keys are on a hash tag of their own.
      for (const connector of ctx.connectors.keys()) {
        const pipe = ctx.redis.pipeline();
        pipe.hdel(keys.dead(connector), request.profileId);
        pipe.hdel(keys.attempts(connector), request.profileId);
        pipe.zrem(keys.dirty(connector), request.profileId);
        pipe.zrem(keys.retry(connector), request.profileId);
        pipe.zrem(keys.held(connector), request.profileId);
        // A `concord push` mark that will never be pushed.
        pipe.srem(keys.repush(connector), request.profileId);
        pipe.hdel(keys.repushOrigin(connector), request.profileId);
        await execAll(pipe);
      }
    }
    ctx.metrics.erasureSeconds.observe({ origin: detail.origin }, (now.getTime() - Date.parse(request.receivedAt)) / 1000);
  }
  await ctx.store.updateDsr(dsrId, { status: 'completed', completedAt: now.toISOString(), detail: encodeDetail(proof) });
  await audit(ctx, 'dsr.completed', request, {
    systems: request.systems.map((s) => `${s.connector}:${proof.outcomes[s.connector]?.outcome ?? s.status}`),
  });
  ctx.logger.info({ dsrId, kind: request.kind }, 'data-subject request completed');
  notifySettled(ctx, { id: dsrId, kind: request.kind, status: 'completed', origin: detail.origin }, detail);
}

/**
 * Hands the settled request to `onSettled` without waiting for it (it may send mail; the
 * request's lock is held here), once per reference it carries (none: once, without one): its
 * failure is logged, never the request's.
 */
function notifySettled(ctx: PrivacyContext, settled: SettledRequest, detail: Pick<DsrDetail, 'notify' | 'alsoNotify'>): void {
  const { onSettled } = ctx;
  if (!onSettled) return;
  const refs = [...new Set([...(detail.notify ? [detail.notify] : []), ...(detail.alsoNotify ?? [])])];
  for (const notify of refs.length > 0 ? refs : [undefined])
    void Promise.resolve()
      .then(() => onSettled(notify === undefined ? settled : { ...settled, notify }))
      .catch((err: unknown) => ctx.logger.warn({ dsrId: settled.id, err }, 'onSettled callback failed'));
}

/**
 * Recorded requests: reading them (one, or a list by status, kind, person, or overdue now),
 * extending a deadline (Art. 12(3)), retrying failed systems, and handing out a prepared export.
 */
import type { DsrStatus } from '../store/types.js';
import { audit, encodeDetail, enqueueErasure, readDetail, toView, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import { checkExtension, isOverdue } from './deadline.js';
import { fail, ok } from './errors.js';
import type { Result } from './errors.js';
import type { ExportDocument } from './export/document.js';
import { readExport, scheduleExport } from './exporter.js';
import { DsrExtension } from './schema.js';
import type { DsrKind, DsrView } from './schema.js';
import { scheduleTrack, TRACKED_KINDS } from './tracker.js';

/** A request as the admin API and CLI show it, or `request_not_found`. */
export async function requestView(ctx: PrivacyContext, id: string): Promise<Result<DsrView>> {
  const request = await ctx.store.getDsr(id);
  return request ? ok(toView(request, ctx.now())) : fail('request_not_found', `no data-subject request ${id}`);
}

/** Whether a request view is overdue now (for callers that hold a view, not a row). */
export function overdueNow(view: Pick<DsrView, 'status' | 'dueAt' | 'extendedTo'>, now = new Date()): boolean {
  return isOverdue(view, now);
}

/** What operators and the person do with requests already recorded. */
export class Requests {
  constructor(private readonly ctx: PrivacyContext) {}

  get(id: string): Promise<Result<DsrView>> {
    return requestView(this.ctx, id);
  }

  /** Requests, oldest first: all, by status, or those overdue now. */
  async list(filter: { overdue?: boolean; status?: DsrStatus; kind?: DsrKind; profileId?: string } = {}): Promise<DsrView[]> {
    const now = this.ctx.now();
    const rows = await this.ctx.store.listDsr({
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.overdue ? { overdueAt: now.toISOString() } : {}),
      ...(filter.kind ? { kind: filter.kind } : {}),
      ...(filter.profileId ? { profileId: filter.profileId } : {}),
    });
    return rows.map((r) => toView(r, now));
  }

  /** Records an extension of the deadline (Art. 12(3)) with when the person was told and why. */
  async extend(id: string, input: DsrExtension, actor: string): Promise<Result<DsrView>> {
    const parsed = DsrExtension.safeParse(input);
    if (!parsed.success) return fail('invalid_extension', parsed.error.issues.map((i) => i.message).join('; '));
    const extension = parsed.data;
    return withLock(this.ctx, id, async () => {
      const request = await this.ctx.store.getDsr(id);
      if (!request) return fail<DsrView>('request_not_found', `no data-subject request ${id}`);
      if (request.status === 'completed') return fail<DsrView>('request_closed', 'the request is already answered');
      const check = checkExtension(request, extension, this.ctx.now());
      if (!check.ok) return fail<DsrView>('invalid_extension', check.message);
      const detail = readDetail(request);
      await this.ctx.store.updateDsr(id, {
        extendedTo: extension.extendedTo,
        subjectToldAt: extension.subjectToldAt,
        detail: encodeDetail({ ...detail, extension: { reason: extension.reason } }),
      });
      await audit(
        this.ctx,
        'dsr.extended',
        request,
        { extendedTo: extension.extendedTo, subjectToldAt: extension.subjectToldAt, reason: extension.reason },
        actor,
      );
      return this.get(id);
    });
  }

  /** Tries the failed systems of a failed (or failing) request again. */
  async retry(id: string, actor: string): Promise<Result<DsrView>> {
    const { ctx } = this;
    const request = await ctx.store.getDsr(id);
    if (!request) return fail('request_not_found', `no data-subject request ${id}`);
    if (request.status === 'completed') return fail('request_closed', 'the request is already answered');
    const again = request.systems.filter((s) => s.status === 'failed').map((s) => s.connector);
    await withLock(ctx, id, async () => {
      const detail = readDetail(request);
      delete detail.failure;
      if (TRACKED_KINDS.some((k) => k === request.kind))
        detail.trackUntil = new Date(ctx.now().getTime() + ctx.options.tuning.trackForMs).toISOString();
      for (const connector of again) {
        delete detail.outcomes[connector];
        await ctx.store.updateDsrSystem(id, connector, { status: 'pending', attempts: 0 });
      }
      await ctx.store.updateDsr(id, { status: 'in_progress', detail: encodeDetail(detail) });
      await audit(ctx, 'dsr.retried', request, { systems: again }, actor);
    });
    if (request.kind === 'erase')
      await enqueueErasure(
        ctx,
        id,
        again.filter((c) => ctx.queues.erase.has(c)),
      );
    else if (request.kind === 'export') await scheduleExport(ctx, id, Date.now());
    else await scheduleTrack(ctx, id, 0, 0);
    return this.get(id);
  }

  /** The prepared export of an export request, while it is kept. */
  async exportDocument(id: string): Promise<Result<ExportDocument>> {
    const request = await this.ctx.store.getDsr(id);
    if (!request) return fail('request_not_found', `no data-subject request ${id}`);
    if (request.kind !== 'export') return fail('wrong_kind', 'only export requests have an export');
    const document = await readExport(this.ctx, id);
    if (!document)
      return fail('export_unavailable', request.status === 'completed' ? 'the export is no longer kept' : 'the export is not ready yet');
    return ok(document);
  }

  /** Records in the audit log that an export was handed out (to whom, in which format). */
  async recordDownload(id: string, actor: string, format: 'json' | 'csv' | 'html'): Promise<void> {
    const request = await this.ctx.store.getDsr(id);
    if (!request) return;
    await audit(this.ctx, 'dsr.export.downloaded', request, { format }, actor);
  }
}

/**
 * Intake: a request from the admin API, the CLI, the preference center or a source system is
 * checked, its subject resolved to a profile, recorded with its deadline and per-system status,
 * and started: an erasure suppresses the person at once and queues each system's part (every
 * system that can erase and be searched, which the erase run searches first, and those the hub
 * knows hold the person), an export schedules its job (with live records, every system holding
 * the person or able to be searched), a change (rectify, restrict, object...) becomes one hub patch whose
 * delivery the tracker then follows.
 */
import { v7 as uuidv7 } from 'uuid';
import { asLookupKeys } from '../profile/identities.js';
import type { Identity, Profile, ProfilePatch } from '../profile/schema.js';
import type { DataSubjectRequest } from '../store/types.js';
import { audit, encodeDetail, enqueueErasure, readDetail, toView, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import { dueDate } from './deadline.js';
import { fail, ok } from './errors.js';
import type { Result } from './errors.js';
import { scheduleExport } from './exporter.js';
import { requestView } from './requests.js';
import { DsrInput } from './schema.js';
import type { DsrDetail, DsrInputData, DsrKind, DsrView, Subject } from './schema.js';
import { settleRequest } from './settle.js';
import { searchMethod, searchSubject } from './search.js';
import { planErasure } from './targets.js';
import { scheduleTrack } from './tracker.js';

/** Where a request came from and who made it (kept with it, shown in status and the audit log). */
export interface RequestMeta {
  /** `api`, `cli`, `preference_center`, or the connector id of a system that asked. */
  origin: string;
  /** An API key id, `cli`, `preference_center`, `verified_email`, or a connector id. */
  actor: string;
  /**
   * An opaque reference the `onSettled` callback is handed when the request completes (e.g. the
   * verification that holds the person's contact address). Never personal data itself.
   */
  notify?: string;
}

const REASONS: Record<Exclude<DsrKind, 'erase' | 'export'>, string> = {
  rectify: 'rectification',
  restrict: 'restriction',
  unrestrict: 'restriction_lifted',
  object: 'objection',
  withdraw_objection: 'objection_withdrawn',
};

interface Resolved {
  profile: Profile | null;
  /** Identities the request named itself. */
  named: Identity[];
}

/** The person's erasure still open (received or in progress), if any. */
export async function openErasureOf(ctx: PrivacyContext, profileId: string): Promise<DataSubjectRequest | undefined> {
  const requests = await ctx.store.listDsr({ profileId, kind: 'erase' });
  return requests.find((r) => r.status === 'received' || r.status === 'in_progress');
}

/** Takes new requests: checks, records and starts them. */
export class Intake {
  constructor(private readonly ctx: PrivacyContext) {}

  /** Records a request and starts it. Expected failures (no such person...) are values. */
  async submit(input: DsrInputData, meta: RequestMeta): Promise<Result<DsrView>> {
    const parsed = DsrInput.safeParse(input);
    if (!parsed.success) return fail('invalid_request', parsed.error.issues.map((i) => i.message).join('; '));
    const request = parsed.data;
    const resolved = await this.resolve(request.subject);
    switch (request.kind) {
      case 'erase':
        return this.startErasure(resolved, meta);
      case 'export':
        return this.startExport(resolved, request.includeLive, meta);
      default:
        return this.startChange(request, resolved, meta);
    }
  }

  private async resolve(subject: Subject): Promise<Resolved> {
    const { store } = this.ctx;
    if (subject.profileId !== undefined) return { profile: await store.getProfile(subject.profileId), named: [] };
    if (subject.email !== undefined) {
      const identity: Identity = { kind: 'email', value: subject.email.trim().toLowerCase() };
      return { profile: await store.findProfile(identity), named: [identity] };
    }
    if (subject.phone !== undefined) {
      const identity: Identity = { kind: 'phone', value: subject.phone };
      return { profile: await store.findProfile(identity), named: [identity] };
    }
    const system = subject.system ?? '';
    const externalId = subject.externalId ?? '';
    const identity: Identity = { kind: 'external', system, value: externalId };
    const profileId = await store.findProfileIdByExternalId(system, externalId);
    return { profile: profileId ? await store.getProfile(profileId) : null, named: [identity] };
  }

  private async create(
    kind: DsrKind,
    profileId: string | null,
    identityHashes: string[],
    systems: string[],
    detail: DsrDetail,
  ): Promise<DataSubjectRequest> {
    const { ctx } = this;
    const receivedAt = ctx.now().toISOString();
    const request = await ctx.store.createDsr({
      id: uuidv7(),
      kind,
      status: 'received',
      profileId,
      identityHashes,
      receivedAt,
      dueAt: dueDate(receivedAt),
      extendedTo: null,
      subjectToldAt: null,
      completedAt: null,
      detail: encodeDetail(detail),
      systems,
    });
    await audit(ctx, 'dsr.received', request, { origin: detail.origin, systems, dueAt: request.dueAt }, detail.actor);
    ctx.metrics.requests.inc({ kind, origin: detail.origin });
    ctx.logger.info({ dsrId: request.id, kind, origin: detail.origin, systems: systems.length }, 'data-subject request received');
    return request;
  }

  /** Adds a requester's notice reference to an open request (under its lock), so `onSettled` is handed it too. */
  private async alsoNotify(dsrId: string, notify: string): Promise<void> {
    const { ctx } = this;
    await withLock(ctx, dsrId, async () => {
      const current = await ctx.store.getDsr(dsrId);
      if (!current || current.status === 'completed') return;
      const detail = readDetail(current);
      const also = detail.alsoNotify ?? [];
      // Bounded like its schema: a flood of repeat requests adds no more.
      if (detail.notify === notify || also.includes(notify) || also.length >= 50) return;
      await ctx.store.updateDsr(dsrId, { detail: encodeDetail({ ...detail, alsoNotify: [...also, notify] }) });
    });
  }

  private async startErasure(resolved: Resolved, meta: RequestMeta): Promise<Result<DsrView>> {
    const { profile } = resolved;
    if (!profile) return this.erase(resolved, meta);
    // One erasure per person at a time, even when two arrive at once (a double click, a webhook and a request).
    return withLock(this.ctx, `profile:${profile.id}`, async () => {
      const existing = await openErasureOf(this.ctx, profile.id);
      if (!existing) return this.erase(resolved, meta);
      // Asked again while it is open: this requester is told when it settles too.
      if (meta.notify !== undefined) await this.alsoNotify(existing.id, meta.notify);
      return ok(toView(existing, this.ctx.now()));
    });
  }

  private async erase(resolved: Resolved, meta: RequestMeta): Promise<Result<DsrView>> {
    const { ctx } = this;
    const { profile } = resolved;
    const shadows = profile ? await ctx.store.shadowsByProfile(profile.id) : [];
    const plan = planErasure({
      profile,
      shadows,
      named: resolved.named,
      connectors: [...ctx.connectors.values()],
      alwaysErase: ctx.options.alwaysErase,
    });
    const hashes = [...new Set(plan.identities.map((i) => ctx.store.hashIdentity(i)))];
    // Every system that can erase and be searched is searched for the person (find before you
    // act), whether the hub knows it holds them or not; the others only where the hub knows it.
    const erasing = [...ctx.connectors.values()]
      .filter((c) => plan.refs[c.id] !== undefined || (c.capabilities.erase && searchMethod(c) !== null))
      .map((c) => c.id);
    const work = Object.fromEntries(erasing.map((c) => [c, plan.refs[c] ?? []]));
    const systems = [...erasing, ...plan.manual];
    const request = await this.create('erase', profile?.id ?? null, hashes, systems, {
      origin: meta.origin,
      actor: meta.actor,
      ...(meta.notify !== undefined ? { notify: meta.notify } : {}),
      work,
      search: searchSubject(plan.identities),
      outcomes: {},
      ...(plan.manual.length > 0 ? { manual: plan.manual } : {}),
    });
    // From here on nothing of theirs is ingested from any system, nor pushed to one.
    await ctx.store.suppress(hashes, `erasure ${request.id}`);
    await audit(ctx, 'dsr.suppressed', request, { identityHashes: hashes });
    for (const connector of plan.manual) {
      await ctx.store.updateDsrSystem(request.id, connector, {
        status: 'failed',
        error: 'the connector cannot erase: erase the person there by hand',
      });
    }
    await ctx.store.updateDsr(request.id, { status: 'in_progress' });
    await enqueueErasure(ctx, request.id, erasing);
    // With nothing to erase anywhere (or only by hand), it is settled now.
    if (erasing.length === 0) await withLock(ctx, request.id, () => settleRequest(ctx, request.id));
    return requestView(ctx, request.id);
  }

  private async startExport(resolved: Resolved, includeLive: boolean, meta: RequestMeta): Promise<Result<DsrView>> {
    const { ctx } = this;
    const { profile } = resolved;
    const shadows = profile ? await ctx.store.shadowsByProfile(profile.id) : [];
    // With live records: every system holding the person, and every system that can be searched for them.
    const holders = new Set(shadows.map((s) => s.connector));
    const systems = includeLive
      ? [...ctx.connectors.values()]
          .filter((c) => holders.has(c.id) || (c.capabilities.export && searchMethod(c) !== null))
          .map((c) => c.id)
      : [];
    const { identities } = planErasure({ profile, shadows, named: resolved.named, connectors: [], alwaysErase: [] });
    const hashes = [...new Set([...(profile?.identities ?? []), ...resolved.named].map((i) => ctx.store.hashIdentity(i)))];
    const request = await this.create('export', profile?.id ?? null, hashes, systems, {
      origin: meta.origin,
      actor: meta.actor,
      ...(meta.notify !== undefined ? { notify: meta.notify } : {}),
      includeLive,
      ...(includeLive ? { search: searchSubject(identities) } : {}),
      outcomes: {},
    });
    await ctx.store.updateDsr(request.id, { status: 'in_progress' });
    await scheduleExport(ctx, request.id);
    return requestView(ctx, request.id);
  }

  private async startChange(
    request: Exclude<DsrInput, { kind: 'erase' | 'export' }>,
    resolved: Resolved,
    meta: RequestMeta,
  ): Promise<Result<DsrView>> {
    const { ctx } = this;
    const { profile } = resolved;
    if (!profile) return fail('subject_not_found', 'no profile matches the subject');
    const hashes = profile.identities.map((i) => ctx.store.hashIdentity(i));
    if (await ctx.store.isSuppressed(hashes)) return fail('subject_erased', 'the person is erased, or being erased');
    const systems = [...ctx.connectors.values()].filter((c) => c.capabilities.push).map((c) => c.id);
    const objection = request.kind === 'object' || request.kind === 'withdraw_objection' ? request.objection : undefined;
    const created = await this.create(request.kind, profile.id, hashes, systems, {
      origin: meta.origin,
      actor: meta.actor,
      ...(meta.notify !== undefined ? { notify: meta.notify } : {}),
      ...(objection ? { objection } : {}),
      ...(request.kind === 'rectify' ? { attributes: Object.keys(request.attributes).sort() } : {}),
      trackUntil: new Date(ctx.now().getTime() + ctx.options.tuning.trackForMs).toISOString(),
      outcomes: {},
    });
    const patchId = `dsr:${created.id}`;
    const reason = objection ? `${REASONS[request.kind]}:${objection}` : REASONS[request.kind];
    const patch: ProfilePatch = {
      id: patchId,
      source: meta.origin === 'preference_center' ? 'preference_center' : 'admin',
      at: created.receivedAt,
      receivedAt: created.receivedAt,
      identities: asLookupKeys(profile.identities),
      attributes: request.kind === 'rectify' ? request.attributes : {},
      consents: {},
      subscriptions: {},
      rights: {
        ...(request.kind === 'restrict' ? { restricted: true } : request.kind === 'unrestrict' ? { restricted: false } : {}),
        objections: objection ? { [objection]: request.kind === 'object' } : {},
      },
      reason,
    };
    const applied = await ctx.ingestPatch(patch, { actor: `dsr:${meta.actor}` });
    const detail = readDetail(created);
    if (applied.status === 'suppressed' || applied.status === 'no_identity') {
      await ctx.store.updateDsr(created.id, { status: 'failed', detail: encodeDetail({ ...detail, patchId, failure: applied.status }) });
      await audit(ctx, 'dsr.failed', created, { reason: applied.status });
      return fail(
        applied.status === 'suppressed' ? 'subject_erased' : 'subject_not_found',
        `the change could not be applied (${applied.status})`,
      );
    }
    await ctx.store.updateDsr(created.id, {
      status: 'in_progress',
      profileId: applied.profileId,
      detail: encodeDetail({ ...detail, patchId }),
    });
    await audit(ctx, 'dsr.applied', created, { patchId, result: applied.status, version: applied.version, reason });
    await scheduleTrack(ctx, created.id, 0, ctx.options.tuning.trackFirstDelayMs);
    return requestView(ctx, created.id);
  }
}

/**
 * The data-subject request service: takes requests (admin API, CLI, preference center, source
 * systems), records them with their deadline and per-system status, and drives them on BullMQ
 * queues that share the engine's Redis connection, key prefix and per-system limiter.
 *
 * - **Erase**: the person's identities (record ids in every system included) are hashed with
 *   the server key and put on the suppression list at once, so nothing of theirs is ingested or
 *   pushed from then on; every system holding them (and every always-erase system) gets a
 *   batched, verified erasure (`eraser.ts`); when all are done the store is emptied of them and
 *   only the proof stays (`settle.ts`).
 * - **Export**: a JSON document (and its CSV form) built by a job (`exporter.ts`).
 * - **Rectify, restrict, unrestrict, object, withdraw objection**: one patch from the hub
 *   (`admin` or `preference_center`), merged and delivered like any change, then tracked until
 *   every system holds it (`tracker.ts`).
 *
 * Every request and every step is in the audit log.
 */
import { logRedisTrouble, redisAddress } from '../queue/redis-health.js';
import { Queue, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import type { ExternalRecord, WebhookEvent } from '../connector/define.js';
import { jsonEqual } from '../connector/mapping.js';
import { asLookupKeys } from '../profile/identities.js';
import type { Identity, MergePolicy, Profile, ProfilePatch } from '../profile/schema.js';
import type { ApplyResult, DataSubjectRequest, DsrStatus, Store } from '../store/types.js';
import type { SyncConnector, Engine } from '../sync/index.js';
import { CallLimiter } from '../queue/call-limiter.js';
import { jobOptions } from '../queue/job-options.js';
import { engineKeys, hashTagPrefix, jobId } from '../queue/keys.js';
import { queueParkedFor } from '../queue/park.js';
import { WorkSets } from '../queue/work-sets.js';
import { audit, encodeDetail, readDetail, scheduleEraseFlush, toView, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import { checkExtension, dueDate, isOverdue } from './deadline.js';
import { Eraser } from './eraser.js';
import type { EraseJobData } from './eraser.js';
import { fail, ok } from './errors.js';
import type { Result } from './errors.js';
import type { ExportDocument } from './export/document.js';
import { Exporter, readExport, scheduleExport } from './exporter.js';
import type { ExportJobData } from './exporter.js';
import { eraseWorkKeys, privacyKeys, privacyQueues } from './keys.js';
import { createPrivacyMetrics } from './metrics.js';
import { PrivacyOptions } from './options.js';
import type { PrivacyOptionsInput } from './options.js';
import { DsrExtension, DsrInput } from './schema.js';
import type { DsrDetail, DsrInputData, DsrKind, DsrView, Subject } from './schema.js';
import { settleRequest } from './settle.js';
import { scheduleSourceCheck, SourceCheck } from './source-check.js';
import type { SourceCheckJobData } from './source-check.js';
import { planErasure } from './targets.js';
import { scheduleTrack, TRACKED_KINDS, Tracker } from './tracker.js';
import type { TrackJobData } from './tracker.js';
import { silentLogger } from '../log/logger.js';

export interface PrivacyServiceDeps {
  store: Store;
  /** A BullMQ-ready Redis connection (`maxRetriesPerRequest: null`): the engine's `connection`. */
  redis: Redis;
  /** The engine's key prefix. */
  prefix: string;
  connectors: readonly SyncConnector[];
  policy: MergePolicy;
  /** Ingests a hub patch (`HubPatchIngest.ingest`): rectify, restrict and object requests go through it. */
  ingestPatch(patch: ProfilePatch, options?: { actor?: string }): Promise<ApplyResult>;
  /** Where metrics are registered (the engine's registry); a private one otherwise. */
  metrics?: Registry;
  logger?: Logger;
  options?: PrivacyOptionsInput;
  /** Clock (tests). */
  now?: () => number;
}

/** Where a request came from and who made it (kept with it, shown in status and the audit log). */
export interface RequestMeta {
  /** `api`, `cli`, `preference_center`, or the connector id of a system that asked. */
  origin: string;
  /** An API key id, `cli`, `preference_center`, or a connector id. */
  actor: string;
}

/**
 * What happened to an erasure request a source system sent. `checking`: the hub does not know
 * the record, so the system is asked first whether it has it (`source-check.ts`).
 */
export type SourceRequestOutcome = 'started' | 'in_progress' | 'already_erased' | 'checking';

/** The engine's parts the workers use. */
export type PrivacyEngine = Pick<Engine, 'instance' | 'metrics'>;

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

export class PrivacyService {
  readonly ctx: PrivacyContext;
  private readonly workers: Worker[] = [];
  private readonly queues: Queue[];
  private closing: Promise<void> | null = null;

  constructor(deps: PrivacyServiceDeps) {
    const options = PrivacyOptions.parse(deps.options ?? {});
    const prefix = hashTagPrefix(deps.prefix);
    const clock = deps.now ?? Date.now;
    const now = (): Date => new Date(clock());
    const connection = { connection: deps.redis, prefix };
    const requests = new Queue(privacyQueues.requests, connection);
    const erase = new Map<string, Queue>();
    for (const c of deps.connectors) if (c.capabilities.erase) erase.set(c.id, new Queue(privacyQueues.erase(c.id), connection));
    this.queues = [requests, ...erase.values()];
    const logger = (deps.logger ?? silentLogger()).child({ component: 'privacy' });
    for (const q of this.queues) q.on('error', (err) => logRedisTrouble(logger, { queue: q.name, err }, `queue error (redis at ${redisAddress(deps.redis)})`));
    this.ctx = {
      store: deps.store,
      redis: deps.redis,
      prefix,
      connectors: new Map(deps.connectors.map((c) => [c.id, c])),
      policy: deps.policy,
      options,
      logger,
      metrics: createPrivacyMetrics(deps.metrics ?? new Registry(), deps.store, now),
      now,
      keys: privacyKeys(prefix),
      queues: { requests, erase },
      work: new WorkSets(deps.redis, eraseWorkKeys(prefix)),
      ingestPatch: deps.ingestPatch,
    };
  }

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

  async get(id: string): Promise<Result<DsrView>> {
    const request = await this.ctx.store.getDsr(id);
    return request ? ok(toView(request, this.ctx.now())) : fail('request_not_found', `no data-subject request ${id}`);
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
      await audit(this.ctx, 'dsr.extended', request, { extendedTo: extension.extendedTo, subjectToldAt: extension.subjectToldAt, reason: extension.reason }, actor);
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
      if (TRACKED_KINDS.some((k) => k === request.kind)) detail.trackUntil = new Date(ctx.now().getTime() + ctx.options.tuning.trackForMs).toISOString();
      for (const connector of again) {
        delete detail.outcomes[connector];
        await ctx.store.updateDsrSystem(id, connector, { status: 'pending', attempts: 0 });
      }
      await ctx.store.updateDsr(id, { status: 'in_progress', detail: encodeDetail(detail) });
      await audit(ctx, 'dsr.retried', request, { systems: again }, actor);
    });
    if (request.kind === 'erase') await this.enqueueErasure(id, again.filter((c) => ctx.queues.erase.has(c)));
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
    if (!document) return fail('export_unavailable', request.status === 'completed' ? 'the export is no longer kept' : 'the export is not ready yet');
    return ok(document);
  }

  /** Records in the audit log that an export was handed out (to whom, in which format). */
  async recordDownload(id: string, actor: string, format: 'json' | 'csv'): Promise<void> {
    const request = await this.ctx.store.getDsr(id);
    if (!request) return;
    await audit(this.ctx, 'dsr.export.downloaded', request, { format }, actor);
  }

  /**
   * An erasure asked for by a source system (HubSpot `contact.privacyDeletion`, Salesforce
   * `ShouldForget`), for its record `externalId`. A record of an already erased person (our own
   * erasure echoed back) or of a person being erased starts nothing. With `checkUnknown` (a
   * webhook that only names the record), a record the hub does not know starts nothing yet: a
   * job asks the system whether it has it, and starts the erasure only then.
   */
  async requestFromSource(
    connector: string,
    ref: { externalId: string; email?: string },
    options: { checkUnknown?: { eventId: string } } = {},
  ): Promise<SourceRequestOutcome> {
    const { store } = this.ctx;
    const own: Identity = { kind: 'external', system: connector, value: ref.externalId };
    const hashes = [store.hashIdentity(own), ...(ref.email ? [store.hashIdentity({ kind: 'email', value: ref.email })] : [])];
    if (await store.isSuppressed(hashes)) return 'already_erased';
    let profileId = await store.findProfileIdByExternalId(connector, ref.externalId);
    if (!profileId && ref.email) profileId = (await store.findProfile({ kind: 'email', value: ref.email }))?.id ?? null;
    if (profileId && (await this.openErasureOf(profileId))) return 'in_progress';
    if (!profileId && options.checkUnknown) {
      await scheduleSourceCheck(this.ctx, { connector, externalId: ref.externalId, eventId: options.checkUnknown.eventId });
      return 'checking';
    }
    const subject: Subject = profileId ? { profileId } : { system: connector, externalId: ref.externalId };
    const result = await this.submit({ kind: 'erase', subject }, { origin: connector, actor: connector });
    if (!result.ok) this.ctx.logger.warn({ connector, code: result.error.code }, 'erasure request from a source system not started');
    return 'started';
  }

  /**
   * Listens to the engine for erasure requests from source systems: webhook `erase` events
   * (HubSpot privacy deletions; a record the hub does not know is confirmed with the system
   * first) and records carrying an erasure flag (Salesforce `ShouldForget`, read from the
   * system), which start an erasure instead of being ingested.
   */
  attachSources(engine: Pick<Engine, 'setEventListener' | 'addRecordScreen'>): void {
    engine.setEventListener(async (connector: string, event: WebhookEvent) => {
      if (event.kind === 'erase') {
        for (const externalId of event.externalIds) {
          const outcome = await this.requestFromSource(connector, { externalId }, { checkUnknown: { eventId: event.eventId } });
          this.ctx.logger.info({ connector, eventId: event.eventId, outcome }, 'erasure request from a source system');
        }
        return;
      }
      this.ctx.logger.info({ connector, kind: event.kind, eventId: event.eventId }, 'webhook event not handled');
    });
    engine.addRecordScreen(async (connector: SyncConnector, records: readonly ExternalRecord[]) => {
      // The connector definition's flag (`ConnectorDefinition.erasureFlag`), carried by its binding.
      const flag = connector.erasureFlag;
      if (!flag) return [...records];
      const emailField = connector.mapping.inbound.find((e) => e.target.kind === 'identity' && e.target.identity === 'email')?.external;
      const kept: ExternalRecord[] = [];
      for (const record of records) {
        if (!jsonEqual(record.fields[flag.field], flag.value)) {
          kept.push(record);
          continue;
        }
        const email = emailField === undefined ? undefined : record.fields[emailField];
        const outcome = await this.requestFromSource(connector.id, { externalId: record.externalId, ...(typeof email === 'string' ? { email } : {}) });
        this.ctx.logger.info({ connector: connector.id, outcome }, 'erasure flag in a source record');
      }
      return kept;
    });
  }

  /**
   * Lifts a rate-limit park of the connector's erase queue (an operator's call, beside the
   * engine's `unpark`) and runs the queue at once. Returns how long the park had left (ms).
   */
  async unpark(connector: string): Promise<number> {
    const queue = this.ctx.queues.erase.get(connector);
    if (!queue) return 0;
    const left = await queueParkedFor(queue);
    await queue.removeRateLimitKey();
    await scheduleEraseFlush(this.ctx, connector, 'now');
    return left;
  }

  /** Starts the workers (exports, delivery tracking, one erase queue per system) and the sweep. */
  async start(engine: PrivacyEngine): Promise<void> {
    const { ctx } = this;
    const t = ctx.options.tuning;
    // A lifted park (see sync/park.ts) reaches the engine's connector instances this process calls.
    const limiter = new CallLimiter(ctx.redis, engineKeys(ctx.prefix), t.limiterMarginMs, async (id) => (await engine.instance(id)).unpark?.());
    const eraser = new Eraser(ctx, { engine, limiter });
    const exporter = new Exporter(ctx, { engine, limiter });
    const sourceCheck = new SourceCheck(ctx, { engine, limiter, start: (connector, externalId) => this.requestFromSource(connector, { externalId }) });
    const tracker = new Tracker(ctx);
    const base = { connection: ctx.redis, prefix: ctx.prefix };
    this.add(
      new Worker(
        privacyQueues.requests,
        async (job: Job, _token?: string, signal?: AbortSignal) => {
          if (job.name === 'export') return exporter.process(job as Job<ExportJobData>, signal);
          if (job.name === 'source-check') return sourceCheck.process(job as Job<SourceCheckJobData>, signal);
          if (job.name === 'track') return tracker.process(job as Job<TrackJobData>);
          if (job.name === 'sweep') return this.sweep();
          return null;
        },
        { ...base, concurrency: 4 },
      ),
    );
    for (const connector of ctx.queues.erase.keys()) {
      // As many batches at once as the system takes calls at once: one batch's bookkeeping in the
      // store overlaps the next one's calls (the connector's pacing keeps them within its limits).
      const limits = ctx.connectors.get(connector)?.limits;
      const concurrency = limits?.concurrency ?? 1;
      // A limiter as on the push queues (a run makes at least one call): without one, BullMQ
      // ignores the queue's manual rate limit, and a parked run would be taken again at once.
      const limiter = { max: limits?.requestsPerWindow ?? 100, duration: limits?.windowMs ?? 10_000 };
      this.add(
        new Worker<EraseJobData>(privacyQueues.erase(connector), (job, _token, signal) => eraser.process(job, signal), {
          ...base,
          concurrency,
          limiter,
          // A parked queue asks again this often, so a lifted park is noticed (see `unpark`).
          maximumRateLimitDelay: t.parkRecheckMs,
        }),
      );
    }
    await this.restoreSchedulers();
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    ctx.logger.info({ erase: [...ctx.queues.erase.keys()] }, 'privacy workers started');
  }

  /** (Re-)creates the sweep's job scheduler: at start, and after Redis came back empty. Idempotent. */
  async restoreSchedulers(): Promise<void> {
    const every = this.ctx.options.tuning.sweepEveryMs;
    await this.ctx.queues.requests.upsertJobScheduler('dsr-sweep', { every }, { name: 'sweep', opts: jobOptions.sweep() });
  }

  /**
   * The safety net: requests whose work was lost (Redis restarted, a worker died between two
   * steps) are driven again. Every step is idempotent, so driving one twice does no harm.
   */
  async sweep(): Promise<{ open: number; redriven: number }> {
    const { ctx } = this;
    const open = [...(await ctx.store.listDsr({ status: 'received' })), ...(await ctx.store.listDsr({ status: 'in_progress' }))];
    const staleMs = 60_000;
    const now = ctx.now().getTime();
    let redriven = 0;
    for (const request of open) {
      const stale = request.status === 'received' && now - Date.parse(request.receivedAt) > staleMs;
      if (request.kind === 'erase') {
        if (stale) await ctx.store.suppress(request.identityHashes, `erasure ${request.id}`);
        const lost: string[] = [];
        for (const s of request.systems) {
          if ((s.status !== 'pending' && s.status !== 'in_progress') || !ctx.queues.erase.has(s.connector)) continue;
          if (!(await this.isQueued(s.connector, request.id))) lost.push(s.connector);
        }
        if (lost.length > 0) {
          await this.enqueueErasure(request.id, lost);
          redriven++;
        }
        await withLock(ctx, request.id, () => settleRequest(ctx, request.id));
      } else if (request.kind === 'export') {
        const job = await ctx.queues.requests.getJob(jobId('export', request.id, 0));
        const state = job ? await job.getState() : 'missing';
        if (state === 'missing' || state === 'failed' || state === 'completed') {
          await scheduleExport(ctx, request.id, Math.floor(now / ctx.options.tuning.sweepEveryMs));
          redriven++;
        }
      } else if (stale) {
        // The change was never applied (the values are not kept): the person has to ask again.
        await withLock(ctx, request.id, async () => {
          const detail = readDetail(request);
          await ctx.store.updateDsr(request.id, { status: 'failed', detail: encodeDetail({ ...detail, failure: 'interrupted before the change was applied; make the request again' }) });
          await audit(ctx, 'dsr.failed', request, { reason: 'interrupted' });
        });
      } else if (request.status === 'in_progress') {
        await ctx.queues.requests.add('track', { dsrId: request.id, check: 0 } satisfies TrackJobData, {
          ...jobOptions.trackRedrive(),
          jobId: jobId('track', request.id, 'sweep', Math.floor(now / ctx.options.tuning.sweepEveryMs)),
        });
      }
    }
    return { open: open.length, redriven };
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.workers.map((w) => w.close()));
      await Promise.all(this.queues.map((q) => q.close()));
    })();
    return this.closing;
  }

  private add(worker: Worker): void {
    worker.on('error', (err) => logRedisTrouble(this.ctx.logger, { queue: worker.name, err }, `worker error (redis at ${redisAddress(this.ctx.redis)})`));
    worker.on('failed', (job: Job | undefined, err: Error) =>
      this.ctx.logger.warn({ queue: worker.name, job: job?.name, attempts: job?.attemptsMade, err }, 'privacy job failed'),
    );
    this.workers.push(worker);
  }

  private async isQueued(connector: string, dsrId: string): Promise<boolean> {
    const keys = eraseWorkKeys(this.ctx.prefix);
    const scores = await this.ctx.redis
      .pipeline()
      .zscore(keys.dirty(connector), dsrId)
      .zscore(keys.inflight(connector), dsrId)
      .zscore(keys.retry(connector), dsrId)
      .exec();
    return (scores ?? []).some(([, score]) => score !== null);
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

  private async openErasureOf(profileId: string): Promise<DataSubjectRequest | undefined> {
    const requests = await this.ctx.store.listDsr({ profileId, kind: 'erase' });
    return requests.find((r) => r.status === 'received' || r.status === 'in_progress');
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

  private async startErasure(resolved: Resolved, meta: RequestMeta): Promise<Result<DsrView>> {
    const { profile } = resolved;
    if (!profile) return this.erase(resolved, meta);
    // One erasure per person at a time, even when two arrive at once (a double click, a webhook and a request).
    return withLock(this.ctx, `profile:${profile.id}`, async () => {
      const existing = await this.openErasureOf(profile.id);
      return existing ? ok(toView(existing, this.ctx.now())) : this.erase(resolved, meta);
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
    const systems = [...Object.keys(plan.refs), ...plan.manual];
    const request = await this.create('erase', profile?.id ?? null, hashes, systems, {
      origin: meta.origin,
      actor: meta.actor,
      work: plan.refs,
      outcomes: {},
      ...(plan.manual.length > 0 ? { manual: plan.manual } : {}),
    });
    // From here on nothing of theirs is ingested from any system, nor pushed to one.
    await ctx.store.suppress(hashes, `erasure ${request.id}`);
    await audit(ctx, 'dsr.suppressed', request, { identityHashes: hashes });
    for (const connector of plan.manual) {
      await ctx.store.updateDsrSystem(request.id, connector, { status: 'failed', error: 'the connector cannot erase: erase the person there by hand' });
    }
    await ctx.store.updateDsr(request.id, { status: 'in_progress' });
    await this.enqueueErasure(request.id, Object.keys(plan.refs));
    // With nothing to erase anywhere (or only by hand), it is settled now.
    if (Object.keys(plan.refs).length === 0) await withLock(ctx, request.id, () => settleRequest(ctx, request.id));
    return this.get(request.id);
  }

  private async enqueueErasure(dsrId: string, connectors: readonly string[]): Promise<void> {
    if (connectors.length === 0) return;
    await this.ctx.work.markDirty(new Map(connectors.map((c) => [c, [dsrId]])));
    for (const c of connectors) await scheduleEraseFlush(this.ctx, c, Date.now() + this.ctx.options.tuning.eraseBatchWaitMs);
  }

  private async startExport(resolved: Resolved, includeLive: boolean, meta: RequestMeta): Promise<Result<DsrView>> {
    const { ctx } = this;
    const { profile } = resolved;
    const shadows = profile ? await ctx.store.shadowsByProfile(profile.id) : [];
    const systems = includeLive ? shadows.map((s) => s.connector).filter((c) => ctx.connectors.has(c)) : [];
    const hashes = [...new Set([...(profile?.identities ?? []), ...resolved.named].map((i) => ctx.store.hashIdentity(i)))];
    const request = await this.create('export', profile?.id ?? null, hashes, systems, { origin: meta.origin, actor: meta.actor, includeLive, outcomes: {} });
    await ctx.store.updateDsr(request.id, { status: 'in_progress' });
    await scheduleExport(ctx, request.id);
    return this.get(request.id);
  }

  private async startChange(request: Exclude<DsrInput, { kind: 'erase' | 'export' }>, resolved: Resolved, meta: RequestMeta): Promise<Result<DsrView>> {
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
      return fail(applied.status === 'suppressed' ? 'subject_erased' : 'subject_not_found', `the change could not be applied (${applied.status})`);
    }
    await ctx.store.updateDsr(created.id, { status: 'in_progress', profileId: applied.profileId, detail: encodeDetail({ ...detail, patchId }) });
    await audit(ctx, 'dsr.applied', created, { patchId, result: applied.status, version: applied.version, reason });
    await scheduleTrack(ctx, created.id, 0, ctx.options.tuning.trackFirstDelayMs);
    return this.get(created.id);
  }
}

/** Whether a request view is overdue now (for callers that hold a view, not a row). */
export function overdueNow(view: Pick<DsrView, 'status' | 'dueAt' | 'extendedTo'>, now = new Date()): boolean {
  return isOverdue(view, now);
}

/** What the privacy module's parts share: store, Redis, queues, options, and small helpers. */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { RedisClient } from '../queue/redis-client.js';
import type { Logger } from 'pino';
import type { Json, MergePolicy, ProfilePatch } from '../profile/schema.js';
import type { ApplyResult, DataSubjectRequest, Store } from '../store/types.js';
import type { SyncConnector, Engine } from '../sync/index.js';
import type { CallLimiter } from '../queue/call-limiter.js';
import { callExternal } from '../queue/external-call.js';
import type { Operation } from '../queue/external-call.js';
import { jobOptions } from '../queue/job-options.js';
import { jobId } from '../queue/keys.js';
import { LuaScript } from '../queue/lua.js';
import type { WorkSets } from '../queue/work-sets.js';
import { isOverdue } from './deadline.js';
import type { privacyKeys } from './keys.js';
import type { PrivacyMetrics } from './metrics.js';
import type { PrivacyOptions } from './options.js';
import { DsrDetail } from './schema.js';
import type { DsrView, ErasureState } from './schema.js';

export interface PrivacyContext {
  store: Store;
  /** A BullMQ-ready connection (`maxRetriesPerRequest: null`), normally the engine's. */
  redis: RedisClient;
  /** The engine's key prefix, with its hash tag. */
  prefix: string;
  connectors: ReadonlyMap<string, SyncConnector>;
  policy: MergePolicy;
  options: PrivacyOptions;
  logger: Logger;
  metrics: PrivacyMetrics;
  now(): Date;
  keys: ReturnType<typeof privacyKeys>;
  queues: { requests: Queue; erase: ReadonlyMap<string, Queue> };
  /** Erasures waiting, taken and backing off, per connector (members are request ids). */
  work: WorkSets;
  ingestPatch(patch: ProfilePatch, options?: { actor?: string }): Promise<ApplyResult>;
  /** Told of each request that completes or fails (see `PrivacyServiceDeps.onSettled`). */
  onSettled?: (settled: SettledRequest) => void | Promise<void>;
}

/** A request that just completed or failed, as `onSettled` is told of it. */
export interface SettledRequest {
  id: string;
  kind: DataSubjectRequest['kind'];
  /** `failed`: some system failed for good; the controller follows it up (it can be retried). */
  status: 'completed' | 'failed';
  origin: string;
  /** The reference the request was made with (`RequestMeta.notify`), if any. */
  notify?: string;
}

const EMPTY_DETAIL: DsrDetail = { origin: 'unknown', actor: 'unknown', outcomes: {} };

/** The request's detail, read through its schema. */
export function readDetail(request: Pick<DataSubjectRequest, 'detail'>): DsrDetail {
  const parsed = DsrDetail.safeParse(request.detail);
  return parsed.success ? parsed.data : { ...EMPTY_DETAIL };
}

/** The detail as the store keeps it (JSON without undefined members). */
export function encodeDetail(detail: DsrDetail): Record<string, Json> {
  return JSON.parse(JSON.stringify(detail)) as Record<string, Json>;
}

const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * Runs `fn` holding the request's lock (shared by every process on the same Redis), so two
 * systems finishing at once do not lose each other's part of the detail.
 */
export async function withLock<T>(ctx: PrivacyContext, dsrId: string, fn: () => Promise<T>): Promise<T> {
  const key = ctx.keys.lock(dsrId);
  const token = randomUUID();
  const leaseMs = 30_000;
  const deadline = Date.now() + 2 * leaseMs;
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    if ((await ctx.redis.set(key, token, 'PX', leaseMs, 'NX')) === 'OK') break;
    if (Date.now() > deadline) throw new Error(`could not lock data-subject request ${dsrId}`);
    await sleep(wait);
  }
  try {
    return await fn();
  } finally {
    await RELEASE.run(ctx.redis, [key], [token]);
  }
}

/** Appends an audit row about a request (never identities in clear). */
export async function audit(
  ctx: PrivacyContext,
  action: string,
  request: Pick<DataSubjectRequest, 'id' | 'kind' | 'profileId'>,
  detail: Record<string, Json> = {},
  actor = 'privacy',
): Promise<void> {
  await ctx.store.appendAudit({
    actor,
    action,
    profileId: request.profileId,
    detail: { dsrId: request.id, kind: request.kind, ...detail },
  });
}

/** A request as the admin API and CLI show it. */
export function toView(request: DataSubjectRequest, now: Date): DsrView {
  const detail = readDetail(request);
  return {
    id: request.id,
    kind: request.kind,
    status: request.status,
    profileId: request.profileId,
    origin: detail.origin,
    identityHashes: request.identityHashes,
    receivedAt: request.receivedAt,
    dueAt: request.dueAt,
    extendedTo: request.extendedTo,
    subjectToldAt: request.subjectToldAt,
    completedAt: request.completedAt,
    overdue: isOverdue(request, now),
    objection: detail.objection ?? null,
    export:
      request.kind === 'export'
        ? {
            ready: detail.export !== undefined && Date.parse(detail.export.expiresAt) > now.getTime(),
            expiresAt: detail.export?.expiresAt ?? null,
          }
        : null,
    failure: detail.failure ?? null,
    systems: request.systems.map((s) => ({
      ...s,
      outcome: detail.outcomes[s.connector] ?? null,
      progress: progressView(detail.erasing?.[s.connector]),
    })),
  };
}

/** An erasure the system carries out later, while it waits for the system (its tickets not yet done). */
function progressView(state: ErasureState | undefined): DsrView['systems'][number]['progress'] {
  if (!state?.tickets?.length || state.verifyOnly) return null;
  const at = state.reportedAt ?? state.since ?? '';
  return { text: state.progress ?? '', tickets: state.tickets, since: state.since ?? at, reportedAt: at };
}

/** Granularity of "as soon as possible" flush jobs; adds within one slot share a job. */
const NOW_SLOT_MS = 10;

/** Schedules a run of a connector's erase queue, now or at `when` (ms); adds within one slot share a job. */
export async function scheduleEraseFlush(ctx: PrivacyContext, connector: string, when: 'now' | number): Promise<void> {
  const queue = ctx.queues.erase.get(connector);
  if (!queue) return;
  const now = Date.now();
  const at = when === 'now' ? now : Math.max(now, when);
  const slot = Math.floor(at / NOW_SLOT_MS) + 1;
  await queue.add(
    'erase',
    { connector },
    {
      ...jobOptions.erase(),
      jobId: jobId('erase', slot),
      delay: Math.max(0, slot * NOW_SLOT_MS - now),
    },
  );
}

/**
 * Puts a request in the erase work sets of `connectors` and schedules a run of each one's queue
 * after the batching wait (intake, retry and the sweep all start erasures this way).
 */
export async function enqueueErasure(ctx: PrivacyContext, dsrId: string, connectors: readonly string[]): Promise<void> {
  if (connectors.length === 0) return;
  await ctx.work.markDirty(new Map(connectors.map((c) => [c, [dsrId]])));
  for (const c of connectors) await scheduleEraseFlush(ctx, c, Date.now() + ctx.options.tuning.eraseBatchWaitMs);
}

/** A job of the requests queue that is tried `attempts` times with the module's backoff. */
export function retriedJobOptions(ctx: PrivacyContext, id: string, attempts: number): JobsOptions {
  return { ...jobOptions.dsrRetried(attempts, ctx.options.tuning.backoff.baseMs), jobId: id };
}

/** What a call to a system needs from the engine: its limiter for that system and its metrics. */
export interface SystemCallDeps {
  engine: Pick<Engine, 'metrics'>;
  limiter: CallLimiter;
}

/** One call to a system through the engine's limiter for it, with the module's quick retries of transient failures. */
export function callSystem<T>(
  ctx: PrivacyContext,
  deps: SystemCallDeps,
  connector: SyncConnector,
  operation: Operation,
  fn: () => Promise<T>,
  options: { signal?: AbortSignal; slot?: string } = {},
): Promise<T> {
  const t = ctx.options.tuning;
  return callExternal(
    { limiter: deps.limiter, metrics: deps.engine.metrics, retries: t.callRetries, retryMinMs: t.callRetryMinMs },
    connector,
    operation,
    fn,
    options,
  );
}

const EMAIL = /[^\s@<>"'()]+@[^\s@<>"'()]+/g;

/** A system's text (a reason, a progress) made fit for the store and logs: short, e-mail addresses masked. */
export function safeText(text: string): string {
  return text.replace(EMAIL, '[email]').slice(0, 300);
}

/** An error as a short reason fit for the store and logs: e-mail addresses are masked. */
export function reasonOf(err: unknown): string {
  return safeText(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}

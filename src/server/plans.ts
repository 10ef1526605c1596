/**
 * Plans asked for through the admin API (`POST /api/v1/plans`): `planSync` run in the API process
 * that took the request, at most one at a time per hub (a Redis lock under the hub's prefix,
 * renewed while the plan runs, so every API process of the hub sees it). Its state, progress and
 * finally its report live in one Redis key under the hub's prefix that expires an hour after the
 * plan ends: a plan is derived from the systems and the store and can always be made again, so it
 * is kept only as long as someone may come for the answer. The plan itself writes nothing; these
 * two keys are all that is written, and only to Redis.
 */
import { v7 as uuidv7 } from 'uuid';
import type { RedisClient } from '../queue/redis-health.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { redactContacts } from '../log/logger.js';
import type { MergePolicy } from '../profile/schema.js';
import { planSync, PlanReport } from '../sync/index.js';
import type { PlanStore, SyncConnector } from '../sync/index.js';

/** Why a plan failed: a read failed, the hub process stopped it on shutdown, or that process went away. */
export type PlanErrorCode = 'plan_failed' | 'plan_interrupted' | 'plan_abandoned';
const PLAN_ERROR_CODES = ['plan_failed', 'plan_interrupted', 'plan_abandoned'] as const satisfies readonly PlanErrorCode[];

/** How long a plan's state is kept after it ends (and at most between two progress writes). */
export const PLAN_KEEP_MS = 60 * 60_000;
/** The lock lapses this long after its last renewal (a process that died frees it). */
const LOCK_MS = 30_000;
/** The lock is renewed this often while the plan runs. */
const RENEW_MS = 10_000;
/** Renews (ARGV[2] = ms) or, without ARGV[2], frees the lock KEYS[1] when it still holds ARGV[1]. */
const IF_OURS = `if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return redis.call('del', KEYS[1])`;
/** Progress is written at most this often. */
const PROGRESS_MS = 1_000;

export const PlanProgress = z.object({
  connector: z.string(),
  pages: z.number().int().nonnegative().meta({ description: 'Pages read so far.' }),
  records: z.number().int().nonnegative().meta({ description: 'Records read so far.' }),
});

export const PlanView = z
  .object({
    planId: z.string().meta({ description: 'The plan; its state at `GET /plans/{planId}`.' }),
    connector: z.string().nullable().meta({ description: 'The connector read, when one was named (else every connector that pulls).' }),
    state: z.enum(['running', 'done', 'failed']),
    startedAt: z.string().meta({ description: 'ISO 8601.' }),
    endedAt: z.string().nullable().meta({ description: 'ISO 8601; null while running.' }),
    progress: z.array(PlanProgress).meta({ description: 'Per system read so far: pages and records.' }),
    report: PlanReport.nullable().meta({ description: 'When done: the plan, as `concord plan --json` prints it.' }),
    error: z
      .object({
        code: z.enum(PLAN_ERROR_CODES),
        message: z.string().meta({ description: 'For people; holds no e-mail address or phone number.' }),
      })
      .nullable()
      .meta({ description: 'When failed: why (a stable code, see docs/ERRORS.md).' }),
  })
  .meta({ description: 'A plan (a dry run of the next sync) made by the hub; kept an hour after it ends.' });
export type PlanView = z.infer<typeof PlanView>;

export interface PlanRunnerOptions {
  redis: RedisClient;
  /** The hub's key prefix (with its hash tag). */
  prefix: string;
  connectors: readonly SyncConnector[];
  store: PlanStore;
  policy: MergePolicy;
  logger: Logger;
}

/** Starts plans, answers their state, stops the one running here on close. */
export class PlanRunner {
  private running: { id: string; abort: AbortController; done: Promise<void> } | null = null;

  constructor(private readonly o: PlanRunnerOptions) {}

  private key(id: string): string {
    return `${this.o.prefix}:plan:${id}`;
  }

  private get lockKey(): string {
    return `${this.o.prefix}:plan-lock`;
  }

  /**
   * Starts a plan of every connector that pulls (or of `only`); answers its id, or the running
   * plan's id when one already runs in this hub.
   */
  async start(only: string | undefined): Promise<{ planId: string } | { running: string }> {
    const id = uuidv7();
    const taken = await this.o.redis.set(this.lockKey, id, 'PX', LOCK_MS, 'NX');
    if (taken === null) return { running: (await this.o.redis.get(this.lockKey)) ?? 'unknown' };
    const view: PlanView = {
      planId: id,
      connector: only ?? null,
      state: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      progress: [],
      report: null,
      error: null,
    };
    await this.write(view);
    const abort = new AbortController();
    this.running = { id, abort, done: this.run(view, only, abort.signal) };
    return { planId: id };
  }

  /** A plan's state; null when unknown or expired. A running plan whose process went away is failed (`plan_abandoned`). */
  async get(id: string): Promise<PlanView | null> {
    const text = await this.o.redis.get(this.key(id));
    if (text === null) return null;
    const view = PlanView.parse(JSON.parse(text));
    if (view.state !== 'running' || (await this.o.redis.get(this.lockKey)) === id) return view;
    const abandoned: PlanView = {
      ...view,
      state: 'failed',
      endedAt: new Date().toISOString(),
      error: { code: 'plan_abandoned', message: 'the hub process making the plan stopped before it ended' },
    };
    // Unless it ended in the meantime (its last write came after our read).
    const again = await this.o.redis.get(this.key(id));
    if (again !== text) return PlanView.parse(JSON.parse(again ?? text));
    await this.write(abandoned);
    return abandoned;
  }

  /** Stops the plan running in this process (it ends failed, `plan_interrupted`) and waits for it. */
  async close(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.abort.abort();
    await running.done;
  }

  private async write(view: PlanView): Promise<void> {
    await this.o.redis.set(this.key(view.planId), JSON.stringify(view), 'PX', PLAN_KEEP_MS);
  }

  private async run(view: PlanView, only: string | undefined, signal: AbortSignal): Promise<void> {
    const logger = this.o.logger.child({ planId: view.planId });
    const renew = setInterval(() => {
      this.o.redis
        .eval(IF_OURS, 1, this.lockKey, view.planId, String(LOCK_MS))
        .catch((err: unknown) => logger.warn({ err }, 'plan: lock not renewed'));
    }, RENEW_MS);
    renew.unref();
    let lastWrite = 0;
    let writing: Promise<void> = Promise.resolve();
    const progress = new Map<string, z.infer<typeof PlanProgress>>();
    let end: PlanView;
    try {
      logger.info({ connector: only ?? null }, 'plan started');
      const report = await planSync({
        connectors: this.o.connectors,
        ...(only === undefined ? {} : { only }),
        store: this.o.store,
        policy: this.o.policy,
        logger,
        signal,
        progress: (event) => {
          progress.set(event.connector, event);
          if (Date.now() - lastWrite < PROGRESS_MS) return;
          lastWrite = Date.now();
          const snapshot = { ...view, progress: [...progress.values()] };
          writing = writing.then(() => this.write(snapshot)).catch((err: unknown) => logger.warn({ err }, 'plan: progress not saved'));
        },
      });
      end = {
        ...view,
        state: 'done',
        endedAt: new Date().toISOString(),
        progress: [...progress.values()],
        report: PlanReport.parse(report),
      };
      logger.info({ ms: report.ms }, 'plan done');
    } catch (err) {
      const message = redactContacts(err instanceof Error ? err.message : String(err));
      const code: PlanErrorCode = signal.aborted ? 'plan_interrupted' : 'plan_failed';
      end = { ...view, state: 'failed', endedAt: new Date().toISOString(), progress: [...progress.values()], error: { code, message } };
      logger.warn({ code, message }, 'plan failed');
    } finally {
      clearInterval(renew);
    }
    try {
      await writing;
      await this.write(end);
      await this.o.redis.eval(IF_OURS, 1, this.lockKey, view.planId);
    } catch (err) {
      logger.error({ err }, 'plan: outcome not saved');
    } finally {
      if (this.running?.id === view.planId) this.running = null;
    }
  }
}

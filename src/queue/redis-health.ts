/**
 * Living with a Redis that goes away. Redis holds work, never truth: when it is unreachable the
 * hub refuses work at once (`RedisUnavailableError`, answered as 503 with Retry-After) instead
 * of queueing commands until it returns, logs the trouble at a bounded rate, and when it comes
 * back empty (restarted without persistence, flushed, failed over to an empty replica) the
 * `RedisWatch` notices and the engine rebuilds what lived there (job schedulers, dirty sets
 * from the outbox).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { isClusterClient, redisTargetAddress } from './redis-client.js';

/** The hub's Redis client type, for layers that may only know `redis-health.ts` (the server). */
export type { RedisClient } from './redis-client.js';
import type { Logger } from 'pino';

/** Redis is not connected: nothing was queued, the caller should try again later. */
export class RedisUnavailableError extends Error {
  readonly code = 'sync.redis_unavailable';
  /** Seconds a client should wait before trying again (HTTP Retry-After). */
  readonly retryAfterSec = 5;
  constructor(detail = 'Redis is not connected') {
    super(detail);
    this.name = 'RedisUnavailableError';
  }
}

/** Connection states after a failure: the connection was lost or never made, and commands would wait. */
const DOWN = new Set(['reconnecting', 'close', 'end']);

/** Connections that lost Redis and have not been ready since. */
const lost = new WeakSet<RedisClient>();
/** Connections whose losses and recoveries are followed (from the first `redisReady` on them). */
const followed = new WeakSet<RedisClient>();

function follow(connection: RedisClient): void {
  if (followed.has(connection)) return;
  followed.add(connection);
  connection.on('close', () => lost.add(connection));
  connection.on('ready', () => lost.delete(connection));
}

/**
 * True unless a connection is known to be down. A connection still connecting for the first
 * time counts as up (its commands are bounded by `withRedisDeadline`), so a process that has
 * just started does not refuse work for the milliseconds its connections take. A connection
 * that has lost Redis is down until it is ready again: its reconnect attempts pass through
 * `connecting` and `connect`, which would otherwise let a request in to wait for the deadline
 * (against an unreachable host, for the whole connect timeout of every attempt).
 */
export function redisReady(...connections: readonly RedisClient[]): boolean {
  return connections.every((c) => {
    follow(c);
    if (DOWN.has(c.status)) lost.add(c);
    return lost.has(c) ? c.status === 'ready' : !DOWN.has(c.status);
  });
}

/** Throws `RedisUnavailableError` when a connection is known to be down. */
export function assertRedisReady(...connections: readonly RedisClient[]): void {
  if (!redisReady(...connections)) throw new RedisUnavailableError();
}

/**
 * Runs `work` (Redis commands) but gives up after `timeoutMs` with `RedisUnavailableError`:
 * a connection lost in the middle of a command would otherwise hold the caller until Redis
 * returns. The work itself may still complete later (every Redis effect here is idempotent).
 */
export async function withRedisDeadline<T>(timeoutMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work().catch((err: unknown) => {
        throw clusterTransient(err) ?? err;
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisUnavailableError(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Answers of a Redis Cluster that mean "not now" (a slot moving or unserved): `TRYAGAIN` (a
 * multi-key command while its keys are split by a migration), `CLUSTERDOWN`, and `MOVED`/`ASK`
 * left over, and ioredis's own `Too many Cluster redirections` once its redirections ran out
 * (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#redirection-and-resharding).
 *
 * `NOSCRIPT` too: ioredis sends a script's source (EVAL) the first time a connection runs it and
 * its hash (EVALSHA) after that, even when the node refused that EVAL (a `TRYAGAIN` or a redirect
 * while a slot moved to it), so a pipelined script (BullMQ's job adds) is answered `NOSCRIPT` once
 * on the slot's new owner; ioredis then forgets the script on that connection and the next try
 * sends the source. An `EXECABORT` whose queued commands were refused only so is "not now" too.
 */
const CLUSTER_TRANSIENT = /^(TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOSCRIPT|Too many Cluster redirections)\b/;

function transientAnswer(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (CLUSTER_TRANSIENT.test(err.message)) return true;
  const previous: unknown = Reflect.get(err, 'previousErrors');
  return err.message.startsWith('EXECABORT') && Array.isArray(previous) && previous.length > 0 && previous.every(transientAnswer);
}

/**
 * The `RedisUnavailableError` a "not now" answer means (a cluster's, or a single node's one
 * `NOSCRIPT` per connection after `SCRIPT FLUSH`); undefined for any other error.
 */
export function clusterTransient(err: unknown): RedisUnavailableError | undefined {
  if (!(err instanceof Error) || !transientAnswer(err)) return undefined;
  return new RedisUnavailableError(`Redis cannot take it now: ${err.message.slice(0, 60)}`);
}

/** What `exec()` of an ioredis pipeline or MULTI answers: per command, its error or its result. */
type ExecResults = [error: Error | null, result: unknown][] | null;

/**
 * Runs a pipeline or MULTI and throws when any of its commands failed: ioredis answers each
 * command's error in the results instead of rejecting, so a command refused while a Cluster
 * slot migrates (`TRYAGAIN`, `ASK`/`MOVED` a pipeline cannot follow) would otherwise pass
 * silently. The error is `RedisUnavailableError` when it is a "not now" answer (as in
 * `withRedisDeadline`); a MULTI Redis aborted (`null`) throws too. Every caller's effects are
 * idempotent, so the work that threw is simply done again.
 */
export async function execAll(batch: { exec(): Promise<ExecResults> }): Promise<[error: Error | null, result: unknown][]> {
  // A MULTI Redis refused as a whole (`EXECABORT` after `TRYAGAIN`) rejects: the same "not now".
  const results = await batch.exec().catch((err: unknown) => {
    throw clusterTransient(err) ?? err;
  });
  if (results === null) throw new RedisUnavailableError('Redis aborted the transaction');
  for (const [err] of results) if (err) throw clusterTransient(err) ?? err;
  return results;
}

/**
 * Throws unless a Redis Cluster can serve the slots of `keys` now: `CLUSTER INFO` says
 * `cluster_state:ok` and each key's slot answers (`EXISTS`, routed to the slot's owner, fails
 * with `CLUSTERDOWN` when the slot is unassigned). A single node or Sentinel client passes.
 */
export async function assertClusterServes(client: RedisClient, keys: readonly string[]): Promise<void> {
  if (!isClusterClient(client)) return;
  const info = String(await client.cluster('INFO'));
  const state = /cluster_state:(\w+)/.exec(info)?.[1];
  if (state !== 'ok') throw new Error(`cluster state ${state ?? 'unknown'}`);
  for (const key of keys) await client.exists(key);
}

/** At most one line about Redis trouble per this many ms, for the whole process. */
export const REDIS_LOG_EVERY_MS = 10_000;
let lastRedisLine = Number.NEGATIVE_INFINITY;
let suppressedLines = 0;

/**
 * Logs Redis trouble (connection errors of every connection, queue and worker) at a bounded
 * rate: while Redis is down each connection reports every reconnect attempt, which would
 * flood the log. Lines left out are counted in the next one (`suppressed`).
 */
export function logRedisTrouble(logger: Logger, fields: Record<string, unknown>, message: string): void {
  const now = Date.now();
  if (now - lastRedisLine < REDIS_LOG_EVERY_MS) {
    suppressedLines++;
    return;
  }
  lastRedisLine = now;
  logger.warn({ ...fields, ...(suppressedLines > 0 ? { suppressed: suppressedLines } : {}) }, message);
  suppressedLines = 0;
}

/** A Redis connection's address for logs (never its password). */
export function redisAddress(redis: RedisClient): string {
  return redisTargetAddress(redis);
}

export interface RedisResetEvent {
  /** This process wrote the new epoch: it found Redis without one. */
  created: boolean;
  /** Found while the engine started (no schedulers to re-create yet). */
  initial: boolean;
}

/**
 * Notices that Redis lost its data. A sentinel key holds an epoch id written when the hub
 * first saw this Redis; a Redis that comes back without it (or with another one) is a new,
 * empty Redis. Checked every `everyMs` and at once whenever the connection becomes ready
 * again. Each process reacts once per new epoch (`onReset`); if that fails it is tried again
 * at the next check.
 *
 * A check begun before the connection was lost holds no check after it: its commands (those of
 * `onReset` too, BullMQ's among them) may wait for a connection that is gone and never settle,
 * and the reconnect must still rebuild at once. Such a check is left to finish on its own and
 * records no epoch, so `onReset` may run again meanwhile: it has to be idempotent.
 */
export class RedisWatch {
  /** The epoch last seen under each key (one per hash tag of the hub). */
  private readonly epochs = new Map<string, string>();
  private readonly keys: readonly string[];
  private timer: NodeJS.Timeout | null = null;
  /** The check under way, and how many losses of the connection had been seen when it began. */
  private running: { done: Promise<void>; losses: number } | null = null;
  /** Losses of the connection seen since `start`. */
  private losses = 0;
  private readonly onReady = (): void => void this.check();
  private readonly onClose = (): void => {
    this.losses++;
  };

  /**
   * `keys`: the epoch keys, one per hash tag the hub's data lives on (the engine's and each
   * queue's): in a Redis Cluster a node that restarts empty loses only the tags it serves.
   */
  constructor(
    private readonly redis: RedisClient,
    keys: string | readonly string[],
    private readonly everyMs: number,
    private readonly onReset: (event: RedisResetEvent) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.keys = typeof keys === 'string' ? [keys] : keys;
  }

  /** Reads (or writes) the epoch; resolves once the first check is done. */
  async start(): Promise<void> {
    this.redis.on('ready', this.onReady);
    this.redis.on('close', this.onClose);
    this.timer = setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
    await this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.redis.off('ready', this.onReady);
    this.redis.off('close', this.onClose);
  }

  /**
   * One check at a time; a check asked for while one runs shares it, unless the connection was
   * lost since that one began (it is left behind, see the class).
   */
  check(): Promise<void> {
    if (this.running?.losses === this.losses) return this.running.done;
    if (this.running) this.logger.warn({ redis: redisAddress(this.redis) }, 'redis check begun before the connection was lost left behind');
    const run = { losses: this.losses, done: Promise.resolve() };
    run.done = this.checkOnce(() => this.running === run)
      .catch((err: unknown) =>
        logRedisTrouble(this.logger, { err: err instanceof Error ? err.message : String(err) }, 'redis check failed; retrying'),
      )
      .finally(() => {
        if (this.running === run) this.running = null;
      });
    this.running = run;
    return run.done;
  }

  /** The epoch under `key`, written when there is none; `created` when this process wrote it. */
  private async epochOf(key: string): Promise<{ current: string; created: boolean } | null> {
    const current = await this.redis.get(key);
    if (current !== null) return { current, created: false };
    const mine = randomUUID();
    if ((await this.redis.set(key, mine, 'NX')) === 'OK') return { current: mine, created: true };
    const other = await this.redis.get(key);
    return other === null ? null : { current: other, created: false };
  }

  /**
   * `underWay`: whether this check is still the one under way (a check left behind records no
   * epoch). One rebuild however many keys changed: `initial` when this process sees them all for
   * the first time.
   */
  private async checkOnce(underWay: () => boolean): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const changed: { key: string; current: string; created: boolean; initial: boolean }[] = [];
    for (const key of this.keys) {
      const epoch = await this.epochOf(key);
      if (epoch === null) return;
      const known = this.epochs.get(key);
      if (epoch.current !== known) changed.push({ key, ...epoch, initial: known === undefined });
    }
    const remember = (): void => {
      if (underWay()) for (const c of changed) this.epochs.set(c.key, c.current);
    };
    // A first look at an existing epoch: Redis kept its data, nothing to rebuild.
    const lost = changed.filter((c) => !c.initial || c.created);
    if (lost.length === 0) return remember();
    const initial = lost.every((c) => c.initial);
    if (!initial)
      this.logger.warn(
        { redis: redisAddress(this.redis), tags: lost.length, of: this.keys.length },
        'redis lost its data: re-creating job schedulers and re-driving the outbox',
      );
    await this.onReset({ created: lost.some((c) => c.created), initial });
    remember();
  }
}

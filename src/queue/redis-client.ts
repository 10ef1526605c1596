/**
 * One factory for the hub's Redis clients: a single node (a `redis://` URL or ioredis options),
 * a Redis Cluster (seed nodes, `natMap` and options passed through to ioredis `Cluster`) or a
 * Sentinel group (ioredis asks the sentinels for the master). Every caller gets a `RedisClient`
 * and never needs to know which one it talks to: a Cluster client follows `MOVED` and `ASK`
 * redirections itself (https://redis.github.io/ioredis/classes/Cluster.html).
 *
 * In a Cluster every multi-key command, MULTI, pipeline and Lua script must touch keys of one
 * slot: the engine's keys all start with the configured hash tag, and each BullMQ queue's
 * prefix carries a hash tag of its own (`queuePrefix` in `keys.ts`;
 * https://docs.bullmq.io/bull/patterns/redis-cluster).
 */
import { Cluster, Redis } from 'ioredis';
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';

/** A client of a single Redis, of a Sentinel group, or of a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** What ioredis does to end a client (both are private in its typings, public at run time). */
interface Ending {
  setStatus(status: 'end'): void;
  flushQueue(error: Error): void;
}

/**
 * Ends a client that `disconnect()` found waiting to reconnect. ioredis clears the timer of the
 * next attempt, but no socket is left whose closing would end the client, so it stays
 * `reconnecting`, never emits `end` and keeps its queued commands for ever
 * (https://github.com/redis/ioredis/issues/1247): BullMQ's `Worker.close()` waits for that `end`
 * on its blocking connection, and a hub told to stop while Redis was away never stopped. This
 * does what ioredis does when a connection it was told to close has closed: status `end`, the
 * `end` event, queued commands rejected. It leaves ioredis's `manuallyClosing` set, as it was
 * told to close: BullMQ may `connect()` a blocking connection again after closing it while its
 * fetch still waits, and such a client then ends at its first failure instead of retrying for
 * ever behind a closed worker. Not covered: a Cluster's nodes given a `clusterNodeRetryStrategy`
 * wait to reconnect themselves, as plain ioredis clients.
 */
function endWaitingClient(client: Redis | Cluster): void {
  (client as unknown as Ending).setStatus('end');
  (client as unknown as Ending).flushQueue(new Error('Connection is closed.'));
}

/** A single node's or Sentinel's client that ends when disconnected while waiting to reconnect. */
class HubRedis extends Redis {
  override disconnect(reconnect = false): void {
    const waiting = !reconnect && this.status === 'reconnecting';
    super.disconnect(reconnect);
    if (waiting) endWaitingClient(this);
  }

  /** BullMQ duplicates the hub's client for each worker's blocking connection. */
  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new HubRedis({ ...this.options, ...override });
  }
}

/** A Cluster client that ends when disconnected while waiting to reconnect (no node left to close). */
class HubCluster extends Cluster {
  private readonly seeds: ClusterNode[];

  constructor(seeds: ClusterNode[], options?: ClusterOptions) {
    super(seeds, options);
    this.seeds = seeds;
  }

  override disconnect(reconnect = false): void {
    const waiting = !reconnect && this.status === 'reconnecting';
    super.disconnect(reconnect);
    if (waiting) endWaitingClient(this);
  }

  override duplicate(overrideStartupNodes: ClusterNode[] = [], overrideOptions: ClusterOptions = {}): Cluster {
    const seeds = overrideStartupNodes.length > 0 ? overrideStartupNodes : this.seeds.slice(0);
    return new HubCluster(seeds, { ...this.options, ...overrideOptions });
  }
}

/**
 * Closes a client: `QUIT` when it is connected (replies still due arrive first), at once
 * otherwise. `QUIT` on a client waiting to reconnect would wait in its queue for a Redis that
 * may not come back.
 */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') return client.disconnect();
  await client.quit().catch(() => client.disconnect());
}

/** A Redis Cluster given by seed nodes (the structure of `hub.redisUrl`'s cluster form). */
export interface RedisClusterTarget {
  cluster: {
    /** Seed nodes as `redis://` URLs. */
    nodes: readonly string[];
    /** Announced `host:port` -> an address the hub reaches (ioredis `natMap`). */
    natMap?: Record<string, { host: string; port: number }>;
    /** ioredis `ClusterOptions`, passed through. */
    options?: Record<string, unknown>;
  };
}

/** A Redis found through Sentinel (the structure of `hub.redisUrl`'s sentinel form). */
export interface RedisSentinelTarget {
  sentinel: {
    sentinels: readonly { host: string; port: number }[];
    /** The master group name. */
    name: string;
    sentinelPassword?: string;
    /** ioredis `RedisOptions`, passed through. */
    options?: Record<string, unknown>;
  };
}

/** Where Redis is: a URL, ioredis options for one node, a Cluster or a Sentinel group. */
export type RedisTarget = string | RedisOptions | RedisClusterTarget | RedisSentinelTarget;

function isCluster(target: RedisTarget): target is RedisClusterTarget {
  return typeof target === 'object' && 'cluster' in target;
}

function isSentinel(target: RedisTarget): target is RedisSentinelTarget {
  return typeof target === 'object' && 'sentinel' in target;
}

/** A seed node URL as ioredis `Cluster` takes it (`{host, port}`; credentials go to `redisOptions`). */
function seedNode(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port ? Number(u.port) : 6379 };
}

/** Credentials and TLS of the first seed URL, as node options of the Cluster. */
function nodeOptionsOf(url: string | undefined): RedisOptions {
  if (url === undefined) return {};
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Makes the client for `target`, with `overrides` (ioredis options such as
 * `maxRetriesPerRequest: null`, which BullMQ needs for workers) applied to every node's
 * connection. For a Cluster, `overrides` go to each node (`redisOptions`); `lazyConnect`,
 * `enableOfflineQueue` and `enableAutoPipelining` are Cluster options and are set on both.
 */
export function createRedisClient(target: RedisTarget, overrides: RedisOptions = {}): RedisClient {
  if (isCluster(target)) {
    const { nodes, natMap, options } = target.cluster;
    const passed: ClusterOptions = { ...options };
    const clusterOptions: ClusterOptions = {
      ...passed,
      ...(natMap ? { natMap } : {}),
      ...pick(overrides, ['lazyConnect', 'enableOfflineQueue', 'enableAutoPipelining', 'enableReadyCheck']),
      redisOptions: { ...nodeOptionsOf(nodes[0]), ...passed.redisOptions, ...overrides },
    };
    return new HubCluster(nodes.map(seedNode), clusterOptions);
  }
  if (isSentinel(target)) {
    const { sentinels, name, sentinelPassword, options } = target.sentinel;
    return new HubRedis({
      ...options,
      sentinels: sentinels.map((s) => ({ ...s })),
      name,
      ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
      ...overrides,
    });
  }
  return typeof target === 'string' ? new HubRedis(target, overrides) : new HubRedis({ ...target, ...overrides });
}

/** A second connection to the same Redis (or Cluster) as `client`, with `overrides`. */
export function duplicateRedisClient(client: RedisClient, overrides: RedisOptions = {}): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      ...pick(overrides, ['lazyConnect', 'enableOfflineQueue', 'enableAutoPipelining', 'enableReadyCheck']),
      redisOptions: { ...client.options.redisOptions, ...overrides },
    });
  }
  return client.duplicate(overrides);
}

/** True for a Redis Cluster client. */
export function isClusterClient(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The client's address for logs (never its password): the first seed node of a Cluster. */
export function redisTargetAddress(client: RedisClient): string {
  if (client instanceof Cluster) {
    const known = client.nodes('master').map((n) => `${n.options.host ?? 'localhost'}:${n.options.port ?? 6379}`);
    return `cluster (${known.length > 0 ? known.join(',') : 'no node known yet'})`;
  }
  const { host, port, path, sentinels, name } = client.options;
  if (sentinels && sentinels.length > 0) return `sentinel master ${name ?? ''}`;
  return path ? String(path) : `${host ?? 'localhost'}:${port ?? 6379}`;
}

function pick(options: RedisOptions, names: readonly (keyof RedisOptions & keyof ClusterOptions)[]): Partial<ClusterOptions> {
  const out: Partial<ClusterOptions> = {};
  for (const name of names) if (options[name] !== undefined) Object.assign(out, { [name]: options[name] });
  return out;
}

/**
 * A private Redis Cluster on loopback: `masters` `redis-server --cluster-enabled yes` processes
 * (no persistence, no replicas) in a temporary directory, joined with
 * `redis-cli --cluster create`, and a slot migration done by hand as `redis-cli --cluster
 * reshard` does it (https://redis.io/docs/latest/commands/cluster-setslot/#redis-cluster-live-resharding-explained).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../src/app/free-port.js';
import { onPath } from '../../src/app/redis.js';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  url: string;
  /** The node's cluster id. */
  id: string;
}

export interface LocalCluster {
  nodes: ClusterNode[];
  /** The node that serves `slot` now. */
  ownerOf(slot: number): Promise<ClusterNode>;
  /** The slot of a key (`CLUSTER KEYSLOT`). */
  slotOf(key: string): Promise<number>;
  /** Moves `slot` and its keys to `to`, `batch` keys per MIGRATE, pausing `pauseMs` between batches. */
  migrateSlot(slot: number, to: ClusterNode, options?: { batch?: number; pauseMs?: number }): Promise<{ keys: number }>;
  /** `CLUSTER INFO`'s state seen by every node. */
  states(): Promise<string[]>;
  stop(): Promise<void>;
}

/** True when redis-server and redis-cli are installed. */
export function clusterToolsInstalled(): boolean {
  return onPath('redis-server') !== undefined && onPath('redis-cli') !== undefined;
}

function connect(node: { port: number }): Redis {
  const redis = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 1 });
  // A node still starting refuses connections: the caller's command fails and is tried again.
  redis.on('error', () => undefined);
  return redis;
}

async function withNode<T>(node: { port: number }, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = connect(node);
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

export async function startLocalCluster(masters = 3): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'concord-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    // The cluster bus port, by default port + 10000, which no one checked was free.
    const busPort = await freePort();
    ports.push(port);
    children.push(
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '5000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore', cwd: dir },
      ),
    );
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitUntil(() => withNode({ port }, async (r) => (await r.ping()) === 'PONG').catch(() => false));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    const states = (): Promise<string[]> =>
      Promise.all(ports.map((port) => withNode({ port }, async (r) => clusterState(await r.cluster('INFO')))));
    await waitUntil(async () => (await states()).every((s) => s === 'ok'));
    const nodes: ClusterNode[] = [];
    for (const port of ports)
      nodes.push({ port, url: `redis://127.0.0.1:${port}`, id: await withNode({ port }, async (r) => String(await r.cluster('MYID'))) });
    const first = nodes[0];
    if (!first) throw new Error('no cluster node');
    const cluster: LocalCluster = {
      nodes,
      states,
      slotOf: (key) => withNode(first, async (r) => Number(await r.cluster('KEYSLOT', key))),
      async ownerOf(slot) {
        const slots = await withNode(first, (r) => r.cluster('SLOTS'));
        for (const range of slots) {
          const [start, end, master] = range;
          if (Number(start) <= slot && slot <= Number(end) && Array.isArray(master)) {
            const node = nodes.find((n) => n.port === Number(master[1]));
            if (node) return node;
          }
        }
        throw new Error(`slot ${slot} is served by no node`);
      },
      async migrateSlot(slot, to, options = {}) {
        const from = await cluster.ownerOf(slot);
        if (from.id === to.id) throw new Error(`slot ${slot} is already on ${to.port}`);
        const target = connect(to);
        const source = connect(from);
        let moved = 0;
        try {
          await target.cluster('SETSLOT', slot, 'IMPORTING', from.id);
          await source.cluster('SETSLOT', slot, 'MIGRATING', to.id);
          for (;;) {
            const keys = await source.cluster('GETKEYSINSLOT', slot, options.batch ?? 20);
            if (keys.length === 0) break;
            await source.migrate('127.0.0.1', to.port, '', 0, 5_000, 'REPLACE', 'KEYS', ...keys);
            moved += keys.length;
            if (options.pauseMs) await sleep(options.pauseMs);
          }
          await target.cluster('SETSLOT', slot, 'NODE', to.id);
          await source.cluster('SETSLOT', slot, 'NODE', to.id);
          for (const other of nodes)
            if (other.id !== from.id && other.id !== to.id) await withNode(other, (r) => r.cluster('SETSLOT', slot, 'NODE', to.id));
        } finally {
          target.disconnect();
          source.disconnect();
        }
        return { keys: moved };
      },
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

function clusterState(info: unknown): string {
  return /cluster_state:(\w+)/.exec(String(info))?.[1] ?? 'unknown';
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the local cluster did not come up');
    await sleep(100);
  }
}

export interface LocalSentinel {
  /** The master group name the sentinel monitors. */
  name: string;
  sentinel: { host: string; port: number };
  stop(): Promise<void>;
}

/** A private master and one sentinel monitoring it (quorum 1), on loopback. */
export async function startLocalSentinel(name = 'concord-test'): Promise<LocalSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'concord-sentinel-'));
  const [masterPort, sentinelPort] = [await freePort(), await freePort()];
  const master = spawn('redis-server', ['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    cwd: dir,
  });
  writeFileSync(
    join(dir, 'sentinel.conf'),
    [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, ''].join('\n'),
  );
  const sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], { stdio: 'ignore', cwd: dir });
  const stop = async (): Promise<void> => {
    for (const child of [sentinel, master])
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(() =>
      withNode({ port: sentinelPort }, async (r) => Array.isArray(await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))).catch(
        () => false,
      ),
    );
    return { name, sentinel: { host: '127.0.0.1', port: sentinelPort }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

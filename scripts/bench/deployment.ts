/**
 * The hub under load, deployed as `--processes` or `--workers` says: this process (with `api`, it
 * takes the webhooks) and child hub processes (`hub-worker.ts`) on the same Redis prefix and database,
 * which reach the four in-memory systems over a loopback HTTP bridge. The source system sends
 * every change as a signed webhook; the targets' APIs are wrapped to see deliveries land.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatRoles, toEngineRoles } from '../../src/app/roles.js';
import { createLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { createEngine } from '../../src/sync/engine.js';
import type { Engine } from '../../src/sync/engine.js';
import { createMemorySystem, registerMemorySystem, unregisterMemorySystem } from '../../connectors/memory/index.js';
import type { MemorySystem, MemorySystemApi } from '../../connectors/memory/index.js';
import { serveMemorySystems } from '../../connectors/memory/remote.js';
import { REDIS_URL } from '../../harness/sync-hub.js';
import { DeliveryTracker, TrackedApi } from './delivery.js';
import { LogTally } from './log-tally.js';
import type { Layout } from './args.js';
import { MAX_BATCH, PROFILES } from './options.js';
import { benchConnectors, benchPolicy, HASH_KEY, SOURCE, TARGETS, WEBHOOK_SECRET } from './setup.js';
import type { HubWorkerSpec } from './setup.js';
import { retryCountingLogger, timeConnectors, timeRedis, timeStore, WaitClock, WaitsMessage } from './waits.js';
import type { WaitTotals } from './waits.js';

export interface Bench {
  /** The hub's processes (`--processes` or `--workers`). */
  layout: Layout;
  engine: Engine;
  /** The hub's other processes, whose CPU counts with this process's. */
  workerPids: number[];
  store: Store;
  source: MemorySystem;
  targets: MemorySystem[];
  /** The targets' APIs as the connectors use them. */
  apis: TrackedApi[];
  tracker: DeliveryTracker;
  /** The warnings and errors every hub process logged. */
  logs: LogTally;
  /** Source webhooks emitted and not yet answered by the hub. */
  outstanding: number;
  refused: string[];
  names: string[];
  /** Resolves when `outstanding` drops. */
  drained(): Promise<void>;
  /** With `--waits`: each hub process's waits so far (this one first); null without. */
  waits(): Promise<WaitTotals[] | null>;
  close(): Promise<void>;
}

export async function startBench(prefix: string, dbUrl: string, layout: Layout, waits: boolean): Promise<Bench> {
  const policy = benchPolicy();
  const clock = waits ? new WaitClock() : null;
  if (clock) timeRedis(clock);
  const opened = await openStore({
    url: dbUrl,
    policy,
    outboxTargets: [...TARGETS],
    hashKey: HASH_KEY,
    ...(clock ? { logger: retryCountingLogger(clock) } : {}),
  });
  const store = clock ? timeStore(opened, clock) : opened;
  const tracker = new DeliveryTracker(PROFILES, TARGETS.length);
  const logs = new LogTally();
  const names = [SOURCE, ...TARGETS].map((id) => `${prefix}-${id}`);
  const source = createMemorySystem(`${prefix}-${SOURCE}`, { webhookSecret: WEBHOOK_SECRET });
  const apis: TrackedApi[] = [];
  /** What the other hub processes reach over the bridge, by registry name. */
  const served = new Map<string, MemorySystemApi>([[`${prefix}-${SOURCE}`, source]]);
  const targets = TARGETS.map((id, t) => {
    const name = `${prefix}-${id}`;
    const system = createMemorySystem(name, { webhookSecret: WEBHOOK_SECRET, maxBatch: MAX_BATCH });
    // The connector finds its system by name: give it the tracked API instead.
    const api = new TrackedApi(system, MAX_BATCH, (fields, now, changed) => tracker.delivered(t, fields, now, changed));
    registerMemorySystem(name, api);
    served.set(name, api);
    apis.push(api);
    return system;
  });
  const connectors = clock ? timeConnectors(benchConnectors(prefix, MAX_BATCH), clock) : benchConnectors(prefix, MAX_BATCH);
  const engine = createEngine({
    redis: REDIS_URL,
    prefix,
    store,
    connectors,
    policy,
    logger: createLogger({ level: process.env['CONCORD_BENCH_LOG'] ?? 'warn', destination: logs.destination() }),
  });

  const refused: string[] = [];
  let wake: (() => void) | null = null;
  const bench: Bench = {
    layout,
    engine,
    store,
    source,
    targets,
    apis,
    tracker,
    logs,
    outstanding: 0,
    refused,
    names,
    drained: () => new Promise<void>((resolve) => (wake = resolve)),
    workerPids: [],
    async waits() {
      if (!clock) return null;
      return [clock.snapshot(), ...(await Promise.all(workers.map((w) => w.waits())))];
    },
    async close() {
      for (const s of [source, ...targets]) s.onWebhook(undefined);
      for (const worker of workers) await worker.stop();
      await bridge?.close();
      await engine.close();
      await store.close();
      for (const name of names) unregisterMemorySystem(name);
    },
  };
  const receive = async (id: string, body: Buffer, headers: Record<string, string>): Promise<void> => {
    const result = await engine.receiveWebhook(id, {
      method: 'POST',
      url: `http://127.0.0.1/webhooks/${id}`,
      headers,
      body,
      receivedAt: new Date().toISOString(),
    });
    if (!result.ok) refused.push(`${id}: ${result.reason}`);
  };
  source.onWebhook(async (delivery) => {
    try {
      await receive(SOURCE, delivery.body, delivery.headers);
    } finally {
      bench.outstanding--;
      const w = wake;
      wake = null;
      w?.();
    }
  });
  TARGETS.forEach((id, t) => targets[t]?.onWebhook((delivery) => receive(id, delivery.body, delivery.headers)));
  // The other hub processes reach the systems over HTTP, as a hub reaches real ones.
  const bridge = layout.children.length > 0 ? await serveMemorySystems(served) : null;
  const workers: ChildWorker[] = [];
  for (const roles of layout.children) {
    workers.push(
      await startHubWorker(
        {
          redisUrl: REDIS_URL,
          prefix,
          dbUrl,
          maxBatch: MAX_BATCH,
          roles: formatRoles(roles),
          systemsUrl: bridge?.url ?? '',
          waits,
        },
        logs,
      ),
    );
  }
  bench.workerPids = workers.map((w) => w.pid);
  await engine.start(toEngineRoles(layout.self));
  return bench;
}

interface ChildWorker {
  pid: number;
  stop(): Promise<void>;
  /** Its waits so far (asked over IPC; only with `spec.waits`). */
  waits(): Promise<WaitTotals>;
}

/** Starts a hub process (`hub-worker.ts`) and waits for its `ready`. */
function startHubWorker(spec: HubWorkerSpec, logs: LogTally): Promise<ChildWorker> {
  // `node --cpu-prof ... main.ts` profiles every hub process, not only this one.
  const profiling = process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'));
  const worker = fileURLToPath(new URL('./hub-worker.ts', import.meta.url));
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', worker], {
    env: { ...process.env, CONCORD_BENCH_WORKER: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
  });
  // Its log lines (standard error) are passed on, and its warnings counted.
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    logs.add(chunk);
    process.stderr.write(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub process (${spec.roles}) did not start`)), 30_000);
    child.once('exit', (code) => reject(new Error(`hub process (${spec.roles}) exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('ready')) return;
      clearTimeout(timer);
      resolve({
        pid: child.pid ?? 0,
        waits() {
          return new Promise<WaitTotals>((answer, fail) => {
            child.once('message', (message: unknown) => {
              const parsed = WaitsMessage.safeParse(message);
              if (parsed.success) answer(parsed.data.waits);
              else fail(new Error(`hub process (${spec.roles}) sent no waits`));
            });
            child.send('waits');
          });
        },
        async stop() {
          if (child.connected) child.disconnect();
          child.stdin?.end();
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

/** Waits until webhooks are answered and the engine has nothing left to do, twice in a row. */
export async function settle(bench: Bench, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2) {
    if (Date.now() > deadline) return false;
    await Promise.all([bench.source, ...bench.targets].map((s) => s.flushWebhooks()));
    quiet = (await bench.engine.idle()) ? quiet + 1 : 0;
    await sleep(50);
  }
  return true;
}

/**
 * A hub process of the sync benchmark (`npm run bench -- --processes ...`): the engine with
 * the roles it is given, on the bench's Redis prefix and database (SQLite file or PostgreSQL database), as `concord start
 * --role <roles>` would run it. With `push` (or `pull`) it reaches the bench's in-memory
 * systems over their loopback HTTP bridge (`serveMemorySystems`), as a hub reaches real
 * systems; webhook records carry their values, so ingest never calls a system.
 * Configured by CONCORD_BENCH_WORKER (JSON); prints `ready` once running; exits when its
 * stdin closes or on SIGTERM. With `waits` (`--waits`) it times its calls to Redis, the store
 * and the vendors (`waits.ts`) and answers every IPC message with the totals so far.
 */
import { createLogger } from '../../src/log/logger.js';
import { parseRoles, toEngineRoles } from '../../src/app/roles.js';
import { openStore } from '../../src/store/index.js';
import { createEngine } from '../../src/sync/engine.js';
import { closeOnSignals } from '../../src/app/process.js';
import { benchConnectors, benchPolicy, HASH_KEY, TARGETS } from './setup.js';
import type { HubWorkerSpec } from './setup.js';
import { retryCountingLogger, timeConnectors, timeRedis, timeStore, WaitClock } from './waits.js';
import type { WaitsMessage } from './waits.js';

const spec = JSON.parse(process.env['CONCORD_BENCH_WORKER'] ?? '{}') as HubWorkerSpec;
const parsed = parseRoles(spec.roles);
if (!parsed.ok) throw new Error(parsed.message);
const logger = createLogger({ level: process.env['CONCORD_BENCH_LOG'] ?? 'warn', destination: process.stderr });
const policy = benchPolicy();
const clock = spec.waits ? new WaitClock() : null;
if (clock) {
  timeRedis(clock);
  // The parent asks for the figures so far over the IPC channel.
  process.on('message', () => {
    const message: WaitsMessage = { waits: clock.snapshot() };
    process.send?.(message);
  });
}
const opened = await openStore({
  url: spec.dbUrl,
  policy,
  outboxTargets: [...TARGETS],
  hashKey: HASH_KEY,
  ...(clock ? { logger: retryCountingLogger(clock) } : {}),
});
const store = clock ? timeStore(opened, clock) : opened;
const connectors = benchConnectors(spec.prefix, spec.maxBatch, spec.systemsUrl);
const engine = createEngine({
  redis: spec.redisUrl,
  prefix: spec.prefix,
  store,
  connectors: clock ? timeConnectors(connectors, clock) : connectors,
  policy,
  logger,
});
const close = async (): Promise<void> => {
  await engine.close();
  await store.close();
  process.disconnect?.();
};
closeOnSignals(close, { logger });
process.stdin.on('end', () => void close().finally(() => process.exit(0)));
process.stdin.resume();
await engine.start(toEngineRoles(parsed.roles));
process.stdout.write('ready\n');

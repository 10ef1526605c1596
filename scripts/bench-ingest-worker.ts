/**
 * The ingest worker of the sync benchmark (`npm run bench -- --ingest-process`): the engine
 * with only its ingest and relay roles, on the bench's Redis prefix and SQLite file, like
 * `concord start --role worker` restricted to those roles. Webhook records carry their
 * values, so it never calls the in-memory systems (which live in the bench process).
 * Configured by CONCORD_BENCH_WORKER (JSON); prints `ready` once running; exits when its
 * stdin closes or on SIGTERM.
 */
import { pino } from 'pino';
import { openStore } from '../src/store/index.js';
import { createEngine } from '../src/sync/engine.js';
import { closeOnSignals } from '../src/sync/process.js';
import { benchConnectors, benchPolicy, HASH_KEY, TARGETS } from './bench-setup.js';

interface WorkerSpec {
  redisUrl: string;
  prefix: string;
  dbUrl: string;
  maxBatch: number;
}

const spec = JSON.parse(process.env['CONCORD_BENCH_WORKER'] ?? '{}') as WorkerSpec;
const logger = pino({ level: process.env['CONCORD_BENCH_LOG'] ?? 'warn' }, process.stderr);
const policy = benchPolicy();
const store = await openStore({ url: spec.dbUrl, policy, outboxTargets: [...TARGETS], hashKey: HASH_KEY });
const engine = createEngine({
  redis: spec.redisUrl,
  prefix: spec.prefix,
  store,
  connectors: benchConnectors(spec.prefix, spec.maxBatch),
  policy,
  logger,
});
const close = async (): Promise<void> => {
  await engine.close();
  await store.close();
};
closeOnSignals(close, { logger });
process.stdin.on('end', () => void close().finally(() => process.exit(0)));
process.stdin.resume();
await engine.start({ ingest: true, relay: true, push: false, pull: false });
process.stdout.write('ready\n');

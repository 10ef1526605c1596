/**
 * A worker process for the reliability tests: the sync engine with all its workers, on the
 * test's Redis prefix and database, talking to the test's in-memory systems over the bridge.
 * Configured by the JSON in CONCORD_WORKER_SPEC; prints `ready` once its workers run; closes
 * cleanly on SIGTERM like `concord start --role worker`.
 */
import { MergePolicy } from '../../src/profile/schema.js';
import type { MergePolicyInput } from '../../src/profile/schema.js';
import { openStore } from '../../src/store/index.js';
import { createEngine } from '../../src/sync/engine.js';
import type { EngineTuningInput } from '../../src/sync/options.js';
import { closeOnSignals } from '../../src/app/process.js';
import { registerMemorySystem } from '../../connectors/memory/index.js';
import { memoryConnectors } from '../../harness/sync-hub.js';
import type { SystemSpec } from '../../harness/sync-hub.js';
import { bridgedSystem } from './memory-bridge.js';
import { createLogger } from '../../src/log/logger.js';

export interface WorkerSpec {
  redisUrl: string;
  prefix: string;
  dbUrl: string;
  bridgeUrl: string;
  systems: SystemSpec[];
  names: Record<string, string>;
  policy: MergePolicyInput;
  tuning: EngineTuningInput;
}

// The test process holds our stdin open; if it dies, do not linger.
process.stdin.on('end', () => process.exit(1));
process.stdin.resume();

const spec = JSON.parse(process.env['CONCORD_WORKER_SPEC'] ?? '{}') as WorkerSpec;
const logger = createLogger({ level: process.env['CONCORD_TEST_LOG'] ?? 'silent' });
for (const name of Object.values(spec.names)) registerMemorySystem(name, bridgedSystem(spec.bridgeUrl, name));
const policy = MergePolicy.parse(spec.policy);
const store = await openStore({ url: spec.dbUrl, policy, outboxTargets: spec.systems.map((s) => s.id), hashKey: 'k'.repeat(32) });
const engine = createEngine({
  redis: spec.redisUrl,
  prefix: spec.prefix,
  store,
  connectors: memoryConnectors(spec.systems, spec.names),
  policy,
  logger,
  tuning: spec.tuning,
});
closeOnSignals(
  async () => {
    await engine.close();
    await store.close();
  },
  { logger },
);
await engine.start();
process.stdout.write('ready\n');

/**
 * The backfill bench's hub (`backfill.ts`): the engine with every role and one connector,
 * Salesforce (the emulator in the bench's other process), on an empty store and its own Redis
 * prefix, as `concord start` runs it. It asks for the first full pull, prints a sample of its
 * own memory and the pull's progress every `sampleMs` (a JSON line each), then the end (with the
 * records the hub links to a profile: all of them when nothing was lost), and exits.
 */
import { compileMapping } from '../../../src/connector/mapping.js';
import { createLogger } from '../../../src/log/logger.js';
import { MergePolicy } from '../../../src/profile/schema.js';
import { openStore } from '../../../src/store/index.js';
import { bindConnector } from '../../../src/sync/bind.js';
import { createEngine } from '../../../src/sync/engine.js';
import salesforce from '../../../connectors/salesforce/connector.js';
import { SalesforceConfig } from '../../../connectors/salesforce/config.js';
import { salesforceMappings } from '../../../connectors/salesforce/mapping.js';
import { BACKFILL_SF } from './spec.js';
import type { BackfillEnd, BackfillHubSpec, BackfillSample } from './spec.js';

const spec = JSON.parse(process.env['CONCORD_BENCH_BACKFILL'] ?? '{}') as BackfillHubSpec;
const logger = createLogger({ level: process.env['CONCORD_BENCH_LOG'] ?? 'warn', destination: process.stderr });
const policy = MergePolicy.parse({
  purposes: { marketing: { authorities: ['salesforce', 'admin', 'preference_center'], objection: 'directMarketing' } },
});
const store = await openStore({ url: spec.dbUrl, policy, outboxTargets: ['salesforce'], hashKey: 'k'.repeat(32) });
const config = SalesforceConfig.parse({
  loginUrl: spec.loginUrl,
  ...BACKFILL_SF,
  channelFlags: { HasOptedOutOfEmail: 'marketing.email' },
  bulkPollIntervalMs: 50,
});
const engine = createEngine({
  redis: spec.redisUrl,
  prefix: spec.prefix,
  store,
  policy,
  logger,
  connectors: [
    bindConnector({ id: 'salesforce', definition: salesforce, config, mapping: compileMapping(salesforce, salesforceMappings(config)) }),
  ],
});
await engine.start();
const started = performance.now();
const jobId = await engine.pullNow('salesforce', { trigger: 'manual' });
const line = (value: BackfillSample | BackfillEnd): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
for (;;) {
  const view = await engine.pullProgress('salesforce', jobId);
  const state = view?.state ?? 'gone';
  const seconds = (performance.now() - started) / 1000;
  const records = view?.progress.records ?? 0;
  if (state === 'completed' || state === 'failed' || state === 'gone') {
    const linked = await store.countKnownRecords('salesforce');
    line({ done: true, state, error: view?.error ?? null, seconds, records, linked });
    break;
  }
  const { rss, heapUsed } = process.memoryUsage();
  line({ seconds, rssBytes: rss, heapUsedBytes: heapUsed, records, state });
  await new Promise((resolve) => setTimeout(resolve, spec.sampleMs));
}
await engine.close();
await store.close();
process.exit(0);

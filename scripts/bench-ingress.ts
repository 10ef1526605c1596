/**
 * Webhook ingress under load: autocannon against the real server on loopback for 30 s (or
 * BENCH_SECONDS). Every request is a distinct, correctly signed webhook event carrying a new
 * person, so every accepted request must end as one ingested change and one new profile.
 * Prints requests per second accepted, latency percentiles, non-2xx responses, and checks
 * that every accepted event was processed (the ingest workers run in the same process, as
 * with `concord start --role all`, sharing the machine's cores with autocannon).
 *
 *   npx tsx scripts/bench-ingress.ts [--seconds 30] [--connections 32] [--dialect sqlite|postgres]
 *
 * The per-client webhook rate limit is turned off for the run: all the load comes from one
 * loopback address, which the production default (6,000 per minute per sender) would throttle.
 * The process's memory is sampled every 250 ms through the load and the drain (peak RSS and heap
 * used, with V8's heap limit): run it under `node --max-old-space-size=256 --import tsx ...` to
 * see an `api` process under the cap the compose file gives workers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createLogger } from '../src/log/logger.js';
import { Catalog } from '../src/config/schema.js';
import { apiKeyRecords, build, listen } from '../src/server/index.js';
import { HubPatchIngest } from '../src/sync/inbound/hub-patch.js';
import { REDIS_URL, startHub } from '../harness/sync-hub.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const seconds = Number(arg('seconds', process.env.BENCH_SECONDS ?? '30'));
const connections = Number(arg('connections', '32'));
const dialect = arg('dialect', 'sqlite') === 'postgres' ? 'postgres' : 'sqlite';

const hub = await startHub({ dialect, systems: [{ id: 'crm', webhooks: false }], tuning: { flushDelayMs: 1_000 } });
const redis = new Redis(REDIS_URL);
const hubIngest = new HubPatchIngest({ store: hub.store, redis, prefix: hub.prefix });
const app = await build({
  hub: {
    publicUrl: 'http://127.0.0.1:8080',
    mode: 'development',
    secrets: { signing: 's'.repeat(40), hashKey: 'k'.repeat(32) },
    preferenceCenter: { brand: 'Bench', accentColor: '#1f5f8b', linkTtl: 3_600_000 },
  },
  catalog: Catalog.parse({ channels: { email: { title: 'E-mail' } }, purposes: {}, topics: {} }),
  policy: hub.policy,
  store: hub.store,
  engine: hub.engine,
  connectors: hub.connectors,
  ingestPatch: (patch, o) => hubIngest.ingest(patch, o),
  redis,
  metrics: hub.engine.metrics.registry,
  apiKeys: apiKeyRecords([]),
  logger: createLogger({ level: 'warn' }),
  options: { webhookRateLimit: 0, queueBoard: false },
});
const url = await listen(app, { host: '127.0.0.1', port: 0 });

const MB = 1024 * 1024;
const memory = { peakRss: 0, peakHeapUsed: 0, startRss: process.memoryUsage().rss };
const sampler = setInterval(() => {
  const { rss, heapUsed } = process.memoryUsage();
  memory.peakRss = Math.max(memory.peakRss, rss);
  memory.peakHeapUsed = Math.max(memory.peakHeapUsed, heapUsed);
}, 250);
sampler.unref();

const result = await autocannon({
  url: `${url}/webhooks/crm`,
  method: 'POST',
  connections,
  duration: seconds,
  // The load runs in a worker thread, so it does not share the server's event loop.
  workers: 1,
  requests: [{ setupRequest: fileURLToPath(new URL('./bench-ingress-request.cjs', import.meta.url)) }],
});

const accepted = result['2xx'];
const nonOk = result.non2xx + result.errors + result.timeouts;
console.log(
  `\nwebhook ingress, ${seconds} s, ${connections} connections, ${dialect}, one process (server + workers), ${process.platform} ${process.arch}`,
);
console.log(`  requests sent:            ${result.requests.total}`);
console.log(`  accepted (2xx):           ${accepted}`);
console.log(
  `  accepted per second:      ${(accepted / seconds).toFixed(0)} (mean ${result.requests.average.toFixed(0)}/s, max ${result.requests.max}/s)`,
);
console.log(`  latency p50 / p99 / max:  ${result.latency.p50} / ${result.latency.p99} / ${result.latency.max} ms`);
console.log(`  non-2xx, errors, timeouts: ${result.non2xx}, ${result.errors}, ${result.timeouts}`);

// Every accepted event must be processed: wait for the ingest queue to drain, then count.
const drainStart = Date.now();
const deadline = drainStart + 15 * 60_000;
for (;;) {
  const status = await hub.engine.status();
  const ingest = status.queues.find((q) => q.queue === 'ingest');
  if (ingest && ingest.wait + ingest.active + ingest.delayed === 0) break;
  if (Date.now() > deadline) break;
  await sleep(250);
}
const drainMs = Date.now() - drainStart;
clearInterval(sampler);
const ingested = (await hub.engine.metrics.changesIngested.get()).values.reduce((sum, v) => sum + v.value, 0);
const profiles = await hub.db.count('profiles');
const failed = (await hub.engine.status()).queues.find((q) => q.queue === 'ingest')?.failed ?? 0;
console.log(`  ingest backlog drained:   ${(drainMs / 1000).toFixed(1)} s after the load stopped`);
console.log(`  changes ingested:         ${ingested}; profiles in the store: ${profiles}; failed ingest jobs: ${failed}`);
// The server's own count: requests still in flight when the load stopped were answered after autocannon stopped counting.
const serverAccepted =
  (await hub.engine.metrics.registry.getSingleMetric('concord_http_webhooks_total')?.get())?.values
    .filter((v) => v.labels['status'] === '200')
    .reduce((sum, v) => sum + v.value, 0) ?? 0;
console.log(`  accepted by the server:   ${serverAccepted} (incl. requests still in flight when the load stopped)`);
console.log(
  `  memory (load + drain):    peak RSS ${(memory.peakRss / MB).toFixed(0)} MB (${(memory.startRss / MB).toFixed(0)} MB before the load), ` +
    `peak heap used ${(memory.peakHeapUsed / MB).toFixed(0)} MB, V8 heap limit ${(getHeapStatistics().heap_size_limit / MB).toFixed(0)} MB`,
);
const ok = serverAccepted >= accepted && ingested === serverAccepted && profiles === serverAccepted && failed === 0;
console.log(
  ok
    ? '  every accepted event was processed: yes'
    : `  every accepted event was processed: NO (accepted ${serverAccepted}, ingested ${ingested}, profiles ${profiles})`,
);

await app.close();
await hubIngest.close();
redis.disconnect();
await hub.close();
process.exitCode = ok && nonOk === 0 ? 0 : 1;

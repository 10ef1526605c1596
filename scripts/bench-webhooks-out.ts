/**
 * Outbound webhooks benchmark: enqueues N messages for one endpoint (a loopback receiver answering
 * 204) and prints deliveries per second and the enqueue -> delivered latency percentiles, on
 * SQLite and PostgreSQL, each on a fresh database dropped afterwards. The delivery worker is the
 * hub's own (`WebhookDeliveryWorker`, production tuning unless told), signing every attempt.
 *
 *   npx tsx scripts/bench-webhooks-out.ts [--messages 5000] [--concurrency 8] [--batch 100] [--rate 0] [--dialects sqlite,postgres]
 *
 * `--rate 0` enqueues everything at once (throughput; latency then includes the wait in the
 * backlog); `--rate R` enqueues R messages per second in batches (latency at that load).
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import type { OutboundWebhookMessage } from '../src/connector/define.js';
import { silentLogger } from '../src/log/logger.js';
import { MergePolicy } from '../src/profile/schema.js';
import { openStore } from '../src/store/index.js';
import { createWebhooksOutMetrics, storeOutboundWebhooks, WebhookDeliveryWorker } from '../src/sync/index.js';
import { createTestDatabase, TEST_DIALECTS } from '../harness/db.js';
import type { TestDialect } from '../harness/db.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '8' },
    batch: { type: 'string', default: '100' },
    rate: { type: 'string', default: '0' },
    dialects: { type: 'string', default: TEST_DIALECTS.join(',') },
  },
});
const MESSAGES = Number(args.messages);
const CONCURRENCY = Number(args.concurrency);
const BATCH = Number(args.batch);
const RATE = Number(args.rate);
const SECRET = `whsec_${Buffer.from('bench-only-outbound-secret-0123456789').toString('base64')}`;
const ENDPOINT = 'bench';

/** A receiver that answers 204 and counts distinct webhook-ids. */
async function startReceiver(): Promise<{ url: string; distinct(): number; requests(): number; close(): Promise<void> }> {
  const ids = new Set<string>();
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') ids.add(id);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    distinct: () => ids.size,
    requests: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function run(dialect: TestDialect): Promise<void> {
  const db = await createTestDatabase(dialect);
  const receiver = await startReceiver();
  const store = await openStore({ url: db.url, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'k'.repeat(32) });
  const registry = new Registry();
  const worker = new WebhookDeliveryWorker({
    store,
    endpoints: [
      {
        id: ENDPOINT,
        endpoint: { url: receiver.url, secrets: [SECRET], retryScheduleMs: [1_000], timeoutMs: 10_000, allowPrivateNetwork: true },
      },
    ],
    metrics: createWebhooksOutMetrics(registry, () => store.pendingWebhookCounts(), [ENDPOINT]),
    logger: silentLogger(),
    tuning: { concurrency: CONCURRENCY },
  });
  try {
    await worker.start();
    const outbound = storeOutboundWebhooks(store, ENDPOINT, () => worker.nudge(ENDPOINT));
    const started = performance.now();
    for (let i = 0; i < MESSAGES; i += BATCH) {
      const batch: OutboundWebhookMessage[] = [];
      for (let j = i; j < Math.min(MESSAGES, i + BATCH); j++)
        batch.push({ id: `msg_${j}`, type: 'profile.updated', data: { n: j, email_opt_in: j % 2 === 0 }, at: new Date().toISOString() });
      await outbound.enqueue(batch);
      if (RATE > 0) {
        const due = started + ((i + BATCH) / RATE) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
    }
    const enqueuedMs = performance.now() - started;
    for (;;) {
      const report = await store.webhookEndpoint(ENDPOINT);
      if ((report?.counts.delivered ?? 0) + (report?.counts.dead ?? 0) >= MESSAGES) break;
      await sleep(20);
    }
    const totalMs = performance.now() - started;
    const rows = await db.query<{ created_at: string; delivered_at: string | null }>(
      `select created_at, delivered_at from webhook_deliveries where endpoint = '${ENDPOINT}'`,
    );
    const latencies = rows
      .flatMap((r) => (r.delivered_at === null ? [] : [Date.parse(r.delivered_at) - Date.parse(r.created_at)]))
      .sort((a, b) => a - b);
    const report = await store.webhookEndpoint(ENDPOINT);
    console.log(
      `${dialect.padEnd(8)} ${MESSAGES} messages, concurrency ${CONCURRENCY}, ${RATE > 0 ? `${RATE}/s` : 'burst'}: ` +
        `enqueued in ${Math.round(enqueuedMs)} ms, all delivered in ${Math.round(totalMs)} ms = ${Math.round((MESSAGES / totalMs) * 1000)} deliveries/s; ` +
        `enqueue->delivered p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1) ?? 0} ms; ` +
        `delivered ${report?.counts.delivered ?? 0}, dead ${report?.counts.dead ?? 0}, receiver saw ${receiver.requests()} requests for ${receiver.distinct()} ids`,
    );
  } finally {
    await worker.stop();
    await store.close();
    await receiver.close();
    await db.drop();
  }
}

for (const dialect of (args.dialects ?? '').split(',')) {
  const known = TEST_DIALECTS.find((d) => d === dialect.trim());
  if (!known) throw new Error(`unknown dialect ${dialect}`);
  await run(known);
}

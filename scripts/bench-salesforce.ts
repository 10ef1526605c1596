/**
 * Salesforce connector benchmark (prints figures; asserts nothing). Needs Redis and the test
 * database setup (`bash scripts/services.sh`). Run: `npx tsx scripts/bench-salesforce.ts`.
 *
 * 1. API calls per synced record at batch size 200, through the whole engine: people are
 *    created in an in-memory CRM, ingested, and pushed to the Salesforce emulator in
 *    sObject Collections batches of 200; Salesforce's Outbound Messages about those writes
 *    come back to the engine (acknowledged, and read back: one query or Composite call per
 *    message of up to 100 notifications, changing nothing). Calls are counted per endpoint
 *    by the emulator (token requests are not API calls). Two workloads: names and the
 *    HasOptedOutOfEmail flag (one upsert per 200), and the same plus a ContactPointTypeConsent
 *    per person (Individual created and linked, consent records queried and created).
 * 2. Records per second for a 50,000-contact backfill: the org is seeded with 50,000 contacts
 *    and the connector's first pull reads them all (over the threshold, so through a Bulk API
 *    2.0 query job paged by Sforce-Locator, 10,000 rows per page), records drained as the
 *    engine would take them page by page.
 *
 * Options: BENCH_RECORDS (part 1, default 2000), BENCH_BACKFILL (part 2, default 50000), BENCH_JSON
 * (a file to write the calls per record to, `vendorCalls` of `npm run bench:charts`): part 1's
 * names workload as "Salesforce push", all API calls per synced record (the Outbound Messages'
 * read-backs included), against a ceiling of 1/200, one sObject Collections upsert per 200
 * records (Salesforce's most per call, and `limits.maxBatch`). The consent workload is left out
 * (its floor depends on the records each person needs), as is the backfill (Bulk API jobs, no
 * per-call record limit to compare with).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createLogger } from '../src/log/logger.js';
import { compileMapping } from '../src/connector/mapping.js';
import { MergePolicy } from '../src/profile/schema.js';
import { openStore } from '../src/store/index.js';
import { bindConnector } from '../src/sync/bind.js';
import { createEngine } from '../src/sync/engine.js';
import salesforce, { createSalesforceInstance } from '../connectors/salesforce/connector.js';
import { SalesforceConfig } from '../connectors/salesforce/config.js';
import { startSalesforceEmulator } from '../connectors/salesforce/emulator/index.js';
import { salesforceMappings } from '../connectors/salesforce/mapping.js';
import { createTestDatabase } from '../harness/db.js';
import { createMemorySystem, memoryConnector, unregisterMemorySystem } from '../connectors/memory/index.js';
import { deletePrefix, REDIS_URL, TEST_TUNING } from '../harness/sync-hub.js';
import { machineInfo, type VendorCallsJson } from './bench/results.js';
import { writeVendorCalls } from './bench/vendor-calls.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 2000);
const BACKFILL = Number(process.env.BENCH_BACKFILL ?? 50_000);
const ORG = '00D5e000000BnchEAA';
const JSON_OUT = process.env.BENCH_JSON;
/** sObject Collections: at most 200 records a call. */
const COLLECTION_SIZE = 200;
/** What part 1 measured, for `BENCH_JSON` (the calls-per-record chart of `npm run bench:charts`). */
const vendorCalls: VendorCallsJson[] = [];

function fmt(n: number, digits = 3): string {
  return n.toFixed(digits);
}

async function callsPerRecord(label: string, withConsentRecords: boolean): Promise<void> {
  const db = await createTestDatabase('sqlite');
  const prefix = `{sfb-${randomBytes(4).toString('hex')}}`;
  const policy = MergePolicy.parse({ purposes: { marketing: { objection: 'directMarketing' } } });
  const store = await openStore({ url: db.url, policy, outboxTargets: ['salesforce', 'crm'], hashKey: 'k'.repeat(32) });
  const emulator = await startSalesforceEmulator({
    clientId: 'bench',
    clientSecret: 'bench',
    organizationId: ORG,
    outboundBatchMs: 20,
    dailyApiLimit: 10_000_000,
  });
  const crmName = `${prefix}-crm`;
  const crm = createMemorySystem(crmName, { webhookSecret: 'bench-memory-secret-0123456789abcdef' });
  const sfConfig = SalesforceConfig.parse({
    loginUrl: emulator.url,
    clientId: 'bench',
    clientSecret: 'bench',
    organizationId: ORG,
    channelFlags: { HasOptedOutOfEmail: 'marketing.email' },
    ...(withConsentRecords ? { dataUsePurposes: { marketing: 'Marketing' }, contactPointTypes: { email: 'Email' } } : {}),
  });
  const engine = createEngine({
    redis: REDIS_URL,
    prefix,
    store,
    policy,
    logger: createLogger({ level: 'warn' }),
    // A partial batch waits up to 3 s for more profiles, so pushes go out at the full batch size of 200.
    tuning: { ...TEST_TUNING, flushDelayMs: 3_000 },
    connectors: [
      bindConnector({
        id: 'salesforce',
        definition: salesforce,
        config: sfConfig,
        mapping: compileMapping(salesforce, salesforceMappings(sfConfig)),
      }),
      bindConnector({
        id: 'crm',
        definition: memoryConnector,
        config: memoryConnector.configSchema.parse({ system: crmName, webhookSecret: 'bench-memory-secret-0123456789abcdef' }),
        mapping: compileMapping(memoryConnector, []),
      }),
    ],
  });
  // Outbound Messages reach the engine as the HTTP surface would hand them over.
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      engine
        .receiveWebhook('salesforce', {
          method: 'POST',
          url: '/webhooks/salesforce',
          headers: req.headers,
          body: Buffer.concat(chunks),
          receivedAt: new Date().toISOString(),
        })
        .then(
          (r) => {
            const reply = r.ok ? r.reply : { status: 500, body: '' };
            res.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'text/plain' }).end(reply.body ?? '');
          },
          () => res.writeHead(500).end(),
        );
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  emulator.sideDoor.setWebhookUrl(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/webhooks/salesforce`);
  crm.onWebhook(async (delivery) => {
    await engine.receiveWebhook('crm', {
      method: 'POST',
      url: '/webhooks/crm',
      headers: delivery.headers,
      body: delivery.body,
      receivedAt: new Date().toISOString(),
    });
  });
  await engine.start();
  try {
    const started = Date.now();
    for (let i = 0; i < RECORDS; i++)
      crm.change({ email: `bench-${i}@example.com`, first_name: `First${i}`, last_name: `Last${i}`, email_opt_out: i % 2 === 0 });
    let quiet = 0;
    while (quiet < 3) {
      if (Date.now() - started > 600_000) throw new Error('did not settle');
      await crm.flushWebhooks();
      await emulator.sideDoor.flushWebhooks();
      quiet = (await engine.idle()) ? quiet + 1 : 0;
      await sleep(100);
    }
    const seconds = (Date.now() - started) / 1000;
    const calls = emulator.sideDoor.calls();
    const synced = emulator.sideDoor.list('Contact').length;
    const upserts = calls.byEndpoint['PATCH /services/data/:version/composite/sobjects/:type/:field'] ?? 0;
    console.log(`\n[calls per record] ${label}: ${synced} contacts synced in ${fmt(seconds, 1)} s`);
    for (const [endpoint, n] of Object.entries(calls.byEndpoint).sort()) console.log(`  ${endpoint}: ${n}`);
    console.log(`  average batch: ${fmt(synced / Math.max(1, upserts), 1)} records per upsert`);
    console.log(`  API calls per synced record: ${fmt(calls.total / synced, 4)} (${calls.total} API calls)`);
    // Names and the flag only: one upsert per 200 records is Salesforce's best.
    if (!withConsentRecords)
      vendorCalls.push({ vendor: 'Salesforce push', callsPerRecord: calls.total / synced, ceilingPerRecord: 1 / COLLECTION_SIZE });
    const acked = emulator.sideDoor.webhookDeliveries().filter((d) => d.acked).length;
    console.log(`  Outbound Messages: ${emulator.sideDoor.webhookDeliveries().length} deliveries, ${acked} acknowledged`);
  } finally {
    crm.onWebhook(undefined);
    await engine.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await emulator.close();
    await store.close();
    unregisterMemorySystem(crmName);
    await deletePrefix(prefix);
    await db.drop();
  }
}

async function backfill(): Promise<void> {
  const emulator = await startSalesforceEmulator({
    clientId: 'bench',
    clientSecret: 'bench',
    organizationId: ORG,
    dailyApiLimit: 10_000_000,
  });
  try {
    const seedStart = Date.now();
    emulator.sideDoor.seed(
      'Contact',
      Array.from({ length: BACKFILL }, (_, i) => ({
        FirstName: `First${i}`,
        LastName: `Last${i}`,
        Email: `backfill-${i}@example.com`,
        HasOptedOutOfEmail: i % 3 === 0,
      })),
    );
    console.log(`\n[backfill] seeded ${BACKFILL} contacts in ${fmt((Date.now() - seedStart) / 1000, 1)} s`);
    const config = SalesforceConfig.parse({ loginUrl: emulator.url, clientId: 'bench', clientSecret: 'bench', bulkPollIntervalMs: 50 });
    const instance = createSalesforceInstance({ instanceId: 'salesforce', config, logger: createLogger({ level: 'warn' }) });
    const started = Date.now();
    let records = 0;
    let pages = 0;
    for await (const page of instance.pull?.(undefined, new AbortController().signal) ?? []) {
      records += page.records.length;
      pages += 1;
    }
    const seconds = (Date.now() - started) / 1000;
    const calls = emulator.sideDoor.calls();
    console.log(`  ${records} records in ${pages} pages in ${fmt(seconds, 2)} s: ${fmt(records / seconds, 0)} records/s`);
    for (const [endpoint, n] of Object.entries(calls.byEndpoint).sort()) console.log(`  ${endpoint}: ${n}`);
    console.log(`  API calls: ${calls.total}`);
  } finally {
    await emulator.close();
  }
}

const machine = machineInfo();
await callsPerRecord('names + HasOptedOutOfEmail', false);
await callsPerRecord('names + HasOptedOutOfEmail + a ContactPointTypeConsent each', true);
await backfill();
if (JSON_OUT) writeVendorCalls(JSON_OUT, machine, { records: RECORDS, backfill: BACKFILL }, vendorCalls);
process.exit(0);

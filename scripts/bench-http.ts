/**
 * Generic HTTP connector benchmark (issue 19, "Measure"; prints figures, asserts nothing). The HTTP
 * emulator runs in this process on loopback and the connector instances (the two example systems,
 * `config/examples/http-crm.yaml` and `http-newsletter.yaml`, loaded as written) are driven
 * directly, `limits.concurrency` pushes at once as the engine runs them.
 * Run: `npx tsx scripts/bench-http.ts`.
 *
 * For each system it pushes BENCH_RECORDS new records (e-mail, names, a consent, a topic), then the
 * same records again with a changed name (updates, by external id), then pulls everything back, and
 * prints API calls per record and records per second for each:
 * - the CRM has no batch endpoint: one call per record and write;
 * - the newsletter tool has one (500 a call): the engine's batch of `limits.maxBatch` records is
 *   one call; with the instance's `limits.maxBatch` raised to 500 (YAML `limits`), a fifth of that.
 * The emulator's rate windows and the instances' `rateLimit` are lifted for the throughput runs
 * (the examples declare 40 and 15 requests a second, which would measure the limit, not the
 * connector); the time the same calls take at the declared limit is printed beside them. The
 * emulator works on the same CPU, so the rates are a floor for the connector.
 * Options: BENCH_RECORDS (default 5000), BENCH_JSON (a file to write the calls per record to,
 * `vendorCalls` of `npm run bench:charts`): the pushes (creates and updates together) of each run,
 * "HTTP CRM push (no batch)" against a ceiling of 1 (no batch endpoint: a call per record is the
 * best), and "HTTP newsletter push, batches of 100" and "... of 500" against 1/500, the most
 * records the example's batch endpoint takes a call (`write.batch.maxBatch` in its YAML). The
 * pulls are left out: their page sizes are the examples' choice, not a vendor's limit.
 */
import { performance } from 'node:perf_hooks';
import type { ConnectorInstance, PushRecord } from '../src/connector/define.js';
import { chunks } from '../src/connector/kit/index.js';
import { silentLogger } from '../src/log/logger.js';
import { compileMapping, mapOutbound } from '../src/connector/mapping.js';
import { MergePolicy, type Profile } from '../src/profile/index.js';
import http from '../connectors/http/connector.js';
import type { HttpConfig, HttpCursor } from '../connectors/http/config.js';
import { startHttpEmulator, type RunningHttpEmulator } from '../connectors/http/emulator/index.js';
import { exampleInstance, type ExampleSystem } from '../harness/http-systems.js';
import { pushConcurrently } from './bench/push-concurrently.js';
import { machineInfo, type VendorCallsJson } from './bench/results.js';
import { writeVendorCalls } from './bench/vendor-calls.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 5_000);
const JSON_OUT = process.env.BENCH_JSON;
const UNLIMITED = { max: 1_000_000_000, intervalMs: 1_000 };
const STAMP = { at: '2026-12-01T09:00:00.000Z', source: 'bench' };

function profile(i: number, name: string): Profile {
  return {
    id: `bench-${String(i).padStart(6, '0')}`,
    identities: [{ kind: 'email', value: `bench-${i}@example.com`, ...STAMP }],
    attributes: { firstName: { value: name, ...STAMP }, lastName: { value: `Last${i}`, ...STAMP } },
    consents: {
      marketing: { email: { value: i % 2 === 0 ? 'granted' : 'denied', legalBasis: 'consent', evidence: { method: 'bench' }, ...STAMP } },
    },
    subscriptions: { newsletter: { value: i % 3 === 0, ...STAMP } },
    rights: { objections: {} },
    version: 1,
  };
}

interface Phase {
  label: string;
  records: number;
  calls: number;
  ms: number;
  /** Requests a second the example declares. */
  declaredPerSecond: number;
}

function line(p: Phase): string {
  const perRecord = p.calls / p.records;
  const atLimitS = p.calls / p.declaredPerSecond;
  return [
    p.label.padEnd(44),
    `${perRecord.toFixed(3).padStart(7)} calls/record`,
    `${Math.round((p.records / p.ms) * 1000)
      .toLocaleString('en-US')
      .padStart(8)} records/s`,
    `${atLimitS.toFixed(1).padStart(7)} s at the declared ${p.declaredPerSecond}/s`,
  ].join('  ');
}

async function measure(
  emulator: RunningHttpEmulator,
  label: string,
  records: number,
  declared: number,
  run: () => Promise<void>,
): Promise<Phase> {
  emulator.sideDoor.resetCalls();
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  return { label, records, calls: emulator.sideDoor.calls().total, ms, declaredPerSecond: declared };
}

interface SystemResult {
  phases: Phase[];
  /** The fewest calls a record can cost: 1 / the batch endpoint's `maxBatch`, or 1 without one. */
  ceilingPerRecord: number;
}

async function benchSystem(emulator: RunningHttpEmulator, system: ExampleSystem, maxBatch: number): Promise<SystemResult> {
  const example = await exampleInstance(system, emulator.url);
  const declared = example.config.rateLimit.requests / (example.config.rateLimit.per / 1_000);
  const config: HttpConfig = { ...example.config, rateLimit: { requests: 1_000_000_000, per: 1_000, concurrency: 16 } };
  const instance: ConnectorInstance<HttpCursor> = await http.create({ instanceId: system, config, logger: silentLogger() });
  const mapping = compileMapping(http, example.mappings);
  const policy = MergePolicy.parse({});
  const toPush = (p: Profile, externalId?: string): PushRecord => ({
    profileId: p.id,
    fields: mapOutbound(mapping, p, policy).fields,
    ...(externalId === undefined ? {} : { externalId }),
  });
  const batchesOf = (records: PushRecord[]) => chunks(records, maxBatch);
  const ids: string[] = [];
  const suffix = system === 'newsletter' ? ` (batches of ${maxBatch})` : '';
  const phases = [
    await measure(emulator, `${system}: create${suffix}`, RECORDS, declared, async () => {
      const outcomes = await pushConcurrently(
        instance,
        batchesOf(Array.from({ length: RECORDS }, (_, i) => toPush(profile(i, `First${i}`)))),
        http.limits.concurrency,
      );
      for (const o of outcomes) if (o.status === 'ok') ids.push(o.externalId);
      if (ids.length !== RECORDS) throw new Error(`${system}: ${RECORDS - ids.length} creates failed`);
    }),
    await measure(emulator, `${system}: update${suffix}`, RECORDS, declared, async () => {
      const updates = Array.from({ length: RECORDS }, (_, i) => toPush(profile(i, `Renamed${i}`), ids[i]));
      const outcomes = await pushConcurrently(instance, batchesOf(updates), http.limits.concurrency);
      if (outcomes.some((o) => o.status !== 'ok')) throw new Error(`${system}: updates failed`);
    }),
    await measure(emulator, `${system}: pull everything`, RECORDS, declared, async () => {
      let seen = 0;
      for await (const page of instance.pull?.(undefined, new AbortController().signal) ?? []) seen += page.records.length;
      if (seen < RECORDS) throw new Error(`${system}: pulled ${seen} of ${RECORDS}`);
    }),
  ];
  await instance.close?.();
  return { phases, ceilingPerRecord: 1 / (example.config.write.batch?.maxBatch ?? 1) };
}

async function main(): Promise<void> {
  const machine = machineInfo();
  /** The pushes of each run, for `BENCH_JSON` (the calls-per-record chart of `npm run bench:charts`). */
  const vendorCalls: VendorCallsJson[] = [];
  console.log(
    `generic HTTP connector benchmark: ${RECORDS.toLocaleString('en-US')} records per system, concurrency ${http.limits.concurrency}`,
  );
  const results: Phase[] = [];
  for (const [system, maxBatch] of [
    ['crm', http.limits.maxBatch],
    ['newsletter', http.limits.maxBatch],
    ['newsletter', 500],
  ] as const) {
    const emulator = await startHttpEmulator({ rateLimit: { crm: UNLIMITED, newsletter: UNLIMITED } });
    try {
      const { phases, ceilingPerRecord } = await benchSystem(emulator, system, maxBatch);
      results.push(...phases);
      // Creates and updates: the pushes, not the pull.
      const pushes = phases.filter((p) => !p.label.endsWith('pull everything'));
      const calls = pushes.reduce((sum, p) => sum + p.calls, 0);
      const records = pushes.reduce((sum, p) => sum + p.records, 0);
      vendorCalls.push({
        vendor: system === 'crm' ? 'HTTP CRM push (no batch)' : `HTTP newsletter push, batches of ${maxBatch}`,
        callsPerRecord: calls / records,
        ceilingPerRecord,
      });
    } finally {
      await emulator.close();
    }
  }
  for (const r of results) console.log(line(r));
  const single = results.find((r) => r.label.startsWith('crm: create'));
  const batched = results.find((r) => r.label.startsWith('newsletter: create') && r.label.includes('500'));
  if (single && batched) {
    console.log(
      `batch endpoint vs one call per record: ${(single.calls / single.records / (batched.calls / batched.records)).toFixed(0)}x fewer calls, ` +
        `${(batched.records / batched.ms / (single.records / single.ms)).toFixed(1)}x the records/s`,
    );
  }
  if (JSON_OUT) writeVendorCalls(JSON_OUT, machine, { records: RECORDS }, vendorCalls);
}

await main();

/**
 * `BENCH_JSON` of the connector benches (`bench-hubspot.ts`, `bench-salesforce.ts`,
 * `bench-mailchimp.ts`, `bench-segment.ts`, `bench-http.ts`): a bench file (`concord-bench/1`)
 * with no runs, only `vendorCalls` (API calls per record against the vendor's ceiling), which
 * `npm run bench:charts` draws as `calls-per-record.svg`.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { BENCH_FORMAT, BenchFile, type BenchFileInput, type MachineJson, type VendorCallsJson } from './results.js';

/**
 * Writes `vendorCalls` to `path`, checked against the schema: `machine` is `machineInfo()` taken
 * at the start of the bench (the load average at the end is filled in here), `options` what the
 * bench ran with.
 */
export function writeVendorCalls(
  path: string,
  machine: MachineJson,
  options: Record<string, unknown>,
  vendorCalls: readonly VendorCallsJson[],
): void {
  const file: BenchFileInput = {
    format: BENCH_FORMAT,
    machine: { ...machine, loadAverageEnd: loadavg() },
    options,
    runs: [],
    vendorCalls: [...vendorCalls],
  };
  writeFileSync(path, `${JSON.stringify(BenchFile.parse(file), null, 2)}\n`);
  console.log(`\nwrote ${path}`);
}

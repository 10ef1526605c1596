/**
 * The backfill bench's system (`backfill.ts`): the Salesforce emulator in a process of its own,
 * seeded through its side door with the number of contacts in CONCORD_BENCH_BACKFILL (JSON
 * `{ profiles }`), so that the hub process's RSS is the hub's alone. Prints `{ url, seconds }`
 * once seeded; exits when its stdin closes.
 */
import { startSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';
import { BACKFILL_SF } from './spec.js';

const { profiles } = JSON.parse(process.env['CONCORD_BENCH_BACKFILL'] ?? '{}') as { profiles: number };
const emulator = await startSalesforceEmulator({
  clientId: BACKFILL_SF.clientId,
  clientSecret: BACKFILL_SF.clientSecret,
  organizationId: BACKFILL_SF.organizationId,
  dailyApiLimit: 100_000_000,
  tokenTtlMs: 0,
});
const started = performance.now();
const CHUNK = 10_000;
for (let from = 0; from < profiles; from += CHUNK) {
  const rows = Array.from({ length: Math.min(CHUNK, profiles - from) }, (_, k) => {
    const i = from + k;
    return { FirstName: `First${i}`, LastName: `Last${i}`, Email: `backfill-${i}@example.com`, HasOptedOutOfEmail: i % 3 === 0 };
  });
  emulator.sideDoor.seed('Contact', rows);
}
process.stdout.write(`${JSON.stringify({ url: emulator.url, seconds: (performance.now() - started) / 1000 })}\n`);
process.stdin.on('end', () => void emulator.close().finally(() => process.exit(0)));
process.stdin.resume();

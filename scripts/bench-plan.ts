/**
 * `concord plan` benchmark (prints figures; asserts nothing). Seeds the HubSpot and Salesforce
 * emulators with BENCH_PEOPLE people each (default 10,000; half of Salesforce's are also in
 * HubSpot, a tenth of those with another last name), runs `concord plan --json` in this process
 * against a config naming them (the first sync: the database does not exist), and prints its
 * time, what it planned, and the API calls it cost per record read (the emulators' request
 * counters; HubSpot and Salesforce at their real rate limits, which the connectors' declared
 * limits stay under). Needs nothing else: plan uses neither Redis nor an existing database.
 * Run: `npx tsx scripts/bench-plan.ts`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubSpotEmulator } from '../connectors/hubspot/emulator/index.js';
import { startSalesforceEmulator } from '../connectors/salesforce/emulator/index.js';
import { hubspotYaml, hubYaml, salesforceYaml } from '../harness/hub-config.js';
import type { CliIo } from '../src/cli/io.js';
import { runCli } from '../src/cli/program.js';
import type { CallCounts } from '../src/connector/emulator-kit/controls.js';
import { PlanReport } from '../src/sync/index.js';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 10_000);
const ENV: Record<string, string> = {
  T_SIGNING: 'bench-plan-signing-secret-0123456789abcdef01',
  T_HASH: 'b'.repeat(32),
  T_HS_TOKEN: 'pat-bench-plan',
  T_HS_SECRET: 'bench-plan-hubspot-secret',
  T_SF_ID: 'bench-plan-app',
  T_SF_SECRET: 'bench-plan-sf-secret',
  T_SF_OM_TOKEN: 'bench-plan-outbound-token-0123456789abcdefghij',
};

function perEndpoint(label: string, calls: CallCounts, records: number): void {
  console.log(`  ${label}: ${calls.total} API calls, ${(calls.total / Math.max(1, records)).toFixed(4)} per record read`);
  for (const [endpoint, n] of Object.entries(calls.byEndpoint).sort()) console.log(`    ${endpoint}: ${n}`);
}

async function main(): Promise<void> {
  const hubspot = await startHubSpotEmulator({ clientSecret: ENV['T_HS_SECRET'] ?? '', appId: 8094, accessToken: ENV['T_HS_TOKEN'] });
  const salesforce = await startSalesforceEmulator({
    clientId: ENV['T_SF_ID'] ?? '',
    clientSecret: ENV['T_SF_SECRET'] ?? '',
    organizationId: '00D5e000000BeNcEAA',
  });
  const dir = await mkdtemp(join(tmpdir(), 'concord-bench-plan-'));
  try {
    const seeding = performance.now();
    for (let i = 0; i < PEOPLE; i++)
      hubspot.sideDoor.createContact({ email: `p${i}@example.com`, firstname: `First${i}`, lastname: `Last${i}` });
    // Half of Salesforce's people are HubSpot's (a tenth of them with another last name), half are its own.
    const sf = Array.from({ length: PEOPLE }, (_, i) => {
      const shared = i % 2 === 0;
      const n = shared ? i : PEOPLE + i;
      return { Email: `p${n}@example.com`, FirstName: `First${n}`, LastName: shared && i % 20 === 0 ? `Other${n}` : `Last${n}` };
    });
    salesforce.sideDoor.seed('Contact', sf);
    console.log(
      `seeded ${PEOPLE} HubSpot contacts and ${PEOPLE} Salesforce contacts in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );
    hubspot.sideDoor.resetCalls();
    salesforce.sideDoor.resetCalls();

    const configPath = join(dir, 'concord.yaml');
    const yaml = `${hubYaml({ redisUrl: 'redis://127.0.0.1:6379', databaseUrl: `sqlite:${join(dir, 'not-yet.db')}`, prefix: '{bench-plan}' })}connectors:
${hubspotYaml({ baseUrl: hubspot.url, appId: 8094 })}    subscriptions: [{ id: 101, consent: marketing.email }]
${salesforceYaml({ loginUrl: salesforce.url, organizationId: '00D5e000000BeNcEAA' })}    channelFlags: { HasOptedOutOfEmail: marketing.email }
`;
    await writeFile(configPath, yaml);
    let stdout = '';
    let code = 0;
    let lastProgress = '';
    const io: CliIo = {
      env: ENV,
      log: (line) => void (stdout += `${line}\n`),
      error: (line) => {
        lastProgress = line;
        console.error(line);
      },
      writeOut: (text) => void (stdout += text),
      writeErr: (text) => void process.stderr.write(text),
      exit: (value) => void (code = value),
      untilStopped: () => new Promise(() => undefined),
    };
    const started = performance.now();
    await runCli(['plan', '--json', '--config', configPath], io);
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`concord plan exited ${code}: ${lastProgress}`);
    const report = PlanReport.parse(JSON.parse(stdout));
    console.log(`\nconcord plan (first sync, ${PEOPLE} people in each system): ${seconds.toFixed(1)} s`);
    for (const s of report.sources) {
      console.log(
        `  reads ${s.connector}: ${s.records} records, ${s.pages} pages in ${(s.ms / 1000).toFixed(1)} s; hub profiles ${s.created} new, ${s.updated} changed, ${s.unchanged} unchanged`,
      );
    }
    for (const t of report.targets) {
      console.log(
        `  writes ${t.connector}: create ${t.create}, update ${t.update}, leave alone ${t.unchanged}; fields ${JSON.stringify(t.fields)}`,
      );
    }
    const records = (id: string): number => report.sources.find((s) => s.connector === id)?.records ?? 0;
    console.log('\nAPI calls the plan cost (emulator counters):');
    perEndpoint('HubSpot', hubspot.sideDoor.calls(), records('hubspot'));
    perEndpoint('Salesforce', salesforce.sideDoor.calls(), records('salesforce'));
  } finally {
    await hubspot.close();
    await salesforce.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

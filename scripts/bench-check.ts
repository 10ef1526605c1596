/**
 * `concord check` benchmark (prints figures; asserts nothing). The HubSpot, Salesforce, Mailchimp
 * and Segment emulators run in this process, each seeded with BENCH_PEOPLE people through its side
 * door; a `concord.yaml` names the four of them, this Redis and a migrated SQLite database.
 *
 * 1. `concord check` as an operator runs it (a separate process, tsx): wall time of each of
 *    BENCH_RUNS runs, its exit code, and the API calls each emulator served per run; beside it
 *    `concord validate` on the same file (the same process start and config load, no calls).
 * 2. Each connector's `check` in this process (warm, after one run): milliseconds per check
 *    (median of BENCH_RUNS) and API calls per check — what `POST /api/v1/connectors/{id}/check`
 *    costs on a running hub.
 *
 * The checks read no people (a token introspection, describes, a ping, one-record reads), so
 * their cost should not grow with the number of people: the figures show whether it does.
 * Run: `npx tsx scripts/bench-check.ts`. Needs Redis at REDIS_URL (default redis://127.0.0.1:6379).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { builtinConnectors } from '../connectors/index.js';
import { startHubSpotEmulator } from '../connectors/hubspot/emulator/index.js';
import { DEFAULT_LIST_ID, startMailchimpEmulator } from '../connectors/mailchimp/emulator/index.js';
import { startSalesforceEmulator } from '../connectors/salesforce/emulator/index.js';
import { DEFAULT_SPACE_ID, startSegmentEmulator } from '../connectors/segment/emulator/index.js';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log/logger.js';
import { MergePolicy } from '../src/profile/schema.js';
import { openStore } from '../src/store/index.js';
import { connectorsFromConfig } from '../src/sync/index.js';

const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const ENV: Record<string, string> = {
  B_SIGNING: 'bench-check-signing-secret-0123456789abcdef',
  B_HASH: 'bench-check-hash-key-0123456789abcdef012345',
  B_HS_TOKEN: 'pat-bench-check',
  B_HS_SECRET: 'bench-check-client-secret',
  B_SF_ID: 'bench-check-app',
  B_SF_SECRET: 'bench-check-sf-secret',
  B_MC_KEY: 'bench-check-key-us1',
  B_MC_URL_SECRET: 'bench-check-url-secret-0123456789abcdef0123',
  B_SEG_WRITE: 'bench-check-write-key',
  B_SEG_PROFILE: 'bench-check-profile-token',
  B_SEG_PUBLIC: 'bench-check-public-token',
};

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const ms = (n: number): string => `${n.toFixed(0)} ms`;

function runCheck(configPath: string, command = 'check'): Promise<{ code: number; wallMs: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', command, '--config', configPath],
      { env: { ...process.env, ...ENV } },
      (error, stdout) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, wallMs: performance.now() - started, stdout });
      },
    );
  });
}

async function main(): Promise<void> {
  const hubspot = await startHubSpotEmulator({ clientSecret: ENV['B_HS_SECRET'] ?? '', accessToken: ENV['B_HS_TOKEN'], appId: 4242 });
  const salesforce = await startSalesforceEmulator({ clientId: ENV['B_SF_ID'], clientSecret: ENV['B_SF_SECRET'] ?? '' });
  const mailchimp = await startMailchimpEmulator({ apiKey: ENV['B_MC_KEY'] });
  const segment = await startSegmentEmulator({
    secret: 'bench-check-webhook-secret',
    writeKey: ENV['B_SEG_WRITE'],
    profileToken: ENV['B_SEG_PROFILE'],
    publicApiToken: ENV['B_SEG_PUBLIC'],
  });
  const dir = await mkdtemp(join(tmpdir(), 'concord-bench-check-'));
  try {
    const seedStart = performance.now();
    const email = (i: number): string => `person-${i}@bench.example`;
    for (let i = 0; i < PEOPLE; i++) hubspot.sideDoor.createContact({ email: email(i), firstname: `First${i}`, lastname: `Last${i}` });
    salesforce.sideDoor.seed(
      'Contact',
      Array.from({ length: PEOPLE }, (_, i) => ({ Email: email(i), FirstName: `First${i}`, LastName: `Last${i}` })),
    );
    for (let i = 0; i < PEOPLE; i++) mailchimp.sideDoor.userChange(email(i), { FNAME: `First${i}`, LNAME: `Last${i}` });
    for (let i = 0; i < PEOPLE; i++) segment.sideDoor.downstreamIdentify(`usr_${i}`, { email: email(i), firstName: `First${i}` });
    const seedMs = performance.now() - seedStart;

    const port = 8099;
    const publicUrl = `http://127.0.0.1:${port}`;
    // The audience's webhook points at the hub, as `concord connector setup` registers it.
    mailchimp.sideDoor.setWebhookUrl(`${publicUrl}/webhooks/mailchimp/${ENV['B_MC_URL_SECRET'] ?? ''}`);
    const databaseUrl = `sqlite:${join(dir, 'concord.db')}`;
    const store = await openStore({ url: databaseUrl, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'unused' });
    await store.close();
    const yaml = `hub:
  mode: development
  redisUrl: ${REDIS_URL}
  databaseUrl: ${databaseUrl}
  publicUrl: ${publicUrl}
  listen: { host: 127.0.0.1, port: ${port} }
  keyPrefix: "{bench-check}"
  secrets:
    signing: \${env:B_SIGNING}
    hashKey: \${env:B_HASH}
catalog:
  channels: { email: { title: E-mail } }
  purposes:
    marketing: { title: Marketing communications, notice: { text: Offers, version: "2026-01" }, objection: directMarketing, channels: [email] }
  topics: { newsletter: { title: Newsletter } }
connectors:
  hubspot:
    type: hubspot
    accessToken: \${env:B_HS_TOKEN}
    webhookSecret: \${env:B_HS_SECRET}
    baseUrl: ${hubspot.url}
    appId: 4242
    subscriptions: [{ id: 101, consent: marketing.email }, { id: 103, topic: newsletter }]
  salesforce:
    type: salesforce
    loginUrl: ${salesforce.url}
    clientId: \${env:B_SF_ID}
    clientSecret: \${env:B_SF_SECRET}
    channelFlags: { HasOptedOutOfEmail: marketing.email }
  mailchimp:
    type: mailchimp
    apiKey: \${env:B_MC_KEY}
    baseUrl: ${mailchimp.url}
    listId: ${DEFAULT_LIST_ID}
    webhookSecret: \${env:B_MC_URL_SECRET}
  segment:
    type: segment
    writeKey: \${env:B_SEG_WRITE}
    baseUrl: ${segment.url}
    spaceId: ${DEFAULT_SPACE_ID}
    profileToken: \${env:B_SEG_PROFILE}
    publicApiToken: \${env:B_SEG_PUBLIC}
`;
    const configPath = join(dir, 'concord.yaml');
    await writeFile(configPath, yaml);
    const emulators = { hubspot, salesforce, mailchimp, segment };
    const totals = (): Record<string, number> =>
      Object.fromEntries(Object.entries(emulators).map(([id, e]) => [id, e.sideDoor.calls().total]));
    const delta = (before: Record<string, number>): string => {
      const after = totals();
      return Object.keys(after)
        .map((id) => `${id} ${(after[id] ?? 0) - (before[id] ?? 0)}`)
        .join(', ');
    };

    process.stdout.write(`bench-check: ${PEOPLE} people in each of 4 emulators (seeded in ${ms(seedMs)}), ${RUNS} runs\n\n`);
    process.stdout.write('1. concord check (separate process, tsx), all connectors + config + Redis + database\n');
    const walls: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const before = totals();
      const run = await runCheck(configPath);
      walls.push(run.wallMs);
      const lines = run.stdout.trim().split('\n');
      const marks = { ok: lines.filter((l) => l.startsWith('✔')).length, failed: lines.filter((l) => l.startsWith('✘')).length };
      process.stdout.write(
        `   run ${r + 1}: ${ms(run.wallMs)}, exit ${run.code}, ${lines.length} lines (${marks.ok} ✔, ${marks.failed} ✘); API calls: ${delta(before)}\n`,
      );
      if (r === 0 && marks.failed > 0) process.stdout.write(`${lines.filter((l) => l.startsWith('✘')).join('\n')}\n`);
    }
    process.stdout.write(`   median ${ms(median(walls))}, min ${ms(Math.min(...walls))}, max ${ms(Math.max(...walls))}\n`);
    // The same process start and config load without any check: what is left is the checks' own time.
    const baseline: number[] = [];
    for (let r = 0; r < RUNS; r++) baseline.push((await runCheck(configPath, 'validate')).wallMs);
    process.stdout.write(`   baseline concord validate (same start and config load, no calls): median ${ms(median(baseline))}\n\n`);

    process.stdout.write('2. each connector’s check in process (warm), as POST /api/v1/connectors/{id}/check runs it\n');
    const loaded = parseConfig(yaml, configPath, { connectors: builtinConnectors, env: ENV });
    if (!loaded.ok) throw new Error(loaded.errors.map(String).join('\n'));
    for (const connector of connectorsFromConfig(loaded.config, builtinConnectors)) {
      const times: number[] = [];
      let calls = 0;
      for (let r = 0; r <= RUNS; r++) {
        const instance = await connector.create({ logger: silentLogger() });
        const emulator = emulators[connector.id as keyof typeof emulators];
        const before = emulator.sideDoor.calls().total;
        const started = performance.now();
        await instance.check?.(AbortSignal.timeout(30_000), { webhookUrl: `${publicUrl}/webhooks/${connector.id}` });
        // The first run warms the modules and the client up; it is left out.
        if (r > 0) times.push(performance.now() - started);
        calls = emulator.sideDoor.calls().total - before;
        await instance.close?.();
      }
      process.stdout.write(
        `   ${connector.id.padEnd(11)} median ${ms(median(times)).padStart(7)}, max ${ms(Math.max(...times)).padStart(7)}, ${calls} API calls per check\n`,
      );
    }
  } finally {
    await hubspot.close();
    await salesforce.close();
    await mailchimp.close();
    await segment.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * Write log benchmark: what a push's bookkeeping of its writes costs (`src/sync/inbound/write-log.ts`),
 * per profile pushed, in the hub's CPU and in the Redis server's. Prints figures, asserts nothing.
 *
 *   npx tsx scripts/bench-write-log.ts [--profiles 100 --entries 8 --rounds 200 --runs 3]
 *
 * Each round is one push of `--profiles` profiles to one system: `begin` (the entries held are
 * read, the new one stored), `settle`, `finish` (the outcome stored). The profiles first hold
 * `--entries` entries each (a profile pushed that often within the log's retention, 10 minutes
 * by default), with five mapped fields. The Redis server's CPU comes from `INFO` and includes
 * whatever else runs on it. Needs Redis on 127.0.0.1:6379 (`CONCORD_TEST_REDIS_URL` overrides);
 * its keys live under a random prefix, deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { deletePrefix, REDIS_URL } from '../harness/sync-hub.js';
import { WriteLog } from '../src/sync/inbound/write-log.js';

const { values: args } = parseArgs({
  options: {
    profiles: { type: 'string', default: '100' },
    entries: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
  },
});
const PROFILES = Number(args.profiles);
const ENTRIES = Number(args.entries);
const ROUNDS = Number(args.rounds);
const RUNS = Number(args.runs);

const redis = new Redis(REDIS_URL);
const prefix = `{bench-wl-${randomBytes(4).toString('hex')}}`;
const log = new WriteLog(
  redis,
  (connector, profileId) => `${prefix}:w:${connector}:${profileId}`,
  (connector, externalId) => `${prefix}:p:${connector}:${externalId}`,
  600_000,
);
const ids = Array.from({ length: PROFILES }, (_, i) => `prof_${i}`);
const fields = { email: 'someone@example.com', first_name: 'Ada', last_name: 'Lovelace', newsletter: true, email_opt_out: false };

async function push(round: number): Promise<void> {
  const now = Date.now();
  const writes = ids.map((profileId) => ({
    profileId,
    fields: { ...fields, first_name: `Ada ${round}` },
    prev: { first_name: `Ada ${round - 1}` },
    after: { ...fields, first_name: `Ada ${round}` },
    valuesAt: { first_name: now },
    knownAt: now,
    knownAtBy: { first_name: now, email: now },
  }));
  await log.begin('a', writes);
  log.settle('a', new Map(ids.map((id) => [id, { ok: true, landedAt: Date.now() }])));
  await log.finish('a', ids, new Map(ids.map((id) => [id, `ext_${id}`])));
  // Entries are told apart by their start (ms): a profile is pushed to a system once at a time.
  await new Promise((resolve) => setTimeout(resolve, 1));
}

async function redisCpuUs(): Promise<number> {
  const info = await redis.info('cpu');
  const num = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (num('used_cpu_user') + num('used_cpu_sys')) * 1e6;
}

try {
  console.log(`write log: ${PROFILES} profiles a push, ${ENTRIES} entries held each, ${ROUNDS} pushes a run`);
  for (let r = 0; r < ENTRIES; r++) await push(r);
  let round = ENTRIES;
  for (let run = 1; run <= RUNS; run++) {
    const redisBefore = await redisCpuUs();
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < ROUNDS; i++) await push(round++);
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - started;
    const redisUs = (await redisCpuUs()) - redisBefore;
    const per = ROUNDS * PROFILES;
    console.log(
      `  run ${run}: ${((used.user + used.system) / per).toFixed(1)} us hub CPU and ${(redisUs / per).toFixed(1)} us Redis CPU ` +
        `per profile pushed; ${((ROUNDS * 1000) / wallMs).toFixed(0)} pushes/s`,
    );
  }
} finally {
  await deletePrefix(prefix);
  redis.disconnect();
}

/**
 * What the benchmark offers the hub: a seeded stream of changes people make in `src` (each a
 * signed webhook), and the raw BullMQ baseline of no-op jobs to compare the hub with.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/log/logger.js';
import type { Json } from '../../src/profile/schema.js';
import { OrderedWorker } from '../../src/sync/inbound/ordered-worker.js';
import { deletePrefix, REDIS_URL } from '../../harness/sync-hub.js';
import { nameOf } from './delivery.js';
import type { Bench } from './deployment.js';
import { PHASE_TIMEOUT_MS, PROFILES, TUNING, WINDOW } from './options.js';

/** mulberry32: a seeded generator, so runs offer the same change stream. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A person in `src`: the values the next change toggles. */
interface Person {
  optOut: boolean;
  newsletter: boolean;
}

export class ChangeStream {
  private seq = 0;
  private readonly people: Person[] = [];
  private readonly rand: () => number;
  private readonly tag = randomBytes(3).toString('hex');

  constructor(
    private readonly bench: Bench,
    seed: number,
  ) {
    this.rand = random(seed);
  }

  pick(): number {
    return Math.floor(this.rand() * PROFILES);
  }

  /** Waits until fewer than `window` source webhooks are in flight. */
  async room(): Promise<void> {
    while (this.bench.outstanding >= WINDOW) await this.bench.drained();
  }

  /** One change made by a person in `src` (a new person for `create`); its webhook follows. */
  change(p: number, create = false): void {
    const seq = this.seq++;
    const fields: Record<string, Json> = { email: `person${p}@${this.tag}.bench.example`, first_name: nameOf(p, seq) };
    let person = this.people[p];
    if (create || !person) {
      person = { optOut: false, newsletter: false };
      this.people[p] = person;
      fields['last_name'] = `Family${p % 97}`;
      fields['email_opt_out'] = person.optOut;
      fields['newsletter'] = person.newsletter;
    } else {
      // About a third of the changes are a consent change, a quarter a newsletter change.
      if (this.rand() < 0.35) fields['email_opt_out'] = person.optOut = !person.optOut;
      if (this.rand() < 0.25) fields['newsletter'] = person.newsletter = !person.newsletter;
      if (this.rand() < 0.1) fields['last_name'] = `Family${Math.floor(this.rand() * 97)}`;
    }
    this.bench.outstanding++;
    this.bench.tracker.issue(p, seq, performance.now());
    this.bench.source.change(fields);
  }
}

/**
 * No-op jobs through BullMQ on their own prefix: added in bulk, then worked off by a plain
 * `Worker` with the engine's ingest concurrency (`worker`), or by the engine's own ingest
 * worker loop, which starts jobs strictly in queue order (`ordered`).
 */
export async function rawBullmq(
  kind: 'worker' | 'ordered',
  jobs: number,
  concurrency: number,
): Promise<{ perSecond: number; seconds: number }> {
  const prefix = `{bench-raw-${randomBytes(4).toString('hex')}}`;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix });
  let close: () => Promise<void> = async () => undefined;
  try {
    for (let i = 0; i < jobs; i += 1000) {
      const n = Math.min(1000, jobs - i);
      await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true } })));
    }
    let completed = 0;
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    const noop = async (): Promise<void> => {
      if (++completed === jobs) resolveAll();
    };
    const started = performance.now();
    if (kind === 'worker') {
      const worker = new Worker('noop', noop, { connection, prefix, concurrency });
      close = () => worker.close();
    } else {
      const worker = new OrderedWorker(
        'noop',
        noop,
        { connection, prefix, maxInFlight: concurrency, lockDuration: TUNING.lockDurationMs },
        silentLogger(),
      );
      await worker.start();
      close = () => worker.close();
    }
    // Unref: the timeout must not keep the process alive once the jobs are done.
    await Promise.race([all, sleep(PHASE_TIMEOUT_MS, undefined, { ref: false })]);
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: completed / seconds, seconds };
  } finally {
    await close();
    await queue.close();
    await connection.quit().catch(() => connection.disconnect());
    await deletePrefix(prefix);
  }
}

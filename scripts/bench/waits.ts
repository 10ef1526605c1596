/**
 * Where a hub process waits (`npm run bench -- --waits`): the time it spends with at least one
 * call in flight to Redis, to the store (each `Store` method: its queries and transactions), and
 * to the vendors (the connectors' push, read and privacy calls, here to the in-memory systems),
 * timed at the boundaries the hub already has. A process waiting on two calls of one kind at
 * once counts that time once (`busyMs`); `callMs` adds every call's own time. Store
 * transactions retried after losing a race (deadlock, serialization failure, compare-and-swap)
 * are counted from the store's own `store transaction retried` log line.
 *
 * Off unless the bench asks: the store and connectors are wrapped in proxies and ioredis's
 * `sendCommand` is wrapped once per process, which costs a clock read per call.
 */
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { Command } from 'ioredis';
import pino from 'pino';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../../src/store/index.js';
import type { SyncConnector, SyncInstance } from '../../src/sync/bind.js';

export const WAIT_KINDS = ['redis', 'store', 'vendor'] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];

const WaitFigures = z.object({
  /** Calls made. */
  calls: z.number(),
  /** The calls' times added up (ms). */
  callMs: z.number(),
  /** Time with at least one call in flight (ms). */
  busyMs: z.number(),
});

/** One process's waits so far (or over a phase, as a difference). */
export const WaitTotals = z.object({
  redis: WaitFigures,
  store: WaitFigures,
  vendor: WaitFigures,
  /** Store transactions retried after losing a race. */
  retries: z.number(),
});
export type WaitTotals = z.infer<typeof WaitTotals>;

/** A hub process's answer to the bench's IPC message (`hub-worker.ts`). */
export const WaitsMessage = z.object({ waits: WaitTotals });
export type WaitsMessage = z.infer<typeof WaitsMessage>;

/** Redis commands that block until there is work: waiting for a job is not waiting on Redis. */
const BLOCKING = new Set(['bzpopmin', 'bzpopmax', 'brpoplpush', 'blmove', 'brpop', 'blpop', 'xread', 'xreadgroup']);
/** The connector calls that reach the vendor's system. */
const VENDOR_CALLS = new Set<string | symbol>(['push', 'read', 'erase', 'eraseProgress', 'export', 'find']);

interface Kind {
  calls: number;
  callMs: number;
  busyMs: number;
  inFlight: number;
  since: number;
}

export class WaitClock {
  private readonly kinds = new Map<WaitKind, Kind>(WAIT_KINDS.map((k) => [k, { calls: 0, callMs: 0, busyMs: 0, inFlight: 0, since: 0 }]));
  retries = 0;

  private kind(kind: WaitKind): Kind {
    const found = this.kinds.get(kind);
    if (!found) throw new Error(`unknown wait kind ${kind}`);
    return found;
  }

  /** Starts a call; returns the function that ends it. */
  begin(kind: WaitKind): () => void {
    const k = this.kind(kind);
    const started = performance.now();
    k.calls++;
    if (k.inFlight++ === 0) k.since = started;
    return () => {
      const ended = performance.now();
      k.callMs += ended - started;
      if (--k.inFlight === 0) k.busyMs += ended - k.since;
    };
  }

  /** Times `fn`'s promise (a result that is no promise is not a wait). */
  time<T>(kind: WaitKind, fn: () => T): T {
    const end = this.begin(kind);
    let out: T;
    try {
      out = fn();
    } catch (err) {
      end();
      throw err;
    }
    if (out instanceof Promise) out.then(end, end);
    else end();
    return out;
  }

  /** The totals so far, a call in flight counted up to now. */
  snapshot(): WaitTotals {
    const now = performance.now();
    const figures = (kind: WaitKind): z.infer<typeof WaitFigures> => {
      const k = this.kind(kind);
      return { calls: k.calls, callMs: k.callMs, busyMs: k.busyMs + (k.inFlight > 0 ? now - k.since : 0) };
    };
    return { redis: figures('redis'), store: figures('store'), vendor: figures('vendor'), retries: this.retries };
  }
}

/** `after - before`, kind by kind. */
export function waitsBetween(before: WaitTotals, after: WaitTotals): WaitTotals {
  const diff = (kind: WaitKind): z.infer<typeof WaitFigures> => ({
    calls: after[kind].calls - before[kind].calls,
    callMs: after[kind].callMs - before[kind].callMs,
    busyMs: after[kind].busyMs - before[kind].busyMs,
  });
  return { redis: diff('redis'), store: diff('store'), vendor: diff('vendor'), retries: after.retries - before.retries };
}

/** The waits of several processes added up. */
export function sumWaits(list: readonly WaitTotals[]): WaitTotals {
  const zero = (): z.infer<typeof WaitFigures> => ({ calls: 0, callMs: 0, busyMs: 0 });
  const out: WaitTotals = { redis: zero(), store: zero(), vendor: zero(), retries: 0 };
  for (const w of list) {
    for (const kind of WAIT_KINDS) {
      out[kind].calls += w[kind].calls;
      out[kind].callMs += w[kind].callMs;
      out[kind].busyMs += w[kind].busyMs;
    }
    out.retries += w.retries;
  }
  return out;
}

/** `target` with every method in `names` (every method when null) timed as `kind`. */
function timed<T extends object>(target: T, clock: WaitClock, kind: WaitKind, names: ReadonlySet<string | symbol> | null): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function' || (names !== null && !names.has(property))) return value;
      return (...args: unknown[]): unknown => clock.time(kind, (): unknown => Reflect.apply(value, object, args));
    },
  });
}

/** The store with every call timed. */
export function timeStore(store: Store, clock: WaitClock): Store {
  return timed(store, clock, 'store', null);
}

/** The connectors, each live instance's vendor calls timed. */
export function timeConnectors(connectors: readonly SyncConnector[], clock: WaitClock): SyncConnector[] {
  return connectors.map((c) => ({
    ...c,
    create: async (ctx): Promise<SyncInstance> => timed(await c.create(ctx), clock, 'vendor', VENDOR_CALLS),
  }));
}

let timedRedis: WaitClock | null = null;

/** Times every command this process sends to Redis (once per process: ioredis's own prototype). */
export function timeRedis(clock: WaitClock): void {
  if (timedRedis) return;
  timedRedis = clock;
  const send = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (this: Redis, command: Command, ...rest: unknown[]): unknown {
    const out: unknown = Reflect.apply(send, this, [command, ...rest]);
    if (!BLOCKING.has(command.name.toLowerCase())) {
      const end = clock.begin('redis');
      command.promise.then(end, end);
    }
    return out;
  };
}

/** A silent store logger but for counting the store's retried transactions (into `counter.retries`: a `WaitClock`, or any tally). */
export function retryCountingLogger(counter: { retries: number }): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.includes('store transaction retried')) counter.retries++;
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

/**
 * Scheduled incremental pulls, the safety net for lost webhooks. Each page is ingested (and
 * durable) before its cursor is saved, so a crash resumes where it stopped. One pull per
 * connector runs at a time, whatever the number of worker processes (a Redis lock).
 *
 * The store keeps, per connector, the connector's own cursor in an envelope with checkpoints
 * (the cursor reached at the end of recent runs and when). A run that stopped half-way
 * resumes exactly at its last page; a new run starts from the newest checkpoint at least
 * `lookBackMs` old, so changes that landed late at the source (clock skew, slow commits)
 * are read again. Re-reading is harmless: a record equal to its shadow changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { z } from 'zod';
import { RateLimitedError } from '../connector/errors.js';
import { Json } from '../profile/schema.js';
import type { SyncConnector } from './bind.js';
import type { EngineContext } from './context.js';
import { callExternal } from './external-call.js';
import type { Ingestor } from './ingest.js';
import { LuaScript } from './lua.js';

export const CursorEnvelope = z.object({
  concordPull: z.literal(1),
  /** The connector's cursor; null means from the beginning. */
  cursor: Json.nullable(),
  /** Whether the run that saved it reached the end. */
  complete: z.boolean(),
  checkpoints: z.array(z.object({ at: z.number(), cursor: Json.nullable() })),
});
export type CursorEnvelope = z.infer<typeof CursorEnvelope>;

export interface PullJobData {
  connector: string;
}

export interface PullResult {
  pages: number;
  records: number;
  skipped?: 'running';
}

const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

const LOCK_MS = 30_000;
const MAX_CHECKPOINTS = 50;

export class Puller {
  constructor(
    private readonly ctx: EngineContext,
    private readonly ingestor: Ingestor,
  ) {}

  async process(job: Job<PullJobData>, signal?: AbortSignal): Promise<PullResult> {
    const connector = this.ctx.connectors.get(job.data.connector);
    if (!connector) return { pages: 0, records: 0 };
    const lockKey = this.ctx.keys.pullLock(connector.id);
    const token = randomUUID();
    const locked = await this.ctx.redis.set(lockKey, token, 'PX', LOCK_MS, 'NX');
    if (locked !== 'OK') return { pages: 0, records: 0, skipped: 'running' };
    const renew = setInterval(() => {
      this.ctx.redis.pexpire(lockKey, LOCK_MS).catch(() => undefined);
    }, LOCK_MS / 3);
    try {
      return await this.run(connector, signal);
    } catch (err) {
      if (err instanceof RateLimitedError) {
        await this.ctx.queues.pull.get(connector.id)?.rateLimit(Math.max(1, err.retryAfterMs));
        throw Worker.RateLimitError();
      }
      throw err;
    } finally {
      clearInterval(renew);
      await RELEASE.run(this.ctx.redis, [lockKey], [token]);
    }
  }

  private async run(connector: SyncConnector, signal?: AbortSignal): Promise<PullResult> {
    const instance = await this.ctx.instance(connector.id);
    if (!instance.pull) return { pages: 0, records: 0 };
    const envelope = await this.load(connector.id);
    const start = startCursor(envelope, connector.lookBackMs, Date.now());
    const abort = signal ?? new AbortController().signal;
    const iterator = instance.pull(start ?? undefined, abort)[Symbol.asyncIterator]();
    const callCtx = { limiter: this.ctx.limiter, metrics: this.ctx.metrics, retries: 0, retryMinMs: 0 };
    let pages = 0;
    let records = 0;
    let cursor: Json | null = start;
    for (;;) {
      // A page is one request; a failed one is retried by the job, from the saved cursor.
      const next = await callExternal(callCtx, connector, 'pull', () => iterator.next(), { signal: abort });
      if (next.done) break;
      const page = next.value;
      const receivedAt = new Date().toISOString();
      if (page.records.length > 0) await this.ingestor.ingest(connector, page.records, receivedAt);
      cursor = page.cursor;
      pages++;
      records += page.records.length;
      await this.save(connector.id, { concordPull: 1, cursor, complete: false, checkpoints: envelope?.checkpoints ?? [] });
    }
    const now = Date.now();
    const checkpoints = [...(envelope?.checkpoints ?? []), { at: now, cursor }];
    await this.save(connector.id, {
      concordPull: 1,
      cursor,
      complete: true,
      checkpoints: trimCheckpoints(checkpoints, connector.lookBackMs, now),
    });
    this.ctx.logger.debug({ connector: connector.id, pages, records }, 'pull finished');
    return { pages, records };
  }

  private async load(connector: string): Promise<CursorEnvelope | null> {
    const raw = await this.ctx.store.getCursor(connector);
    if (raw === null) return null;
    const parsed = CursorEnvelope.safeParse(raw);
    if (parsed.success) return parsed.data;
    // A cursor saved by something else (e.g. an import): resume from it as is.
    return { concordPull: 1, cursor: raw, complete: false, checkpoints: [] };
  }

  private async save(connector: string, envelope: CursorEnvelope): Promise<void> {
    await this.ctx.store.setCursor(connector, envelope);
  }
}

/** Where a run starts: where an unfinished run stopped, else the look-back checkpoint. */
export function startCursor(envelope: CursorEnvelope | null, lookBackMs: number, now: number): Json | null {
  if (!envelope) return null;
  if (!envelope.complete || lookBackMs <= 0) return envelope.cursor;
  const old = envelope.checkpoints.filter((c) => c.at <= now - lookBackMs);
  const chosen = old.at(-1) ?? envelope.checkpoints[0];
  return chosen ? chosen.cursor : envelope.cursor;
}

/** Keeps the checkpoints a look-back may need: those inside the window and the newest before it. */
export function trimCheckpoints(
  checkpoints: CursorEnvelope['checkpoints'],
  lookBackMs: number,
  now: number,
): CursorEnvelope['checkpoints'] {
  const sorted = [...checkpoints].sort((a, b) => a.at - b.at);
  const inside = sorted.filter((c) => c.at > now - lookBackMs);
  const before = sorted.filter((c) => c.at <= now - lookBackMs).at(-1);
  return [...(before ? [before] : []), ...inside].slice(-MAX_CHECKPOINTS);
}

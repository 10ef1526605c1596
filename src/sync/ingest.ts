/**
 * Ingest: external records -> patches -> one store transaction per batch.
 *
 * For each record: map it in, drop the fields equal to what the source is known to hold (its
 * shadow) or to what a push is sending it right now (our own write coming back), and apply
 * the rest through `store.applyPatches` together with the observed values (the shadow and the
 * outbox rows are written in that same transaction). A record whose every field is an echo
 * never reaches the store. When the source's change lost the merge (or was refused), the
 * source is marked dirty so the next push corrects it.
 */
import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import { changedFields, mapInbound } from '../connector/mapping.js';
import type { ExternalRecord } from '../connector/define.js';
import type { Json } from '../profile/schema.js';
import type { ApplyOptions, ApplyResult } from '../store/types.js';
import type { ProfilePatch } from '../profile/schema.js';
import type { SyncConnector } from './bind.js';
import { kickRelay, scheduleFlush } from './context.js';
import type { EngineContext } from './context.js';
import { callExternal } from './external-call.js';
import { MicroBatcher } from './micro-batcher.js';

/** Records to ingest as they are (webhook with payload, pull page, preference center). */
export interface IngestRecordsJob {
  kind: 'records';
  connector: string;
  /** Where it came from, for logs (`webhook:<eventId>`, `pull`, ...). */
  origin: string;
  /** When the hub received them (ISO); the start of the delivery-lag measure. */
  receivedAt: string;
  records: ExternalRecord[];
}

/** A webhook that only names the changed records: read them first. */
export interface IngestChangedJob {
  kind: 'changed';
  connector: string;
  origin: string;
  receivedAt: string;
  externalIds: string[];
}

export type IngestJobData = IngestRecordsJob | IngestChangedJob;

export type IngestOutcome = 'applied' | 'unchanged' | 'echo' | 'deleted' | 'suppressed' | 'no_identity';

interface IngestItem {
  connector: SyncConnector;
  record: ExternalRecord;
  receivedAt: string;
}

/** What a push is sending right now, kept in Redis until the shadow is updated. */
interface Sending {
  until: number;
  fields: Record<string, Json>;
}

export class Ingestor {
  private readonly batcher: MicroBatcher<IngestItem, IngestOutcome>;

  constructor(private readonly ctx: EngineContext) {
    this.batcher = new MicroBatcher((items) => this.applyBatch(items), {
      maxSize: ctx.tuning.ingestBatchSize,
      maxWaitMs: ctx.tuning.ingestBatchWaitMs,
    });
  }

  /** The BullMQ processor of the ingest queue. */
  async process(job: Job<IngestJobData>, signal?: AbortSignal): Promise<Record<IngestOutcome, number>> {
    const data = job.data;
    const connector = this.ctx.connectors.get(data.connector);
    const counts: Record<IngestOutcome, number> = { applied: 0, unchanged: 0, echo: 0, deleted: 0, suppressed: 0, no_identity: 0 };
    if (!connector) {
      this.ctx.logger.warn({ connector: data.connector, jobId: job.id }, 'ingest for an unknown connector dropped');
      return counts;
    }
    const records = data.kind === 'records' ? data.records : await this.read(connector, data.externalIds, signal);
    const outcomes = await this.ingest(connector, records, data.receivedAt);
    for (const o of outcomes) counts[o]++;
    return counts;
  }

  /** Ingests records directly (used by pulls, which must know a page is durable before moving on). */
  async ingest(connector: SyncConnector, records: readonly ExternalRecord[], receivedAt: string): Promise<IngestOutcome[]> {
    return Promise.all(latestPerRecord(records).map((record) => this.batcher.submit({ connector, record, receivedAt })));
  }

  private async read(connector: SyncConnector, externalIds: string[], signal?: AbortSignal): Promise<ExternalRecord[]> {
    const instance = await this.ctx.instance(connector.id);
    if (!instance.read) {
      this.ctx.logger.warn({ connector: connector.id }, 'webhook names changed records but the connector cannot read them');
      return [];
    }
    const read = instance.read;
    const abort = signal ?? new AbortController().signal;
    return callExternal(this.callContext(), connector, 'read', () => read(externalIds, abort), signal ? { signal } : {});
  }

  private callContext() {
    const t = this.ctx.tuning;
    return { limiter: this.ctx.limiter, metrics: this.ctx.metrics, retries: t.callRetries, retryMinMs: t.callRetryMinMs };
  }

  private async applyBatch(items: IngestItem[]): Promise<IngestOutcome[]> {
    const { store } = this.ctx;
    const outcomes: (IngestOutcome | undefined)[] = items.map((item) =>
      item.record.echo ? 'echo' : item.record.deleted ? 'deleted' : undefined,
    );
    for (const [i, item] of items.entries()) {
      // Deletions are the privacy module's business; here they change nothing.
      if (outcomes[i] === 'deleted') this.ctx.logger.debug({ connector: item.connector.id }, 'deleted record not ingested');
    }

    // Who each record belongs to, what its system is known to hold and what we are sending it.
    const profileIds = await Promise.all(
      items.map((item, i) =>
        outcomes[i] ? null : store.findProfileIdByExternalId(item.connector.id, item.record.externalId),
      ),
    );
    const mapped = items.map((item, i) =>
      outcomes[i]
        ? null
        : mapInbound(item.connector.mapping, item.record, {
            source: item.connector.id,
            receivedAt: item.receivedAt,
            patchId: patchIdOf(item.connector.id, item.record),
          }),
    );
    // A record we do not know by external id may be one our push just created: find it by identity.
    for (const [i, item] of items.entries()) {
      const m = mapped[i];
      if (!m || profileIds[i]) continue;
      if (!(await this.hasSending(item.connector.id))) continue;
      for (const identity of m.patch.identities) {
        if (identity.kind === 'external') continue;
        const profile = await store.findProfile(identity);
        if (profile) {
          profileIds[i] = profile.id;
          break;
        }
      }
    }
    const shadows = await Promise.all(
      items.map((item, i) => {
        const pid = profileIds[i];
        return pid ? store.getShadow(pid, item.connector.id) : null;
      }),
    );
    const sending = await this.sendingFor(items.map((item, i) => ({ connector: item.connector.id, profileId: profileIds[i] ?? null })));

    const toApply: { index: number; patch: ProfilePatch; options: ApplyOptions }[] = [];
    for (const [i, item] of items.entries()) {
      const m = mapped[i];
      if (!m) continue;
      const shadow = shadows[i];
      const inFlight = sending[i];
      let changed = changedFields(m.observed, shadow?.values);
      if (inFlight) changed = changedFields(changed, inFlight.fields);
      const known = shadow !== null || inFlight !== null;
      if (known && Object.keys(changed).length === 0) {
        outcomes[i] = 'echo';
        continue;
      }
      // Map again with only what changed (plus identities, which resolve the profile).
      const keep = new Set(Object.keys(changed));
      for (const e of item.connector.mapping.inbound) if (e.target.kind === 'identity') keep.add(e.external);
      const fields = Object.fromEntries(Object.entries(item.record.fields).filter(([k]) => keep.has(k)));
      const reduced = known
        ? mapInbound(item.connector.mapping, { ...item.record, fields }, {
            source: item.connector.id,
            receivedAt: item.receivedAt,
            patchId: patchIdOf(item.connector.id, item.record),
          })
        : m;
      if (m.errors.length > 0) {
        this.ctx.logger.warn(
          { connector: item.connector.id, errors: m.errors.map((e) => e.message) },
          'some values of a record could not be mapped',
        );
      }
      toApply.push({
        index: i,
        patch: reduced.patch,
        options: { observed: { connector: item.connector.id, externalId: item.record.externalId, values: m.observed } },
      });
    }

    const results = await this.applyAll(toApply);
    const sourceDirty = new Map<string, string[]>();
    const received: { instance: string; profileId: string; receivedAtMs: number }[] = [];
    let anyApplied = false;
    toApply.forEach(({ index }, k) => {
      const result = results[k];
      const item = items[index];
      if (!result || !item) return;
      const source = item.connector;
      switch (result.status) {
        case 'applied': {
          outcomes[index] = 'applied';
          anyApplied = true;
          this.ctx.metrics.changesIngested.inc({ connector: source.id });
          const receivedAtMs = Date.parse(item.receivedAt);
          for (const target of result.outbox) received.push({ instance: target, profileId: result.profileId, receivedAtMs });
          break;
        }
        case 'unchanged':
          outcomes[index] = 'unchanged';
          // The source holds values that lost (or were refused): correct it on the next push.
          if (this.ctx.queues.push.has(source.id)) {
            const list = sourceDirty.get(source.id) ?? [];
            list.push(result.profileId);
            sourceDirty.set(source.id, list);
          }
          break;
        case 'suppressed':
          outcomes[index] = 'suppressed';
          break;
        case 'no_identity':
          outcomes[index] = 'no_identity';
          this.ctx.logger.warn({ connector: source.id }, 'record without a usable identity skipped');
          break;
      }
    });

    await this.ctx.work.noteReceived(received);
    if (sourceDirty.size > 0) {
      await this.ctx.work.markDirty(sourceDirty);
      for (const connector of sourceDirty.keys()) await scheduleFlush(this.ctx, connector, Date.now() + this.ctx.tuning.flushDelayMs);
    }
    if (anyApplied) await kickRelay(this.ctx);
    return outcomes.map((o) => o ?? 'unchanged');
  }

  /** One transaction for the batch; if it fails, each patch alone, so one bad patch fails alone. */
  private async applyAll(items: { patch: ProfilePatch; options: ApplyOptions }[]): Promise<ApplyResult[]> {
    if (items.length === 0) return [];
    try {
      return await this.ctx.store.applyPatches(items.map(({ patch, options }) => ({ patch, options })));
    } catch (err) {
      if (items.length === 1) throw err;
      this.ctx.logger.warn({ err: errorSummary(err), size: items.length }, 'batch apply failed; applying one by one');
      const out: ApplyResult[] = [];
      for (const item of items) out.push(await this.ctx.store.applyPatch(item.patch, item.options));
      return out;
    }
  }

  private async hasSending(connector: string): Promise<boolean> {
    return (await this.ctx.redis.hlen(this.ctx.keys.sending(connector))) > 0;
  }

  private async sendingFor(refs: { connector: string; profileId: string | null }[]): Promise<(Sending | null)[]> {
    const pipe = this.ctx.redis.pipeline();
    const asked: number[] = [];
    refs.forEach((ref, i) => {
      if (!ref.profileId) return;
      pipe.hget(this.ctx.keys.sending(ref.connector), ref.profileId);
      asked.push(i);
    });
    const out: (Sending | null)[] = refs.map(() => null);
    if (asked.length === 0) return out;
    const results = await pipe.exec();
    const now = Date.now();
    asked.forEach((refIndex, k) => {
      const raw = results?.[k]?.[1];
      if (typeof raw !== 'string') return;
      const parsed = JSON.parse(raw) as Sending;
      if (parsed.until > now) out[refIndex] = parsed;
    });
    return out;
  }
}

/** Keeps the newest version of each record (by source time, then arrival order). */
function latestPerRecord(records: readonly ExternalRecord[]): ExternalRecord[] {
  const byId = new Map<string, ExternalRecord>();
  for (const r of records) {
    const seen = byId.get(r.externalId);
    if (!seen || seen.at <= r.at) byId.set(r.externalId, r);
  }
  return [...byId.values()];
}

/** A stable patch id: the same version of the same record always gives the same id. */
export function patchIdOf(connector: string, record: ExternalRecord): string {
  const id = `${connector}:${record.externalId}:${record.at}`;
  return id.length <= 200 ? id : `${connector}:${createHash('sha256').update(id).digest('hex')}`;
}

export function errorSummary(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'unknown', message: String(err) };
}

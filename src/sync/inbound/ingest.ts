/**
 * Ingest: external records -> patches -> one store transaction per batch.
 *
 * For each record: map it in, keep only its real changes (not equal to what the source is
 * known to hold, its shadow; not our own write coming back; not a value our write replaced,
 * in a snapshot taken before that write: see `write-log.ts`), and apply them through
 * `store.applyPatches` together with the observed values (the shadow and the outbox rows are
 * written in that same transaction). A record without real changes never reaches the store.
 * When the source's change lost the merge (or was refused), the source is marked dirty so the
 * next push corrects it. Records of one batch are compared in order, each against the state the
 * previous one left. What each record changed is decided without I/O (`assess.ts`); this
 * module loads what records are judged by and commits the decisions. Up to
 * `ingestBatchConcurrency` batches run at once: the versions of one source record go one after
 * the other (`inOrder`), and a batch holds the profiles it compares and commits
 * (`lockForIngest`), so a batch running beside another is as safe as one running in another
 * worker process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import { mapInbound, mapOutbound } from '../../connector/mapping.js';
import type { InboundResult } from '../../connector/mapping.js';
import type { ExternalRecord } from '../../connector/define.js';
import type { Json, ProfilePatch } from '../../profile/schema.js';
import type { ApplyOptions, ApplyResult, Shadow } from '../../store/types.js';
import type { SyncConnector } from '../bind.js';
import { kickRelay, markDirtyAndFlush } from '../context.js';
import type { EngineContext } from '../context.js';
import { callExternal } from '../../queue/external-call.js';
import { gateProfile } from '../gate.js';
import { MicroBatcher } from './micro-batcher.js';
import { assess, instant, patchIdOf } from './assess.js';
import type { BatchAssessment, IngestItem, IngestReport } from './assess.js';
import { isOwnWrite, millisOf, repairOfUnheld } from './write-log.js';
import type { WriteEntry, WriteLog } from './write-log.js';
import { RecordOrder, dropStale } from './record-order.js';
import type { FieldMarks } from './record-order.js';

/** Records to ingest as they are (webhook with payload, pull page, preference center). */
export interface IngestRecordsJob {
  kind: 'records';
  connector: string;
  /** Where it came from, for logs (`webhook:<eventId>`, `api`, ...). */
  origin: string;
  /** When the hub received them (ISO); the start of the delivery-lag measure. */
  receivedAt: string;
  records: ExternalRecord[];
  /** Per record, when it was received, when the job gathers several webhooks (else `receivedAt`). */
  receivedAts?: string[];
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
/** A push of the same profile to the same system is running: try again once it is done. */
type BatchOutcome = IngestOutcome | 'busy';

export class Ingestor {
  private readonly batcher: MicroBatcher<IngestItem, BatchOutcome>;
  /** When the newest version of each record ingested stamped each field (see `record-order.ts`). */
  private readonly order: RecordOrder;
  /** Per external record, the last submission: records of one source record go in order. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly writes: WriteLog,
  ) {
    this.order = new RecordOrder(ctx.redis, ctx.keys.order, ctx.tuning.writeLogRetentionMs);
    this.batcher = new MicroBatcher((items) => this.applyBatch(items), {
      maxSize: ctx.tuning.ingestBatchSize,
      maxWaitMs: ctx.tuning.ingestBatchWaitMs,
      concurrency: ctx.tuning.ingestBatchConcurrency,
    });
  }

  /** The BullMQ processor of the ingest queue. */
  async process(job: Job<IngestJobData>, signal?: AbortSignal): Promise<Record<IngestOutcome, number>> {
    const started = performance.now();
    const data = job.data;
    const connector = this.ctx.connectors.get(data.connector);
    const counts: Record<IngestOutcome, number> = { applied: 0, unchanged: 0, echo: 0, deleted: 0, suppressed: 0, no_identity: 0 };
    if (!connector) {
      this.ctx.logger.warn({ connector: data.connector, jobId: job.id }, 'ingest for an unknown connector dropped');
      return counts;
    }
    const read = data.kind === 'records' ? data.records : await this.read(connector, data.externalIds, signal);
    const received = new Map<ExternalRecord, string>();
    if (data.kind === 'records' && data.receivedAts) {
      data.records.forEach((record, i) => {
        const at = data.receivedAts?.[i];
        if (at) received.set(record, at);
      });
    }
    const records = await this.screen(connector, read);
    const outcomes = await this.ingest(connector, records, data.receivedAt, (record) => received.get(record));
    for (const o of outcomes) counts[o]++;
    this.ctx.logger.info(
      { connector: connector.id, jobId: job.id, records: read.length, ...counts, ms: Math.round(performance.now() - started) },
      'ingest batch processed',
    );
    return counts;
  }

  /**
   * Reads records a webhook named (the connector's `read`, with its call limiter and retries),
   * passes them through the screens and ingests them; resolves once they are durable.
   */
  async readAndIngest(
    connector: SyncConnector,
    externalIds: string[],
    receivedAt: string,
    receivedAtOf?: (record: ExternalRecord) => string | undefined,
    signal?: AbortSignal,
  ): Promise<IngestOutcome[]> {
    const records = await this.screen(connector, await this.read(connector, externalIds, signal));
    return this.ingest(connector, records, receivedAt, receivedAtOf);
  }

  /** Passes records through the engine's screens; returns those to ingest. */
  async screen(connector: SyncConnector, records: readonly ExternalRecord[]): Promise<ExternalRecord[]> {
    let kept = [...records];
    for (const screen of this.ctx.screens) {
      if (kept.length === 0) break;
      kept = await screen(connector, kept);
    }
    return kept;
  }

  /** Ingests records, in order per source record; resolves once they are durable in the store. */
  async ingest(
    connector: SyncConnector,
    records: readonly ExternalRecord[],
    receivedAt: string,
    receivedAtOf?: (record: ExternalRecord) => string | undefined,
    report?: (record: ExternalRecord, event: IngestReport) => void,
  ): Promise<IngestOutcome[]> {
    return Promise.all(
      records.map((record) => {
        const item: IngestItem = {
          connector,
          record,
          receivedAt: receivedAtOf?.(record) ?? receivedAt,
          ...(report ? { report: (event: IngestReport) => report(record, event) } : {}),
        };
        return this.inOrder(`${connector.id}\u0000${record.externalId}`, () => this.submit(item));
      }),
    );
  }

  private async submit(item: IngestItem): Promise<IngestOutcome> {
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      const outcome = await this.batcher.submit(item);
      if (outcome !== 'busy') return outcome;
      await sleep(wait);
    }
  }

  private inOrder<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    this.chains.set(key, next);
    const cleanup = (): void => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private async read(connector: SyncConnector, externalIds: string[], signal?: AbortSignal): Promise<ExternalRecord[]> {
    const instance = await this.ctx.instance(connector.id);
    if (!instance.read) {
      this.ctx.logger.warn({ connector: connector.id }, 'webhook names changed records but the connector cannot read them');
      return [];
    }
    const read = instance.read;
    const abort = signal ?? new AbortController().signal;
    const t = this.ctx.tuning;
    const callCtx = { limiter: this.ctx.limiter, metrics: this.ctx.metrics, retries: t.callRetries, retryMinMs: t.callRetryMinMs };
    return callExternal(callCtx, connector, 'read', () => read(externalIds, abort), { signal: abort });
  }

  private async applyBatch(items: IngestItem[]): Promise<BatchOutcome[]> {
    const { store } = this.ctx;
    // A record the source names as ours (`echo: true`) is compared like any other: it can still
    // carry someone else's edit made moments before our write landed. Only a record that is
    // exactly our write coming back is settled early, from the write log (`settleOwnWrites`).
    const outcomes: (BatchOutcome | undefined)[] = items.map((item) => (item.record.deleted ? 'deleted' : undefined));
    // Deletions are the privacy module's business; here they change nothing.
    if (outcomes.includes('deleted')) this.ctx.logger.debug('deleted records are not ingested by sync');

    const mapped = items.map((item, i) =>
      outcomes[i]
        ? null
        : mapInbound(item.connector.mapping, item.record, {
            source: item.connector.id,
            receivedAt: instant(item.receivedAt),
            patchId: patchIdOf(item.connector.id, item.record),
          }),
    );
    await this.settleOwnWrites(items, outcomes, mapped);
    // Who each record belongs to, and what its system is known to hold.
    const profileIds: (string | null)[] = items.map(() => null);
    for (const [connector, indexes] of indexesByConnector(items, (i) => !outcomes[i])) {
      const found = await store.findProfileIdsByExternalIds(
        connector,
        indexes.map((i) => items[i]?.record.externalId ?? ''),
      );
      indexes.forEach((i, k) => {
        profileIds[i] = found[k] ?? null;
      });
    }
    // A value for a record we do not know waits for the read of the whole record.
    items.forEach((item, i) => {
      if (item.record.knownOnly === true && !outcomes[i] && !profileIds[i]) outcomes[i] = 'unchanged';
    });
    // A record we do not know by external id may belong to a known person (a push may even be
    // creating it right now): find the profile by identity, so it can be held like the others.
    for (const [i] of items.entries()) {
      const m = mapped[i];
      if (!m || outcomes[i] || profileIds[i]) continue;
      for (const identity of m.patch.identities) {
        if (identity.kind === 'external') continue;
        const profile = await store.findProfile(identity);
        if (profile) {
          profileIds[i] = profile.id;
          break;
        }
      }
    }
    // Hold each profile against pushes to its source while comparing and committing.
    const refs = new Map<string, { connector: string; profileId: string }>();
    for (const [i, item] of items.entries()) {
      const pid = profileIds[i];
      if (!outcomes[i] && pid) refs.set(`${item.connector.id}\u0000${pid}`, { connector: item.connector.id, profileId: pid });
    }
    const wanted = [...refs.values()];
    const locked = await this.ctx.work.lockForIngest(wanted, this.ctx.tuning.ingestLockMs);
    const held = wanted.filter((_, k) => locked[k]);
    const heldKeys = new Set(held.map((r) => `${r.connector}\u0000${r.profileId}`));
    const stop = this.ctx.work.keepLeases(
      () => held,
      this.ctx.tuning.ingestLockMs,
      (err) => this.ctx.logger.warn({ err }, 'could not renew the ingest lock'),
    );
    try {
      for (const [i, item] of items.entries()) {
        const pid = profileIds[i];
        if (!outcomes[i] && pid && !heldKeys.has(`${item.connector.id}\u0000${pid}`)) outcomes[i] = 'busy';
      }
      return await this.compareAndApply(items, outcomes, mapped, profileIds, heldKeys);
    } finally {
      stop();
      await this.ctx.work.unlockForIngest(held);
    }
  }

  /**
   * Compares the batch's records with what their systems are known to hold and applies their
   * changes: loads the write log, the shadows and (for a few records) what the hub would write,
   * has `assess` decide for each record (no I/O), then `commit`s its decisions.
   */
  private async compareAndApply(
    items: IngestItem[],
    outcomes: (BatchOutcome | undefined)[],
    mapped: (InboundResult | null)[],
    profileIds: (string | null)[],
    heldKeys: ReadonlySet<string>,
  ): Promise<BatchOutcome[]> {
    // The write log first, then the shadows: a push that finishes in between is then seen in the shadow.
    const loaded = await this.writes.load(
      items.map((item, i) => ({ connector: item.connector.id, profileId: outcomes[i] ? null : (profileIds[i] ?? null) })),
    );
    const shadows = await this.shadowsOf(items, outcomes, profileIds);
    const { fresh, marks } = await this.inOrderOfStamps(items, outcomes, mapped, profileIds);
    const expected = await this.expectedValues(items, outcomes, fresh, profileIds, shadows, loaded);
    const assessed = assess({
      items,
      outcomes,
      mapped: fresh,
      profileIds,
      loaded,
      shadows,
      expected,
      toleranceMs: this.ctx.tuning.echoToleranceMs,
    });
    const done = await this.commit(items, outcomes, profileIds, heldKeys, assessed);
    await this.order.save(marks);
    return done;
  }

  /**
   * Drops the fields a newer version of the same record, ingested before (by another batch or
   * hub process, see `record-order.ts`), already carried: what they say is older than what the
   * hub knows of that system. Returns the records so trimmed and the marks to store once committed.
   */
  private async inOrderOfStamps(
    items: IngestItem[],
    outcomes: (BatchOutcome | undefined)[],
    mapped: (InboundResult | null)[],
    profileIds: (string | null)[],
  ): Promise<{ fresh: (InboundResult | null)[]; marks: { connector: string; externalId: string; marks: FieldMarks }[] }> {
    const judged = items.flatMap((item, i) => (!outcomes[i] && profileIds[i] && mapped[i] && item.record.version !== undefined ? [i] : []));
    const keys = [...new Set(judged.map((i) => `${items[i]?.connector.id ?? ''}\u0000${items[i]?.record.externalId ?? ''}`))];
    const refs = keys.map((key) => {
      const [connector = '', externalId = ''] = key.split('\u0000');
      return { connector, externalId };
    });
    const loaded = await this.order.load(refs);
    const byKey = new Map(keys.map((key, k) => [key, loaded[k] ?? {}]));
    const fresh = [...mapped];
    for (const i of judged) {
      const item = items[i];
      const m = mapped[i];
      const marks = byKey.get(`${item?.connector.id ?? ''}\u0000${item?.record.externalId ?? ''}`);
      if (!item || !m || !marks) continue;
      const kept = dropStale(m.observed, marks, item.record.version);
      if (kept.stale.length > 0) fresh[i] = { ...m, observed: kept.fresh };
    }
    return { fresh, marks: refs.map((ref, k) => ({ ...ref, marks: byKey.get(keys[k] ?? '') ?? {} })) };
  }

  /** The shadow of each record's profile in its system (null where it has none, or the record is settled or unknown). */
  private async shadowsOf(
    items: IngestItem[],
    outcomes: (BatchOutcome | undefined)[],
    profileIds: (string | null)[],
  ): Promise<(Shadow | null)[]> {
    const byConnector = new Map<string, Map<string, Shadow>>();
    for (const [connector, indexes] of indexesByConnector(items, (i) => !outcomes[i] && !!profileIds[i])) {
      byConnector.set(
        connector,
        await this.ctx.store.getShadows(
          connector,
          indexes.map((i) => profileIds[i] ?? ''),
        ),
      );
    }
    return items.map((item, i) => {
      const pid = profileIds[i];
      return pid && !outcomes[i] ? (byConnector.get(item.connector.id)?.get(pid) ?? null) : null;
    });
  }

  /**
   * Carries out what `assess` decided, in this order: the `prev` the write log learned, the
   * shadows echoes taught, one store transaction for the changes, then outcomes, metrics, the
   * repair of records whose profile could not be held, and the systems to correct.
   */
  private async commit(
    items: IngestItem[],
    outcomes: (BatchOutcome | undefined)[],
    profileIds: (string | null)[],
    heldKeys: ReadonlySet<string>,
    assessed: BatchAssessment,
  ): Promise<BatchOutcome[]> {
    const { store } = this.ctx;
    // Nothing between the assessment and here reads the write log: storing what it learned
    // once per profile leaves the same entries as storing it after each record did.
    for (const { connector, profileId, entries } of assessed.learnedPrev) await this.writes.learnPrev(connector, profileId, entries);
    const toApply: { index: number; patch: ProfilePatch; options: ApplyOptions }[] = [];
    for (const [i, decision] of assessed.decisions.entries()) {
      const item = items[i];
      if (!decision || !item) continue;
      if (decision.kind === 'echo') {
        const pid = profileIds[i];
        if (pid && decision.shadow) await store.updateShadow(pid, item.connector.id, decision.shadow);
        outcomes[i] = 'echo';
        continue;
      }
      if (decision.unmapped.length > 0) {
        this.ctx.logger.warn({ connector: item.connector.id, errors: decision.unmapped }, 'some values of a record could not be mapped');
      }
      toApply.push({ index: i, patch: decision.patch, options: decision.options });
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
          item.report?.({ profileId: result.profileId, applied: true, changes: result.changes });
          anyApplied = true;
          this.ctx.metrics.changesIngested.inc({ connector: source.id });
          const receivedAtMs = Date.parse(item.receivedAt);
          for (const target of result.outbox) received.push({ instance: target, profileId: result.profileId, receivedAtMs });
          break;
        }
        case 'unchanged':
          outcomes[index] = 'unchanged';
          item.report?.({ profileId: result.profileId, applied: false, changes: [] });
          // The source holds values that lost (or were refused): correct it on the next push.
          if (this.ctx.queues.push.has(source.id)) {
            const list = sourceDirty.get(source.id) ?? [];
            list.push(result.profileId);
            sourceDirty.set(source.id, list);
          }
          break;
        case 'suppressed':
          outcomes[index] = 'suppressed';
          this.ctx.metrics.suppressed.inc({ connector: source.id });
          break;
        case 'no_identity':
          outcomes[index] = 'no_identity';
          this.ctx.logger.warn({ connector: source.id }, 'record without a usable identity skipped');
          break;
      }
    });

    await this.repairAfterUnheld(
      items,
      toApply,
      results,
      profileIds,
      new Map(toApply.map(({ index, options }) => [index, options.observed?.values ?? {}])),
      heldKeys,
    );
    await this.ctx.work.noteReceived(received);
    await this.countChanges(items.filter((_, i) => outcomes[i] === 'applied').map((item) => item.connector.id));
    if (sourceDirty.size > 0) {
      await markDirtyAndFlush(this.ctx, sourceDirty);
    }
    if (anyApplied) await kickRelay(this.ctx);
    return outcomes.map((o) => o ?? 'unchanged');
  }

  /** Counts the records that changed a profile, per source, for the operations page (best effort). */
  private async countChanges(sources: readonly string[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const id of sources) counts.set(id, (counts.get(id) ?? 0) + 1);
    await this.ctx.changes.add('in', counts).catch((err: unknown) => this.ctx.logger.debug({ err }, 'changes per minute not counted'));
  }

  /**
   * A record whose profile was not known beforehand could not be held against pushes. If a
   * push to its source wrote that profile meanwhile, the record may have been taken before the
   * write (received before it ended, and not stamped by the source after it landed: see
   * `repairOfUnheld`): put the written values back in the shadow (the commit just overwrote them with the
   * record's), and give the write the record's values as what it replaced, so later records
   * taken before the write compare against them. The repair itself holds the profile against
   * pushes to that source (see `holding`): with a push still open, the log did not yet say its
   * write landed, the repair put the write before it back, and the shadow went back to a value
   * the system no longer held (convergence under load: a person's newer edit in that system was
   * then taken for what the hub had already written there, and never written back).
   */
  private async repairAfterUnheld(
    items: IngestItem[],
    toApply: { index: number }[],
    results: ApplyResult[],
    profileIds: (string | null)[],
    observed: Map<number, Record<string, Json>>,
    heldKeys: ReadonlySet<string>,
  ): Promise<void> {
    for (const [k, { index }] of toApply.entries()) {
      const result = results[k];
      const item = items[index];
      if (!item || !result || profileIds[index] || (result.status !== 'applied' && result.status !== 'unchanged')) continue;
      const ref = { connector: item.connector.id, profileId: result.profileId };
      if (heldKeys.has(`${ref.connector}\u0000${ref.profileId}`)) await this.repairUnheld(item, ref, observed.get(index) ?? {});
      else await this.holding(ref, () => this.repairUnheld(item, ref, observed.get(index) ?? {}));
    }
  }

  /**
   * Runs `fn` holding one profile against pushes to one system, waiting for a push of it to end
   * (pushes take milliseconds; a crashed one's lease expires). After the in-flight lease it runs
   * unheld, and says so.
   */
  private async holding(ref: { connector: string; profileId: string }, fn: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.ctx.tuning.inflightLeaseMs;
    const take = async (): Promise<boolean> => (await this.ctx.work.lockForIngest([ref], this.ctx.tuning.ingestLockMs))[0] === true;
    let held = await take();
    while (!held && Date.now() < deadline) {
      await sleep(10);
      held = await take();
    }
    if (!held)
      this.ctx.logger.warn(
        { connector: ref.connector },
        'a profile stayed in flight for the whole lease: its first record is repaired unheld',
      );
    try {
      await fn();
    } finally {
      if (held) await this.ctx.work.unlockForIngest([ref]);
    }
  }

  /** See `repairAfterUnheld`: one record, its profile held. */
  private async repairUnheld(item: IngestItem, ref: { connector: string; profileId: string }, record: Record<string, Json>): Promise<void> {
    const { connector, profileId } = ref;
    const [entries = []] = await this.writes.load([{ connector, profileId }]);
    const { values, learnedPrev } = repairOfUnheld(record, entries, {
      recordAt: Date.parse(item.record.at),
      receivedAt: Date.parse(item.receivedAt),
      toleranceMs: this.ctx.tuning.echoToleranceMs,
      ...(item.record.fieldsAt ? { fieldsAt: millisOf(item.record.fieldsAt) } : {}),
    });
    if (learnedPrev) await this.writes.learnPrev(connector, profileId, entries);
    if (Object.keys(values).length > 0) await this.ctx.store.updateShadow(profileId, connector, { values });
  }

  /**
   * What the hub would write now, per record (the profile gated and mapped out, as a push would),
   * for known records that report a field their shadow never knew: that field holding the hub's
   * own value is no news. Read only for such records, so the common path reads no profile.
   */
  private async expectedValues(
    items: IngestItem[],
    outcomes: (BatchOutcome | undefined)[],
    mapped: (InboundResult | null)[],
    profileIds: (string | null)[],
    shadows: (Shadow | null)[],
    writes: WriteEntry[][],
  ): Promise<(Record<string, Json> | undefined)[]> {
    const out: (Record<string, Json> | undefined)[] = items.map(() => undefined);
    const wanted = items.flatMap((_, i) => {
      const observed = mapped[i]?.observed;
      const pid = profileIds[i];
      const shadow = shadows[i]?.values;
      const entries = writes[i] ?? [];
      if (outcomes[i] || !observed || !pid || (!shadow && entries.length === 0)) return [];
      const unknown = Object.keys(observed).some(
        (field) => !(shadow && Object.hasOwn(shadow, field)) && !entries.some((w) => Object.hasOwn(w.fields, field)),
      );
      return unknown ? [i] : [];
    });
    if (wanted.length === 0) return out;
    const profiles = await this.ctx.store.getProfiles([...new Set(wanted.map((i) => profileIds[i] ?? ''))]);
    const now = new Date().toISOString();
    for (const i of wanted) {
      const profile = profiles.get(profileIds[i] ?? '');
      const connector = items[i]?.connector;
      if (profile && connector) out[i] = mapOutbound(connector.mapping, gateProfile(profile).profile, this.ctx.policy, now).fields;
    }
    return out;
  }

  /**
   * Our own writes coming back are the bulk of what targets send: a record that is exactly one
   * of them (see `isOwnWrite`) is settled from the write log alone, without reading the store.
   */
  private async settleOwnWrites(
    items: IngestItem[],
    outcomes: (BatchOutcome | undefined)[],
    mapped: (InboundResult | null)[],
  ): Promise<void> {
    const candidates = items
      .map((item, i) => ({ item, i }))
      .filter(({ item, i }) => !outcomes[i] && mapped[i] && item.record.echo !== false);
    if (candidates.length === 0) return;
    const pids = await this.writes.profilesOf(
      candidates.map(({ item }) => ({ connector: item.connector.id, externalId: item.record.externalId })),
    );
    const known = candidates.map((c, k) => ({ ...c, profileId: pids[k] ?? null })).filter((c) => c.profileId !== null);
    if (known.length === 0) return;
    const entries = await this.writes.load(known.map(({ item, profileId }) => ({ connector: item.connector.id, profileId })));
    known.forEach(({ item, i }, k) => {
      const observed = mapped[i]?.observed;
      const ctx = {
        recordAt: Date.parse(item.record.at),
        receivedAt: Date.parse(item.receivedAt),
        toleranceMs: this.ctx.tuning.echoToleranceMs,
        ...(item.record.fieldsAt ? { fieldsAt: millisOf(item.record.fieldsAt) } : {}),
      };
      if (observed && isOwnWrite(observed, entries[k] ?? [], ctx)) outcomes[i] = 'echo';
    });
  }

  /** One transaction for the batch; if it fails, each patch alone, so one bad patch fails alone. */
  private async applyAll(items: { patch: ProfilePatch; options: ApplyOptions }[]): Promise<ApplyResult[]> {
    if (items.length === 0) return [];
    try {
      return await this.ctx.store.applyPatches(items.map(({ patch, options }) => ({ patch, options })));
    } catch (err) {
      if (items.length === 1) throw err;
      this.ctx.logger.warn({ err, size: items.length }, 'batch apply failed; applying one by one');
      const out: ApplyResult[] = [];
      for (const item of items) out.push(await this.ctx.store.applyPatch(item.patch, item.options));
      return out;
    }
  }
}

/** The indexes of the items `keep` accepts, by connector instance (one batched read each). */
function indexesByConnector(items: readonly IngestItem[], keep: (index: number) => boolean): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [i, item] of items.entries()) {
    if (!keep(i)) continue;
    const list = out.get(item.connector.id) ?? [];
    list.push(i);
    out.set(item.connector.id, list);
  }
  return out;
}

export function errorSummary(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'unknown', message: String(err) };
}

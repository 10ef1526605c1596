/**
 * Delivery tracking: every change gives the person a new first name that encodes (profile,
 * change number); a wrapper around each target's API sees the values land, so a change counts
 * as delivered when all three targets hold it or a later change of the same person.
 */
import { performance } from 'node:perf_hooks';
import type { Json } from '../../src/profile/schema.js';
import type {
  ChangesPage,
  EraseResult,
  ErasureStatus,
  MemoryRecord,
  MemoryRef,
  SearchHit,
  SearchQuery,
  MemorySystem,
  MemorySystemApi,
  UpsertInput,
  UpsertResult,
} from '../../connectors/memory/index.js';

/** The first name of change `seq` of profile `p`: what the targets receive tells us both. */
export const nameOf = (p: number, seq: number): string => `P${p}.${seq}`;
export const NAME = /^P(\d+)\.(\d+)$/;

export interface Phase {
  name: string;
  issued: number;
  completed: number;
  firstSentAt: number;
  lastSentAt: number;
  lastDeliveredAt: number;
  /** Webhook-to-delivered (all targets), ms, per completed change. */
  latencies: number[];
  /** Records pushed in the phase that a target had already received (see `DeliveryTracker.duplicates`). */
  duplicates: number;
  /** Records pushed in the phase that changed nothing at the target (see `DeliveryTracker.unchanged`). */
  unchanged: number;
}

export function newPhase(name: string): Phase {
  return {
    name,
    issued: 0,
    completed: 0,
    firstSentAt: Number.NaN,
    lastSentAt: Number.NaN,
    lastDeliveredAt: Number.NaN,
    latencies: [],
    duplicates: 0,
    unchanged: 0,
  };
}

/**
 * Follows every change until the three targets hold it. Per target and profile it keeps the
 * highest change number the target holds; a change is delivered once every target holds it or
 * a later one of the same profile (a later value that coalesced it).
 */
export class DeliveryTracker {
  private readonly held: Int32Array[];
  /** Per target, every change number it has received (change numbers are unique across profiles). */
  private readonly received: Set<number>[];
  private readonly pending = new Map<number, { seq: number; sentAt: number; phase: Phase }[]>();
  phase: Phase = newPhase('none');
  /**
   * Duplicate pushes: records carrying a (profile, change) value the target had already
   * received, at any time before (a push sent twice, by one process or by two). Coalescing
   * is not a duplicate: a change overtaken by a later one of the same person is never sent.
   */
  duplicates = 0;
  /** Records that set an older value over a newer one (must stay 0). */
  regressions = 0;
  /**
   * Pushed records that changed nothing at the target: it already held every value they carry.
   * Includes the duplicates, and also records without a first name (so without a change of
   * ours, see `untracked`) that wrote values the target held: wasted pushes either way.
   */
  unchanged = 0;
  /** Pushed records without a first name of ours (a change always sets one; other fields alone are pushed when the first name was already there). */
  untracked = 0;
  /** The field names of the first untracked record (its values are not kept: they may hold an e-mail). */
  untrackedFields: string[] | null = null;

  constructor(profiles: number, targets: number) {
    this.held = Array.from({ length: targets }, () => new Int32Array(profiles).fill(-1));
    this.received = Array.from({ length: targets }, () => new Set<number>());
  }

  issue(p: number, seq: number, sentAt: number): void {
    const list = this.pending.get(p) ?? [];
    list.push({ seq, sentAt, phase: this.phase });
    this.pending.set(p, list);
    this.phase.issued++;
    if (Number.isNaN(this.phase.firstSentAt)) this.phase.firstSentAt = sentAt;
    this.phase.lastSentAt = sentAt;
  }

  /** A record a target took: its fields, when, and whether it changed anything there. */
  delivered(target: number, fields: Record<string, Json>, now: number, changed = true): void {
    if (!changed) {
      this.unchanged++;
      this.phase.unchanged++;
    }
    const name = fields['first_name'];
    const m = typeof name === 'string' ? NAME.exec(name) : null;
    const held = this.held[target];
    const received = this.received[target];
    if (!m || !held || !received) {
      this.untracked++;
      this.untrackedFields ??= Object.keys(fields);
      return;
    }
    const p = Number(m[1]);
    const seq = Number(m[2]);
    const before = held[p] ?? -1;
    if (received.has(seq)) {
      this.duplicates++;
      this.phase.duplicates++;
    } else received.add(seq);
    if (seq < before) this.regressions++;
    if (seq <= before) return;
    held[p] = seq;
    const list = this.pending.get(p);
    if (!list) return;
    let min = Number.POSITIVE_INFINITY;
    for (const h of this.held) min = Math.min(min, h[p] ?? -1);
    let done = 0;
    while (done < list.length && (list[done]?.seq ?? Number.POSITIVE_INFINITY) <= min) {
      const change = list[done];
      if (change) {
        change.phase.completed++;
        change.phase.latencies.push(now - change.sentAt);
        change.phase.lastDeliveredAt = now;
      }
      done++;
    }
    if (done === list.length) this.pending.delete(p);
    else if (done > 0) list.splice(0, done);
  }
}

/** A target's API as the connector sees it, reporting what each successful upsert wrote. */
export class TrackedApi implements MemorySystemApi {
  /** Upsert calls carrying fewer than `maxBatch` records (since the last reset). */
  partial = 0;

  constructor(
    private readonly system: MemorySystem,
    /** The targets' batch size: an upsert with fewer records is partial. */
    private readonly maxBatch: number,
    private readonly onWritten: (fields: Record<string, Json>, now: number, changed: boolean) => void,
  ) {}

  async upsert(inputs: UpsertInput[]): Promise<UpsertResult[]> {
    if (inputs.length < this.maxBatch) this.partial++;
    const results = await this.system.upsert(inputs);
    const now = performance.now();
    results.forEach((r, i) => {
      const input = inputs[i];
      if (r.status === 'ok' && input) this.onWritten(input.fields, now, r.created || r.changed);
    });
    return results;
  }
  changes(query: { since: number; limit: number }): Promise<ChangesPage> {
    return this.system.changes(query);
  }
  read(ids: string[]): Promise<MemoryRecord[]> {
    return this.system.read(ids);
  }
  find(refs: MemoryRef[]): Promise<(MemoryRecord | null)[]> {
    return this.system.find(refs);
  }
  search(queries: SearchQuery[]): Promise<SearchHit[][]> {
    return this.system.search(queries);
  }
  erase(refs: MemoryRef[]): Promise<EraseResult[]> {
    return this.system.erase(refs);
  }
  erasures(tickets: string[]): Promise<ErasureStatus[]> {
    return this.system.erasures(tickets);
  }
}

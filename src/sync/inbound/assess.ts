/**
 * Assess: the pure half of ingest's compare-and-apply (`ingest.ts` loads its inputs and commits
 * its decisions). Given a batch's records, what they map to, their profiles, the write-log
 * entries and shadows loaded for them and what the hub would write to them (`expected`), it
 * decides for each record: an echo (nothing changed; what its shadow learns, if anything), or the
 * patch to apply with the values the record showed; and which write-log entries learned a `prev`
 * (see `assessRecord`). It reads and writes nothing, so its decisions are tested without Redis or
 * a store.
 *
 * Records are judged in order. Records of one profile (and connector) share one list of entries,
 * so what one record teaches about the values a write replaced (its `prev`, updated in place) the
 * next one sees; an earlier record of the same external record is the base of a later one.
 */
import { createHash } from 'node:crypto';
import { mapInbound } from '../../connector/mapping.js';
import type { InboundResult } from '../../connector/mapping.js';
import type { ExternalRecord } from '../../connector/define.js';
import type { Change, Json, ProfilePatch } from '../../profile/schema.js';
import type { ApplyOptions, Shadow } from '../../store/types.js';
import type { SyncConnector } from '../bind.js';
import { assessRecord, millisOf } from './write-log.js';
import type { WriteEntry } from './write-log.js';

/** One record of an ingest batch. */
export interface IngestItem {
  connector: SyncConnector;
  record: ExternalRecord;
  /** When the hub received it (ISO). */
  receivedAt: string;
  /** Told what the store made of the record's changes (a run counts and logs them). */
  report?: (event: IngestReport) => void;
}

/** What the store made of a record that carried changes: applied, or lost the merge (`applied: false`). */
export interface IngestReport {
  profileId: string;
  applied: boolean;
  /** The profile's changes (empty when nothing was applied). */
  changes: readonly Change[];
}

/** What `assess` judges a batch by, one element per record of `items` in each list. */
export interface BatchState {
  items: readonly IngestItem[];
  /** Set for a record settled before (deleted, our own write, busy, ...): it is not assessed. */
  outcomes: readonly (string | undefined)[];
  /** The record mapped in (`mapInbound`); null when it was not. */
  mapped: readonly (InboundResult | null)[];
  /** The profile the record belongs to, when known. */
  profileIds: readonly (string | null)[];
  /** The write-log entries loaded for the record's profile (`WriteLog.load`): their `prev` is updated in place. */
  loaded: readonly WriteEntry[][];
  /** The record's shadow (what its system is known to hold), when there is one. */
  shadows: readonly (Shadow | null)[];
  /** What the hub would write to the record now, where it was read (see `ChangeContext.expected`). */
  expected: readonly (Record<string, Json> | undefined)[];
  /** Clock difference allowed between a source and the hub (ms, `tuning.echoToleranceMs`). */
  toleranceMs: number;
}

/** What to do with one record. */
export type Decision =
  | {
      kind: 'echo';
      /** What the shadow learns (the profile's shadow in the record's system), when it learns anything; `forget`: fields it no longer knows. */
      shadow: { values: Record<string, Json>; externalId?: string; forget?: string[] } | null;
    }
  | {
      kind: 'apply';
      /** Only the real changes, plus identities (they find the profile). */
      patch: ProfilePatch;
      /** With the values observed, for the shadow. */
      options: ApplyOptions;
      /** The messages of values of the record that could not be mapped (to log). */
      unmapped: string[];
    };

/** Write-log entries of a profile whose `prev` records of the batch filled in (`WriteLog.learnPrev`). */
export interface LearnedPrev {
  connector: string;
  profileId: string;
  entries: WriteEntry[];
}

export interface BatchAssessment {
  /** Per record: undefined for one settled before (or not mapped). */
  decisions: (Decision | undefined)[];
  /** One per profile and connector, in the order of the first record that taught it; to store before the commit. */
  learnedPrev: LearnedPrev[];
}

/**
 * Decides, in order, what each record of a batch changed (see the module documentation). The
 * `prev` of the entries in `state.loaded` is updated in place; `learnedPrev` holds them by profile.
 */
export function assess(state: BatchState): BatchAssessment {
  const { items, outcomes, mapped, profileIds, loaded, shadows, expected } = state;
  // Records of one profile share its entries, so what one record teaches the next one sees.
  const byProfile = new Map<string, WriteEntry[]>();
  const writes = items.map((item, i) => {
    const pid = profileIds[i];
    if (!pid) return loaded[i] ?? [];
    const k = `${item.connector.id}\u0000${pid}`;
    const shared = byProfile.get(k) ?? loaded[i] ?? [];
    byProfile.set(k, shared);
    return shared;
  });

  // Earlier records of this batch are the base of later ones of the same external record.
  const seen = new Map<string, Record<string, Json>>();
  const decisions: (Decision | undefined)[] = items.map(() => undefined);
  const learned = new Map<string, LearnedPrev>();
  for (const [i, item] of items.entries()) {
    const m = mapped[i];
    if (!m || outcomes[i]) continue;
    const key = `${item.connector.id}\u0000${item.record.externalId}`;
    const base = seen.get(key) ?? shadows[i]?.values;
    const entries = writes[i] ?? [];
    const assessed = assessRecord(m.observed, base, entries, {
      recordAt: Date.parse(item.record.at),
      receivedAt: Date.parse(item.receivedAt),
      toleranceMs: state.toleranceMs,
      ...(item.record.fieldsAt ? { fieldsAt: millisOf(item.record.fieldsAt) } : {}),
      ...(item.record.echo === false ? { foreign: true } : {}),
      ...(item.record.echo === false && item.record.echoFields?.length ? { ourFields: new Set(item.record.echoFields) } : {}),
      ...(expected[i] ? { expected: expected[i] } : {}),
    });
    seen.set(key, assessed.state);
    const pid = profileIds[i];
    if (assessed.predates !== null && pid) {
      const k = `${item.connector.id}\u0000${pid}`;
      if (!learned.has(k)) learned.set(k, { connector: item.connector.id, profileId: pid, entries });
    }
    const changed = assessed.changes;
    const known = base !== undefined || entries.length > 0;
    if (known && Object.keys(changed).length === 0) {
      // Nothing changed, but the shadow learns what it did not know (so it is not news later
      // either), and the record's id when it had none: our own write that landed unseen (its
      // push died) comes back as an echo, and the retry must find the record by that id.
      const unlinked = Boolean(pid) && !shadows[i]?.externalId;
      const unsure = assessed.unsure.length > 0 ? { forget: assessed.unsure } : {};
      const teaches = Boolean(pid) && (unlinked || Object.keys(assessed.learned).length > 0 || assessed.unsure.length > 0);
      decisions[i] = {
        kind: 'echo',
        shadow: teaches
          ? {
              // Unlinked, there is no shadow: the record as read is all that is known of the system.
              values: unlinked ? { ...m.observed, ...assessed.learned } : assessed.learned,
              ...(unlinked ? { externalId: item.record.externalId } : {}),
              ...unsure,
            }
          : null,
      };
      continue;
    }
    // Map again with only the real changes, plus identities (they resolve the profile).
    const keep = new Set(Object.keys(changed));
    for (const e of item.connector.mapping.inbound) if (e.target.kind === 'identity') keep.add(e.external);
    const fields = Object.fromEntries(Object.entries(item.record.fields).filter(([k]) => keep.has(k)));
    const patch = known
      ? mapInbound(
          item.connector.mapping,
          { ...item.record, fields },
          {
            source: item.connector.id,
            receivedAt: instant(item.receivedAt),
            patchId: patchIdOf(item.connector.id, item.record),
            // Unchanged identities only find the person: they must not become primary again.
            changed: new Set(Object.keys(changed)),
          },
        ).patch
      : m.patch;
    decisions[i] = {
      kind: 'apply',
      patch,
      options: {
        observed: {
          connector: item.connector.id,
          externalId: item.record.externalId,
          values: assessed.observed,
          ...(assessed.unsure.length > 0 ? { forget: assessed.unsure } : {}),
        },
      },
      unmapped: m.errors.map((e) => e.message),
    };
  }
  return { decisions, learnedPrev: [...learned.values()] };
}

/** An ISO instant with milliseconds, as patches require. */
export function instant(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}

/** A stable patch id: the same version of the same record always gives the same id. */
export function patchIdOf(connector: string, record: ExternalRecord): string {
  const id = `${connector}:${record.externalId}:${record.at}`;
  return id.length <= 200 ? id : `${connector}:${createHash('sha256').update(id).digest('hex')}`;
}

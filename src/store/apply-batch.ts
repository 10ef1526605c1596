/**
 * Applies a batch of patches in the caller's transaction with a number of statements that does
 * not grow with the batch: the owners of every identity (and of every observed record) are read
 * in one statement, the patches are merged in order in memory, and each table is written once
 * with multi-row statements (profiles by one compare-and-swap `update ... from (values ...)
 * returning`, new shadows by `insert ... on conflict do nothing returning`). PostgreSQL pays a
 * network round trip per statement, so this is what makes it as fast as SQLite.
 *
 * The outcome is the one `applyPrepared` (apply-patch.ts) gives applying the patches one by one
 * in the same transaction: the same results, rows, versions and conflicts. A patch that links
 * two profiles (an identity merge, rare) ends the segment: the writes so far are flushed, the
 * patch goes through `applyPrepared`, and the rest of the batch starts a new segment.
 */
import { sql } from 'kysely';
import type { Transaction } from 'kysely';
import { explainMerge } from '../profile/explain.js';
import type { Verdict } from '../profile/explain.js';
import { emptyProfile, merge } from '../profile/merge.js';
import type { Change, Ignored, ProfilePatch } from '../profile/schema.js';
import {
  applyPrepared,
  auditDetail,
  consentChangeRows,
  historyRows,
  historySlotKey,
  ignoredConsentRows,
  isIgnoredConsent,
  ledgerSlotKey,
  lockOutboxOf,
  mergedShadow,
  observedUpdate,
  prepareIdentities,
  suppressedAmong,
} from './apply-patch.js';
import type { ApplyContext, LoadedProfile, PreparedIdentities, ShadowUpdate } from './apply-patch.js';
import { decodeProfile, encodeJson } from './codec.js';
import type { ApplyOptions, ApplyResult } from './contracts/profiles.js';
import type { Database } from './db-schema.js';
import { WriteConflictError } from './errors.js';
import {
  FIND_BATCH_OWNERS,
  fixedQuery,
  INSERT_AUDIT_ROWS,
  INSERT_HISTORY,
  INSERT_IDENTITIES,
  INSERT_LEDGER,
  INSERT_SHADOWS,
  SELECT_REPLAYED,
  SELECT_SHADOWS,
  UPDATE_PROFILE,
  UPDATE_PROFILES,
  UPSERT_OUTBOX_ROWS,
  UPSERT_SHADOWS,
} from './fixed-sql.js';
import type { BatchInsert } from './fixed-sql.js';
import { identityKey } from './identity.js';
import { newId } from './ids.js';
import { chunks } from './repos/db.js';

type Trx = Transaction<Database>;

/** Rows per multi-row statement: at most 11 parameters a row stays far below both dialects' limits. */
const ROWS = 500;

/** Inserts `rows` with `statement`, `ROWS` at a time (an empty list sends nothing). */
async function insertAll<Row>(
  trx: Trx,
  dialect: ApplyContext['dialect'],
  statement: BatchInsert<Row>,
  rows: readonly Row[],
): Promise<void> {
  for (const chunk of chunks(rows, ROWS)) await trx.executeQuery(statement.query(dialect, chunk));
}

/** A patch with its identities normalised and hashed (`preparePatches`). */
export interface PreparedPatch {
  readonly patch: ProfilePatch;
  readonly options: ApplyOptions;
  readonly identities: PreparedIdentities;
}
type Item = PreparedPatch;

/**
 * What a batch needs that no row decides: each patch's identities normalised and hashed.
 * Done before the transaction, so a SQLite writer does not hold the write lock for it (nor
 * log a rejected identity again when the transaction is retried).
 */
export function preparePatches(ctx: ApplyContext, items: readonly { patch: ProfilePatch; options?: ApplyOptions }[]): PreparedPatch[] {
  return items.map((item) => ({
    patch: item.patch,
    options: item.options ?? {},
    identities: prepareIdentities(ctx, item.patch),
  }));
}

/**
 * Applies patches in order in the caller's transaction. The suppression list is read once
 * for the whole batch: a patch cannot suppress anyone, so the set holds for every patch.
 */
export async function applyPatchesInTransaction(trx: Trx, ctx: ApplyContext, prepared: readonly PreparedPatch[]): Promise<ApplyResult[]> {
  const suppressed = await suppressedAmong(
    trx,
    prepared.flatMap((p) => p.identities.hashes),
  );
  const results: ApplyResult[] = [];
  let lockedAhead = false;
  while (results.length < prepared.length) {
    const segment = new Segment(ctx);
    await segment.load(trx, prepared.slice(results.length));
    let merging: Item | undefined;
    for (let item = prepared[results.length]; item !== undefined; item = prepared[results.length]) {
      const planned = segment.plan(item, suppressed);
      if (planned === 'merge') {
        merging = item;
        break;
      }
      results.push(planned);
    }
    if (merging && !lockedAhead) {
      // The segments after a merge would lock their rows after this one's: lock every row the
      // rest of the batch can touch now, in order, before this segment writes any.
      await segment.lockAhead(trx);
      lockedAhead = true;
    }
    await segment.flush(trx);
    if (merging) results.push(await applyPrepared(trx, ctx, merging.patch, merging.options, merging.identities, suppressed));
  }
  return results;
}

/** A profile as the segment holds it: its state after the patches planned so far. */
interface Current extends LoadedProfile {
  /** The version read from the database (the compare-and-swap expects it); none for a profile created here. */
  stored?: number;
  /** The row to write, once a patch changed the profile. */
  row?: { data: string; createdAt: string; updatedAt: string };
}

/** What one applied or unchanged patch writes besides its profile, built in order at flush. */
interface SideWrites {
  patch: ProfilePatch;
  profileId: string;
  actor: string;
  now: string;
  changes: readonly Change[];
  ignored: readonly Ignored[];
  verdicts: readonly Verdict[];
  /** Applied patches only: the audit row's action and detail. */
  audit?: { action: string; detail: Database['audit_log']['detail'] };
}

interface PendingShadow {
  profileId: string;
  connector: string;
  update: ShadowUpdate;
  now: string;
}

/** A run of patches with no identity merge among them: planned in memory, written at once. */
class Segment {
  readonly #ctx: ApplyContext;
  /** identityKey -> owning profile id (read, or added by a planned patch). */
  readonly #owners = new Map<string, string>();
  readonly #profiles = new Map<string, Current>();
  /** Shadows read by (connector, external id), in the order read. */
  readonly #records: { connector: string; externalId: string; profileId: string }[] = [];
  /** `profileId\0connector` -> the external id a planned patch gave the shadow. */
  readonly #externalIds = new Map<string, string>();
  readonly #identities: Database['identities'][] = [];
  readonly #sides: SideWrites[] = [];
  readonly #outbox = new Map<string, Omit<Database['outbox'], 'relayed_at'>>();
  readonly #shadows: PendingShadow[] = [];
  /** Profiles an unchanged patch writes side rows for (PostgreSQL locks them, as `applyPrepared` does). */
  readonly #locks = new Set<string>();
  readonly #commits: { patchId: string; profileId: string }[] = [];

  constructor(ctx: ApplyContext) {
    this.#ctx = ctx;
  }

  /** Reads the owners of every identity and observed record of `items`. */
  async load(trx: Trx, items: readonly Item[]): Promise<void> {
    const identities = new Map<string, unknown[]>();
    const records = new Map<string, unknown[]>();
    for (const item of items) {
      for (const identity of item.identities.identities) {
        identities.set(identityKey(identity), [identity.kind, identity.kind === 'external' ? (identity.system ?? '') : '', identity.value]);
      }
      const observed = item.options.observed;
      if (observed?.externalId?.trim()) {
        records.set(`${observed.connector}\u0000${observed.externalId}`, [observed.connector, observed.externalId]);
      }
    }
    const identityChunks = chunks([...identities.values()], ROWS / 2);
    const recordChunks = chunks([...records.values()], ROWS / 2);
    for (let i = 0; i < Math.max(identityChunks.length, recordChunks.length); i++) {
      const byIdentity = identityChunks[i] ?? [];
      const byRecord = recordChunks[i] ?? [];
      const { rows } = await trx.executeQuery<
        { via: string; kind: string; system: string; value: string | null } & Pick<
          Database['profiles'],
          'id' | 'version' | 'data' | 'created_at'
        >
      >(fixedQuery(this.#ctx.dialect, FIND_BATCH_OWNERS(byIdentity.length, byRecord.length), [...byIdentity.flat(), ...byRecord.flat()]));
      for (const row of rows) {
        if (!this.#profiles.has(row.id)) {
          this.#profiles.set(row.id, {
            profile: decodeProfile(row.data, row.version),
            version: row.version,
            createdAt: row.created_at,
            stored: row.version,
          });
        }
        if (row.via === 'i') {
          const key = identityKey(
            row.kind === 'external'
              ? { kind: 'external', system: row.system, value: row.value ?? '' }
              : { kind: row.kind === 'phone' ? 'phone' : 'email', value: row.value ?? '' },
          );
          this.#owners.set(key, row.id);
        } else if (row.value !== null) {
          this.#records.push({ connector: row.kind, externalId: row.value, profileId: row.id });
        }
      }
    }
  }

  /**
   * On PostgreSQL, locks the rows of every stored profile loaded (the owners of the identities
   * and records of the rest of the batch), then their outbox rows, each in the order ingest
   * takes them: a batch split around a merge then writes only rows it holds already or creates.
   */
  async lockAhead(trx: Trx): Promise<void> {
    if (this.#ctx.dialect !== 'postgres') return;
    const ids = [...this.#profiles.entries()].flatMap(([id, p]) => (p.stored === undefined ? [] : [id]));
    if (ids.length === 0) return;
    await sql`select id from profiles where id in (select unnest(${ids}::text[])) order by id collate "C" for update`.execute(trx);
    await lockOutboxOf(trx, this.#ctx.dialect, ids);
  }

  /** Merges one patch in memory and queues its writes; `'merge'` when it links two profiles. */
  plan(item: Item, suppressed: ReadonlySet<string>): ApplyResult | 'merge' {
    const { patch, options } = item;
    const { identities, hashes } = item.identities;
    const now = new Date().toISOString();
    if (identities.length === 0) return { status: 'no_identity' };
    if (hashes.some((hash) => suppressed.has(hash))) return { status: 'suppressed', reason: 'suppressed_identity' };

    const owned = new Set<string>();
    const ownerIds = new Set<string>();
    for (const identity of identities) {
      const key = identityKey(identity);
      const owner = this.#owners.get(key);
      if (owner === undefined) continue;
      owned.add(key);
      ownerIds.add(owner);
    }
    const externalId = options.observed?.externalId?.trim();
    if (
      options.observed &&
      externalId &&
      !owned.has(identityKey({ kind: 'external', system: options.observed.connector, value: externalId }))
    ) {
      const byShadow = this.#recordOwner(options.observed.connector, options.observed.externalId ?? '');
      if (byShadow !== undefined) ownerIds.add(byShadow);
    }
    if (ownerIds.size > 1) return 'merge';
    const [ownerId] = ownerIds;
    const survivor = ownerId === undefined ? undefined : this.#profiles.get(ownerId);
    if (ownerId !== undefined && survivor === undefined) throw new Error(`profile ${ownerId} was not loaded`);

    const created = survivor === undefined;
    const base = survivor?.profile ?? emptyProfile(newId());
    const merged: ProfilePatch = { ...patch, identities };
    const result = merge(base, merged, this.#ctx.policy);
    const verdicts = explainMerge(base, merged, this.#ctx.policy, result);
    const profileId = base.id;
    const actor = options.actor ?? patch.source;
    const side = { patch, profileId, actor, now, ignored: result.ignored, verdicts };

    if (survivor !== undefined && result.changes.length === 0) {
      if (options.observed || result.ignored.length > 0 || verdicts.length > 0) {
        if (survivor.stored !== undefined) this.#locks.add(profileId);
        this.#sides.push({ ...side, changes: [] });
        if (options.observed) this.#queueShadow(profileId, options.observed.connector, observedUpdate(options.observed), now);
      }
      this.#commits.push({ patchId: patch.id, profileId });
      return { status: 'unchanged', profileId, version: survivor.version, ignored: result.ignored, created: false };
    }

    const version = (survivor?.version ?? 0) + 1;
    const data = encodeJson({ ...result.profile, id: profileId, version });
    const createdAt = survivor?.createdAt ?? now;
    this.#profiles.set(profileId, {
      profile: decodeProfile(data, version),
      version,
      createdAt,
      ...(survivor?.stored === undefined ? {} : { stored: survivor.stored }),
      row: { data, createdAt: survivor?.row?.createdAt ?? createdAt, updatedAt: now },
    });

    for (const identity of identities) {
      const key = identityKey(identity);
      if (owned.has(key)) continue;
      this.#owners.set(key, profileId);
      this.#identities.push({
        kind: identity.kind,
        system: identity.kind === 'external' ? (identity.system ?? '') : '',
        value: identity.value,
        profile_id: profileId,
        created_at: now,
      });
    }
    const outbox = [...new Set(this.#ctx.outboxTargets)];
    for (const connector of outbox) {
      // On conflict the row gets a new id: an ack for the row as it was claimed before this change deletes nothing.
      this.#outbox.set(`${profileId}\u0000${connector}`, {
        id: newId(),
        profile_id: profileId,
        connector,
        profile_version: version,
        created_at: now,
        updated_at: now,
        leased_until: null,
      });
    }
    if (options.observed) this.#queueShadow(profileId, options.observed.connector, observedUpdate(options.observed), now);
    this.#sides.push({
      ...side,
      changes: result.changes,
      audit: {
        action: created ? 'profile.created' : 'profile.updated',
        detail: encodeJson(auditDetail(patch, version, result.changes, result.ignored, hashes, item.identities.rejected)),
      },
    });
    this.#commits.push({ patchId: patch.id, profileId });
    return {
      status: 'applied',
      profileId,
      version,
      changes: result.changes,
      ignored: result.ignored,
      outbox,
      mergedProfileIds: [],
      created,
    };
  }

  /** The profile whose shadow in `connector` holds record `externalId`, as of the patches planned so far. */
  #recordOwner(connector: string, externalId: string): string | undefined {
    const holds = (profileId: string): boolean => {
      const planned = this.#externalIds.get(`${profileId}\u0000${connector}`);
      return planned === undefined || planned === externalId;
    };
    for (const [key, planned] of this.#externalIds) {
      const [profileId = '', plannedConnector] = key.split('\u0000');
      if (plannedConnector === connector && planned === externalId) return profileId;
    }
    return this.#records.find((r) => r.connector === connector && r.externalId === externalId && holds(r.profileId))?.profileId;
  }

  #queueShadow(profileId: string, connector: string, update: ShadowUpdate, now: string): void {
    if (typeof update.externalId === 'string') this.#externalIds.set(`${profileId}\u0000${connector}`, update.externalId);
    this.#shadows.push({ profileId, connector, update, now });
  }

  /** Writes everything planned, table by table, in the order `applyPrepared` takes its locks. */
  async flush(trx: Trx): Promise<void> {
    const { dialect } = this.#ctx;
    // Profiles first: the compare-and-swap takes the row locks that order concurrent writers.
    const changed = [...this.#profiles.entries()].flatMap(([id, p]) => (p.row ? [{ id, p, row: p.row }] : []));
    const inserts = changed.filter((c) => c.p.stored === undefined);
    for (const chunk of chunks(inserts, ROWS)) {
      await trx
        .insertInto('profiles')
        .values(
          chunk.map(({ id, p, row }) => ({ id, version: p.version, data: row.data, created_at: row.createdAt, updated_at: row.updatedAt })),
        )
        .execute();
    }
    const updates = changed.filter((c) => c.p.stored !== undefined).sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const chunk of chunks(updates, ROWS)) {
      const [one] = chunk;
      if (chunk.length === 1 && one) {
        // One profile: the plain compare-and-swap, cheaper to plan than a joined list.
        const { id, p, row } = one;
        const updated = await trx.executeQuery(fixedQuery(dialect, UPDATE_PROFILE, [p.version, row.data, row.updatedAt, id, p.stored]));
        if (updated.numAffectedRows !== 1n) throw new WriteConflictError(`profile ${id} changed concurrently`);
        continue;
      }
      const parameters = chunk.flatMap(({ id, p, row }) => [id, p.version, row.data, row.updatedAt, p.stored]);
      const { rows } = await trx.executeQuery(fixedQuery(dialect, UPDATE_PROFILES(chunk.length), parameters));
      if (rows.length !== chunk.length) throw new WriteConflictError('a profile of the batch changed concurrently');
    }
    const locks = [...this.#locks].filter((id) => this.#profiles.get(id)?.row === undefined).sort();
    if (dialect === 'postgres') {
      for (const chunk of chunks(locks, ROWS)) {
        const found = await trx.selectFrom('profiles').select('id').where('id', 'in', chunk).forUpdate().execute();
        if (found.length !== chunk.length) throw new WriteConflictError('a profile of the batch was merged away');
      }
    }

    await insertAll(trx, dialect, INSERT_IDENTITIES, this.#identities);
    const { ledger, history } = await this.#sideRows(trx);
    await insertAll(trx, dialect, INSERT_LEDGER, ledger);
    await insertAll(trx, dialect, INSERT_HISTORY, history);
    // In the order every outbox writer locks its rows (profile, then connector: see `repos/outbox.ts`),
    // so that two transactions never hold each other's rows crosswise: a deadlock PostgreSQL breaks
    // only after `deadlock_timeout` (1 s), failing one of them.
    const outbox = [...this.#outbox.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    await insertAll(trx, dialect, UPSERT_OUTBOX_ROWS, outbox);
    await this.#writeShadows(trx);
    const audits = this.#sides.flatMap((side) =>
      side.audit
        ? [
            {
              id: newId(),
              at: side.now,
              actor: side.actor,
              action: side.audit.action,
              profile_id: side.profileId,
              detail: side.audit.detail,
            },
          ]
        : [],
    );
    await insertAll(trx, dialect, INSERT_AUDIT_ROWS, audits);

    for (const commit of this.#commits) await this.#ctx.faultInjection?.beforeCommit?.(commit);
  }

  /**
   * Ledger and history rows in patch order. A replayed patch writes no second not-accepted
   * ledger row and no second lost history row for a slot it has rows for: those already
   * stored (read in one statement) or written by an earlier patch of the batch.
   */
  async #sideRows(trx: Trx): Promise<{ ledger: Database['consent_ledger'][]; history: Database['profile_history'][] }> {
    const replayable = new Set(
      this.#sides.filter((s) => s.ignored.some(isIgnoredConsent) || s.verdicts.some((v) => v.outcome === 'lost')).map((s) => s.patch.id),
    );
    const recordedLedger = new Map<string, Set<string>>();
    const recordedHistory = new Map<string, Set<string>>();
    const recorded = (sets: Map<string, Set<string>>, patchId: string, profileId: string): Set<string> => {
      const key = `${patchId}\u0000${profileId}`;
      let set = sets.get(key);
      if (set === undefined) {
        set = new Set();
        sets.set(key, set);
      }
      return set;
    };
    for (const chunk of chunks([...replayable], ROWS)) {
      const { rows } = await trx.executeQuery<{ tbl: string; patch_id: string; profile_id: string; a: string; b: string }>(
        fixedQuery(this.#ctx.dialect, SELECT_REPLAYED(chunk.length), [...chunk, ...chunk]),
      );
      for (const row of rows) {
        if (row.tbl === 'h') recorded(recordedHistory, row.patch_id, row.profile_id).add(historySlotKey(row.a, row.b));
        else recorded(recordedLedger, row.patch_id, row.profile_id).add(ledgerSlotKey(row.a, row.b));
      }
    }
    const ledger: Database['consent_ledger'][] = [];
    const history: Database['profile_history'][] = [];
    for (const side of this.#sides) {
      const ledgerSet = recorded(recordedLedger, side.patch.id, side.profileId);
      const changes = consentChangeRows(side.profileId, side.patch, side.changes, side.now);
      for (const row of changes) if (row.accepted === 0) ledgerSet.add(ledgerSlotKey(row.purpose, row.channel));
      const ignored = ignoredConsentRows(side.profileId, side.patch, side.ignored, side.now, ledgerSet);
      for (const row of ignored) ledgerSet.add(ledgerSlotKey(row.purpose, row.channel));
      ledger.push(...changes, ...ignored);

      const historySet = recorded(recordedHistory, side.patch.id, side.profileId);
      const rows = historyRows(side.profileId, side.patch.id, side.actor, side.verdicts, side.now, historySet);
      for (const row of rows) historySet.add(historySlotKey(row.kind, row.path));
      history.push(...rows);
    }
    return { ledger, history };
  }

  /**
   * Every shadow the batch observed, read once (PostgreSQL locks them), the updates merged over
   * them in order, then written back: the existing ones over, the new ones inserted unless a
   * concurrent writer created one first (the batch retries then instead of overwriting it).
   */
  async #writeShadows(trx: Trx): Promise<void> {
    const { dialect } = this.#ctx;
    if (this.#shadows.length === 0) return;
    const keys = new Map<string, [string, string]>();
    for (const s of this.#shadows) keys.set(`${s.profileId}\u0000${s.connector}`, [s.profileId, s.connector]);
    type ShadowRow = Pick<Database['shadows'], 'values' | 'values_at' | 'external_id' | 'last_pushed_at' | 'updated_at'>;
    const current = new Map<string, ShadowRow>();
    for (const chunk of chunks([...keys.values()], ROWS)) {
      const text = SELECT_SHADOWS(chunk.length) + (dialect === 'postgres' ? ' for update of s' : '');
      const { rows } = await trx.executeQuery<ShadowRow & Pick<Database['shadows'], 'profile_id' | 'connector'>>(
        fixedQuery(dialect, text, chunk.flat()),
      );
      for (const row of rows) current.set(`${row.profile_id}\u0000${row.connector}`, row);
    }
    const existed = new Set(current.keys());
    const latest = new Map<string, { row: ShadowRow; now: string }>();
    for (const s of this.#shadows) {
      const key = `${s.profileId}\u0000${s.connector}`;
      // Merged in order, each at its patch's time: a field keeps the time of the last patch that wrote it.
      const row = { ...mergedShadow(current.get(key), s.update, s.now), updated_at: s.now };
      current.set(key, row);
      latest.set(key, { row, now: s.now });
    }
    const values = (key: string): unknown[] => {
      const [profileId, connector] = keys.get(key) ?? ['', ''];
      const found = latest.get(key);
      return [profileId, connector, found?.row.values, found?.row.values_at, found?.row.external_id, found?.row.last_pushed_at, found?.now];
    };
    const over = [...latest.keys()].filter((key) => existed.has(key));
    const fresh = [...latest.keys()].filter((key) => !existed.has(key));
    for (const chunk of chunks(over, ROWS)) {
      await trx.executeQuery(fixedQuery(dialect, UPSERT_SHADOWS(chunk.length), chunk.flatMap(values)));
    }
    for (const chunk of chunks(fresh, ROWS)) {
      const { rows } = await trx.executeQuery(fixedQuery(dialect, INSERT_SHADOWS(chunk.length), chunk.flatMap(values)));
      if (rows.length !== chunk.length) throw new WriteConflictError('a shadow of the batch was created concurrently');
    }
  }
}

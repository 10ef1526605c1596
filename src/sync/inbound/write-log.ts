/**
 * What the hub wrote to each system recently, per profile: the fields sent, the values they
 * replaced, when the write started and ended, whether it was accepted and whether the shadow
 * has been updated since. Sources send whole records, stamped with one time, so ingest must
 * tell which fields a record really changed. Comparing with the shadow does most of it; this
 * log covers what the shadow cannot, without any help from the source:
 * - a record sent after our write but before the shadow caught up holds our values: they are
 *   the system's state, not a change (`ok` entries not yet `shadowed` count as shadow);
 * - our own write coming back late, after a later push moved the shadow on (an echo: same
 *   value, stamped by the source while our write ran);
 * - a snapshot the system sent before our write landed (received before the write ended),
 *   whose untouched fields still hold the values we replaced; it must not overwrite the
 *   shadow of the fields we wrote either;
 * - the read-back of a record our write created (the system said so): fields it did not send
 *   hold the system's defaults, not anybody's change.
 * An echo is a value, not an author: each field is compared on its own, so a record stamped
 * by our write (and named as ours by the source's origin marker) can still carry someone
 * else's edit of another field, made moments before our write landed.
 * Entries live in Redis for `retentionMs`. One push per profile and connector runs at a time,
 * but ingest of a record whose profile it could not hold (a person's first record) learns
 * about entries while a push runs: every update is a compare-and-set that merges into what
 * Redis holds, so none drops what another stored meanwhile (a lost `ok` made a finished
 * write look uncertain, and a later record was judged against the wrong values).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../../queue/redis-client.js';
import { jsonEqual } from '../../connector/mapping.js';
import type { Json } from '../../profile/schema.js';
import { LuaScript } from '../../queue/lua.js';
import { mgetByTag } from '../../queue/mget-by-tag.js';

// KEYS: keys to set. ARGV: ttl (ms), then one value per key. One command for a whole batch.
const SET_ALL = new LuaScript(`
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1]) end
return #KEYS
`);

// KEYS: keys to set. ARGV: ttl (ms), then (expected, new) per key: the SHA-1 (hex) of the value
// its writer read, '' expecting no value. The digest, not the value: the value would go to Redis
// twice in every update, and the log's values are most of the bytes the hub sends it.
// Sets each key that still holds what its writer read; returns 1 (set) or 0 (changed since) per key.
const COMPARE_AND_SET = new LuaScript(`
local out = {}
for i = 1, #KEYS do
  local held, expected = redis.call('GET', KEYS[i]), ARGV[2 * i]
  if (held == false and expected == '') or (held ~= false and redis.sha1hex(held) == expected) then
    redis.call('SET', KEYS[i], ARGV[2 * i + 1], 'PX', ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`);

/** Attempts of one update before it gives up (each attempt fails only when another writer stored in between). */
const MAX_ATTEMPTS = 50;

export interface WriteEntry {
  /**
   * This write's identity, unique across processes (absent in entries stored before it
   * existed: those are told apart by `from`). Not the start time: two pushes of one profile
   * can begin in the same millisecond.
   */
  id?: string;
  /** When the push call started (ms, hub clock). */
  from: number;
  /** When it finished, or null while in flight. */
  to: number | null;
  /** The fields sent. */
  fields: Record<string, Json>;
  /** The shadow values those fields had before (fields the shadow did not know are absent). */
  prev: Record<string, Json>;
  /**
   * Set when the call returned: whether the system accepted this record (`false`: it says it
   * did not write it, refused or to retry). Absent once finished when the call failed as a
   * whole: the write may have landed.
   */
  ok?: boolean;
  /** Set once the shadow holds the outcome. */
  shadowed?: boolean;
  /** Everything the system is known to hold right after this write (shadow values and fields sent). */
  after?: Record<string, Json>;
  /** Set when the call returned: the system says this write created the record, so fields it did not send hold the system's defaults. */
  created?: boolean;
  /** Set when the call returned and the system says so: its own stamp of the record right after this write (ms, source clock). */
  landedAt?: number;
  /** Set when the call returned and the system stamps some fields apart (`PushOutcome.fieldsWrittenAt`): when each of them landed (ms, source clock). */
  landedAtBy?: Record<string, number>;
  /** When the profile's values this write sends were chosen (ms, by field): a value the system stamps later is a newer choice than ours. */
  valuesAt?: Record<string, number>;
  /** When the hub last learned what the system held, as of the shadow the push read (ms): `after` knows nothing stamped since. */
  knownAt?: number;
  /** When that shadow learnt each of its fields (ms, by field; `Shadow.valuesAt`): a field's own time beats the row's `knownAt`. */
  knownAtBy?: Record<string, number>;
}

const MAX_ENTRIES = 8;

/** Entry ids: this process's random tag and a counter, a few bytes per entry. */
const PROCESS_TAG = randomBytes(6).toString('base64url');
let entrySeq = 0;
const nextEntryId = (): string => `${PROCESS_TAG}${(entrySeq++).toString(36)}`;

/** Whether two copies of entries (one stored, one in memory or loaded) are the same write. */
const sameWrite = (a: WriteEntry, b: WriteEntry): boolean => (a.id !== undefined || b.id !== undefined ? a.id === b.id : a.from === b.from);

/**
 * Keys whose stored entries a process keeps for their push's `finish` (a key's value is a few
 * KB): more than the pushes in flight hold; past it the oldest is dropped (its finish reads
 * the key again), so a push that died before its finish does not keep its entries for good.
 */
const MAX_REMEMBERED = 4_096;

/** A key's entries as this process stored them, and their stored text. */
interface Stored {
  value: string;
  entries: WriteEntry[];
}

export class WriteLog {
  /** The entry of each push this process has begun and not finished, by key. */
  private readonly open = new Map<string, WriteEntry>();
  /**
   * What this process last stored under each open key: `finish` changes it without reading it
   * back from Redis, and reads it only when another writer stored meanwhile (its digest no
   * longer matches what Redis holds).
   */
  private readonly stored = new Map<string, Stored>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyOf: (connector: string, profileId: string) => string,
    /** Key of the pointer from a record's external id to its profile, while its writes are logged. */
    private readonly pointerOf: (connector: string, externalId: string) => string,
    private readonly retentionMs: number,
  ) {}

  /**
   * Records the writes a push is about to make. Returns the profiles whose earlier write may
   * have landed unseen: left open by a push that died (one push per profile and system runs at
   * a time, so an open entry now is a dead one; it is closed here, its outcome unknown), or
   * ended without an answer.
   */
  async begin(
    connector: string,
    writes: readonly {
      profileId: string;
      fields: Record<string, Json>;
      prev: Record<string, Json>;
      after?: Record<string, Json>;
      valuesAt?: Record<string, number>;
      knownAt?: number;
      knownAtBy?: Record<string, number>;
    }[],
  ): Promise<Set<string>> {
    const uncertain = new Set<string>();
    if (writes.length === 0) return uncertain;
    const now = Date.now();
    const keys = writes.map((w) => this.keyOf(connector, w.profileId));
    const mine = writes.map((w): WriteEntry => ({
      id: nextEntryId(),
      from: now,
      to: null,
      fields: w.fields,
      prev: w.prev,
      ...(w.after ? { after: w.after } : {}),
      ...(w.valuesAt && Object.keys(w.valuesAt).length > 0 ? { valuesAt: w.valuesAt } : {}),
      ...(w.knownAt !== undefined && Number.isFinite(w.knownAt) ? { knownAt: w.knownAt } : {}),
      ...(w.knownAtBy && Object.keys(w.knownAtBy).length > 0 ? { knownAtBy: w.knownAtBy } : {}),
    }));
    const written = await this.update(keys, (stored, i) => {
      const w = writes[i] as (typeof writes)[number];
      const entries = stored.filter((e) => (e.to ?? now) >= now - this.retentionMs);
      for (const e of entries) {
        if (e.ok === undefined) uncertain.add(w.profileId);
        e.to ??= now;
      }
      return [...entries, structuredClone(mine[i] as WriteEntry)].slice(-MAX_ENTRIES);
    });
    keys.forEach((key, i) => this.open.set(key, mine[i] as WriteEntry));
    this.remember(written);
    return uncertain;
  }

  /**
   * Right after the call returned: when it ended, which records the system accepted and which
   * it says it created. Kept in memory until `finish` stores it: until then the push holds the
   * profiles, so no ingest of them reads the entries (an unheld record only reads them after
   * its commit).
   */
  settle(
    connector: string,
    outcomes: ReadonlyMap<string, { ok: boolean; created?: boolean; landedAt?: number; landedAtBy?: Record<string, number> }>,
    answeredAt: number = Date.now(),
  ): void {
    const now = answeredAt;
    for (const [profileId, { ok, created, landedAt, landedAtBy }] of outcomes) {
      const last = this.open.get(this.keyOf(connector, profileId));
      if (!last) continue;
      last.to ??= now;
      last.ok = ok;
      if (ok && created === true) last.created = true;
      if (ok && landedAt !== undefined && Number.isFinite(landedAt)) last.landedAt = landedAt;
      if (ok && landedAtBy !== undefined && Object.keys(landedAtBy).length > 0) last.landedAtBy = landedAtBy;
    }
  }

  /**
   * Once the shadows hold the outcomes (or the call failed as a whole). `externalIds` are the
   * ids the system gave accepted records: our own writes coming back name the record by them.
   * The outcome is merged into the stored entry: what ingest learned about the values the
   * write replaced meanwhile (`prev` of fields the push did not know) is kept.
   */
  async finish(connector: string, profileIds: readonly string[], externalIds: ReadonlyMap<string, string> = new Map()): Promise<void> {
    if (profileIds.length === 0) return;
    const pointers: string[] = [];
    const ids: string[] = [];
    for (const [profileId, externalId] of externalIds) {
      pointers.push(this.pointerOf(connector, externalId));
      ids.push(profileId);
    }
    if (pointers.length > 0) await SET_ALL.run(this.redis, pointers, [this.retentionMs, ...ids]);
    const now = Date.now();
    const done: [string, WriteEntry][] = [];
    const assumed = new Map<string, Stored>();
    for (const profileId of profileIds) {
      const key = this.keyOf(connector, profileId);
      const mine = this.open.get(key);
      const stored = this.stored.get(key);
      this.open.delete(key);
      this.stored.delete(key);
      if (!mine) continue;
      if (stored) assumed.set(key, stored);
      mine.to ??= now;
      mine.shadowed = true;
      done.push([key, mine]);
    }
    await this.update(
      done.map(([key]) => key),
      (stored, i) => {
        const mine = (done[i] as [string, WriteEntry])[1];
        const at = stored.findIndex((e) => sameWrite(e, mine));
        // Gone (Redis lost it): the push's own entry is all there is to keep.
        if (at < 0) return [...stored, structuredClone(mine)].slice(-MAX_ENTRIES);
        const held = stored[at] as WriteEntry;
        // Ingest's `prev` of a field the push also filled in (`fillPrev`, from the shadow) wins,
        // as `fillPrev` stored it: ingest took it from the record the write replaced.
        stored[at] = { ...structuredClone(mine), prev: { ...mine.prev, ...held.prev } };
        return stored;
      },
      assumed,
    );
  }

  /**
   * Gives open writes the values the system held before them for fields the push did not know
   * when it prepared them (`known`: profile -> values, e.g. shadows read again after `begin`):
   * the system's first record of a person is ingested without holding the profile against
   * pushes, so its shadow can land between the push's read and its write. Fields with a `prev`
   * keep it. Stored at once, so ingest sees them.
   */
  async fillPrev(connector: string, known: ReadonlyMap<string, Readonly<Record<string, Json>>>): Promise<void> {
    const filled: [string, WriteEntry][] = [];
    for (const [profileId, values] of known) {
      const key = this.keyOf(connector, profileId);
      const mine = this.open.get(key);
      if (!mine) continue;
      let changed = false;
      for (const field of Object.keys(mine.fields)) {
        if (Object.hasOwn(mine.prev, field) || !Object.hasOwn(values, field)) continue;
        mine.prev[field] = values[field] as Json;
        changed = true;
      }
      if (changed) filled.push([key, mine]);
    }
    const written = await this.update(
      filled.map(([key]) => key),
      (stored, i) => {
        const mine = (filled[i] as [string, WriteEntry])[1];
        const held = stored.find((e) => sameWrite(e, mine));
        if (!held) return null;
        held.prev = { ...mine.prev, ...held.prev };
        return stored;
      },
    );
    this.remember(written);
  }

  /** Keeps what was just stored under keys still open, for their `finish`. */
  private remember(written: ReadonlyMap<string, Stored>): void {
    for (const [key, stored] of written) {
      if (!this.open.has(key)) continue;
      this.stored.delete(key);
      if (this.stored.size >= MAX_REMEMBERED) {
        const oldest = this.stored.keys().next();
        if (!oldest.done) this.stored.delete(oldest.value);
      }
      this.stored.set(key, stored);
    }
  }

  /**
   * Read-modify-write of each key's entries, as a compare-and-set: `change` gets what Redis
   * holds (a fresh copy on each attempt) and returns the entries to store, or null to leave the
   * key as it is. A key another writer stored meanwhile is read and changed again. `keys` are
   * one connector's (its hash tag). `assumed`: what this process believes a key holds, tried
   * first without reading it (`change` then gets a copy of the list, not of its entries: it
   * must not change them in place). Returns what it stored, by key.
   */
  private async update(
    keys: readonly string[],
    change: (stored: WriteEntry[], index: number) => WriteEntry[] | null,
    assumed: ReadonlyMap<string, Stored> = new Map(),
  ): Promise<Map<string, Stored>> {
    const written = new Map<string, Stored>();
    let pending = keys.map((key, index) => ({ key, index }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === MAX_ATTEMPTS)
        throw new Error(`write log: ${pending.length} key(s) kept changing under ${MAX_ATTEMPTS} attempts to update them`);
      const guessed = attempt === 0 ? pending.filter((p) => assumed.has(p.key)) : [];
      const toRead = guessed.length === 0 ? pending : pending.filter((p) => !assumed.has(p.key));
      const held = toRead.length === 0 ? [] : await this.redis.mget(...toRead.map((p) => p.key));
      const writes: { key: string; index: number; expected: string; value: string; entries: WriteEntry[] }[] = [];
      const add = (p: { key: string; index: number }, expected: string, next: WriteEntry[] | null): void => {
        if (next !== null) writes.push({ ...p, expected, value: JSON.stringify(next), entries: next });
      };
      for (const p of guessed) {
        const was = assumed.get(p.key) as Stored;
        add(p, sha1Hex(was.value), change([...was.entries], p.index));
      }
      toRead.forEach((p, k) => {
        const raw = held[k] ?? null;
        add(p, raw === null ? '' : sha1Hex(raw), change(parseEntries(raw), p.index));
      });
      if (writes.length === 0) return written;
      const args: (string | number)[] = [this.retentionMs];
      for (const w of writes) args.push(w.expected, w.value);
      const set = (await COMPARE_AND_SET.run(
        this.redis,
        writes.map((w) => w.key),
        args,
      )) as number[];
      writes.forEach((w, k) => {
        if (Number(set[k]) === 1) written.set(w.key, { value: w.value, entries: w.entries });
      });
      pending = writes.filter((_, k) => Number(set[k]) !== 1).map(({ key, index }) => ({ key, index }));
    }
    return written;
  }

  /** The profiles our recent writes to these records belong to (null where there is none). */
  async profilesOf(refs: readonly { connector: string; externalId: string }[]): Promise<(string | null)[]> {
    if (refs.length === 0) return [];
    return mgetByTag(
      this.redis,
      refs.map((r) => ({ key: this.pointerOf(r.connector, r.externalId), tag: r.connector })),
    );
  }

  /**
   * Stores what a record taken before our writes taught about the values they replaced: the
   * `prev` of these entries (from a `load`) is merged into the stored ones, whose outcome a
   * push may have stored since the load.
   */
  async learnPrev(connector: string, profileId: string, entries: readonly WriteEntry[]): Promise<void> {
    await this.update([this.keyOf(connector, profileId)], (stored) => {
      let changed = false;
      for (const e of stored) {
        const prev = entries.find((l) => sameWrite(l, e))?.prev;
        if (!prev) continue;
        for (const [field, value] of Object.entries(prev)) {
          if (Object.hasOwn(e.prev, field) && jsonEqual(e.prev[field], value)) continue;
          e.prev[field] = value;
          changed = true;
        }
      }
      return changed ? stored : null;
    });
  }

  /** Recent writes for each (connector, profile); empty lists where there are none. */
  async load(refs: readonly { connector: string; profileId: string | null }[]): Promise<WriteEntry[][]> {
    const asked = refs.flatMap((r, i) => (r.profileId ? [{ i, key: this.keyOf(r.connector, r.profileId), tag: r.connector }] : []));
    const out: WriteEntry[][] = refs.map(() => []);
    if (asked.length === 0) return out;
    const values = await mgetByTag(this.redis, asked);
    asked.forEach((a, k) => (out[a.i] = parseEntries(values[k] ?? null)));
    return out;
  }
}

function sha1Hex(value: string): string {
  return createHash('sha1').update(value, 'utf8').digest('hex');
}

function parseEntries(raw: string | null): WriteEntry[] {
  if (raw === null) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? (parsed as WriteEntry[]) : [];
  } catch {
    return [];
  }
}

/**
 * Whether a record is exactly one of our own writes coming back: stamped by the source while
 * that write ran, and holding nothing but what the system held right after it. Such a record
 * is settled without reading the store, whoever the source names as its author: a record that
 * differs in any field goes to `assessRecord`.
 */
export function isOwnWrite(observed: Readonly<Record<string, Json>>, writes: readonly WriteEntry[], ctx: ChangeContext): boolean {
  return writes.some(
    (w, k) =>
      w.ok === true &&
      w.after !== undefined &&
      during(w, ctx) &&
      Object.entries(observed).every(
        ([field, value]) =>
          w.after !== undefined &&
          Object.hasOwn(w.after, field) &&
          jsonEqual(w.after[field], value) &&
          stampFits(field, w, writes.slice(k + 1), { ...ctx, toleranceMs: 0 }),
      ),
  );
}

/**
 * (`isOwnWrite` asks with no clock tolerance: a value stamped after our call ended may be the
 * person going back to our value after the shadow moved on, which only `assessRecord` can tell.)
 * A field the source stamps itself fits a write coming back when the write sent it and it was
 * stamped while the write ran, or the write did not send it and it was stamped before the write
 * began and the shadow the push read could know it (`after` holds that shadow, each field as of
 * when it learnt it, `knownAtBy`, else the row's `knownAt`: a value stamped since is news), and in
 * both cases before any later write of that field began (`laterWrites`, newer than `w`): a
 * value stamped after that is someone's choice made since, even when it equals ours.
 */
function stampFits(field: string, w: WriteEntry, laterWrites: readonly WriteEntry[], ctx: ChangeContext): boolean {
  const stampedAt = ctx.fieldsAt?.[field];
  if (stampedAt === undefined) return true;
  if (laterWrites.some((l) => Object.hasOwn(l.fields, field) && stampedAt >= l.from)) return false;
  return Object.hasOwn(w.fields, field)
    ? during(w, { ...ctx, recordAt: stampedAt })
    : stampedAt < w.from && stampedAt <= (w.knownAtBy?.[field] ?? w.knownAt ?? Number.POSITIVE_INFINITY);
}

/**
 * Whether a field holding what write `w` sent is that write coming back late. Stamped by the
 * source while the write ran; for a field the source stamps itself (`ctx.fieldsAt`), that stamp
 * decides, and only a later write of ours that sent it can have moved the shadow on: when the
 * shadow moved on because the source itself reported a newer value, the field holding our
 * older value again is the source going back (a marketer re-unsubscribing within the clock
 * tolerance of our write), a real change.
 */
function ownValueBack(field: string, w: WriteEntry, laterWrites: readonly WriteEntry[], ctx: ChangeContext): boolean {
  const stampedAt = ctx.fieldsAt?.[field];
  if (stampedAt === undefined) return during(w, ctx);
  return (
    stampFits(field, w, laterWrites, ctx) &&
    laterWrites.some((l) => Object.hasOwn(l.fields, field) && !jsonEqual(l.fields[field], w.fields[field]))
  );
}

/**
 * The repair of a record ingested unheld (see `Ingestor.repairAfterUnheld`): the values our
 * writes left, to put back in the shadow the record's commit overwrote, for the writes the
 * record was taken before; and each such write's `prev` of a field it sent, filled in from the
 * record where unknown (updated in place; `learnedPrev` says so). Taken before a write means
 * received before it ended and, per field, not stamped by the source after it landed
 * (`snapshotOf`), as `assessRecord` judges: a record read while our write ran but stamped after
 * it ended holds the system's state since (a rep's edit), not what the write replaced; taken
 * for a snapshot, the shadow went back to our value and the rep's was written again.
 */
export function repairOfUnheld(
  record: Readonly<Record<string, Json>>,
  writes: WriteEntry[],
  ctx: ChangeContext,
): { values: Record<string, Json>; learnedPrev: boolean } {
  const values: Record<string, Json> = {};
  const seen = new Set<string>();
  let learnedPrev = false;
  for (const w of writes) {
    if (ctx.receivedAt > (w.to ?? Number.POSITIVE_INFINITY)) continue;
    for (const [field, sent] of Object.entries(w.fields)) {
      const reported = Object.hasOwn(record, field);
      if (reported && !snapshotOf(field, w, ctx)) continue;
      if (w.ok === true) values[field] = sent;
      if (seen.has(field)) continue;
      seen.add(field);
      const stampedAt = ctx.fieldsAt?.[field];
      // Stamped while the write ran, the value was not the one it replaced.
      if (!Object.hasOwn(w.prev, field) && reported && (stampedAt === undefined || stampedAt < w.from)) {
        w.prev[field] = record[field] as Json;
        learnedPrev = true;
      }
    }
  }
  return { values, learnedPrev };
}

/**
 * Whether a record's value of `field` may predate write `w` landing: unstamped, unless the
 * record was stamped after the write ended (beyond the clock tolerance, `stampedAfterEnd`);
 * stamped on its own, no later than the write landed for it.
 */
function snapshotOf(field: string, w: WriteEntry, ctx: ChangeContext): boolean {
  const stampedAt = ctx.fieldsAt?.[field];
  return stampedAt === undefined ? !stampedAfterEnd(w, field, ctx) : stampedAt <= landedOf(w, field);
}

/**
 * Whether the source stamped the record after this write of `field` landed: it cannot predate
 * the write. When the system stamped the write itself (`landedAtBy`, `landedAt`: its own clock,
 * like the record's), a later stamp decides, with no clock tolerance; else a stamp beyond the
 * tolerance after the call ended (a source clock ahead of ours can stamp a snapshot taken before
 * the write up to the tolerance after the call ended).
 */
function stampedAfterEnd(w: WriteEntry, field: string, ctx: ChangeContext): boolean {
  const landed = landedStampOf(w, field);
  if (landed !== undefined) return ctx.recordAt > landed;
  return w.to !== null && ctx.recordAt > w.to + ctx.toleranceMs;
}

/** Whether the record was stamped by the source while this write ran (within the clock tolerance). */
function during(w: WriteEntry, ctx: ChangeContext): boolean {
  return ctx.recordAt >= w.from - ctx.toleranceMs && ctx.recordAt <= (w.to ?? Number.POSITIVE_INFINITY) + ctx.toleranceMs;
}

export interface ChangeContext {
  /** The record's own change time at the source (ms). */
  recordAt: number;
  /**
   * When the hub received the record (ms, hub clock); for a record the hub read itself, when
   * that read began (the record is no older than this), so a write that ended during the read
   * counts as made after it.
   */
  receivedAt: number;
  /** Clock difference allowed between the source and the hub (ms). */
  toleranceMs: number;
  /**
   * When the source says each field took its value (ms), for the fields it stamps one by one
   * (`ExternalRecord.fieldsAt`): a field stamped at or after a write began was set after that
   * write began, so it is not compared with what the write replaced (and while the write was
   * open it may have been overwritten by it: it does not go to the shadow).
   */
  fieldsAt?: Readonly<Record<string, number>>;
  /** The source says someone else made this change (`ExternalRecord.echo === false`): none of it is our write coming back... */
  foreign?: boolean;
  /**
   * ...but these fields: the source names us as the author of their last change (`ExternalRecord.echoFields`,
   * Salesforce's field history), so they are compared with what the hub wrote.
   */
  ourFields?: ReadonlySet<string>;
  /**
   * What the hub would write to this system now (the profile mapped out, in the system's field
   * names), when known: a field the shadow never knew that holds this value, in a record stamped
   * by one of our writes, is no news.
   */
  expected?: Readonly<Record<string, Json>>;
}

export interface Assessment {
  /** The fields the record really changed. */
  changes: Record<string, Json>;
  /** What the record tells about the system's state now, for its shadow. */
  observed: Record<string, Json>;
  /** Fields the shadow did not know, found to be no news (the hub's own value, or a default our create left): to record in the shadow even when nothing changed. */
  learned: Record<string, Json>;
  /**
   * Fields whose value the record raced one of our writes of it with, the system not saying
   * which landed last: the shadow must forget them (it cannot claim our value as held, nor theirs).
   */
  unsure: string[];
  /** What the system is known to hold after this record (the base for the next one; `unsure` fields left out). */
  state: Record<string, Json>;
  /** The record predates this write (index in `writes`): its `prev` now holds what the record said. */
  predates: number | null;
}

/**
 * Which fields of an observed record are real changes, and what to record in the shadow.
 * `shadow` is what the system is known to hold now; `writes` the recent writes of the hub to
 * this record, oldest first (see the module documentation). A record received before a write
 * ended was taken before it: each field a write since then sent is compared with the value it
 * had before the first such write (unless the source stamps that field itself, at or after
 * the write began: then it is the system's state since, see `ChangeContext.fieldsAt`) (that write's `prev`, which this updates with what the
 * record says) and is not recorded in the shadow, which holds what we wrote since.
 *
 * Every field is judged on its own, by value: a field equal to what the system held, or to
 * what one of our writes sent while the record was stamped, is not a change; any other value
 * is, whoever the source says made the record. A field the shadow never knew is compared with
 * what the hub would write now (`ctx.expected`), and in the read-back of a record our write
 * created, it holds the system's default: neither is a change when the record was stamped by
 * that write (see `leftByOurWrite`), both are learned for the shadow.
 */
export function assessRecord(
  observed: Readonly<Record<string, Json>>,
  shadow: Readonly<Record<string, Json>> | undefined,
  writes: WriteEntry[],
  ctx: ChangeContext,
): Assessment {
  // Accepted writes whose shadow update is still on its way are part of the system's state.
  const now: Record<string, Json> = { ...shadow };
  for (const w of writes) if (w.ok === true && !w.shadowed) Object.assign(now, w.fields);
  // The writes made after this record was taken (one the system refused changed nothing).
  const first = writes.findIndex((w) => ctx.receivedAt <= (w.to ?? Number.POSITIVE_INFINITY));
  const later = first >= 0 ? writes.slice(first) : [];

  const changes: Record<string, Json> = {};
  const recorded: Record<string, Json> = {};
  const learned: Record<string, Json> = {};
  const unsure = new Set<string>();
  for (const [field, value] of Object.entries(observed)) {
    // A value the source stamps after a write began was set after it (or kept through it): no snapshot predating that write.
    const stampedAt = ctx.fieldsAt?.[field];
    // The value our last write of this field sent, in a record the source stamped after that
    // write ended (it cannot predate it, however early its read began): ours, still standing.
    // Whoever saved the record last saved it whole (a rep editing another field, Salesforce's
    // LastModifiedById), not each of its values; a revert shows another value and stays news.
    // Only while the hub has not seen the system hold another value since (`now`): a rep who
    // moved the field away and then set our value again made a newer edit, not ours standing.
    if (stampedAt === undefined && standsFromOurLastWrite(field, value, writes, ctx.recordAt, now)) {
      recorded[field] = value;
      continue;
    }
    // A value the source stamps before one of our writes of that field began was overwritten by
    // it, however late the record came: the system holds what the write sent (chaos (e): a
    // webhook's value stamped just before our older write began, received after it ended).
    // Unstamped, it was overwritten by a write that ended after its read began, unless the
    // record itself is stamped after that write landed (`stampedAfterEnd`): then it holds the
    // system's state since, and a value other than ours is someone's newer edit (a rep's revert),
    // not what we replaced.
    const overwrittenBy =
      later.find(
        (w) =>
          w.ok !== false &&
          Object.hasOwn(w.fields, field) &&
          (stampedAt === undefined ? !stampedAfterEnd(w, field, ctx) : stampedAt < w.from),
      ) ??
      (stampedAt === undefined ? undefined : writes.find((w) => w.ok !== false && Object.hasOwn(w.fields, field) && stampedAt < w.from));
    // Before our write the system held `prev` (a field missing from it was not known to be there).
    let before: Json | undefined = now[field];
    if (overwrittenBy) {
      before = Object.hasOwn(overwrittenBy.prev, field) ? overwrittenBy.prev[field] : undefined;
      overwrittenBy.prev[field] = value;
    }
    // Stamped while one of our writes of it was open, before the system's stamp of that write
    // when it gave one (`landedAt`): the write may have landed after it, so the shadow does not
    // take this value (a push then makes sure of it). Stamped before the system's stamp of our
    // write, ours landed last and the shadow keeps it; without such a stamp, a value other than
    // ours may be what the system holds: the shadow forgets the field (`unsure`), or a later
    // value equal to ours would be judged no change (storm: a marketer's subscribe inside our
    // write's window, then the unsubscribe, lost, and SUBSCRIBED written over it).
    const raced = stampedAt === undefined ? [] : writes.filter((w) => racedBy(w, field, stampedAt));
    const racedOurWrite = raced.length > 0;
    if (raced.some((w) => landedStampOf(w, field) === undefined && !jsonEqual(w.fields[field], value))) unsure.add(field);
    const record = (): void => {
      if (!overwrittenBy && !racedOurWrite) recorded[field] = value;
    };
    // Our own value coming back (the shadow may have moved on since): the system holds what it holds now, not this.
    const ownBack =
      !foreignField(field, ctx) &&
      writes.some(
        (w, k) =>
          w.ok !== false &&
          Object.hasOwn(w.fields, field) &&
          jsonEqual(w.fields[field], value) &&
          ownValueBack(field, w, writes.slice(k + 1), ctx),
      );
    // A field the source says we changed last was stamped by our own save: nobody's choice.
    const choice = !namedOurs(field, ctx) && choiceAfterOurs(field, value, writes, stampedAt);
    if (before !== undefined && jsonEqual(before, value) && (ownBack || !choice)) {
      record();
      continue;
    }
    if (ownBack) continue;
    record();
    if (before === undefined && !overwrittenBy && leftByOurWrite(field, value, writes, ctx)) {
      learned[field] = value;
      continue;
    }
    changes[field] = value;
  }
  const state: Record<string, Json> = { ...now, ...recorded };
  for (const field of unsure) delete state[field];
  return { changes, observed: recorded, learned, unsure: [...unsure], state, predates: first >= 0 ? first : null };
}

/** Whether a value stamped at `stampedAt` raced write `w` of `field`: stamped after it began, no later than it landed. */
function racedBy(w: WriteEntry, field: string, stampedAt: number): boolean {
  return w.ok !== false && Object.hasOwn(w.fields, field) && stampedAt >= w.from && stampedAt <= landedOf(w, field);
}

/**
 * The source stamps the field after the time of the value one of our writes (open, or not yet
 * seen back) sends over it: someone chose it after the hub's choice was made, even when it
 * equals what the system held before (changed and changed back while our write was on its
 * way). Judged as a change, the merge decides; judged by the shadow, our older value would bury it.
 */
function choiceAfterOurs(field: string, value: Json, writes: readonly WriteEntry[], stampedAt: number | undefined): boolean {
  if (stampedAt === undefined) return false;
  return writes.some((w) => {
    const ours = w.valuesAt?.[field];
    return (
      w.ok !== false &&
      ours !== undefined &&
      Object.hasOwn(w.fields, field) &&
      !jsonEqual(w.fields[field], value) &&
      stampedAt > ours &&
      stampedAt <= landedOf(w, field)
    );
  });
}

/**
 * Whether `value` is what our last write of `field` sent, that write succeeded, the record was
 * stamped after it ended, and the system is not known to hold another value since (`known`: the
 * shadow with the accepted writes not yet in it). A shadow holding another value learnt it from a
 * record that ingest did not take for a snapshot predating that write: the system moved the field
 * away from our value, and our value again is someone setting it back, news (the merge decides by
 * the record's time). A shadow that does not know the field tells nothing either way.
 */
function standsFromOurLastWrite(
  field: string,
  value: Json,
  writes: readonly WriteEntry[],
  recordAt: number,
  known: Readonly<Record<string, Json>>,
): boolean {
  const last = writes.findLast((w) => w.ok !== false && Object.hasOwn(w.fields, field));
  return (
    last !== undefined &&
    last.ok === true &&
    last.to !== null &&
    recordAt > last.to &&
    jsonEqual(last.fields[field], value) &&
    (!Object.hasOwn(known, field) || jsonEqual(known[field], value))
  );
}

/**
 * A field the shadow never knew, in a record stamped by one of our writes that did not send it:
 * a default the system filled in when that write created the record, or the value the hub holds
 * anyway. Taking either for a change would stamp it with our write's time, as if someone had
 * just set it. Anything else is news, even when it equals the profile: a person saying it again
 * later moves its time.
 */
function leftByOurWrite(field: string, value: Json, writes: readonly WriteEntry[], ctx: ChangeContext): boolean {
  if (foreignField(field, ctx)) return false;
  const hubValue = ctx.expected !== undefined && Object.hasOwn(ctx.expected, field) && jsonEqual(ctx.expected[field], value);
  return writes.some((w) => w.ok !== false && during(w, ctx) && !Object.hasOwn(w.fields, field) && (w.created === true || hubValue));
}

/** Whether the source says someone else made this field's change (the record's author, unless it names us for the field). */
function foreignField(field: string, ctx: ChangeContext): boolean {
  return ctx.foreign === true && !namedOurs(field, ctx);
}

/** Whether the source names us as the author of this field's last change (`ChangeContext.ourFields`). */
function namedOurs(field: string, ctx: ChangeContext): boolean {
  return ctx.ourFields?.has(field) === true;
}

/** Per-field stamps in ms (unparsable ones left out: such a field is judged like an unstamped one). */
export function millisOf(stamps: Readonly<Record<string, string>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [field, at] of Object.entries(stamps ?? {})) {
    const ms = Date.parse(at);
    if (!Number.isNaN(ms)) out[field] = ms;
  }
  return out;
}

/** When write `w` landed for `field` in the source's clock, as far as the system said (else when the call ended; open: not yet). */
function landedOf(w: WriteEntry, field: string): number {
  return landedStampOf(w, field) ?? w.to ?? Number.POSITIVE_INFINITY;
}

/** The system's own stamp of write `w` landing for `field`, when it gave one. */
function landedStampOf(w: WriteEntry, field: string): number | undefined {
  return w.landedAtBy?.[field] ?? w.landedAt;
}

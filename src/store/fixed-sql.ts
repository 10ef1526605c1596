/**
 * Fixed SQL text for the statements `applyPatch` runs for every change. Building a query
 * with Kysely's builder (a tree of frozen nodes, then compiled to text) cost about 15 % of
 * the ingest process's CPU under load, more than SQLite spent running the statements; these
 * few statements are written once as text, valid on both dialects, and only their
 * placeholders differ (`?` on SQLite, `$1...` on PostgreSQL). Everything else uses the builder.
 */
import { CompiledQuery } from 'kysely';
import type { AuditLogTable, ConsentLedgerTable, IdentitiesTable, OutboxTable, ProfileHistoryTable } from './db-schema.js';

type Dialect = 'sqlite' | 'postgres';

const postgresText = new Map<string, string>();

/**
 * Statement texts kept per cache: batches of every size would otherwise keep a text per size
 * (and per pair of sizes) for the life of the process. Dropping everything when full is cheaper
 * than tracking recency, and refills at once.
 */
const CACHED_TEXTS = 256;

function remember<K>(cache: Map<K, string>, key: K, text: string): void {
  if (cache.size >= CACHED_TEXTS) cache.clear();
  cache.set(key, text);
}

/** `text` with `?` placeholders, as the dialect wants it (PostgreSQL numbers them). */
function dialectText(dialect: Dialect, text: string): string {
  if (dialect === 'sqlite') return text;
  let out = postgresText.get(text);
  if (out === undefined) {
    let n = 0;
    out = text.replace(/\?/g, () => `$${++n}`);
    remember(postgresText, text, out);
  }
  return out;
}

/** A ready-to-run statement: `text` uses `?` placeholders (and no `?` anywhere else). */
export function fixedQuery<Row>(dialect: Dialect, text: string, parameters: readonly unknown[]): CompiledQuery<Row> {
  return CompiledQuery.raw(dialectText(dialect, text), [...parameters]) as CompiledQuery<Row>;
}

/** Memoises statement text that depends only on a count (rows of an insert, terms of an `or`). */
function byCount(build: (n: number) => string): (n: number) => string {
  const texts = new Map<number, string>();
  return (n) => {
    let text = texts.get(n);
    if (text === undefined) {
      text = build(n);
      remember(texts, n, text);
    }
    return text;
  };
}

/** The identities among `n` (kind, system, value) triples that exist, with their profiles. */
export const FIND_OWNERS = byCount(
  (n) =>
    'select i."kind", i."system", i."value", p."id", p."version", p."data", p."created_at" ' +
    'from "identities" i inner join "profiles" p on p."id" = i."profile_id" where ' +
    Array.from({ length: n }, () => '(i."kind" = ? and i."system" = ? and i."value" = ?)').join(' or '),
);

/**
 * The profile whose shadow in connector `?` holds record `?`: a record the hub created by a
 * push is known by its shadow before its id is in the identity graph.
 */
export const FIND_SHADOW_OWNER =
  'select p."id", p."version", p."data", p."created_at" from "shadows" s inner join "profiles" p on p."id" = s."profile_id" ' +
  'where s."connector" = ? and s."external_id" = ?';

export const INSERT_PROFILE = 'insert into "profiles" ("id", "version", "data", "created_at", "updated_at") values (?, ?, ?, ?, ?)';

/** Compare-and-swap on the version: 0 rows changed means another writer got there first. */
export const UPDATE_PROFILE = 'update "profiles" set "version" = ?, "data" = ?, "updated_at" = ? where "id" = ? and "version" = ?';

/** A newer version for a target replaces the row it waits in: a new id, its lease and relay cleared. */
const OUTBOX_CONFLICT =
  ' on conflict ("profile_id", "connector") do update set "id" = excluded."id", "profile_version" = excluded."profile_version", ' +
  '"updated_at" = excluded."updated_at", "leased_until" = null, "relayed_at" = null';

/** `n` outbox rows (id, profile_id, connector, profile_version, created_at, updated_at), upserted. */
export const UPSERT_OUTBOX = byCount(
  (n) =>
    'insert into "outbox" ("id", "profile_id", "connector", "profile_version", "created_at", "updated_at", "leased_until") values ' +
    Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, null)').join(', ') +
    OUTBOX_CONFLICT,
);

export const SELECT_SHADOW =
  'select "values", "values_at", "external_id", "last_pushed_at", "updated_at" from "shadows" where "profile_id" = ? and "connector" = ?';
export const SELECT_SHADOW_FOR_UPDATE = `${SELECT_SHADOW} for update`;

export const UPDATE_SHADOW =
  'update "shadows" set "values" = ?, "values_at" = ?, "external_id" = ?, "last_pushed_at" = ?, "updated_at" = ? where "profile_id" = ? and "connector" = ?';

/** Inserts a shadow unless one exists (0 rows changed then). */
export const INSERT_SHADOW =
  'insert into "shadows" ("profile_id", "connector", "values", "values_at", "external_id", "last_pushed_at", "updated_at") values (?, ?, ?, ?, ?, ?, ?) ' +
  'on conflict ("profile_id", "connector") do nothing';

export const INSERT_AUDIT = 'insert into "audit_log" ("id", "at", "actor", "action", "profile_id", "detail") values (?, ?, ?, ?, ?, ?)';

/** Up to this many keys, a lookup is a plain `or` of terms: cheaper to plan than a joined list. */
const FEW_KEYS = 8;

/**
 * The rows of `table` (as `alias`) whose `columns` match one of `n` keys of placeholders, as a
 * `from` (to join further tables to) and a `where`. Beyond a few keys, the keys are a
 * `(values ...)` table joined to the indexed table, which both dialects look up by the index:
 * a long `or` cost PostgreSQL tens of milliseconds of planning per 100-patch batch.
 */
function keyedRows(table: string, alias: string, columns: readonly string[], n: number): { from: string; where: string } {
  if (n <= FEW_KEYS) {
    const term = `(${columns.map((column) => `${alias}."${column}" = ?`).join(' and ')})`;
    return { from: `"${table}" ${alias}`, where: ` where ${Array.from({ length: n }, () => term).join(' or ')}` };
  }
  const row = `(${columns.map(() => '?').join(', ')})`;
  const on = columns.map((column, i) => `${alias}."${column}" = k.column${i + 1}`).join(' and ');
  return { from: `(values ${Array.from({ length: n }, () => row).join(', ')}) as k inner join "${table}" ${alias} on ${on}`, where: '' };
}

/**
 * A batch's owners in one statement: the profiles owning any of `identities` (kind, system,
 * value) triples (`via` = 'i'), then those whose shadow holds any of `records` (connector,
 * external id) pairs (`via` = 's'; `kind` is the connector, `value` the external id).
 */
export function FIND_BATCH_OWNERS(identities: number, records: number): string {
  const key = `${identities}:${records}`;
  let text = batchOwners.get(key);
  if (text === undefined) {
    const profile = 'p."id", p."version", p."data", p."created_at"';
    const parts: string[] = [];
    if (identities > 0) {
      const { from, where } = keyedRows('identities', 'i', ['kind', 'system', 'value'], identities);
      parts.push(
        `select 'i' as "via", i."kind", i."system", i."value", ${profile} from ${from} inner join "profiles" p on p."id" = i."profile_id"${where}`,
      );
    }
    if (records > 0) {
      // Named as the identities' columns: a statement of records alone takes its names from here.
      const { from, where } = keyedRows('shadows', 's', ['connector', 'external_id'], records);
      parts.push(
        `select 's' as "via", s."connector" as "kind", '' as "system", s."external_id" as "value", ${profile} from ${from} inner join "profiles" p on p."id" = s."profile_id"${where}`,
      );
    }
    text = parts.join(' union all ');
    remember(batchOwners, key, text);
  }
  return text;
}
const batchOwners = new Map<string, string>();

/**
 * Compare-and-swap of `n` profiles in one statement: rows (id, version, data, updated_at,
 * expected version); returns the ids it changed (a missing one lost a race). The unary `+`
 * keeps SQLite from indexing the list by version: from about 210 rows it did, and then read
 * every profile of the table to match each against the list (`query-plans.test.ts`).
 */
export const UPDATE_PROFILES = byCount(
  (n) =>
    'update "profiles" set "version" = v.column2, "data" = v.column3, "updated_at" = v.column4 from (values ' +
    Array.from({ length: n }, () => '(?, cast(? as integer), ?, ?, cast(? as integer))').join(', ') +
    ') as v where "profiles"."id" = v.column1 and "profiles"."version" = +v.column5 returning "profiles"."id"',
);

/** The patches' earlier side rows that a replay must not write again (history rows, not-accepted ledger rows). */
export const SELECT_REPLAYED = byCount((n) => {
  const ids = Array.from({ length: n }, () => '?').join(', ');
  return (
    `select 'h' as "tbl", "patch_id", "profile_id", "kind" as "a", "path" as "b" from "profile_history" where "patch_id" in (${ids}) ` +
    `union all select 'l', "patch_id", "profile_id", "purpose", "channel" from "consent_ledger" where "patch_id" in (${ids}) and "accepted" = 0`
  );
});

/** `n` shadows by (profile_id, connector), the table `s`; PostgreSQL appends `for update of s`. */
export const SELECT_SHADOWS = byCount((n) => {
  const { from, where } = keyedRows('shadows', 's', ['profile_id', 'connector'], n);
  return `select s."profile_id", s."connector", s."values", s."values_at", s."external_id", s."last_pushed_at", s."updated_at" from ${from}${where}`;
});

const SHADOW_VALUES = (n: number): string =>
  'insert into "shadows" ("profile_id", "connector", "values", "values_at", "external_id", "last_pushed_at", "updated_at") values ' +
  Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ');

/** `n` shadows the transaction holds locked: written over. */
export const UPSERT_SHADOWS = byCount(
  (n) =>
    `${SHADOW_VALUES(n)} on conflict ("profile_id", "connector") do update set "values" = excluded."values", "values_at" = excluded."values_at", ` +
    '"external_id" = excluded."external_id", "last_pushed_at" = excluded."last_pushed_at", "updated_at" = excluded."updated_at"',
);

/** `n` new shadows; returns the ones inserted (a missing one was created concurrently). */
export const INSERT_SHADOWS = byCount(
  (n) => `${SHADOW_VALUES(n)} on conflict ("profile_id", "connector") do nothing returning "profile_id", "connector"`,
);

/** A column of a batch insert: its name, and its PostgreSQL type (of the array it is bound in). */
type BatchColumn<Row> = readonly [name: keyof Row & string, postgresType: 'text' | 'integer'];

/** Inserts a batch's rows of one table in one statement (`query`, per dialect). */
export interface BatchInsert<Row> {
  query(dialect: Dialect, rows: readonly Row[]): CompiledQuery;
}

/**
 * A batch insert of `columns` into `table`, then `tail` (an `on conflict` clause). SQLite gets
 * a multi-row `values` list, memoised by row count. PostgreSQL gets one array per column, the
 * rows made by `unnest`: its parser and planner otherwise handle every value of a long
 * `values` list, a history batch's thousands, for about a tenth of the server's CPU on the
 * store bench (`unnest` zips arrays of one length row by row, in order).
 */
function batchInsert<Row>(table: string, columns: readonly BatchColumn<Row>[], tail = ''): BatchInsert<Row> {
  const names = columns.map(([name]) => `"${name}"`).join(', ');
  const head = `insert into "${table}" (${names}) `;
  const row = `(${columns.map(() => '?').join(', ')})`;
  const sqliteText = byCount((n) => `${head}values ${Array.from({ length: n }, () => row).join(', ')}${tail}`);
  const unnestText = `${head}select * from unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})${tail}`;
  return {
    query(dialect, rows) {
      if (dialect === 'postgres') {
        return CompiledQuery.raw(
          unnestText,
          columns.map(([name]) => rows.map((r) => r[name])),
        );
      }
      return CompiledQuery.raw(
        sqliteText(rows.length),
        rows.flatMap((r) => columns.map(([name]) => r[name])),
      );
    },
  };
}

const text = 'text';

export const INSERT_IDENTITIES = batchInsert<IdentitiesTable>('identities', [
  ['kind', text],
  ['system', text],
  ['value', text],
  ['profile_id', text],
  ['created_at', text],
]);

export const INSERT_LEDGER = batchInsert<ConsentLedgerTable>('consent_ledger', [
  ['id', text],
  ['profile_id', text],
  ['purpose', text],
  ['channel', text],
  ['state', text],
  ['previous', text],
  ['patch_id', text],
  ['recorded_at', text],
  ['accepted', 'integer'],
]);

export const INSERT_HISTORY = batchInsert<ProfileHistoryTable>('profile_history', [
  ['id', text],
  ['profile_id', text],
  ['patch_id', text],
  ['actor', text],
  ['kind', text],
  ['path', text],
  ['outcome', text],
  ['reason', text],
  ['offered', text],
  ['previous', text],
  ['recorded_at', text],
]);

export const INSERT_AUDIT_ROWS = batchInsert<AuditLogTable>('audit_log', [
  ['id', text],
  ['at', text],
  ['actor', text],
  ['action', text],
  ['profile_id', text],
  ['detail', text],
]);

/** A batch's outbox rows upserted, as `UPSERT_OUTBOX` (rows with `leased_until` null). */
export const UPSERT_OUTBOX_ROWS = batchInsert<Omit<OutboxTable, 'relayed_at'>>(
  'outbox',
  [
    ['id', text],
    ['profile_id', text],
    ['connector', text],
    ['profile_version', 'integer'],
    ['created_at', text],
    ['updated_at', text],
    ['leased_until', text],
  ],
  OUTBOX_CONFLICT,
);

/**
 * Pull. The first run reads everything: by SOQL ordered by `SystemModstamp, Id` (following
 * `nextRecordsUrl`), or, when the object holds more than `bulkQueryThreshold` records, through a
 * Bulk API 2.0 query job paged by `Sforce-Locator`. Later runs read what changed since the
 * cursor minus a look-back window (records committed late carry an older stamp): people whose
 * own record changed, then people whose Individual or consents changed. The cursor is saved
 * after every page; a resumed run starts again at the last page's stamp (re-seeing a record is
 * harmless).
 */
import { chunks } from '../../src/connector/kit/index.js';
import type { Logger } from 'pino';
import type { PullPage } from '../../src/connector/define.js';
import type { SalesforceApi } from './api.js';
import type { SalesforceBulk } from './bulk.js';
import type { SalesforceConfig, SalesforceCursor } from './config.js';
import { parseSalesforceDate, soqlDateTime } from './mapping.js';
import { IN_CHUNK, inList, personFields, queryAll, type RawRecord, type SalesforceReader } from './read.js';

export interface PullDeps {
  api: SalesforceApi;
  reader: SalesforceReader;
  bulk: SalesforceBulk;
  config: SalesforceConfig;
  logger: Logger;
  now: () => number;
}

type Cursor<P extends SalesforceCursor['phase']> = Extract<SalesforceCursor, { phase: P }>;

export async function* pullPeople(
  deps: PullDeps,
  cursor: SalesforceCursor | undefined,
  signal: AbortSignal,
): AsyncGenerator<PullPage<SalesforceCursor>> {
  if (cursor === undefined) {
    const startedAt = deps.now();
    // https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_count.htm
    const total = await deps.api.call(
      signal,
      async (conn) => (await conn.query(`SELECT COUNT() FROM ${deps.config.object}`, { autoFetch: false })).totalSize,
    );
    if (total > deps.config.bulkQueryThreshold) {
      deps.logger.info({ records: total, threshold: deps.config.bulkQueryThreshold }, 'Salesforce backfill through Bulk API 2.0 query');
      const jobId = await deps.bulk.startQuery(`SELECT ${personFields(deps.config).join(', ')} FROM ${deps.config.object}`, signal);
      yield* pullBulk(deps, { phase: 'bulk', startedAt, jobId }, signal);
      return;
    }
    yield* pullFull(deps, { phase: 'full', startedAt }, signal);
    return;
  }
  switch (cursor.phase) {
    case 'full':
      yield* pullFull(deps, cursor, signal);
      return;
    case 'bulk':
      yield* pullBulk(deps, cursor, signal);
      return;
    case 'incremental':
      yield* pullIncremental(deps, cursor, signal);
      return;
  }
}

function lastStamp(rows: readonly RawRecord[], fallback: number): number {
  const last = rows[rows.length - 1];
  const at = last ? parseSalesforceDate(last['SystemModstamp']) : Number.NaN;
  return Number.isNaN(at) ? fallback : at;
}

/** Pages of a SOQL query, ordered by SystemModstamp then Id, following `nextRecordsUrl`. */
async function* stampPages(
  deps: PullDeps,
  from: number | undefined,
  signal: AbortSignal,
): AsyncGenerator<{ rows: RawRecord[]; done: boolean }> {
  const where = from === undefined ? '' : ` WHERE SystemModstamp >= ${soqlDateTime(from)}`;
  const soql = `SELECT ${personFields(deps.config).join(', ')} FROM ${deps.config.object}${where} ORDER BY SystemModstamp, Id`;
  const headers = { 'Sforce-Query-Options': `batchSize=${deps.config.queryBatchSize}` };
  // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
  let page = await deps.api.call(signal, async (conn) => await conn.query<RawRecord>(soql, { autoFetch: false, headers }));
  for (;;) {
    const next = page.done ? undefined : page.nextRecordsUrl;
    yield { rows: page.records, done: next === undefined };
    if (next === undefined) return;
    // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query_more_results.htm
    page = await deps.api.call(
      signal,
      async (conn) =>
        await conn.queryMore<RawRecord>(next, {
          headers,
          autoFetch: false,
          maxFetch: 10_000,
          scanAll: false,
          responseTarget: 'QueryResult',
        }),
    );
  }
}

async function* pullFull(deps: PullDeps, cursor: Cursor<'full'>, signal: AbortSignal): AsyncGenerator<PullPage<SalesforceCursor>> {
  for await (const { rows, done } of stampPages(deps, cursor.resumeAt, signal)) {
    const records = await deps.reader.recordsOf(rows, signal);
    yield done
      ? { records, cursor: { phase: 'incremental', since: cursor.startedAt } }
      : { records, cursor: { phase: 'full', startedAt: cursor.startedAt, resumeAt: lastStamp(rows, cursor.resumeAt ?? 0) } };
  }
}

async function* pullBulk(deps: PullDeps, cursor: Cursor<'bulk'>, signal: AbortSignal): AsyncGenerator<PullPage<SalesforceCursor>> {
  let locator = cursor.locator;
  for (;;) {
    const { records: rows, next } = await deps.bulk.resultPage(cursor.jobId, locator, signal);
    const records = await deps.reader.recordsOf(rows, signal);
    if (next === undefined) {
      yield { records, cursor: { phase: 'incremental', since: cursor.startedAt } };
      return;
    }
    locator = next;
    yield { records, cursor: { phase: 'bulk', startedAt: cursor.startedAt, jobId: cursor.jobId, locator: next } };
  }
}

async function* pullIncremental(
  deps: PullDeps,
  cursor: Cursor<'incremental'>,
  signal: AbortSignal,
): AsyncGenerator<PullPage<SalesforceCursor>> {
  const runStart = deps.now();
  const from = cursor.since - deps.config.lookBackMs;
  const seen = new Set<string>();
  let resumeAt = cursor.resumeAt ?? from;
  for await (const { rows } of stampPages(deps, resumeAt, signal)) {
    if (rows.length === 0) continue;
    for (const r of rows) seen.add(String(r['Id']));
    resumeAt = lastStamp(rows, resumeAt);
    yield { records: await deps.reader.recordsOf(rows, signal), cursor: { phase: 'incremental', since: cursor.since, resumeAt } };
  }
  // People whose Individual or consents changed (their own record may not have).
  const people = (await changedThroughConsents(deps, from, signal)).filter((p) => !seen.has(String(p['Id'])));
  for (const part of chunks(people, deps.config.queryBatchSize)) {
    yield { records: await deps.reader.recordsOf(part, signal), cursor: { phase: 'incremental', since: cursor.since, resumeAt } };
  }
  if (seen.size > 0 || people.length > 0) yield { records: [], cursor: { phase: 'incremental', since: runStart } };
}

async function changedThroughConsents(deps: PullDeps, from: number, signal: AbortSignal): Promise<RawRecord[]> {
  const since = soqlDateTime(from);
  const parties = new Set<string>();
  await deps.api.call(signal, async (conn) => {
    for (const r of await queryAll(conn, `SELECT Id FROM Individual WHERE SystemModstamp >= ${since}`)) parties.add(String(r['Id']));
    if (deps.reader.readsConsents) {
      for (const r of await queryAll(conn, `SELECT PartyId FROM ContactPointTypeConsent WHERE SystemModstamp >= ${since}`)) {
        if (typeof r['PartyId'] === 'string') parties.add(r['PartyId']);
      }
    }
  });
  const people: RawRecord[] = [];
  for (const part of chunks([...parties], IN_CHUNK)) {
    const soql = `SELECT ${personFields(deps.config).join(', ')} FROM ${deps.config.object} WHERE IndividualId IN ${inList(part)}`;
    people.push(...(await deps.api.call(signal, (conn) => queryAll(conn, soql))));
  }
  return people;
}

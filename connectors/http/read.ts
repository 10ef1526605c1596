/**
 * Reads: pulls over the declared list endpoint (an incremental filter with a look-back, and the
 * declared paging: a cursor in the body, a next link in the body or the `Link` header, or offset
 * and limit), records by id (`read.get`, the read-back after a webhook) and by e-mail (`read.find`).
 */
import LinkHeader from 'http-link-header';
import type { Logger } from 'pino';
import { MalformedPayloadError, RejectedError } from '../../src/connector/errors.js';
import { emailKey, phoneKey } from '../../src/connector/kit/index.js';
import type { ExternalRecord, PullPage } from '../../src/connector/define.js';
import type { Json } from '../../src/profile/schema.js';
import type { HttpApi } from './api.js';
import type { HttpConfig, HttpCursor, ListEndpoint } from './config.js';
import { idOf, instantTo, select, selectOne, toExternalRecord } from './records.js';
import { expandPath, expandQuery } from './template.js';

type PageState = NonNullable<HttpCursor['page']>;

/** An answer that should be JSON (an object or an array) and is not: the endpoint or its content type is wrong. */
function requireJson(json: unknown, what: string): void {
  if (typeof json !== 'object' || json === null) throw new MalformedPayloadError(`the ${what} answered no JSON object or array`);
}

/**
 * The records of one answer, oldest change first. A record without an id or a readable change time
 * is left out and counted (`malformed`), so one bad record does not stop every pull.
 */
function recordsOf(selected: readonly Json[], spec: HttpConfig['record']): { records: ExternalRecord[]; malformed: number } {
  const records: ExternalRecord[] = [];
  let malformed = 0;
  for (const raw of selected) {
    try {
      records.push(toExternalRecord(raw, spec));
    } catch (error) {
      if (!(error instanceof MalformedPayloadError)) throw error;
      malformed++;
    }
  }
  return { records: records.sort((a, b) => Date.parse(a.at) - Date.parse(b.at)), malformed };
}

/** A next-page link as an absolute URL: a relative one is resolved against the page it came in (RFC 8288 §3.2). */
function linkFrom(next: string, pageUrl: string): PageState {
  try {
    return { url: new URL(next, pageUrl).href };
  } catch {
    throw new MalformedPayloadError('a next-page link is not a URL');
  }
}

/** Where the next page is, from the answer to `pageUrl`, by the declared paging; undefined on the last page. */
function nextPage(
  list: ListEndpoint,
  answer: { json: unknown; headers: Headers; pageUrl: string },
  state: PageState | undefined,
  count: number,
  records: readonly ExternalRecord[],
): PageState | undefined {
  const { json, headers, pageUrl } = answer;
  const paging = list.paging;
  switch (paging.type) {
    case 'none':
      return undefined;
    case 'cursor': {
      const next = idOf(selectOne(json, paging.next));
      return next === undefined || count === 0 ? undefined : { cursor: next };
    }
    case 'nextLink': {
      const next = selectOne(json, paging.next);
      return typeof next === 'string' && next !== '' && count > 0 ? linkFrom(next, pageUrl) : undefined;
    }
    case 'linkHeader': {
      const header = headers.get('link');
      const next = header === null ? undefined : LinkHeader.parse(header).rel('next')[0]?.uri;
      return next === undefined || count === 0 ? undefined : linkFrom(next, pageUrl);
    }
    case 'offset': {
      if (count < paging.pageSize) return undefined;
      const last = records.at(-1);
      if (list.since === undefined || last === undefined) {
        const offset = state !== undefined && 'offset' in state ? state.offset : 0;
        return { offset: offset + count };
      }
      // Keyset: the next page starts at the last stamp read, past the records read at that stamp.
      // An offset across the whole walk would skip records that move up when one is edited or
      // deleted during the walk (an edited record moves to the end).
      const format = list.since.format;
      const stamp = instantTo(last.at, format);
      const atStamp = records.filter((r) => instantTo(r.at, format) === stamp).length;
      const before = state !== undefined && 'at' in state && instantTo(state.at, format) === stamp ? state.skip : 0;
      return { at: last.at, skip: before + atStamp };
    }
  }
}

/** The query of a list call: the fixed parameters, the incremental filter, the page state. */
function listQuery(list: ListEndpoint, since: string | undefined, state: PageState | undefined): [string, string][] {
  const query = expandQuery(list.query, {});
  const keyset = state !== undefined && 'at' in state ? state : undefined;
  if (list.since !== undefined && keyset !== undefined) {
    query.push([list.since.param, instantTo(keyset.at, list.since.format)]);
  } else if (list.since !== undefined && since !== undefined) {
    const from = new Date(Date.parse(since) - list.since.lookback).toISOString();
    query.push([list.since.param, instantTo(from, list.since.format)]);
  }
  const paging = list.paging;
  if (paging.type === 'offset') {
    const offset = keyset?.skip ?? (state !== undefined && 'offset' in state ? state.offset : 0);
    query.push([paging.limitParam, String(paging.pageSize)], [paging.offsetParam, String(offset)]);
  } else if (paging.type === 'cursor' && state !== undefined && 'cursor' in state) {
    query.push([paging.param, state.cursor]);
  }
  return query;
}

const later = (a: string | undefined, b: string | undefined): string | undefined =>
  a === undefined ? b : b === undefined ? a : Date.parse(b) > Date.parse(a) ? b : a;

/**
 * Pages of records changed since the cursor (all of them without one). Each page's cursor keeps
 * the newest stamp seen (`since`) and, until the walk ends, where to resume it (`page`, from
 * `walkSince`); a walk resumed after a crash goes on from its last saved page.
 */
export async function* pullRecords(
  api: HttpApi,
  config: HttpConfig,
  cursor: HttpCursor | undefined,
  signal: AbortSignal,
  logger?: Logger,
): AsyncIterable<PullPage<HttpCursor>> {
  const list = config.read.list;
  if (list === undefined) return;
  const walkSince = cursor?.page !== undefined ? cursor.walkSince : cursor?.since;
  let state = cursor?.page;
  let since = cursor?.since;
  let resumed = state !== undefined;
  for (;;) {
    const pageUrl =
      state !== undefined && 'url' in state ? state.url : api.urlOf(expandPath(list.path, {}), listQuery(list, walkSince, state)).href;
    let answer;
    try {
      answer = await api.call({ method: 'GET', url: pageUrl }, signal);
    } catch (error) {
      // A saved page the system no longer knows (an expired cursor or link): the walk starts again
      // from where it began, rather than failing every pull from now on.
      if (!resumed || !(error instanceof RejectedError)) throw error;
      logger?.warn({ status: error.status }, 'the saved page of an interrupted pull was refused; the walk starts again');
      resumed = false;
      state = undefined;
      continue;
    }
    resumed = false;
    requireJson(answer.json, 'list endpoint');
    const raw = select(answer.json, list.records);
    const { records, malformed } = recordsOf(raw, config.record);
    if (malformed > 0) logger?.warn({ malformed }, 'records without an id or a readable change time were left out of a pull');
    for (const r of records) since = later(since, r.at);
    const next = nextPage(list, { ...answer, pageUrl }, state, raw.length, records);
    const base = since === undefined ? {} : { since };
    if (next === undefined) {
      // Past the first page, a cursor with a page to resume from is saved: the walk's end must replace it, even when this page is empty.
      if (records.length > 0 || since !== cursor?.since || state !== undefined || cursor?.page !== undefined)
        yield { records, cursor: base };
      return;
    }
    yield { records, cursor: { ...base, ...(walkSince === undefined ? {} : { walkSince }), page: next } };
    state = next;
  }
}

/** Records by id through `read.get`; ids the system does not know are left out. */
export async function readRecords(
  api: HttpApi,
  config: HttpConfig,
  externalIds: readonly string[],
  signal: AbortSignal,
): Promise<ExternalRecord[]> {
  const get = config.read.get;
  if (get === undefined) return [];
  return fetchById(api, config, get, externalIds, signal);
}

/** Records by id through a get-like endpoint (`read.get` or `export`). */
export async function fetchById(
  api: HttpApi,
  config: HttpConfig,
  endpoint: NonNullable<HttpConfig['read']['get']>,
  externalIds: readonly string[],
  signal: AbortSignal,
): Promise<ExternalRecord[]> {
  const found = await Promise.all(
    [...new Set(externalIds)].map(async (id) => {
      let path: string;
      try {
        path = expandPath(endpoint.path, { id });
      } catch (error) {
        // An id that cannot name a record (`..`, a slash) names none: left out like an unknown id.
        if (error instanceof RejectedError && error.reasonCode === 'invalid_id') return undefined;
        throw error;
      }
      const answer = await api.call({ method: 'GET', path, query: expandQuery(endpoint.query, { id }), accept: [404, 410] }, signal);
      if (answer.status === 404 || answer.status === 410) return undefined;
      requireJson(answer.json, 'get endpoint');
      const record = selectOne(answer.json, endpoint.record);
      if (record === undefined) throw new MalformedPayloadError(`the record is not at ${endpoint.record} in the answer`);
      return toExternalRecord(record, config.record);
    }),
  );
  return found.filter((r): r is ExternalRecord => r !== undefined);
}

/** Records holding this e-mail address, through `read.find` (none without it). */
export async function findByEmail(api: HttpApi, config: HttpConfig, email: string, signal: AbortSignal): Promise<ExternalRecord[]> {
  const find = config.read.find;
  if (find === undefined) return [];
  return searchBy(api, config, find, ['email', email], config.record.email, emailKey, signal);
}

/** Records holding this phone number, through `read.findPhone` (none without it). */
export async function findByPhone(api: HttpApi, config: HttpConfig, phone: string, signal: AbortSignal): Promise<ExternalRecord[]> {
  const find = config.read.findPhone;
  if (find === undefined) return [];
  return searchBy(api, config, find, ['phone', phone], find.field, phoneKey, signal);
}

/** The records a search endpoint answers for one value whose `field` equals it (as `key` compares them). */
async function searchBy(
  api: HttpApi,
  config: HttpConfig,
  endpoint: { path: string; query: Record<string, string>; records: string },
  [name, value]: ['email' | 'phone', string],
  field: string,
  key: (value: string) => string,
  signal: AbortSignal,
): Promise<ExternalRecord[]> {
  const values = { [name]: value };
  const answer = await api.call(
    { method: 'GET', path: expandPath(endpoint.path, values), query: expandQuery(endpoint.query, values) },
    signal,
  );
  requireJson(answer.json, 'find endpoint');
  const wanted = key(value);
  // A system's search may match loosely (a prefix, another field): keep exact matches only.
  return recordsOf(select(answer.json, endpoint.records), config.record).records.filter((r) => {
    const value = r.fields[field];
    return typeof value === 'string' && key(value) === wanted;
  });
}

/**
 * Pull: the first run pages through the whole contact list; later runs search on
 * `lastmodifieddate`, from the cursor minus a look-back (a contact just changed may not be
 * searchable yet), walking time windows.
 *
 * Inside a window every query starts at offset 0 and moves its lower bound to the last
 * `lastmodifieddate` it read (keyset paging), so no query ever pages towards the 10,000-result
 * cap, and a contact modified during the walk cannot shift a page and be skipped (it moves
 * to a later window instead). Only when a whole page shares one timestamp does it page with
 * `after` inside that one millisecond.
 */
import { FilterOperatorEnum, type Filter } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import type { Logger } from 'pino';
import type { PullPage } from '../../src/connector/define.js';
import type { HubSpotApi } from './api.js';
import type { HubSpotConfig, HubSpotCursor } from './config.js';
import { HISTORY_BATCH, historyProperties, propertiesToRead, type ContactObject, type HubSpotReader } from './read.js';

/** A list page: the list returns at most 50 contacts with property history. */
const LIST_PAGE = HISTORY_BATCH;
/** A search page; 100 keeps its statuses to one `statuses/batch/read` call. */
const SEARCH_PAGE = 100;
/** HubSpot refuses to page a search past this many results. */
export const SEARCH_RESULT_CAP = 10_000;

function modifiedAt(c: ContactObject): number {
  const v = c.properties.lastmodifieddate;
  const ms = v ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms) ? c.updatedAt.getTime() : ms;
}

export interface PullDeps {
  api: HubSpotApi;
  reader: HubSpotReader;
  config: HubSpotConfig;
  logger: Logger;
  now: () => number;
}

export async function* pullContacts(
  deps: PullDeps,
  cursor: HubSpotCursor | undefined,
  signal: AbortSignal,
): AsyncGenerator<PullPage<HubSpotCursor>> {
  const start: HubSpotCursor = cursor ?? { phase: 'full', startedAt: deps.now() };
  if (start.phase === 'full') {
    yield* pullFullList(deps, start, signal);
    return;
  }
  yield* pullIncremental(deps, start, signal);
}

async function* pullFullList(
  deps: PullDeps,
  cursor: Extract<HubSpotCursor, { phase: 'full' }>,
  signal: AbortSignal,
): AsyncGenerator<PullPage<HubSpotCursor>> {
  const { api, reader } = deps;
  let after = cursor.after;
  for (;;) {
    // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/get-crm-v3-objects-contacts
    // With the properties' history, so that each value is stamped when it was set (`toRecord`).
    const res = await api.call('standard', signal, () =>
      api.client.crm.contacts.basicApi.getPageWithHttpInfo(LIST_PAGE, after, propertiesToRead(deps.config), historyProperties(deps.config)),
    );
    const records = await reader.toRecords(res.data.results, signal);
    const next = res.data.paging?.next?.after;
    if (next) {
      after = next;
      yield { records, cursor: { phase: 'full', after: next, startedAt: cursor.startedAt } };
    } else {
      yield { records, cursor: { phase: 'incremental', since: cursor.startedAt } };
      return;
    }
  }
}

interface SearchWindow {
  /** Lower bound (inclusive) of `lastmodifieddate`. */
  low: number;
  /** Upper bound (exclusive). */
  high: number;
  /** Offset inside one millisecond, when a whole page shared it. */
  after?: string;
}

async function* pullIncremental(
  deps: PullDeps,
  cursor: Extract<HubSpotCursor, { phase: 'incremental' }>,
  signal: AbortSignal,
): AsyncGenerator<PullPage<HubSpotCursor>> {
  const { config } = deps;
  // The upper bound is exclusive: +1 takes in what changed in this very millisecond.
  const end = deps.now() + 1;
  // A fresh run re-reads the look-back; a run resumed inside a window continues where it stopped.
  let low = cursor.windowEnd === undefined ? cursor.since - config.searchLookBackMs : cursor.since;
  let win: SearchWindow | undefined =
    cursor.windowEnd === undefined ? undefined : { low, high: cursor.windowEnd, ...(cursor.after ? { after: cursor.after } : {}) };
  while (win !== undefined || low < end) {
    win ??= { low, high: Math.min(low + config.incrementalWindowMs, end) };
    const page = await search(deps, win, signal);
    // Search returns no property history (and its index may lag): the contacts found are read
    // again, those changed since their creation with their history, so that each value is
    // stamped when it was set, not with the contact's lastmodifieddate (often a later write of
    // ours): stamped so, a marketer's older edit beat a newer one made elsewhere.
    const ids = page.results.map((c) => c.id);
    const found = ids.length > 0 ? await deps.reader.readStamped(ids, signal) : [];
    const records = await deps.reader.toRecords(found, signal);
    const next = nextWindow(win, page.results, page.nextAfter, deps.logger);
    if (next) {
      win = next;
      yield {
        records,
        cursor: { phase: 'incremental', since: next.low, windowEnd: next.high, ...(next.after ? { after: next.after } : {}) },
      };
    } else {
      low = win.high;
      win = undefined;
      yield { records, cursor: { phase: 'incremental', since: low } };
    }
  }
}

/** Where to continue inside the window after a page, or undefined when the window is done. */
function nextWindow(
  win: SearchWindow,
  results: readonly ContactObject[],
  nextAfter: string | undefined,
  logger: Logger,
): SearchWindow | undefined {
  if (win.after !== undefined) {
    // Paging inside one millisecond.
    if (nextAfter !== undefined && Number(nextAfter) < SEARCH_RESULT_CAP) return { ...win, after: nextAfter };
    if (nextAfter !== undefined)
      logger.warn(
        { at: new Date(win.low).toISOString() },
        'more than 10,000 contacts share one lastmodifieddate; the rest is read by a later pull',
      );
    return win.low + 1 < win.high ? { low: win.low + 1, high: win.high } : undefined;
  }
  if (results.length < SEARCH_PAGE || nextAfter === undefined) return undefined;
  const last = results[results.length - 1];
  const lastAt = last ? modifiedAt(last) : win.low;
  if (lastAt > win.low) return { low: lastAt, high: win.high };
  // The whole page has the same timestamp: page through that millisecond with offsets.
  return { low: win.low, high: win.high, after: String(results.length) };
}

/**
 * HubSpot sorts take `{propertyName, direction}` objects, but the client types `sorts` as
 * strings (hubspot-api-nodejs#559); it sends the value as given.
 */
function sortSpec(propertyName: string, direction: 'ASCENDING' | 'DESCENDING'): string {
  return { propertyName, direction } as unknown as string;
}

async function search(
  deps: PullDeps,
  win: SearchWindow,
  signal: AbortSignal,
): Promise<{ results: ContactObject[]; nextAfter: string | undefined }> {
  const { api, config } = deps;
  const exact = win.after !== undefined;
  const filters: Filter[] = exact
    ? [{ propertyName: 'lastmodifieddate', operator: FilterOperatorEnum.Eq, value: String(win.low) }]
    : [
        { propertyName: 'lastmodifieddate', operator: FilterOperatorEnum.Gte, value: String(win.low) },
        { propertyName: 'lastmodifieddate', operator: FilterOperatorEnum.Lt, value: String(win.high) },
      ];
  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/search/post-crm-v3-objects-contacts-search
  const res = await api.call('search', signal, () =>
    api.client.crm.contacts.searchApi.doSearchWithHttpInfo({
      filterGroups: [{ filters }],
      sorts: [sortSpec('lastmodifieddate', 'ASCENDING')],
      properties: propertiesToRead(config),
      limit: SEARCH_PAGE,
      ...(exact ? { after: win.after } : {}),
    }),
  );
  return { results: res.data.results, nextAfter: res.data.paging?.next?.after };
}

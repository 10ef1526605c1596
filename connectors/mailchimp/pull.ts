/**
 * Pull: `GET /lists/{id}/members` sorted by `last_changed`, oldest first, `count` members a page.
 * The first run reads the whole audience; later runs read from the saved `since` minus the
 * look-back. A cursor is saved after every page: `since` moves to one second before the last
 * member's `last_changed` (Mailchimp's stamps have whole seconds, and whether the bound is
 * inclusive is not documented), and `offset` skips the members of the walk already read after
 * that bound, so a page boundary inside one second neither skips nor loops; a page that does
 * not move `since` (a whole page in one second) pages on by offset. Once an answer shows a
 * member changed in the very second of the bound, the bound is known to be inclusive: that page
 * is asked for again with `offset` past that second's members as well, and later bounds skip
 * them too (otherwise a whole second's members, thousands after a bulk load, are read twice). As with any offset
 * paging, a member of the boundary seconds changing during the walk can shift a neighbour past
 * the offset: a member seen again in a later second than the walk first read it in shows that,
 * and the walk's last cursor then has the next pull walk again from that member's old second.
 * https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
 */
import type { PullPage } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { MailchimpApi } from './api.js';
import type { MailchimpCursor } from './config.js';
import { mailchimpDate } from './mapping.js';
import { toRecord, type Member } from './read.js';

interface MembersPage {
  members?: Member[];
  total_items?: number;
}

/** Mailchimp's `since_last_changed` format: ISO 8601 with seconds and an offset. */
function apiInstant(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/** When a member last changed (ms), or undefined when Mailchimp says "". */
function changedAt(m: Member): number | undefined {
  const iso = mailchimpDate(m.last_changed);
  return iso === undefined ? undefined : Date.parse(iso);
}

/** What the instance learned of `since_last_changed`: whether a member changed in the bound's own second is in the answer. */
export interface SinceBound {
  inclusive: boolean;
}

const secondOf = (ms: number | undefined): number => Math.floor((ms ?? 0) / 1000) * 1000;

export async function* pullMembers(
  api: MailchimpApi,
  cursor: MailchimpCursor | undefined,
  signal: AbortSignal,
  now: () => number = Date.now,
  bound: SinceBound = { inclusive: false },
): AsyncGenerator<PullPage<MailchimpCursor>> {
  const { config } = api;
  // A finished walk starts again a look-back behind; an interrupted one resumes where it stopped.
  let since: number | undefined =
    cursor?.since === undefined ? undefined : Date.parse(cursor.since) - (cursor.complete ? config.lookBackMs : 0);
  let offset = cursor === undefined || cursor.complete ? 0 : cursor.offset;
  let first = true;
  /** The members read in this walk by second of `last_changed` (the last two seconds are kept; a re-read counts once). */
  const read = new Map<number, Set<string>>();
  /** The second each member was first read in, this walk: one seen again in a later second changed during the walk. */
  const firstRead = new Map<string, number>();
  /** The earliest such second: the offsets counted the member there, so a neighbour may have been passed over. */
  let rewalkFrom: number | undefined;
  for (;;) {
    const res = await api.request<MembersPage>('GET', `/lists/${encodeURIComponent(config.listId)}/members`, {
      params: {
        count: config.pageSize,
        offset,
        sort_field: 'last_changed',
        sort_dir: 'ASC',
        exclude_fields: 'members._links,_links',
        ...(since === undefined ? {} : { since_last_changed: apiInstant(since) }),
      },
      signal,
    });
    if (!res.data || !Array.isArray(res.data.members)) throw new MalformedPayloadError('GET /lists/{id}/members answered without members');
    // Sorted here as well: the order of a page is the one thing the cursor relies on.
    const members = [...res.data.members].sort((a, b) => (changedAt(a) ?? 0) - (changedAt(b) ?? 0));
    const last = members.length > 0 ? changedAt(members[members.length - 1] as Member) : undefined;
    const done = members.length < config.pageSize;
    if (since !== undefined && !bound.inclusive && members.some((m) => secondOf(changedAt(m)) === secondOf(since))) {
      // The bound turns out inclusive: this answer starts with the bound second's members, read
      // already, and the offset did not skip them. Ask again past them rather than read them twice.
      bound.inclusive = true;
      offset = (read.get(since)?.size ?? 0) + (read.get(since + 1000)?.size ?? 0);
      continue;
    }
    for (const m of members) {
      const second = secondOf(changedAt(m));
      const before = firstRead.get(m.contact_id);
      if (before === undefined) firstRead.set(m.contact_id, second);
      else if (before < second) rewalkFrom = Math.min(rewalkFrom ?? before, before);
      const ids = read.get(second) ?? new Set<string>();
      ids.add(m.contact_id);
      read.set(second, ids);
    }
    if (last !== undefined) {
      const lastSecond = secondOf(last);
      const next = lastSecond - 1000;
      if (since !== undefined && next <= since) offset += members.length;
      else {
        // Every member of those seconds read so far comes first in the answer from the new bound.
        since = next;
        offset = (read.get(lastSecond)?.size ?? 0) + (bound.inclusive ? (read.get(next)?.size ?? 0) : 0);
      }
      for (const second of read.keys()) if (second < next) read.delete(second);
    } else offset += members.length;
    // Nothing changed since a finished walk: nothing to save either.
    if (members.length === 0 && first && (cursor === undefined || cursor.complete)) return;
    first = false;
    // A member that moved on during the walk: the next pull walks again from its old second.
    const next: MailchimpCursor =
      done && rewalkFrom !== undefined
        ? { since: new Date(rewalkFrom - 1000).toISOString(), offset: 0, complete: false }
        : {
            ...(since === undefined ? {} : { since: new Date(since).toISOString() }),
            offset: done ? 0 : offset,
            complete: done,
          };
    yield { records: members.map((m) => toRecord(m, now)), cursor: next };
    if (done) return;
  }
}

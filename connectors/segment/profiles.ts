/**
 * Reading Segment: Unify's Profile API reads one profile per call and lists none, so a pull
 * walks the profiles the hub knows (`ConnectorContext.knownRecords`), `profilesPerPull` at a
 * time, and reads each one's traits; `read` and `export` read named profiles (export by e-mail
 * through the `email:` identifier, with the profile's external ids).
 * https://segment.com/docs/unify/profile-api/
 *
 * The Profile API keeps no time per trait and none per profile that a read returns, so a record
 * read is stamped with the time the read began: a value the hub has not seen changed at the
 * latest then. (A value it has seen is no news, whatever the stamp.)
 */
import type { EraseRef, ExternalRecord, KnownRecord, PullPage } from '../../src/connector/define.js';
import type { Json } from '../../src/profile/schema.js';
import { profileIdentifier, type SegmentApi } from './api.js';
import type { SegmentCursor } from './config.js';

/** Profiles read per pull page (and asked of the hub at once). */
const PAGE = 100;
/** The field an exported record lists the profile's external ids in (`type:id`). */
export const EXTERNAL_IDS_FIELD = 'external_ids';

/** A profile's traits as record fields (JSON values only). */
function toFields(traits: Record<string, unknown>): Record<string, Json> {
  return JSON.parse(JSON.stringify(traits)) as Record<string, Json>;
}

/** Reads one profile by user id; undefined when Segment holds none. */
export async function readProfile(api: SegmentApi, userId: string, signal: AbortSignal, now: () => number): Promise<ExternalRecord | undefined> {
  const at = new Date(now()).toISOString();
  const traits = await api.traits(profileIdentifier('user_id', userId), [], signal);
  return traits === undefined ? undefined : { externalId: userId, at, fields: toFields(traits) };
}

/** Reads named profiles, one call each (in order); unknown ids are left out. */
export async function readProfiles(api: SegmentApi, userIds: readonly string[], signal: AbortSignal, now: () => number): Promise<ExternalRecord[]> {
  if (!api.hasProfiles) return [];
  const records: ExternalRecord[] = [];
  for (const userId of new Set(userIds)) {
    const record = await readProfile(api, userId, signal, now);
    if (record) records.push(record);
  }
  return records;
}

/**
 * A pull: the next `profilesPerPull` profiles the hub knows, a page of `PAGE` at a time, from
 * the cursor; the walk's end saves an empty cursor, so the next pull starts over.
 */
export async function* pullProfiles(
  api: SegmentApi,
  known: ((page: { after?: string; limit: number }) => Promise<KnownRecord[]>) | undefined,
  cursor: SegmentCursor | undefined,
  profilesPerPull: number,
  signal: AbortSignal,
  now: () => number,
): AsyncGenerator<PullPage<SegmentCursor>> {
  if (!api.hasProfiles || known === undefined) return;
  let after = cursor?.after;
  let read = 0;
  while (read < profilesPerPull) {
    const page = await known({ ...(after === undefined ? {} : { after }), limit: Math.min(PAGE, profilesPerPull - read) });
    if (page.length === 0) {
      // The walk is over: the next pull starts from the first profile again.
      if (after !== undefined) yield { records: [], cursor: {} };
      return;
    }
    const records = await readProfiles(
      api,
      page.map((k) => k.externalId),
      signal,
      now,
    );
    read += page.length;
    after = page.at(-1)?.key;
    yield { records, cursor: after === undefined ? {} : { after } };
  }
}

/** The user ids of the profile holding this e-mail address (none when Segment holds none). */
export async function userIdsByEmail(api: SegmentApi, email: string, signal: AbortSignal): Promise<string[]> {
  const ids = await api.externalIds(profileIdentifier('email', email), signal);
  return (ids ?? []).filter((e) => e.type === 'user_id').map((e) => e.id);
}

/** What Segment holds on each person: the profile's traits and its external ids (`type:id`). */
export async function exportProfiles(api: SegmentApi, refs: readonly EraseRef[], signal: AbortSignal, now: () => number): Promise<ExternalRecord[]> {
  const userIds: string[] = [];
  for (const ref of refs) {
    if (ref.externalId !== undefined) userIds.push(ref.externalId);
    else if (ref.email !== undefined) userIds.push(...(await userIdsByEmail(api, ref.email, signal)));
  }
  const records: ExternalRecord[] = [];
  for (const userId of new Set(userIds)) {
    const record = await readProfile(api, userId, signal, now);
    if (!record) continue;
    const ids = (await api.externalIds(profileIdentifier('user_id', userId), signal)) ?? [];
    records.push({ ...record, fields: { ...record.fields, [EXTERNAL_IDS_FIELD]: ids.map((e) => `${e.type}:${e.id}`) } });
  }
  return records;
}

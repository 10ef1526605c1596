/**
 * Reading Segment: Unify's Profile API reads one profile per call and lists none, so a pull
 * walks the profiles the hub knows (`ConnectorContext.knownRecords`), `profilesPerPull` at a
 * time, and reads each one's traits; `read` and `export` read named profiles (export by e-mail
 * through the `email:` identifier, with the profile's external ids as related).
 * https://segment.com/docs/unify/profile-api/
 *
 * Traits are read verbose (`verbose=true`), each with the time it was last set: a record's fields
 * carry those times (`fieldsAt`) and the record the latest of them.
 */
import type { EraseRef, ExportedRecord, ExternalRecord, KnownRecord, PullPage } from '../../src/connector/define.js';
import { nonEmpty, nonEmptyFields } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import { profileIdentifier, type SegmentApi, type Trait } from './api.js';
import type { SegmentCursor } from './config.js';

/** Profiles read per pull page (and asked of the hub at once). */
const PAGE = 100;

/**
 * A profile as a record: its traits as fields (JSON values only), each stamped with the time it
 * was last set, and the record with the latest of them (the read's start when none has one).
 */
export function toRecord(userId: string, traits: Record<string, Trait>, readAt: string): ExternalRecord {
  const fields: Record<string, Json> = {};
  const fieldsAt: Record<string, string> = {};
  for (const [name, trait] of Object.entries(traits)) {
    if (trait.value === undefined) continue;
    fields[name] = JSON.parse(JSON.stringify(trait.value)) as Json;
    if (trait.updatedAt !== undefined) fieldsAt[name] = trait.updatedAt;
  }
  const stamps = Object.values(fieldsAt).sort();
  return { externalId: userId, at: stamps.at(-1) ?? readAt, fields, ...(stamps.length > 0 ? { fieldsAt } : {}) };
}

/** Reads one profile by user id; undefined when Segment holds none. */
export async function readProfile(
  api: SegmentApi,
  userId: string,
  signal: AbortSignal,
  now: () => number,
): Promise<ExternalRecord | undefined> {
  const readAt = new Date(now()).toISOString();
  const traits = await api.traits(profileIdentifier('user_id', userId), [], signal);
  return traits === undefined ? undefined : toRecord(userId, traits, readAt);
}

/** Reads named profiles, one call each (in order); unknown ids are left out. */
export async function readProfiles(
  api: SegmentApi,
  userIds: readonly string[],
  signal: AbortSignal,
  now: () => number,
): Promise<ExternalRecord[]> {
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

/** The user ids of the profile an identifier (`user_id`, `email` or a custom one) names, every one identity resolution merged into it (none when Segment holds none). */
export async function userIdsOf(api: SegmentApi, kind: string, value: string, signal: AbortSignal): Promise<string[]> {
  const ids = await api.externalIds(profileIdentifier(kind, value), signal);
  return (ids ?? []).filter((e) => e.type === 'user_id').map((e) => e.id);
}

/**
 * What Segment holds on each person (access requests): every trait with a value, in Segment's
 * names, and beside it (`related.externalIds`) the profile's external ids as the Profile API
 * answers them (user_id, email, anonymous_id... with when each was first seen). Traits have no
 * labels in Segment.
 */
export async function exportProfiles(
  api: SegmentApi,
  refs: readonly EraseRef[],
  signal: AbortSignal,
  now: () => number,
): Promise<ExportedRecord[]> {
  const userIds: string[] = [];
  for (const ref of refs) {
    if (ref.externalId !== undefined) userIds.push(ref.externalId);
    else if (ref.email !== undefined) userIds.push(...(await userIdsOf(api, 'email', ref.email, signal)));
  }
  const records: ExportedRecord[] = [];
  for (const userId of new Set(userIds)) {
    const record = await readProfile(api, userId, signal, now);
    if (!record) continue;
    const ids = nonEmpty((await api.externalIds(profileIdentifier('user_id', userId), signal)) ?? []);
    records.push({
      externalId: record.externalId,
      at: record.at,
      fields: nonEmptyFields(record.fields),
      ...(ids === undefined ? {} : { related: { externalIds: ids } }),
    });
  }
  return records;
}

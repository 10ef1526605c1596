/**
 * The order of a source record's versions across ingest batches and hub processes. Webhooks of
 * one record can be ingested out of order: two worker processes each take one (the in-process
 * `inOrder` chain only orders one process's), or the system delivered them so. A field a record
 * leaves as the shadow holds is not news and never reaches the profile, so the newer record
 * does not stamp it: an older record ingested after it would then bring back the value the
 * newer one replaced, stamped later than the profile's, and win the merge (and be pushed alone
 * to every other system). For a record whose system numbers its versions
 * (`ExternalRecord.version`), this keeps per field, for a while, the newest version ingested
 * that carried it; a field of an older version is dropped before it is assessed. Versions, not
 * times: a change may be stamped earlier than the record's last one (a backdated edit, a
 * transaction that committed late) and still be the newer version.
 */
import type { Json } from '../../profile/schema.js';
import type { RedisClient } from '../../queue/redis-client.js';
import { mgetByTag } from '../../queue/mget-by-tag.js';

/** Field -> the newest version of the record ingested that carried it. */
export type FieldMarks = Record<string, number>;

export class RecordOrder {
  constructor(
    private readonly redis: RedisClient,
    /** The Redis key of one external record's marks. */
    private readonly keyOf: (instance: string, externalId: string) => string,
    /** How long a record's marks are kept after its last version was ingested (ms). */
    private readonly retentionMs: number,
  ) {}

  /** The marks of each record (`{}` when none is kept), in order. */
  async load(refs: readonly { connector: string; externalId: string }[]): Promise<FieldMarks[]> {
    if (refs.length === 0) return [];
    const raw = await mgetByTag(
      this.redis,
      refs.map((r) => ({ key: this.keyOf(r.connector, r.externalId), tag: r.connector })),
    );
    return raw.map((value) => parseMarks(value));
  }

  /** Stores the marks of records just ingested (merged with what was loaded, see `dropStale`). */
  async save(entries: readonly { connector: string; externalId: string; marks: FieldMarks }[]): Promise<void> {
    await Promise.all(
      entries.map((e) => this.redis.set(this.keyOf(e.connector, e.externalId), JSON.stringify(e.marks), 'PX', this.retentionMs)),
    );
  }
}

function parseMarks(value: string | null): FieldMarks {
  if (value === null) return {};
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const marks: FieldMarks = {};
    for (const [field, at] of Object.entries(parsed)) if (typeof at === 'number') marks[field] = at;
    return marks;
  } catch {
    return {};
  }
}

/**
 * Splits a version's observed fields into those no newer version of the record carried (kept)
 * and the others (stale), and advances `marks` (in place) to this version for the kept fields.
 * The same version read again (a pull after its webhook, a webhook delivered twice) is judged
 * as before; a record without a version is never stale.
 */
export function dropStale(
  observed: Readonly<Record<string, Json>>,
  marks: FieldMarks,
  version: number | undefined,
): { fresh: Record<string, Json>; stale: string[] } {
  if (version === undefined || !Number.isFinite(version)) return { fresh: { ...observed }, stale: [] };
  const fresh: Record<string, Json> = {};
  const stale: string[] = [];
  for (const [field, value] of Object.entries(observed)) {
    const newest = marks[field];
    if (newest !== undefined && version < newest) {
      stale.push(field);
      continue;
    }
    fresh[field] = value;
    marks[field] = version;
  }
  return { fresh, stale };
}

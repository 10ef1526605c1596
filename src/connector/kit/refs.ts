/**
 * Erase and export requests name a person by the system's record id when the hub knows it,
 * else by e-mail. A connector looks records up both ways and merges what it found.
 */
import type { EraseRef } from '../define.js';

/** The record ids to read, and the e-mails to look up for refs without an id. */
export function splitRefs(refs: readonly EraseRef[]): { ids: string[]; emails: string[] } {
  return {
    ids: refs.flatMap((r) => (r.externalId ? [r.externalId] : [])),
    emails: refs.flatMap((r) => (!r.externalId && r.email ? [r.email] : [])),
  };
}

/** The records of several lookups, each once (the first found wins), in the order found. */
export function uniqueBy<T>(lists: readonly (readonly T[])[], keyOf: (item: T) => string): T[] {
  const out = new Map<string, T>();
  for (const list of lists) for (const item of list) if (!out.has(keyOf(item))) out.set(keyOf(item), item);
  return [...out.values()];
}

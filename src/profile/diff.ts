/** What differs between two versions of a profile, as a list of `Change`s. Pure. */
import { getOwn, identityKey, jsonEqual, stateOf } from './order.js';
import type { Change, ConsentSlot, Instant, Profile, SourceId, Stamped } from './schema.js';
import { ObjectionKind } from './schema.js';

/** Who made the changes being listed, when known (merge passes the patch's source and effective `at`). */
export interface ChangeStamp {
  at: Instant;
  source: SourceId;
}

const EPOCH: ChangeStamp = { at: '1970-01-01T00:00:00.000Z', source: 'hub' };

/**
 * Lists the fields that differ between `a` (before) and `b` (after), in a fixed order:
 * identities, attributes, consents, subscriptions, rights, each sorted by path.
 *
 * Each change carries `by` when given. Otherwise it carries the stamp of the field's value
 * in `b` (or in `a` if `b` lacks it).
 */
export function diff(a: Profile, b: Profile, by?: ChangeStamp): Change[] {
  const changes: Change[] = [];
  const stampOf = (x: ChangeStamp | undefined, y: ChangeStamp | undefined): ChangeStamp => {
    const s = by ?? y ?? x ?? EPOCH;
    return { at: s.at, source: s.source };
  };

  const before = new Map(a.identities.map((identity) => [identityKey(identity), identity]));
  const after = new Map(b.identities.map((identity) => [identityKey(identity), identity]));
  for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const from = before.get(key);
    const to = after.get(key);
    if (same(from, to)) continue;
    changes.push({ kind: 'identity', path: key, from, to, ...stampOf(from, to) });
  }

  for (const [path, x, y] of pairs(a.attributes, b.attributes)) {
    if (same(x, y)) continue;
    changes.push({ kind: 'attribute', path, from: x?.value, to: y?.value, ...stampOf(x, y) });
  }

  for (const purpose of keys(a.consents, b.consents)) {
    const xs = getOwn(a.consents, purpose) ?? {};
    const ys = getOwn(b.consents, purpose) ?? {};
    for (const [channel, x, y] of pairs(xs, ys)) {
      if (same(x, y)) continue;
      const change: Change = {
        kind: 'consent',
        path: `${purpose}.${channel}`,
        from: x && stateOf(x),
        to: y && stateOf(y),
        ...stampOf(x, y),
      };
      const reported = by && reportedChange(x, y, by.source);
      if (reported !== undefined) change.reported = reported;
      changes.push(change);
    }
  }

  for (const [topic, x, y] of pairs(a.subscriptions, b.subscriptions)) {
    if (same(x, y)) continue;
    changes.push({ kind: 'subscription', path: topic, from: x?.value, to: y?.value, ...stampOf(x, y) });
  }

  type RightPair = [string, Stamped<boolean> | undefined, Stamped<boolean> | undefined];
  const rights: RightPair[] = [
    ['restricted', a.rights.restricted, b.rights.restricted],
    ...ObjectionKind.options.map((kind): RightPair => [`objections.${kind}`, a.rights.objections[kind], b.rights.objections[kind]]),
  ];
  for (const [path, x, y] of rights) {
    if (same(x, y)) continue;
    changes.push({ kind: 'right', path, from: x?.value, to: y?.value, ...stampOf(x, y) });
  }
  return changes;
}

/** The source's own report in a most-restrictive slot, when it is what changed. */
function reportedChange(x: ConsentSlot | undefined, y: ConsentSlot | undefined, source: SourceId) {
  const now = y?.bySource && getOwn(y.bySource, source);
  if (now === undefined) return undefined;
  return same(x?.bySource && getOwn(x.bySource, source), now) ? undefined : now;
}

function same(x: unknown, y: unknown): boolean {
  return jsonEqual(x, y);
}

function keys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function pairs<V>(a: Record<string, V>, b: Record<string, V>): [string, V | undefined, V | undefined][] {
  return keys(a, b).map((key) => [key, getOwn(a, key), getOwn(b, key)]);
}

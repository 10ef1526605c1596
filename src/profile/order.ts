/**
 * The total orders that make merge a join: every register keeps the greatest value it has
 * seen, and "greatest" is decided without looking at arrival order. Pure.
 */
import type { ConsentSlot, ConsentState, Identity, Json, MergePolicy, ProfileIdentity, Stamped } from './schema.js';
import { UNSTAMPED } from './schema.js';

/**
 * Sets an own property, also when the key is `__proto__` (which plain assignment would turn
 * into a prototype change). Keys come from outside (attribute paths, purposes, JSON values).
 */
export function setOwn<V>(target: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** The own property `key` of `target`, never an inherited one. */
export function getOwn<V>(target: Record<string, V>, key: string): V | undefined {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/** JSON with object keys sorted, so equal values have one spelling. `-0` becomes `0`. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : canonicalize(item)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) setOwn(out, key, canonicalize(item));
    }
    return out;
  }
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  return value;
}

export interface JsonEqualOptions {
  /**
   * `absent`: a member whose value is `undefined` is no member at all, as in JSON text.
   * `distinct`: it is a member of its own, so `{a: 1, b: undefined}` differs from `{a: 1}`
   * (the connector layer's contract, see `connector/mapping.ts`).
   * @defaultValue 'absent'
   */
  undefinedMembers?: 'absent' | 'distinct';
}

/**
 * The hub's one deep equality of JSON values: two values are equal when the store, which keeps
 * JSON, could not tell them apart. So object key order does not matter; `-0` is `0`; `NaN` and
 * `±Infinity` are `null` (as `JSON.stringify` writes them), so `NaN` equals `NaN` and `null`;
 * an `undefined` array item is `null`; an `undefined` member is absent (unless `options` says
 * otherwise); a top-level `undefined` equals only `undefined`. Agrees with `canonicalJson`.
 */
export function jsonEqual(a: unknown, b: unknown, options: JsonEqualOptions = {}): boolean {
  return equalJson(a, b, options.undefinedMembers === 'distinct');
}

/** A number as JSON text holds it: non-finite numbers are `null`, `-0` is `0`. */
function asJsonNumber(value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value)) return null;
  return Object.is(value, -0) ? 0 : value;
}

function equalJson(left: unknown, right: unknown, undefinedIsMember: boolean): boolean {
  const a = asJsonNumber(left);
  const b = asJsonNumber(right);
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item: unknown, i) => equalJson(item ?? null, b[i] ?? null, undefinedIsMember));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const xKeys = Object.keys(x).filter((k) => undefinedIsMember || x[k] !== undefined);
  const yKeys = Object.keys(y).filter((k) => undefinedIsMember || y[k] !== undefined);
  return xKeys.length === yKeys.length && xKeys.every((k) => Object.hasOwn(y, k) && equalJson(x[k], y[k], undefinedIsMember));
}

/** A deep copy of a JSON value in canonical form (sorted keys, no `-0`, no `undefined`). */
export function canonicalCopy<T>(value: T): T {
  return JSON.parse(canonicalJson(value)) as T;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two instants by time; distinct spellings of one instant, and unparseable strings
 * (which zod rejects upstream), fall back to string order so the order stays total.
 */
export function compareInstants(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta < tb ? -1 : 1;
  return compareStrings(a, b);
}

export function priorityOf(policy: MergePolicy, source: string): number {
  return getOwn(policy.priorities, source) ?? 0;
}

/** `(at, source priority, source id)`: the order of every last-writer-wins register. */
export function compareStamps(a: { at: string; source: string }, b: { at: string; source: string }, policy: MergePolicy): number {
  return compareInstants(a.at, b.at) || priorityOf(policy, a.source) - priorityOf(policy, b.source) || compareStrings(a.source, b.source);
}

/**
 * Which value wins when two registers share `(at, priority, source)`: needed so the order is
 * total even when one source reports two values for the same instant.
 */
export type ValueTieBreak<T> = (a: T, b: T) => number;

/** Generic JSON values: the greater canonical spelling wins (arbitrary but fixed). */
export const jsonTieBreak: ValueTieBreak<Json> = (a, b) => compareStrings(canonicalJson(a), canonicalJson(b));
/** Subscriptions: unsubscribing (false) wins a full tie. */
export const falseWins: ValueTieBreak<boolean> = (a, b) => (a === b ? 0 : a ? -1 : 1);
/** Restriction and objections: the protective value (true) wins a full tie. */
export const trueWins: ValueTieBreak<boolean> = (a, b) => (a === b ? 0 : a ? 1 : -1);

export function compareStamped<T>(a: Stamped<T>, b: Stamped<T>, policy: MergePolicy, tie: ValueTieBreak<T>): number {
  return compareStamps(a, b, policy) || tie(a.value, b.value);
}

/** The greater of two registers; `undefined` is the bottom. */
export function maxStamped<T>(
  a: Stamped<T> | undefined,
  b: Stamped<T> | undefined,
  policy: MergePolicy,
  tie: ValueTieBreak<T>,
): Stamped<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareStamped(b, a, policy, tie) > 0 ? b : a;
}

/** The consent state of a slot, without the per-source states. */
export function stateOf(slot: ConsentSlot | ConsentState): ConsentState {
  const { bySource: _bySource, ...state } = slot as ConsentSlot;
  return state;
}

/**
 * Consent order: the latest action wins; on an exact `at` tie denied wins, then source
 * priority, then source id, then the rest of the state (legal basis, evidence, expiry).
 */
export function compareConsents(a: ConsentState, b: ConsentState, policy: MergePolicy): number {
  return (
    compareInstants(a.at, b.at) ||
    statusRank(a.value) - statusRank(b.value) ||
    priorityOf(policy, a.source) - priorityOf(policy, b.source) ||
    compareStrings(a.source, b.source) ||
    compareStrings(canonicalJson(stateOf(a)), canonicalJson(stateOf(b)))
  );
}

function statusRank(status: ConsentState['value']): number {
  return status === 'denied' ? 1 : 0;
}

export function maxConsent<S extends ConsentState>(a: S | undefined, b: S | undefined, policy: MergePolicy): S | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareConsents(b, a, policy) > 0 ? b : a;
}

/** Stable key of an identity: `kind:value`, or `kind:system:value` when namespaced. */
export function identityKey(identity: Identity): string {
  return identity.system === undefined ? `${identity.kind}:${identity.value}` : `${identity.kind}:${identity.system}:${identity.value}`;
}

/** Deterministic identity order: kind, then system (none first), then value. */
export function compareIdentities(a: Identity, b: Identity): number {
  return (
    compareStrings(a.kind, b.kind) ||
    compareStrings(a.system ?? '', b.system ?? '') ||
    (a.system === undefined ? 0 : 1) - (b.system === undefined ? 0 : 1) ||
    compareStrings(a.value, b.value)
  );
}

/** A profile identity: the identity's keys in canonical order (no `system: undefined`) and the stamp. */
export function stampIdentity(identity: Identity, stamp: { at: string; source: string }): ProfileIdentity {
  return identity.system === undefined
    ? { kind: identity.kind, value: identity.value, at: stamp.at, source: stamp.source }
    : { kind: identity.kind, value: identity.value, system: identity.system, at: stamp.at, source: stamp.source };
}

/** 0 for the `UNSTAMPED` stamp, 1 for a real one. */
function stamped(identity: ProfileIdentity): number {
  return identity.at === UNSTAMPED.at && identity.source === UNSTAMPED.source ? 0 : 1;
}

/**
 * Which of two identities is newer: `UNSTAMPED` below everything (a lookup key never moves a
 * stamp, whatever the source priorities), then `(at, source priority, source id)` like every
 * register, then the smaller value (and system) wins a full tie, so profiles stored before
 * identities had stamps keep the primary they had (the first of its kind in
 * `compareIdentities` order).
 */
export function compareIdentityStamps(a: ProfileIdentity, b: ProfileIdentity, policy: MergePolicy): number {
  return (
    stamped(a) - stamped(b) ||
    compareStamps(a, b, policy) ||
    compareStrings(b.value, a.value) ||
    compareStrings(b.system ?? '', a.system ?? '')
  );
}

/**
 * Set union of identities, sorted deterministically; an identity in both keeps the greater
 * stamp (the latest time a source set it), so the union is a join like the other registers.
 */
export function unionIdentities(a: readonly ProfileIdentity[], b: readonly ProfileIdentity[], policy: MergePolicy): ProfileIdentity[] {
  const byKey = new Map<string, ProfileIdentity>();
  for (const identity of [...a, ...b]) {
    const key = identityKey(identity);
    const held = byKey.get(key);
    if (held === undefined || compareIdentityStamps(identity, held, policy) > 0) byKey.set(key, stampIdentity(identity, identity));
  }
  return [...byKey.values()].sort(compareIdentities);
}

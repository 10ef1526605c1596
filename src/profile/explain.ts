/**
 * Why each part of a patch won or lost against the profile it was merged into: the
 * explanation behind a value (`GET /api/v1/profiles/{id}/history`). It replays merge's own
 * orders (`order.ts`) on the registers the patch brought and the ones the profile held, so it
 * says exactly what merge decided and on which key of the order. Pure.
 */
import { z } from 'zod';
import { effectiveAt, patchAsProfile, purposeRule } from './merge.js';
import {
  compareConsents,
  compareInstants,
  falseWins,
  getOwn,
  identityKey,
  jsonEqual,
  jsonTieBreak,
  priorityOf,
  stateOf,
  trueWins,
} from './order.js';
import type { ValueTieBreak } from './order.js';
import { Instant, Json, SourceId, UNSTAMPED } from './schema.js';
import type { ConsentSlot, ConsentState, MergePolicy, MergeResult, Profile, ProfilePatch, Stamped } from './schema.js';

/**
 * Why a value won or lost, named after the key of merge's order that decided it:
 * - `new`: the profile had no value there yet;
 * - `newer` / `older_than_current`: the source's time (`at`, clamped to receipt + skew) decided;
 * - `higher_priority` / `lower_priority`: the same instant, and the source priorities decided;
 * - `denied_wins_tie` / `granted_loses_tie`: a consent at the same instant, where a denial wins;
 * - `tie_break`: same instant and priority; the source id, then the value decided (a fixed,
 *   arbitrary but total order: unsubscribing and the protective right win, see `order.ts`);
 * - `outvoted`: a `most-restrictive` purpose, where the source's report was recorded but
 *   another authority's denial stands;
 * - `not_authority` / `unknown_purpose`: lost on a rule, whatever the time.
 */
export const HistoryReason = z.enum([
  'new',
  'newer',
  'higher_priority',
  'denied_wins_tie',
  'tie_break',
  'older_than_current',
  'lower_priority',
  'granted_loses_tie',
  'outvoted',
  'not_authority',
  'unknown_purpose',
]);
export type HistoryReason = z.infer<typeof HistoryReason>;

export const HistoryOutcome = z.enum(['won', 'lost']);
export type HistoryOutcome = z.infer<typeof HistoryOutcome>;

export const HistoryKind = z.enum(['identity', 'attribute', 'consent', 'subscription', 'right']);
export type HistoryKind = z.infer<typeof HistoryKind>;

/** A value with the source and time it was set at (a consent's value is its status). */
export const StampedValue = z.object({ value: Json, at: Instant, source: SourceId });
export type StampedValue = z.infer<typeof StampedValue>;

/** One slot of one patch: what the source said, what the profile held, and who won and why. */
export const Verdict = z.object({
  kind: HistoryKind,
  /** As in `Change.path`: `firstName`, `email:a@b.c`, `marketing.email`, `newsletter`, `objections.profiling`. */
  path: z.string(),
  outcome: HistoryOutcome,
  reason: HistoryReason,
  /** What the source said, with its (effective) time. */
  offered: StampedValue,
  /** What the profile held when the change arrived (replaced when it won, kept when it lost); null when nothing. */
  previous: StampedValue.nullable(),
});
export type Verdict = z.infer<typeof Verdict>;

type Decided = { outcome: HistoryOutcome; reason: HistoryReason } | undefined;

function decided(sign: number, won: HistoryReason, lost: HistoryReason): Decided {
  return sign === 0 ? undefined : sign > 0 ? { outcome: 'won', reason: won } : { outcome: 'lost', reason: lost };
}

/** Which key of `(at, priority, source id, value)` decided; undefined when the registers are equal. */
function decideStamped<T>(offered: Stamped<T>, held: Stamped<T>, policy: MergePolicy, tie: ValueTieBreak<T>): Decided {
  return (
    decided(compareInstants(offered.at, held.at), 'newer', 'older_than_current') ??
    decided(priorityOf(policy, offered.source) - priorityOf(policy, held.source), 'higher_priority', 'lower_priority') ??
    decided(offered.source < held.source ? -1 : offered.source > held.source ? 1 : tie(offered.value, held.value), 'tie_break', 'tie_break')
  );
}

function decideConsent(offered: ConsentState, held: ConsentState, policy: MergePolicy): Decided {
  const byTime = decided(compareInstants(offered.at, held.at), 'newer', 'older_than_current');
  if (byTime) return byTime;
  if (offered.value !== held.value) return decided(offered.value === 'denied' ? 1 : -1, 'denied_wins_tie', 'granted_loses_tie');
  const byPriority = decided(priorityOf(policy, offered.source) - priorityOf(policy, held.source), 'higher_priority', 'lower_priority');
  return byPriority ?? decided(compareConsents(offered, held, policy), 'tie_break', 'tie_break');
}

const stamped = (value: Json, s: { at: string; source: string }): StampedValue => ({ value, at: s.at, source: s.source });

/**
 * Whether a verdict tells something new: a won value that only moved the stamp of the same
 * source's same value (a re-send) is left out, and so is a full tie (a replay).
 */
function worthKeeping(v: Verdict): boolean {
  if (v.outcome === 'lost' || v.previous === null) return true;
  return !(jsonEqual(v.offered.value, v.previous.value) && v.offered.source === v.previous.source);
}

/**
 * What merge decided for each slot `patch` names, against `before` (the profile it was merged
 * into, after any identity-graph merge) with `result` (merge's result). Lookup identities
 * (which claim no time), full ties (replays) and re-sends by the same source of the same value
 * are left out: they change nothing and explain nothing.
 */
export function explainMerge(before: Profile, patch: ProfilePatch, policy: MergePolicy, result: MergeResult): Verdict[] {
  const offeredProfile = patchAsProfile(before.id, patch, policy).profile;
  const out: Verdict[] = [];
  const push = (base: Omit<Verdict, 'outcome' | 'reason'>, d: Decided): void => {
    if (d) out.push({ ...base, ...d });
  };

  const held = new Map(before.identities.map((identity) => [identityKey(identity), identity]));
  for (const identity of offeredProfile.identities) {
    if (identity.at === UNSTAMPED.at && identity.source === UNSTAMPED.source) continue;
    const key = identityKey(identity);
    const previous = held.get(key);
    const base = { kind: 'identity' as const, path: key, offered: stamped(identity.value, identity) };
    if (previous === undefined) push({ ...base, previous: null }, { outcome: 'won', reason: 'new' });
    else
      push(
        { ...base, previous: stamped(previous.value, previous) },
        decideStamped(identity, previous, policy, () => 0),
      );
  }

  const registers = <T extends Json>(
    kind: 'attribute' | 'subscription',
    offered: Record<string, Stamped<T>>,
    current: Record<string, Stamped<T>>,
    tie: ValueTieBreak<T>,
  ): void => {
    for (const [path, value] of Object.entries(offered)) {
      const previous = getOwn(current, path);
      const base = { kind, path, offered: stamped(value.value, value) };
      if (previous === undefined) push({ ...base, previous: null }, { outcome: 'won', reason: 'new' });
      else push({ ...base, previous: stamped(previous.value, previous) }, decideStamped(value, previous, policy, tie));
    }
  };
  registers('attribute', offeredProfile.attributes, before.attributes, jsonTieBreak);
  registers('subscription', offeredProfile.subscriptions, before.subscriptions, falseWins);

  const rights: [string, Stamped<boolean> | undefined][] = [
    ['restricted', offeredProfile.rights.restricted],
    ...Object.entries(offeredProfile.rights.objections).map(([kind, value]): [string, Stamped<boolean>] => [`objections.${kind}`, value]),
  ];
  for (const [path, value] of rights) {
    const previous = rightAt(before, path);
    if (value === undefined) continue;
    const base = { kind: 'right' as const, path, offered: stamped(value.value, value) };
    if (previous === undefined) push({ ...base, previous: null }, { outcome: 'won', reason: 'new' });
    else push({ ...base, previous: stamped(previous.value, previous) }, decideStamped(value, previous, policy, trueWins));
  }

  for (const [purpose, channels] of Object.entries(offeredProfile.consents)) {
    const mostRestrictive = purposeRule(policy, purpose)?.policy === 'most-restrictive';
    for (const [channel, slot] of Object.entries(channels)) {
      const offered = stateOf(slot);
      const current = getOwn(getOwn(before.consents, purpose) ?? {}, channel);
      const base = {
        kind: 'consent' as const,
        path: `${purpose}.${channel}`,
        offered: stamped(offered.value, offered),
        previous: current === undefined ? null : stamped(current.value, current),
      };
      // A most-restrictive slot keeps one report per source: the report competes with the source's own last one.
      const rival: ConsentSlot | undefined = mostRestrictive && current !== undefined ? reportOf(current, patch.source) : current;
      let d: Decided = rival === undefined ? { outcome: 'won', reason: 'new' } : decideConsent(offered, stateOf(rival), policy);
      if (mostRestrictive && d?.outcome === 'won') {
        const resolved = getOwn(getOwn(result.profile.consents, purpose) ?? {}, channel);
        if (resolved !== undefined && !jsonEqual(stateOf(resolved), offered)) d = { outcome: 'lost', reason: 'outvoted' };
      }
      push(base, d);
    }
  }

  for (const entry of result.ignored) {
    // A right is ignored only when a source that may not lift it reports it lifted (false).
    const value: Json = entry.state?.value ?? false;
    const at = entry.state?.at ?? effectiveAt(patch, policy.skewMs);
    const current = entry.kind === 'consent' ? consentAt(before, entry.path) : rightAt(before, entry.path);
    out.push({
      kind: entry.kind,
      path: entry.path,
      outcome: 'lost',
      reason: entry.reason,
      offered: { value, at, source: entry.source },
      previous: current === undefined ? null : stamped(current.value, current),
    });
  }
  return out.filter(worthKeeping);
}

function reportOf(slot: ConsentSlot, source: string): ConsentState | undefined {
  if (slot.bySource === undefined) return slot.source === source ? stateOf(slot) : undefined;
  return getOwn(slot.bySource, source);
}

function consentAt(profile: Profile, path: string): ConsentSlot | undefined {
  for (const [purpose, channels] of Object.entries(profile.consents)) {
    if (!path.startsWith(`${purpose}.`)) continue;
    const slot = getOwn(channels, path.slice(purpose.length + 1));
    if (slot !== undefined) return slot;
  }
  return undefined;
}

/** `restricted` or `objections.<kind>` of a profile. */
function rightAt(profile: Profile, path: string): Stamped<boolean> | undefined {
  if (path === 'restricted') return profile.rights.restricted;
  return path.startsWith('objections.') ? getOwn(profile.rights.objections, path.slice('objections.'.length)) : undefined;
}

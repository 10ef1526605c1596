/**
 * The merge of the living profile. Every field is a register that keeps the greatest value
 * it has seen under a total order (see `order.ts`), so a profile is a join-semilattice:
 * merging the same patches in any order, grouping or number of times gives the same profile.
 * Pure: no I/O, no clock, no randomness.
 */
import { diff } from './diff.js';
import {
  canonicalCopy,
  getOwn,
  setOwn,
  falseWins,
  jsonTieBreak,
  maxConsent,
  maxStamped,
  stampIdentity,
  stateOf,
  trueWins,
  unionIdentities,
} from './order.js';
import type {
  ConsentInput,
  ConsentSlot,
  ConsentState,
  Ignored,
  Instant,
  Json,
  MergePolicy,
  MergeResult,
  ObjectionKind,
  Profile,
  ProfilePatch,
  PurposePolicy,
  Rights,
  SourceId,
  Stamped,
} from './schema.js';
import { LegalBasis, ObjectionKind as ObjectionKinds, UNSTAMPED } from './schema.js';

export type { MergeResult } from './schema.js';

/** A profile with nothing known yet: version 0, no identities, empty maps. */
export function emptyProfile(id: string): Profile {
  return { id, identities: [], attributes: {}, consents: {}, subscriptions: {}, rights: { objections: {} }, version: 0 };
}

/**
 * The instant a patch's changes count as happening at: its `at`, unless that lies more than
 * `skewMs` after `receivedAt` (a source clock running ahead), in which case `receivedAt`.
 */
export function effectiveAt(patch: Pick<ProfilePatch, 'at' | 'receivedAt'>, skewMs: number): Instant {
  const at = Date.parse(patch.at);
  const receivedAt = Date.parse(patch.receivedAt);
  return at > receivedAt + skewMs ? patch.receivedAt : patch.at;
}

/** The rule that applies to consents for one purpose. */
export interface PurposeRule {
  policy: PurposePolicy;
  authorities?: SourceId[];
  defaultLegalBasis: LegalBasis;
  objection?: ObjectionKind;
}

const OPEN_PURPOSE: PurposeRule = { policy: 'latest', defaultLegalBasis: LegalBasis.enum.consent };

/**
 * The rule for `purpose`, or `undefined` when the purpose is unknown. When the policy
 * declares no purposes at all (no catalog configured), every purpose is accepted with
 * policy `latest`, any source as authority and legal basis `consent`; once a catalog
 * exists, consents for purposes outside it are ignored (`unknown_purpose`) rather than
 * silently creating purposes nobody declared.
 */
export function purposeRule(policy: MergePolicy, purpose: string): PurposeRule | undefined {
  if (Object.keys(policy.purposes).length === 0) return OPEN_PURPOSE;
  return getOwn(policy.purposes, purpose);
}

function isMostRestrictive(policy: MergePolicy, purpose: string): boolean {
  return purposeRule(policy, purpose)?.policy === 'most-restrictive';
}

/** The full consent state a patch's consent input stands for. */
function consentStateOf(input: ConsentInput, rule: PurposeRule, at: Instant, source: SourceId): ConsentState {
  const state: ConsentState = {
    value: input.status,
    at,
    source,
    legalBasis: input.legalBasis ?? rule.defaultLegalBasis,
    evidence: canonicalCopy(input.evidence ?? { method: source }),
  };
  if (input.expiresAt !== undefined) state.expiresAt = input.expiresAt;
  return state;
}

/**
 * The profile that holds exactly what the patch says (after the rules), plus what lost on a
 * rule, and the patch's effective time. Each register carries the stamp merge compares
 * (`explain.ts` reads them to say why each one won or lost).
 */
export function patchAsProfile(
  id: string,
  patch: ProfilePatch,
  policy: MergePolicy,
): { profile: Profile; ignored: Ignored[]; at: Instant } {
  const at = effectiveAt(patch, policy.skewMs);
  const source = patch.source;
  // A time the source gives one value apart (clamped like `at`), else the patch's.
  const ownAt = (own: Instant | undefined): Instant =>
    own === undefined ? at : effectiveAt({ at: own, receivedAt: patch.receivedAt }, policy.skewMs);
  const atOf = (slot: string): Instant => ownAt(patch.slotsAt === undefined ? undefined : getOwn(patch.slotsAt, slot));
  const stampAt = <T>(slot: string, value: T): Stamped<T> => ({ value, at: atOf(slot), source });
  const profile = emptyProfile(id);
  const ignored: Ignored[] = [];

  // A lookup key claims no time: it must not take over as primary by the patch's `at`. An
  // identity the source stamps apart (`PatchIdentity.at`) takes that time.
  const identities = patch.identities.map((identity) =>
    stampIdentity(identity, identity.lookup ? UNSTAMPED : { at: ownAt(identity.at), source }),
  );
  profile.identities = unionIdentities(identities, [], policy);
  for (const [path, value] of Object.entries(patch.attributes)) {
    setOwn(profile.attributes, path, stampAt(`attributes.${path}`, canonicalCopy(value)));
  }
  for (const [topic, value] of Object.entries(patch.subscriptions)) {
    setOwn(profile.subscriptions, topic, stampAt(`subscriptions.${topic}`, value));
  }
  // Only the rights authorities may lift a restriction or an objection; anyone may set one.
  const mayLift = policy.rightsAuthorities === undefined || policy.rightsAuthorities.includes(source);
  const restricted = patch.rights.restricted;
  if (restricted !== undefined) {
    if (restricted || mayLift) profile.rights.restricted = stampAt('rights.restricted', restricted);
    else ignored.push({ kind: 'right', path: 'restricted', reason: 'not_authority', source });
  }
  for (const kind of ObjectionKinds.options) {
    const value = patch.rights.objections[kind];
    if (value === undefined) continue;
    if (value || mayLift) profile.rights.objections[kind] = stampAt(`rights.objections.${kind}`, value);
    else ignored.push({ kind: 'right', path: `objections.${kind}`, reason: 'not_authority', source });
  }

  for (const [purpose, channels] of Object.entries(patch.consents)) {
    const rule = purposeRule(policy, purpose);
    for (const [channel, input] of Object.entries(channels)) {
      const path = `${purpose}.${channel}`;
      const state = consentStateOf(input, rule ?? OPEN_PURPOSE, atOf(`consents.${path}`), source);
      if (rule === undefined) {
        ignored.push({ kind: 'consent', path, reason: 'unknown_purpose', source, state });
        continue;
      }
      if (rule.authorities !== undefined && !rule.authorities.includes(source)) {
        ignored.push({ kind: 'consent', path, reason: 'not_authority', source, state });
        continue;
      }
      const slot: ConsentSlot = rule.policy === 'most-restrictive' ? { ...state, bySource: { [source]: state } } : state;
      let channelSlots = getOwn(profile.consents, purpose);
      if (channelSlots === undefined) setOwn(profile.consents, purpose, (channelSlots = {}));
      setOwn(channelSlots, channel, slot);
    }
  }
  return { profile, ignored, at };
}

function joinRecords<V>(
  a: Record<string, V>,
  b: Record<string, V>,
  join: (key: string, x: V | undefined, y: V | undefined) => V | undefined,
): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const value = join(key, getOwn(a, key), getOwn(b, key));
    if (value !== undefined) setOwn(out, key, value);
  }
  return out;
}

/** Each source's latest report of a most-restrictive slot (a slot without `bySource` counts as its own source's). */
function reportsOf(slot: ConsentSlot | undefined): Record<string, ConsentState> {
  if (slot === undefined) return {};
  return slot.bySource ?? { [slot.source]: stateOf(slot) };
}

/** Most-restrictive resolution: the latest denial if any source's latest report is a denial, else the latest grant. */
function resolveReports(reports: Record<string, ConsentState>, policy: MergePolicy): ConsentState | undefined {
  let latest: ConsentState | undefined;
  let latestDenied: ConsentState | undefined;
  for (const state of Object.values(reports)) {
    latest = maxConsent(latest, state, policy);
    if (state.value === 'denied') latestDenied = maxConsent(latestDenied, state, policy);
  }
  return latestDenied ?? latest;
}

function joinSlots(purpose: string, a: ConsentSlot | undefined, b: ConsentSlot | undefined, policy: MergePolicy): ConsentSlot | undefined {
  if (isMostRestrictive(policy, purpose)) {
    const bySource = joinRecords(reportsOf(a), reportsOf(b), (_source, x, y) => maxConsent(x, y, policy));
    const resolved = resolveReports(bySource, policy);
    return resolved === undefined ? undefined : { ...resolved, bySource };
  }
  const winner = maxConsent(a, b, policy);
  // Keep the winning object itself when possible: diff then sees it unchanged by reference.
  return winner?.bySource === undefined ? winner : stateOf(winner);
}

function joinRights(a: Rights, b: Rights, policy: MergePolicy): Rights {
  const rights: Rights = { objections: {} };
  const restricted = maxStamped(a.restricted, b.restricted, policy, trueWins);
  if (restricted !== undefined) rights.restricted = restricted;
  for (const kind of ObjectionKinds.options) {
    const objection = maxStamped(a.objections[kind], b.objections[kind], policy, trueWins);
    if (objection !== undefined) rights.objections[kind] = objection;
  }
  return rights;
}

/** The least upper bound of two profiles; keeps `a`'s id and version. */
function join(a: Profile, b: Profile, policy: MergePolicy): Profile {
  return {
    id: a.id,
    identities: unionIdentities(a.identities, b.identities, policy),
    attributes: joinRecords<Stamped<Json>>(a.attributes, b.attributes, (_path, x, y) => maxStamped(x, y, policy, jsonTieBreak)),
    consents: joinRecords(a.consents, b.consents, (purpose, x, y) => {
      const channels = joinRecords(x ?? {}, y ?? {}, (_channel, s, t) => joinSlots(purpose, s, t, policy));
      return Object.keys(channels).length === 0 ? undefined : channels;
    }),
    subscriptions: joinRecords<Stamped<boolean>>(a.subscriptions, b.subscriptions, (_topic, x, y) => maxStamped(x, y, policy, falseWins)),
    rights: joinRights(a.rights, b.rights, policy),
    version: a.version,
  };
}

/**
 * Merges one patch into a profile. Returns the new profile (version unchanged: the store
 * bumps it), the changes that actually changed something (empty for a duplicate or stale
 * patch) and the parts of the patch that lost on a rule (`ignored`), which are never applied.
 *
 * Rules: per-field last writer wins by `(at, source priority, source id)`; consent by the
 * latest action with denied winning an exact tie; `most-restrictive` purposes resolve to
 * denied while any source's latest report is a denial; only a purpose's authorities may
 * change it; identities are a set union where each identity keeps its latest stamp (the
 * primary one of a kind is the newest, see `identities.ts`; a `lookup` identity counts as
 * `UNSTAMPED`); `at` beyond `receivedAt + skewMs` is clamped to `receivedAt`.
 */
export function merge(profile: Profile, patch: ProfilePatch, policy: MergePolicy): MergeResult {
  const fromPatch = patchAsProfile(profile.id, patch, policy);
  const next = join(profile, fromPatch.profile, policy);
  const changes = diff(profile, next, { at: fromPatch.at, source: patch.source });
  return { profile: next, changes, ignored: fromPatch.ignored };
}

/**
 * Joins two profiles of the same person (identity-graph merge) under the same rules as
 * `merge`. The result keeps `into`'s id and version; everything else does not depend on
 * which profile is `into`. `changes` lists what changed in `into`.
 */
export function mergeProfiles(into: Profile, from: Profile, policy: MergePolicy): MergeResult {
  const next = join(into, from, policy);
  return { profile: next, changes: diff(into, next), ignored: [] };
}

/**
 * The mapping engine: turns an external record into a `ProfilePatch` (inbound: pull and
 * webhooks) and a canonical profile into external fields (outbound: push), as declared by a
 * connector's default mappings with the instance's YAML entries on top.
 *
 * Pure: no I/O, no clock (callers pass `receivedAt` and `now`), no randomness. A value that
 * cannot be converted never throws: the field is left out and a `MappingValueError` is
 * returned beside the result, so one bad date does not lose the rest of the record.
 *
 * Canonical values on the transform chain:
 * - `field` (attribute): the attribute's JSON value (`null` clears it);
 * - `consent`: a boolean, `true` = granted, `false` = denied (a `map` may use `granted` /
 *   `denied` as keys); outbound the value is `effectiveConsent` (restriction and objections
 *   applied, expiry checked when `now` is given);
 * - `topic` and `right`: a boolean;
 * - `identity`: the identity value (inbound e-mails are trimmed and lower-cased, phones
 *   normalized to E.164).
 * Inbound, boolean targets also accept the strings `"true"` / `"false"`; a `null` or a
 * missing external field changes nothing for consent, topic, right and identity targets.
 *
 * Consent only from an affirmative act: a withdraw-only consent entry (`withdrawOnly`, or an
 * external field the connector names in `withdrawOnlyFields`) never yields `granted` inbound,
 * and when the hub creates a record it writes `denied` for a consent it holds no state for.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { effectiveConsent } from '../profile/effective.js';
import { primaryIdentity } from '../profile/identities.js';
import { purposeRule } from '../profile/merge.js';
import { jsonEqual as profileJsonEqual } from '../profile/order.js';
import type {
  ConsentEvidence,
  ConsentInput,
  Instant,
  Json,
  MergePolicy,
  ObjectionKind,
  Profile,
  ProfilePatch,
  SourceId,
} from '../profile/schema.js';
import type { ConnectorDefinition, ExternalRecord } from './define.js';
import { ConnectorConfigError, MappingValueError } from './errors.js';
import type { MappingValueProblem } from './errors.js';
import { MappingEntry } from './mapping-schema.js';
import type { MappingDirection } from './mapping-schema.js';
import { compileChain, isOneToOne, jsonType, readBoolean } from './transforms.js';
import type { CanonicalKind, CompiledChain, Converted } from './transforms.js';

/** The canonical side of one mapping entry. */
export type CanonicalTarget =
  | { kind: 'field'; path: string }
  | { kind: 'consent'; purpose: string; channel: string }
  | { kind: 'topic'; topic: string }
  | { kind: 'identity'; identity: 'email' | 'phone' }
  | { kind: 'right'; right: 'restricted' }
  | { kind: 'right'; right: 'objection'; objection: ObjectionKind };

/** One validated entry, ready to run. */
export interface CompiledEntry {
  /**
   * The canonical target as a stable key, e.g. `field:firstName`, `consent:marketing.email`,
   * `topic:newsletter`, `identity:email`, `right:restricted`. YAML entries replace default
   * entries with the same key.
   */
  readonly key: string;
  readonly target: CanonicalTarget;
  /** The external field name. */
  readonly external: string;
  readonly direction: MappingDirection;
  readonly chain: CompiledChain;
  /** Whether every transform of the chain is invertible (a round trip gives the value back). */
  readonly invertible: boolean;
  /**
   * A consent entry whose external field can withdraw but never grant (the entry's
   * `withdrawOnly`, or a field the connector names in `withdrawOnlyFields`).
   */
  readonly withdrawOnly: boolean;
  /** `defaults` when it comes from the connector's `defaultMappings`, else `yaml`. */
  readonly origin: 'defaults' | 'yaml';
  /** The parsed entry as written. */
  readonly entry: MappingEntry;
}

/** A connector instance's mapping, compiled once and reused for every record. */
export interface CompiledMapping {
  readonly entries: readonly CompiledEntry[];
  /** Entries with direction `pull` or `both`, used by `mapInbound`. */
  readonly inbound: readonly CompiledEntry[];
  /** Entries with direction `push` or `both`, used by `mapOutbound`. */
  readonly outbound: readonly CompiledEntry[];
  /** External field names `mapInbound` reads. */
  readonly inboundFields: readonly string[];
  /** External field names `mapOutbound` may write. */
  readonly outboundFields: readonly string[];
}

/** The result of compiling: the mapping, or every problem found (as readable strings). */
export type CompileResult = { ok: true; mapping: CompiledMapping } | { ok: false; issues: string[] };

/** What `mapInbound` needs besides the record. */
export interface InboundContext {
  /** The connector instance id the record came from (the patch `source`). */
  source: SourceId;
  /** When the hub received the record (webhook arrival or pull time). */
  receivedAt: Instant;
  /** Stable id of the change, e.g. `<source>:<eventId>:<externalId>`; becomes the patch `id`. */
  patchId: string;
  /** Evidence attached to every consent in the patch (merge defaults it to `{method: source}`). */
  evidence?: ConsentEvidence;
  /**
   * The external fields that really changed, when the hub knows what the system held before
   * (its shadow). Identities read from other fields, and the record's own id, are then only
   * lookup keys (`lookup: true`): the system holds them unchanged, so the record's time says
   * nothing about when they were set. Absent: every identity is set at the record's time.
   */
  changed?: ReadonlySet<string>;
}

/** The outcome of `mapInbound`. */
export interface InboundResult {
  /** The patch; fields whose value could not be converted are left out of it. */
  patch: ProfilePatch;
  /** One entry per value that could not be converted (empty when all went well). */
  errors: MappingValueError[];
  /**
   * The record's values of every mapped external field it carries (any direction): what the
   * system is now known to hold, for the shadow (`Observed.values`).
   */
  observed: Record<string, Json>;
}

/** What `mapOutbound` needs to know besides the profile. */
export interface OutboundOptions {
  /**
   * The record does not exist in the system yet (the hub knows no external id for it): the
   * system would fill the fields left out with its defaults.
   * @defaultValue `false`
   */
  creating?: boolean;
}

/** The outcome of `mapOutbound`. */
export interface OutboundResult {
  /** External field name -> value. Fields the profile has no value for are absent. */
  fields: Record<string, Json>;
  /** One entry per value that could not be converted (those fields are absent). */
  errors: MappingValueError[];
}

function targetOf(entry: MappingEntry): { target: CanonicalTarget; key: string } {
  if (entry.field !== undefined) return { target: { kind: 'field', path: entry.field }, key: `field:${entry.field}` };
  if (entry.consent !== undefined) {
    const [purpose = '', channel = ''] = entry.consent.split('.');
    return { target: { kind: 'consent', purpose, channel }, key: `consent:${entry.consent}` };
  }
  if (entry.topic !== undefined) return { target: { kind: 'topic', topic: entry.topic }, key: `topic:${entry.topic}` };
  if (entry.identity !== undefined) {
    return { target: { kind: 'identity', identity: entry.identity }, key: `identity:${entry.identity}` };
  }
  if (entry.right === 'restricted') return { target: { kind: 'right', right: 'restricted' }, key: 'right:restricted' };
  if (entry.right !== undefined) {
    const objection = entry.right.slice('objections.'.length) as ObjectionKind;
    return { target: { kind: 'right', right: 'objection', objection }, key: `right:${entry.right}` };
  }
  // The schema's refine guarantees exactly one target.
  throw new ConnectorConfigError('mapping entry without a target');
}

/** An entry's canonical target as a stable key (`CompiledEntry.key`), e.g. `consent:marketing.email`. */
export function targetKeyOf(entry: MappingEntry): string {
  return targetOf(entry).key;
}

function canonicalKindOf(target: CanonicalTarget): CanonicalKind {
  return target.kind === 'consent' || target.kind === 'topic' || target.kind === 'right' ? 'boolean' : 'json';
}

function describeIssue(where: string, issue: { path: PropertyKey[]; message: string }): string {
  const path = issue.path.length ? `.${issue.path.map(String).join('.')}` : '';
  return `${where}${path}: ${issue.message}`;
}

/** Whether a field name is one of `names` (a name, or a pattern; a pattern's `g`/`y` flags are ignored, so matching keeps no state). */
export function matchesFieldName(names: readonly (string | RegExp)[], field: string): boolean {
  return names.some((f) => (typeof f === 'string' ? f === field : new RegExp(f.source, f.flags.replace(/[gy]/g, '')).test(field)));
}

/**
 * Whether an entry is withdraw-only once compiled (`CompiledEntry.withdrawOnly`): a consent
 * entry that says so, or any consent entry on a field the connector names in `withdrawOnlyFields`.
 */
export function isWithdrawOnly(definition: Pick<ConnectorDefinition, 'withdrawOnlyFields'>, entry: MappingEntry): boolean {
  return (
    entry.consent !== undefined && (entry.withdrawOnly === true || matchesFieldName(definition.withdrawOnlyFields ?? [], entry.external))
  );
}

/**
 * Compiles a connector's mapping: its `defaultMappings`, then the instance's entries on top
 * (from a loaded config: those the connector derives from its own keys, `derivedMappings`,
 * merged with the YAML `mappings`). An instance entry replaces every default entry with the
 * same canonical target (see `CompiledEntry.key`). Problems are returned as values:
 * - an entry that does not match `MappingEntry`;
 * - a `map` transform that is not one-to-one on an entry that is pulled (its reverse would be
 *   ambiguous);
 * - two pushed entries writing the same external field.
 */
export function tryCompileMapping(
  definition: Pick<ConnectorDefinition, 'defaultMappings' | 'withdrawOnlyFields'>,
  yamlEntries: readonly unknown[] = [],
): CompileResult {
  const optOutFlag = (external: string): boolean => matchesFieldName(definition.withdrawOnlyFields ?? [], external);
  const issues: string[] = [];
  const parse = (raw: readonly unknown[], origin: 'defaults' | 'yaml'): CompiledEntry[] => {
    const out: CompiledEntry[] = [];
    raw.forEach((item, i) => {
      const where = origin === 'defaults' ? `defaultMappings[${i}]` : `mappings[${i}]`;
      const parsed = MappingEntry.safeParse(item);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) issues.push(describeIssue(where, issue));
        return;
      }
      const entry = parsed.data;
      const { target, key } = targetOf(entry);
      const inbound = entry.direction !== 'push';
      for (const t of entry.transform) {
        if (t.type === 'map' && inbound && !isOneToOne(t.values)) {
          issues.push(`${where}: map transform on a pulled entry must be one-to-one (two keys share a value)`);
        }
      }
      const chain = compileChain(entry.transform, canonicalKindOf(target));
      const flag = target.kind === 'consent' && optOutFlag(entry.external);
      if (flag && entry.withdrawOnly === false) {
        issues.push(`${where}: "${entry.external}" is an opt-out flag: its consent can only be withdrawn (withdrawOnly cannot be false)`);
      }
      out.push({
        key,
        target,
        external: entry.external,
        direction: entry.direction,
        chain,
        invertible: chain.invertible,
        withdrawOnly: isWithdrawOnly(definition, entry),
        origin,
        entry,
      });
    });
    return out;
  };
  const defaults = parse(definition.defaultMappings ?? [], 'defaults');
  const yaml = parse(yamlEntries, 'yaml');
  const replaced = new Set(yaml.map((e) => e.key));
  const entries = [...defaults.filter((e) => !replaced.has(e.key)), ...yaml];

  const writers = new Map<string, string>();
  for (const e of entries) {
    if (e.direction === 'pull') continue;
    const other = writers.get(e.external);
    if (other !== undefined) issues.push(`external field "${e.external}" is pushed by both ${other} and ${e.key}`);
    else writers.set(e.external, e.key);
  }
  if (issues.length > 0) return { ok: false, issues };

  const inbound = entries.filter((e) => e.direction !== 'push');
  const outbound = entries.filter((e) => e.direction !== 'pull');
  return {
    ok: true,
    mapping: {
      entries,
      inbound,
      outbound,
      inboundFields: [...new Set(inbound.map((e) => e.external))],
      outboundFields: [...new Set(outbound.map((e) => e.external))],
    },
  };
}

/** Like `tryCompileMapping`, but throws a `ConnectorConfigError` listing every issue. */
export function compileMapping(
  definition: Pick<ConnectorDefinition, 'defaultMappings' | 'withdrawOnlyFields'>,
  yamlEntries: readonly unknown[] = [],
): CompiledMapping {
  const result = tryCompileMapping(definition, yamlEntries);
  if (!result.ok) throw new ConnectorConfigError('invalid mapping', { issues: result.issues });
  return result.mapping;
}

function valueError(
  entry: CompiledEntry,
  direction: 'inbound' | 'outbound',
  failure: { problem: MappingValueProblem; valueType: string; transform?: string },
): MappingValueError {
  return new MappingValueError({
    problem: failure.problem,
    direction,
    external: entry.external,
    target: entry.key,
    valueType: failure.valueType,
    ...(failure.transform === undefined ? {} : { transform: failure.transform }),
  });
}

/** Normalizes an identity value: e-mails trimmed and lower-cased, phones to E.164. */
export function normalizeIdentityValue(kind: 'email' | 'phone', value: string): string | undefined {
  const text = value.trim();
  if (kind === 'email') {
    const email = text.toLowerCase();
    const at = email.indexOf('@');
    return at > 0 && at < email.length - 1 && email.length <= 320 && !/\s/.test(email) ? email : undefined;
  }
  const phone = parsePhoneNumberFromString(text);
  return phone?.isPossible() ? phone.number : undefined;
}

/**
 * Maps an external record to a `ProfilePatch` with the mapping's pull and both entries.
 * The patch carries `at: record.at`, the context's `source`, `receivedAt` and `patchId` as
 * `id`, the identities from `identity` entries plus `{kind: 'external', system: source,
 * value: record.externalId}` (lookup keys where `ctx.changed` says they did not change),
 * attributes, consents (as `ConsentInput`), subscriptions and rights. External fields absent
 * from the record change nothing. A withdraw-only consent entry whose value maps to `granted`
 * changes nothing either (the value is still `observed`).
 */
export function mapInbound(mapping: CompiledMapping, record: ExternalRecord, ctx: InboundContext): InboundResult {
  const patch: ProfilePatch = {
    id: ctx.patchId,
    source: ctx.source,
    at: record.at,
    receivedAt: ctx.receivedAt,
    identities: [{ kind: 'external', system: ctx.source, value: record.externalId, ...(ctx.changed ? { lookup: true } : {}) }],
    attributes: {},
    consents: {},
    subscriptions: {},
    rights: { objections: {} },
  };
  const errors: MappingValueError[] = [];
  const observed: Record<string, Json> = {};
  for (const e of mapping.entries) {
    const raw = record.fields[e.external];
    if (raw !== undefined) observed[e.external] = raw;
  }

  for (const e of mapping.inbound) {
    const raw = record.fields[e.external];
    if (raw === undefined) continue;
    const converted: Converted = e.chain.toCanonical(raw);
    if (!converted.ok) {
      errors.push(valueError(e, 'inbound', converted));
      continue;
    }
    const value = converted.value;
    const target = e.target;
    if (target.kind === 'field') {
      patch.attributes[target.path] = value;
      continue;
    }
    if (value === null) continue;
    if (target.kind === 'identity') {
      const normalized = typeof value === 'string' ? normalizeIdentityValue(target.identity, value) : undefined;
      if (normalized === undefined) {
        // An empty string is a cleared field, not a bad value.
        if (!(typeof value === 'string' && value.trim() === '')) {
          errors.push(valueError(e, 'inbound', { problem: 'not_an_identity', valueType: jsonType(value) }));
        }
        continue;
      }
      const lookup = ctx.changed !== undefined && !ctx.changed.has(e.external);
      // The time the source gives this field apart, if any (a lookup key claims no time).
      const at = lookup ? undefined : fieldAt(record, e.external);
      const same = patch.identities.find((i) => i.kind === target.identity && i.value === normalized);
      if (same === undefined)
        patch.identities.push({ kind: target.identity, value: normalized, ...(lookup ? { lookup } : {}), ...(at ? { at } : {}) });
      else if (!lookup) {
        delete same.lookup;
        // Held in two fields: set when the later of them was.
        if (at !== undefined && (same.at === undefined || at > same.at)) same.at = at;
      }
      continue;
    }
    const flag = readBoolean(value);
    if (flag === undefined) {
      const problem: MappingValueProblem = target.kind === 'consent' ? 'not_a_consent' : 'not_a_boolean';
      errors.push(valueError(e, 'inbound', { problem, valueType: jsonType(value) }));
      continue;
    }
    switch (target.kind) {
      case 'consent': {
        // "Not opted out" is no evidence of consent: it can withdraw nothing and grant nothing.
        if (flag && e.withdrawOnly) break;
        const input: ConsentInput = { status: flag ? 'granted' : 'denied' };
        if (ctx.evidence) input.evidence = ctx.evidence;
        (patch.consents[target.purpose] ??= {})[target.channel] = input;
        break;
      }
      case 'topic':
        patch.subscriptions[target.topic] = flag;
        break;
      case 'right':
        if (target.right === 'restricted') patch.rights.restricted = flag;
        else patch.rights.objections[target.objection] = flag;
        break;
    }
  }
  stampSlots(mapping, record, patch);
  return { patch, errors, observed };
}

/** The slot path a target's value takes in a profile (`ProfilePatch.slotsAt`); none for identities. */
function slotPath(target: CanonicalTarget): string | undefined {
  switch (target.kind) {
    case 'field':
      return `attributes.${target.path}`;
    case 'consent':
      return `consents.${target.purpose}.${target.channel}`;
    case 'topic':
      return `subscriptions.${target.topic}`;
    case 'right':
      return target.right === 'restricted' ? 'rights.restricted' : `rights.objections.${target.objection}`;
    case 'identity':
      return undefined;
  }
}

/** The times the source gives single fields (`ExternalRecord.fieldsAt`), on the slots the patch sets from them. */
function stampSlots(mapping: CompiledMapping, record: ExternalRecord, patch: ProfilePatch): void {
  if (record.fieldsAt === undefined) return;
  const slotsAt: Record<string, Instant> = {};
  for (const e of mapping.inbound) {
    const stamp = fieldAt(record, e.external);
    const path = slotPath(e.target);
    if (stamp !== undefined && path !== undefined) slotsAt[path] = stamp;
  }
  if (Object.keys(slotsAt).length > 0) patch.slotsAt = slotsAt;
}

/** When the source says a field the record carries took its value (`ExternalRecord.fieldsAt`), as an instant; undefined when it does not say. */
function fieldAt(record: ExternalRecord, external: string): Instant | undefined {
  const stamp = record.fieldsAt?.[external];
  if (stamp === undefined || !Object.hasOwn(record.fields, external)) return undefined;
  const ms = Date.parse(stamp);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function canonicalValue(profile: Profile, target: CanonicalTarget, policy: MergePolicy, now: Instant | Date | undefined): Json | undefined {
  switch (target.kind) {
    case 'field':
      return profile.attributes[target.path]?.value;
    case 'consent': {
      const status = effectiveConsent(profile, target.purpose, target.channel, policy, now);
      return status === undefined ? undefined : status === 'granted';
    }
    case 'topic':
      return profile.subscriptions[target.topic]?.value;
    case 'identity':
      return primaryIdentity(profile.identities, { kind: target.identity }, policy)?.value;
    case 'right':
      return target.right === 'restricted' ? profile.rights.restricted?.value : profile.rights.objections[target.objection]?.value;
  }
}

/**
 * When the profile's value behind a target was chosen (ms), for a consent the newest of the
 * choice and the restriction or objection that may override it; undefined when the profile
 * holds nothing there.
 */
function canonicalAt(profile: Profile, target: CanonicalTarget, policy: MergePolicy): number | undefined {
  const times: (string | undefined)[] = [];
  switch (target.kind) {
    case 'field':
      times.push(profile.attributes[target.path]?.at);
      break;
    case 'consent':
      {
        const objection = purposeRule(policy, target.purpose)?.objection;
        times.push(
          profile.consents[target.purpose]?.[target.channel]?.at,
          profile.rights.restricted?.at,
          objection === undefined ? undefined : profile.rights.objections[objection]?.at,
        );
      }
      break;
    case 'topic':
      times.push(profile.subscriptions[target.topic]?.at);
      break;
    case 'identity':
      times.push(primaryIdentity(profile.identities, { kind: target.identity }, policy)?.at);
      break;
    case 'right':
      times.push(target.right === 'restricted' ? profile.rights.restricted?.at : profile.rights.objections[target.objection]?.at);
      break;
  }
  const ms = times
    .filter((t): t is string => t !== undefined)
    .map((t) => Date.parse(t))
    .filter((t) => Number.isFinite(t));
  return ms.length > 0 ? Math.max(...ms) : undefined;
}

/**
 * When the profile's values behind the given external fields were chosen (ms), for the fields
 * the mapping sends: what a write of them carries is that old, whatever the time of the write.
 */
export function outboundTimes(
  mapping: CompiledMapping,
  profile: Profile,
  policy: MergePolicy,
  fields: Iterable<string>,
): Record<string, number> {
  const wanted = new Set(fields);
  const out: Record<string, number> = {};
  for (const e of mapping.outbound) {
    if (!wanted.has(e.external)) continue;
    const at = canonicalAt(profile, e.target, policy);
    if (at !== undefined) out[e.external] = at;
  }
  return out;
}

/**
 * Maps a canonical profile to external fields with the mapping's push and both entries.
 * Consent values are `effectiveConsent(profile, purpose, channel, policy, now)`: a
 * restriction or an active objection sends `denied`, and expiry is checked when `now` is
 * given. Targets the profile holds nothing for are left out (never sent as `null`), except
 * when `options.creating`: a withdraw-only consent the profile holds no state for is then sent
 * as `denied`, so the new record carries the system's opt-out rather than its default. The
 * primary identity of a kind (the newest, `primaryIdentity`) is the one sent.
 */
export function mapOutbound(
  mapping: CompiledMapping,
  profile: Profile,
  policy: MergePolicy,
  now?: Instant | Date,
  options: OutboundOptions = {},
): OutboundResult {
  const fields: Record<string, Json> = {};
  const errors: MappingValueError[] = [];
  for (const e of mapping.outbound) {
    let value = canonicalValue(profile, e.target, policy, now);
    if (value === undefined && options.creating === true && e.withdrawOnly) value = false;
    if (value === undefined) continue;
    const converted = e.chain.toExternal(value);
    if (converted.ok) fields[e.external] = converted.value;
    else errors.push(valueError(e, 'outbound', converted));
  }
  return { fields, errors };
}

/**
 * The hub's `jsonEqual` (`profile/order.ts`: key order, `-0`, `NaN` decided there) for record
 * fields and shadows, where a member set to `undefined` counts as present: a connector that
 * names a field said something about it, so it is not silently taken for "unchanged".
 */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  return profileJsonEqual(a, b, { undefinedMembers: 'distinct' });
}

/**
 * The fields whose value differs from what the system is known to hold (its shadow values).
 * Used both ways: inbound, a field equal to the shadow is not a change (echo suppression);
 * outbound, a field equal to the shadow is not sent.
 */
export function changedFields(fields: Record<string, Json>, shadow: Record<string, Json> | undefined): Record<string, Json> {
  if (!shadow) return { ...fields };
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(fields)) if (!jsonEqual(v, shadow[k])) out[k] = v;
  return out;
}

/**
 * The Segment emulator's state: the messages the Tracking API accepted (and the ones it dropped,
 * with why), the 24-hour messageId deduplication, the Unify profiles identify calls build
 * (traits with the time each was last set, external ids, metadata), suppressed user ids, and the
 * regulations with their status on the emulator clock. Regulations take effect when they finish:
 * `settle()` applies every regulation finished by now, and every API call and side-door read
 * settles first, so the effect is visible exactly from the finish time on.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { SegmentEmulatorOptions } from './options.js';

/** A Segment message as stored and delivered: the sender's fields plus `receivedAt` (and the batch's `sentAt`, `context`). */
export type SegmentMessage = Record<string, unknown> & {
  type: string;
  messageId: string;
  timestamp: string;
  receivedAt: string;
  userId?: string;
  anonymousId?: string;
  traits?: Record<string, unknown>;
};

/** Why the Tracking API dropped an event it answered 200 for (or, for a single call, 400). */
export type DropReason =
  | 'oversized' // over 32 KB
  | 'over_batch_limit' // past the 2,500th event of a batch
  | 'no_identity' // neither userId nor anonymousId
  | 'missing_event' // a track call without `event`
  | 'invalid_type' // not a Segment call type
  | 'suppressed' // the userId is suppressed by a regulation
  | 'poisoned' // side door: identify events with this traits.email are dropped
  | 'too_many_traits'; // an identify with 300 or more traits: accepted and delivered, but the profile (Engage) rejects it

export interface AcceptedEvent {
  writeKey: string;
  message: SegmentMessage;
}

export interface DroppedEvent {
  at: string;
  writeKey: string;
  reason: DropReason;
  messageId?: string;
  userId?: string;
  type?: string;
}

export interface StoredTrait {
  value: unknown;
  /** The `timestamp` of the identify that last set it (its receive time when it had none). */
  updatedAt: string;
  sourceId: string;
}

/** One external id of a profile, as the Profile API's `/external_ids` answers it. */
export interface ExternalId {
  id: string;
  /** The default identifiers, or a custom one the space's Identity Resolution takes from a trait (`customIdentifiers`). */
  type: string;
  source_id: string;
  collection: 'users';
  created_at: string;
  encoding: 'none';
  first_message_id: string;
}

export interface StoredProfile {
  /** Segment's own profile id (`use_...`). */
  segmentId: string;
  traits: Map<string, StoredTrait>;
  externalIds: ExternalId[];
  createdAt: string;
  updatedAt: string;
  firstMessageId: string;
  firstSourceId: string;
  lastMessageId: string;
  lastSourceId: string;
}

export const REGULATION_TYPES = [
  'DELETE_ARCHIVE_ONLY',
  'DELETE_INTERNAL',
  'DELETE_ONLY',
  'SUPPRESS_ONLY',
  'SUPPRESS_WITH_DELETE',
  'SUPPRESS_WITH_DELETE_INTERNAL',
  'UNSUPPRESS',
] as const;
export type RegulationType = (typeof REGULATION_TYPES)[number];
/** The types that also reach destinations; their creates are counted in a quota of their own. */
export const DESTINATION_REGULATION_TYPES: readonly RegulationType[] = ['DELETE_ONLY', 'SUPPRESS_WITH_DELETE'];
const DELETING: readonly RegulationType[] = ['DELETE_INTERNAL', 'DELETE_ONLY', 'SUPPRESS_WITH_DELETE', 'SUPPRESS_WITH_DELETE_INTERNAL'];
const SUPPRESSING: readonly RegulationType[] = ['SUPPRESS_ONLY', 'SUPPRESS_WITH_DELETE', 'SUPPRESS_WITH_DELETE_INTERNAL'];

export type RegulationStatus = 'INITIALIZED' | 'RUNNING' | 'FINISHED' | 'PARTIAL_SUCCESS' | 'FAILED' | 'INVALID' | 'NOT_SUPPORTED';
/** How a regulation ends (the side door can make one fail or succeed partially). */
export type RegulationOutcome = 'FINISHED' | 'PARTIAL_SUCCESS' | 'FAILED';

export interface StoredRegulation {
  id: string;
  workspaceId: string;
  regulationType: RegulationType;
  subjectType: 'USER_ID' | 'OBJECT_ID';
  subjectIds: string[];
  createdAt: number;
  outcome: RegulationOutcome;
  applied: boolean;
}

/** Segment's size limit of one call (32 KB). */
export const MAX_EVENT_BYTES = 32 * 1024;
/** Engage rejects an identify with this many traits or more (the profile is not updated). */
export const MAX_PROFILE_TRAITS = 300;
/** Events a batch holds at most; the rest are dropped without an error. */
export const MAX_BATCH_EVENTS = 2500;
const CALL_TYPES = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias']);

/** A short, stable source id for a write key (the key itself is never shown as an id). */
export const sourceIdOf = (writeKey: string): string => `src_${createHash('sha256').update(writeKey).digest('hex').slice(0, 10)}`;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';
const normalEmail = (email: string): string => email.trim().toLowerCase();

export class SegmentState {
  readonly accepted: AcceptedEvent[] = [];
  readonly dropped: DroppedEvent[] = [];
  duplicates = 0;
  readonly poisoned = new Set<string>();
  readonly suppressed = new Set<string>();
  readonly regulations = new Map<string, StoredRegulation>();
  private readonly seen = new Map<string, number>();
  private readonly profiles = new Map<string, StoredProfile>();
  /** `type:id` (`user_id:u1`, `email:a@b.c`) -> the profile's segmentId. */
  private readonly index = new Map<string, string>();
  private readonly forcedOutcomes: RegulationOutcome[] = [];
  private nextProfile = 1;
  private nextRegulation = 1;

  constructor(
    private readonly options: Pick<SegmentEmulatorOptions, 'dedupeWindowMs' | 'regulationStepMs' | 'workspaceId'> &
      Partial<Pick<SegmentEmulatorOptions, 'customIdentifiers'>>,
    private readonly now: () => number,
    private readonly onIdentify: (message: SegmentMessage) => void,
  ) {}

  /**
   * One call as the Tracking API takes it: checked, deduplicated on messageId, then stored (an
   * identify updates the profile and goes to the webhook destination). Returns the drop reason,
   * `duplicate`, or `accepted`.
   */
  ingest(
    raw: Record<string, unknown>,
    writeKey: string,
    extra: { sentAt?: unknown; context?: unknown } = {},
  ): DropReason | 'duplicate' | 'accepted' {
    this.settle();
    const receivedAt = new Date(this.now()).toISOString();
    const type = typeof raw['type'] === 'string' ? raw['type'] : '';
    const userId = nonEmpty(raw['userId']) ? raw['userId'] : undefined;
    const drop = (reason: DropReason): DropReason => {
      this.drop(writeKey, reason, raw);
      return reason;
    };
    if (!CALL_TYPES.has(type)) return drop('invalid_type');
    if (userId === undefined && !nonEmpty(raw['anonymousId'])) return drop('no_identity');
    if (type === 'track' && !nonEmpty(raw['event'])) return drop('missing_event');
    const messageId = nonEmpty(raw['messageId']) ? raw['messageId'] : `api-${randomUUID()}`;
    this.forgetExpired();
    if (this.seen.has(messageId)) {
      this.duplicates += 1;
      return 'duplicate';
    }
    if (userId !== undefined && this.suppressed.has(userId)) return drop('suppressed');
    const traits = isRecord(raw['traits']) ? raw['traits'] : undefined;
    if (type === 'identify' && traits && typeof traits['email'] === 'string' && this.poisoned.has(normalEmail(traits['email']))) {
      return drop('poisoned');
    }
    this.seen.set(messageId, this.now());
    const message: SegmentMessage = {
      ...Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'writeKey')),
      type,
      messageId,
      timestamp: nonEmpty(raw['timestamp']) ? raw['timestamp'] : receivedAt,
      receivedAt,
    };
    if (extra.sentAt !== undefined && message['sentAt'] === undefined) message['sentAt'] = extra.sentAt;
    if (isRecord(extra.context)) message['context'] = { ...extra.context, ...(isRecord(raw['context']) ? raw['context'] : {}) };
    this.accepted.push({ writeKey, message });
    if (type === 'identify') {
      if (Object.keys(traits ?? {}).length >= MAX_PROFILE_TRAITS) this.drop(writeKey, 'too_many_traits', raw);
      else this.identify(message, sourceIdOf(writeKey));
      this.onIdentify(message);
    }
    return 'accepted';
  }

  /** Records an event dropped before it was looked at (too large, past the batch's limit). */
  drop(writeKey: string, reason: DropReason, raw: unknown): void {
    const r = isRecord(raw) ? raw : {};
    this.dropped.push({
      at: new Date(this.now()).toISOString(),
      writeKey,
      reason,
      ...(nonEmpty(r['messageId']) ? { messageId: r['messageId'] } : {}),
      ...(nonEmpty(r['userId']) ? { userId: r['userId'] } : {}),
      ...(nonEmpty(r['type']) ? { type: r['type'] } : {}),
    });
  }

  /** The profile an identifier (`user_id:X`, `email:X`, `anonymous_id:X`) names, if any. */
  profile(identifier: string): StoredProfile | undefined {
    this.settle();
    const colon = identifier.indexOf(':');
    if (colon <= 0) return undefined;
    const type = identifier.slice(0, colon);
    const id = identifier.slice(colon + 1);
    const segmentId = this.index.get(`${type}:${type === 'email' ? normalEmail(id) : id}`);
    return segmentId === undefined ? undefined : this.profiles.get(segmentId);
  }

  /** Creates a regulation (its outcome is the one the side door queued, else FINISHED). */
  createRegulation(input: Pick<StoredRegulation, 'regulationType' | 'subjectType' | 'subjectIds'>): StoredRegulation {
    this.settle();
    const id = `reg_${String(this.nextRegulation++).padStart(6, '0')}${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    const regulation: StoredRegulation = {
      ...input,
      id,
      workspaceId: this.options.workspaceId,
      createdAt: this.now(),
      outcome: this.forcedOutcomes.shift() ?? 'FINISHED',
      applied: false,
    };
    this.regulations.set(id, regulation);
    return regulation;
  }

  /** The next regulation created ends this way. */
  forceNextRegulation(outcome: RegulationOutcome): void {
    this.forcedOutcomes.push(outcome);
  }

  /** The regulation's status now, and when it finished. */
  regulationStatus(r: StoredRegulation): { status: RegulationStatus; finishedAt: number | undefined } {
    const step = this.options.regulationStepMs;
    const elapsed = this.now() - r.createdAt;
    if (elapsed >= 2 * step) return { status: r.outcome, finishedAt: r.createdAt + 2 * step };
    return { status: elapsed >= step ? 'RUNNING' : 'INITIALIZED', finishedAt: undefined };
  }

  /** Applies every regulation finished by now, in the order they finished. */
  settle(): void {
    for (const r of this.regulations.values()) {
      if (r.applied || this.regulationStatus(r).finishedAt === undefined) continue;
      r.applied = true;
      if (r.outcome === 'FAILED' || r.subjectType !== 'USER_ID') continue;
      for (const userId of r.subjectIds) {
        if (DELETING.includes(r.regulationType)) this.deleteProfile(userId);
        if (SUPPRESSING.includes(r.regulationType)) this.suppressed.add(userId);
        if (r.regulationType === 'UNSUPPRESS') this.suppressed.delete(userId);
      }
    }
  }

  private forgetExpired(): void {
    const horizon = this.now() - this.options.dedupeWindowMs;
    for (const [id, at] of this.seen) {
      if (at > horizon) break;
      this.seen.delete(id);
    }
  }

  private deleteProfile(userId: string): void {
    const segmentId = this.index.get(`user_id:${userId}`);
    const profile = segmentId === undefined ? undefined : this.profiles.get(segmentId);
    if (!profile) return;
    this.profiles.delete(profile.segmentId);
    for (const [key, id] of this.index) if (id === profile.segmentId) this.index.delete(key);
  }

  /** Merges an identify into its profile: by userId, else by anonymousId; created when new. */
  private identify(message: SegmentMessage, sourceId: string): void {
    const byUser = nonEmpty(message.userId) ? this.index.get(`user_id:${message.userId}`) : undefined;
    const byAnonymous = nonEmpty(message.anonymousId) ? this.index.get(`anonymous_id:${message.anonymousId}`) : undefined;
    const existing = this.profiles.get(byUser ?? byAnonymous ?? '');
    const at = message.timestamp;
    const profile: StoredProfile = existing ?? {
      segmentId: `use_${String(this.nextProfile++).padStart(8, '0')}${randomUUID().replace(/-/g, '').slice(0, 12)}`,
      traits: new Map(),
      externalIds: [],
      createdAt: message.receivedAt,
      updatedAt: message.receivedAt,
      firstMessageId: message.messageId,
      firstSourceId: sourceId,
      lastMessageId: message.messageId,
      lastSourceId: sourceId,
    };
    if (!existing) this.profiles.set(profile.segmentId, profile);
    for (const [key, value] of Object.entries(message.traits ?? {})) {
      if (value === null) profile.traits.delete(key);
      else profile.traits.set(key, { value, updatedAt: at, sourceId });
    }
    const email = message.traits?.['email'];
    const ids: [ExternalId['type'], unknown][] = [
      ['user_id', message.userId],
      ['anonymous_id', message.anonymousId],
      ['email', typeof email === 'string' ? normalEmail(email) : undefined],
      // Custom identifiers (e.g. phone) come from the trait of the same name.
      ...(this.options.customIdentifiers ?? []).map((name): [string, unknown] => {
        const value = message.traits?.[name];
        return [name, typeof value === 'string' ? value : undefined];
      }),
    ];
    for (const [type, id] of ids) {
      if (!nonEmpty(id)) continue;
      this.index.set(`${type}:${id}`, profile.segmentId);
      if (profile.externalIds.some((x) => x.type === type && x.id === id)) continue;
      profile.externalIds.push({
        id,
        type,
        source_id: sourceId,
        collection: 'users',
        created_at: message.receivedAt,
        encoding: 'none',
        first_message_id: message.messageId,
      });
    }
    profile.updatedAt = message.receivedAt;
    profile.lastMessageId = message.messageId;
    profile.lastSourceId = sourceId;
  }
}

/**
 * Names of the sync engine's queues, Redis keys and job ids, in one place so no two stages'
 * keys clash; the privacy module builds its own on them (`privacy/keys.ts`). Every BullMQ queue
 * has a hash tag of its own (`queuePrefix`), and so do each connector's engine keys (its work
 * sets, write log, limiter: `connectorPrefix`); only a few deployment-wide keys (the epoch,
 * the change counts) stay on the deployment's tag (the prefix, e.g. `{concord}`). The hub's
 * Redis traffic spreads over a cluster's slots, so a cluster adds capacity; a multi-key
 * command, MULTI, pipeline or Lua script of the hub only ever touches the keys of one tag.
 */

/** Connector instance ids become part of queue names and job ids: keep them plain. */
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** Throws when an instance id would break queue names, keys or job ids. */
export function assertInstanceId(id: string): void {
  if (!INSTANCE_ID.test(id)) {
    throw new InvalidInstanceIdError(id);
  }
}

export class InvalidInstanceIdError extends Error {
  readonly code = 'sync.invalid_instance_id';
  constructor(id: string) {
    super(`connector instance id ${JSON.stringify(id)} must match ${INSTANCE_ID.source}`);
    this.name = 'InvalidInstanceIdError';
  }
}

/** Wraps a plain prefix in a hash tag unless it already has one. */
export function hashTagPrefix(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`;
}

/** The first hash tag of a prefix as Redis Cluster reads it: `{`, then a non-empty run up to the next `}`. */
const HASH_TAG = /\{([^}]+)\}/;

/**
 * The BullMQ prefix of one queue: the deployment's prefix with the queue's name added inside
 * its hash tag (`{concord}` and `push.hubspot` give `{concord.push.hubspot}`; `myapp:{concord}`
 * gives `myapp:{concord.push.hubspot}`). BullMQ keys are `<prefix>:<queueName>:<suffix>` and its
 * scripts touch one queue's keys only, so each queue lives in a slot of its own while the
 * engine's keys (`engineKeys`) stay on the deployment's tag. Every `Queue`, `Worker`,
 * `QueueEvents` or `FlowProducer` on a hub's queues must be opened with this prefix.
 */
export function queuePrefix(prefix: string, queueName: string): string {
  return hashTagPrefix(prefix).replace(HASH_TAG, (_, tag: string) => `{${tag}.${queueName}}`);
}

/** The hash-tag part of one connector's engine keys: `sync.<instance>`, beside its queues' `push.<instance>`... */
export function connectorTag(instance: string): string {
  return `sync.${instance}`;
}

/**
 * The prefix of one connector's engine keys, on a hash tag of its own like a queue's
 * (`{concord}` and `hubspot` give `{concord.sync.hubspot}`): its sets, write log and limiter
 * live in one slot, and every connector's in another.
 */
export function connectorPrefix(prefix: string, instance: string): string {
  return queuePrefix(prefix, connectorTag(instance));
}

/** Escapes the characters Redis glob patterns treat specially (`*`, `?`, `[`, `]`, `\`). */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The SCAN/KEYS `MATCH` patterns of every key of one deployment: the engine's keys under the
 * prefix itself and every queue's keys under its `queuePrefix`. The deployment `{ct-a}` matches
 * neither `{ct-ab}` nor `{ct-a-b}`; it does match another deployment's whose tag starts with
 * this one's and a dot (`{ct-a.staging}`), as a queue's would: give deployments sharing a Redis
 * prefixes that do not nest that way.
 */
export function prefixPatterns(prefix: string): string[] {
  const tagged = hashTagPrefix(prefix);
  const m = HASH_TAG.exec(tagged);
  if (!m) return [`${globLiteral(tagged)}*`];
  const before = globLiteral(tagged.slice(0, m.index));
  const after = globLiteral(tagged.slice(m.index + m[0].length));
  const tag = globLiteral(m[1] ?? '');
  return [`${before}{${tag}}${after}*`, `${before}{${tag}.*}${after}*`];
}

export const queueNames = {
  ingest: 'ingest',
  relay: 'relay',
  push: (instance: string): string => `push.${instance}`,
  pull: (instance: string): string => `pull.${instance}`,
  /** The batch reads of records webhooks named (changed, values not carried), one queue per connector. */
  read: (instance: string): string => `read.${instance}`,
} as const;

/**
 * The engine's own Redis keys: a connector's on its own hash tag (`connectorPrefix`), the
 * deployment-wide ones (`changesOfMinute`, `epoch`) on the deployment's; BullMQ's are on each
 * queue's (`queuePrefix`).
 */
export function engineKeys(deployment: string) {
  const tagged = new Map<string, string>();
  // Called for every key of every command: the tagged prefix is computed once per connector.
  const prefixOf = (instance: string): string => {
    let p = tagged.get(instance);
    if (p === undefined) {
      p = connectorPrefix(deployment, instance);
      tagged.set(instance, p);
    }
    return p;
  };
  return {
    /** ZSET profileId -> when it became dirty (ms); profiles waiting to be pushed. */
    dirty: (instance: string): string => `${prefixOf(instance)}:sync:dirty:${instance}`,
    /** ZSET profileId -> lease expiry (ms); profiles taken by a push in progress. */
    inflight: (instance: string): string => `${prefixOf(instance)}:sync:inflight:${instance}`,
    /** ZSET profileId -> when to retry (ms); profiles backing off after a retryable outcome. */
    retry: (instance: string): string => `${prefixOf(instance)}:sync:retry:${instance}`,
    /**
     * ZSET profileId -> when it was held (ms); profiles a push would create in the system, held
     * until the instance's first full pull finished (`initialSync` both or push-only), then dirty again.
     */
    held: (instance: string): string => `${prefixOf(instance)}:sync:held:${instance}`,
    /** HASH profileId -> retryable outcomes so far. */
    attempts: (instance: string): string => `${prefixOf(instance)}:sync:attempts:${instance}`,
    /** HASH profileId -> JSON dead letter. */
    dead: (instance: string): string => `${prefixOf(instance)}:sync:dead:${instance}`,
    /** SET of profileIds an operator asked to push again whole (`concord push`): their next push ignores the shadow. */
    repush: (instance: string): string => `${prefixOf(instance)}:sync:repush:${instance}`,
    /** HASH profileId -> JSON `{trigger, requestId}`: who asked for a `repush`, for the push run's record. */
    repushOrigin: (instance: string): string => `${prefixOf(instance)}:sync:repush-origin:${instance}`,
    /**
     * STRING with a TTL of `idleAfterMs`: when profiles were last marked dirty for the instance
     * (ms). While it exists the instance's push stage is busy and partial batches wait; a mark
     * that finds it gone is the first change of an idle stage and is pushed at once.
     */
    lastDirty: (instance: string): string => `${prefixOf(instance)}:sync:last-dirty:${instance}`,
    /** ZSET profileId -> earliest webhook receive time (ms) of an undelivered change. */
    since: (instance: string): string => `${prefixOf(instance)}:sync:since:${instance}`,
    /** STRING (JSON) with a TTL: the hub's recent writes of one profile to one system (see sync/inbound/write-log.ts). */
    writes: (instance: string, profileId: string): string => `${prefixOf(instance)}:sync:writes:${instance}:${profileId}`,
    /** STRING with a TTL: the profile of a record our recent writes went to, by its external id. */
    writeOf: (instance: string, externalId: string): string => `${prefixOf(instance)}:sync:write-of:${instance}:${externalId}`,
    /** STRING JSON field -> newest stamp ingested (ms), with a TTL: one external record's versions in order (`RecordOrder`). */
    order: (instance: string, externalId: string): string => `${prefixOf(instance)}:sync:order:${instance}:${externalId}`,
    /** STRING lock held while one pull of the instance runs. */
    pullLock: (instance: string): string => `${prefixOf(instance)}:sync:pull-lock:${instance}`,
    /** ZSET of recent API call times (sliding-window limiter). */
    calls: (instance: string): string => `${prefixOf(instance)}:sync:calls:${instance}`,
    /** STRING with a TTL while a 429 asks us to wait. */
    blocked: (instance: string): string => `${prefixOf(instance)}:sync:blocked:${instance}`,
    /** STRING counter: parks of the instance lifted by an operator (see CallLimiter.lift). */
    lifts: (instance: string): string => `${prefixOf(instance)}:sync:lifts:${instance}`,
    /** STRING (JSON `LastPull`): when the last pull of the instance ended, what it read, its error. */
    lastPull: (instance: string): string => `${prefixOf(instance)}:sync:last-pull:${instance}`,
    /** HASH `in:<instance>` / `out:<instance>` -> changes of one minute (epoch minute), kept 2 h (change-counts.ts). */
    changesOfMinute: (minute: number): string => `${deployment}:sync:changes:${minute}`,
    /** STRING: the epoch id of this Redis's data; a Redis without it lost its data (see redis-health.ts). */
    epoch: `${deployment}:sync:epoch`,
    /**
     * STRING: the same for one queue's hash tag, or a connector's (`connectorTag`): a Cluster
     * node that restarts empty loses only the tags it serves.
     */
    queueEpoch: (queueName: string): string => `${queuePrefix(deployment, queueName)}:sync:epoch`,
    /**
     * ZSET externalId -> earliest receive time (ms): records webhooks named as changed, waiting
     * for a batch read (`read.<instance>` queue). A hint only: the next pull finds them too.
     */
    changed: (instance: string): string => `${prefixOf(instance)}:sync:changed:${instance}`,
    /** ZSET externalId -> lease expiry (ms): changed records a read job took and has not ingested yet; back in `changed` after a crash. */
    changedTaken: (instance: string): string => `${prefixOf(instance)}:sync:changed-taken:${instance}`,
    /** HASH externalId -> receive time (ms) of each record in `changedTaken`. */
    changedTakenAt: (instance: string): string => `${prefixOf(instance)}:sync:changed-taken-at:${instance}`,
    /** HASH externalId -> 1: changed records whose batch a connector refused (not retryable); each is read alone next. */
    changedSuspect: (instance: string): string => `${prefixOf(instance)}:sync:changed-suspect:${instance}`,
    /** STRING with a TTL of `idleAfterMs`: a webhook named changed records lately (the read stage is not idle). */
    lastChanged: (instance: string): string => `${prefixOf(instance)}:sync:last-changed:${instance}`,
    /** STRING with a TTL: a webhook event id already enqueued (redeliveries are dropped). */
    seenEvent: (instance: string, eventId: string): string => `${prefixOf(instance)}:sync:seen:${instance}:${eventId}`,
  };
}
export type EngineKeys = ReturnType<typeof engineKeys>;

/**
 * Makes a BullMQ job id from parts: BullMQ job ids must not contain `:` and must not be plain
 * integers, so parts are joined with `-` and unsafe characters are percent-style escaped.
 */
export function jobId(...parts: (string | number)[]): string {
  return parts.map((p) => String(p).replace(/[^A-Za-z0-9_.@-]/g, (c) => `~${c.charCodeAt(0).toString(16)}`)).join('-');
}

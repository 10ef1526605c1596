/**
 * `concord plan`: a dry run of the next sync. Each system that pulls is read from its saved
 * cursor (none before the first sync) through its connector's `pull`, by read-only calls paced at
 * its limits (`callExternal` on an in-process limiter: nothing is written to Redis); each record
 * is judged as ingest judges it (`assess`: echo or patch, against the shadow) and merged in memory
 * (`PlanState`, the pure merge), honouring `initialSync`; then, per system that is pushed to, each
 * profile a push would take is mapped out and compared with what that system holds
 * (`outboundChange`, as the push stage decides). Nothing is written: not the store (no profile,
 * shadow, cursor or outbox row), not Redis, not any system.
 */
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ExternalRecord } from '../../connector/define.js';
import { RateLimitedError, TransientError } from '../../connector/errors.js';
import { jsonEqual, mapInbound, mapOutbound } from '../../connector/mapping.js';
import { sleep } from '../../connector/sleep.js';
import { redactContacts } from '../../log/logger.js';
import type { Json, MergePolicy } from '../../profile/schema.js';
import { callExternal } from '../../queue/external-call.js';
import type { CallContext } from '../../queue/external-call.js';
import { LocalCallLimiter } from '../../queue/local-limiter.js';
import type { SyncConnector, SyncInstance } from '../bind.js';
import { gateProfile } from '../gate.js';
import { assess, instant, patchIdOf } from '../inbound/assess.js';
import { firstPullPending, holdsCreates, waitsForFirstPull } from '../initial-sync.js';
import { knownRecordsOf } from '../known-records.js';
import { createSyncMetrics } from '../metrics.js';
import { outboundChange } from '../outbound/outbound-change.js';
import type { PlanExample, PlanReport, PlanSource, PlanTarget } from './report.js';
import { PlanState } from './state.js';
import type { PlanStore } from './state.js';

/** How a plan is made. */
export interface PlanOptions {
  /** Every enabled connector instance (the targets); the sources are those that pull. */
  connectors: readonly SyncConnector[];
  /** Read only this instance (its records' effect on every system is still planned). */
  only?: string;
  store: PlanStore;
  policy: MergePolicy;
  logger: Logger;
  /** Examples per action and system. @defaultValue 3 */
  examples?: number;
  /** Called after each page read. */
  progress?: (event: { connector: string; pages: number; records: number }) => void;
  signal?: AbortSignal;
}

/** A page read that failed on a rate limit or a transient error is read again this many times. */
const MAX_RESTARTS = 5;

type SourceCounts = Omit<PlanSource, 'connector' | 'type' | 'initialSync' | 'firstPull'>;

/** Makes the plan (see the module documentation). */
export async function planSync(options: PlanOptions): Promise<PlanReport> {
  const started = performance.now();
  const at = new Date().toISOString();
  const { store, policy, connectors } = options;
  const state = new PlanState(store, policy);
  const metrics = createSyncMetrics(new Registry());
  const callCtx: CallContext = { limiter: new LocalCallLimiter(), metrics, retries: 0, retryMinMs: 0 };
  const signal = options.signal ?? new AbortController().signal;
  const sources: PlanSource[] = [];
  const instances = new Map<string, SyncInstance>();
  try {
    for (const connector of connectors) {
      if (!connector.capabilities.pull || (options.only !== undefined && connector.id !== options.only)) continue;
      const instance = await connector.create({
        logger: options.logger.child({ connector: connector.id }),
        metrics: new Registry(),
        knownRecords: (page) => knownRecordsOf(store, connector.id, page),
      });
      instances.set(connector.id, instance);
      if (!instance.pull) continue;
      sources.push(await readSource(connector, instance.pull, state, { ...options, callCtx, signal }));
      options.logger.debug({ connector: connector.id }, 'plan: source read');
    }
    const targets: PlanTarget[] = [];
    for (const connector of connectors) {
      if (connector.capabilities.push) targets.push(await planTarget(connector, state, options));
    }
    for (const source of sources) {
      source.calls = Math.round((await metrics.apiCalls.get()).values.find((v) => v.labels.connector === source.connector)?.value ?? 0);
    }
    return {
      at,
      ...(options.only === undefined ? {} : { only: options.only }),
      sources,
      targets,
      ms: Math.round(performance.now() - started),
    };
  } finally {
    for (const instance of instances.values()) await instance.close?.();
  }
}

async function readSource(
  connector: SyncConnector,
  pull: NonNullable<SyncInstance['pull']>,
  state: PlanState,
  options: PlanOptions & { callCtx: CallContext; signal: AbortSignal },
): Promise<PlanSource> {
  const initialSync = connector.initialSync ?? 'both';
  const firstPull = await firstPullPending(options.store, connector.id);
  const linksOnly = firstPull && initialSync === 'push-only';
  const started = performance.now();
  const counts: SourceCounts = {
    pages: 0,
    records: 0,
    calls: 0,
    ms: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    linked: 0,
    notLinked: 0,
    suppressed: 0,
    noIdentity: 0,
    deleted: 0,
    erasureRequests: 0,
  };
  let cursor: Json | undefined = (await options.store.getCursor(connector.id)) ?? undefined;
  let restarts = 0;
  for (;;) {
    // A failed page is read again from the last cursor (a generator that threw is over).
    const iterator: AsyncIterator<{ records: ExternalRecord[]; cursor: Json }> = pull(cursor, options.signal)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const readAt = new Date().toISOString();
        const next = await callExternal(options.callCtx, connector, 'pull', () => iterator.next(), { signal: options.signal });
        if (next.done) {
          counts.ms = Math.round(performance.now() - started);
          return { connector: connector.id, type: connector.type, initialSync, firstPull, ...counts };
        }
        for (const record of next.value.records) {
          if (linksOnly) await linkRecord(connector, record, readAt, state, counts);
          else await judgeRecord(connector, record, readAt, state, counts, options.policy);
        }
        cursor = next.value.cursor;
        restarts = 0;
        counts.pages++;
        counts.records += next.value.records.length;
        options.progress?.({ connector: connector.id, pages: counts.pages, records: counts.records });
      }
    } catch (err) {
      if (!(err instanceof RateLimitedError || err instanceof TransientError) || ++restarts > MAX_RESTARTS) throw err;
      // A 429 already blocks the limiter for its Retry-After; a transient error backs off.
      if (err instanceof TransientError) await sleep(Math.min(30_000, 500 * 2 ** restarts), options.signal);
    }
  }
}

/** A record of a first push-only pull: linked to a known person (its id and values), never ingested. */
async function linkRecord(connector: SyncConnector, record: ExternalRecord, readAt: string, state: PlanState, counts: SourceCounts) {
  if (record.deleted === true) {
    counts.deleted++;
    return;
  }
  const mapped = mapInbound(connector.mapping, record, {
    source: connector.id,
    receivedAt: instant(readAt),
    patchId: patchIdOf(connector.id, record),
  });
  const pid = (await state.byExternalId(connector.id, record.externalId)) ?? (await state.findByIdentities(mapped.patch.identities));
  if (pid === null) {
    counts.notLinked++;
    return;
  }
  await state.learn(connector.id, pid, { externalId: record.externalId, values: mapped.observed });
  state.mark(connector.id, pid);
  counts.linked++;
}

/** A record as ingest judges it (echo or patch, `assess`), merged in memory. */
async function judgeRecord(
  connector: SyncConnector,
  record: ExternalRecord,
  readAt: string,
  state: PlanState,
  counts: SourceCounts,
  policy: MergePolicy,
): Promise<void> {
  if (record.deleted === true) {
    counts.deleted++;
    return;
  }
  const flag = connector.erasureFlag;
  if (flag && jsonEqual(record.fields[flag.field], flag.value)) {
    counts.erasureRequests++;
    return;
  }
  const mapped = mapInbound(connector.mapping, record, {
    source: connector.id,
    receivedAt: instant(readAt),
    patchId: patchIdOf(connector.id, record),
  });
  let pid = await state.byExternalId(connector.id, record.externalId);
  if (pid === null && record.knownOnly === true) {
    counts.unchanged++;
    return;
  }
  pid ??= await state.findByIdentities(mapped.patch.identities);
  const shadow = pid === null ? null : await state.shadow(connector.id, pid);
  // What the hub would write, for a known record reporting a field its shadow never knew (as ingest).
  let expected: Record<string, Json> | undefined;
  if (pid !== null && shadow && Object.keys(mapped.observed).some((field) => !Object.hasOwn(shadow.values, field))) {
    const profile = await state.profile(pid);
    if (profile) expected = mapOutbound(connector.mapping, gateProfile(profile).profile, policy, new Date().toISOString()).fields;
  }
  const [decision] = assess({
    items: [{ connector, record, receivedAt: readAt }],
    outcomes: [undefined],
    mapped: [mapped],
    profileIds: [pid],
    loaded: [[]],
    shadows: [shadow],
    expected: [expected],
    toleranceMs: 0,
  }).decisions;
  if (!decision) return;
  if (decision.kind === 'echo') {
    if (pid !== null && decision.shadow) await state.learn(connector.id, pid, decision.shadow);
    counts.unchanged++;
    return;
  }
  const outcome = await state.apply(decision.patch, decision.options.observed);
  switch (outcome) {
    case 'created':
    case 'updated':
      counts[outcome]++;
      break;
    case 'unchanged': {
      counts.unchanged++;
      // The source holds values that lost: the next push corrects it (as ingest marks it dirty).
      const owner = pid ?? (await state.byExternalId(connector.id, record.externalId));
      if (owner !== null) state.mark(connector.id, owner);
      break;
    }
    case 'suppressed':
      counts.suppressed++;
      break;
    case 'no_identity':
      counts.noIdentity++;
      break;
  }
}

/** What a push to `connector` would do with every profile it would take. */
async function planTarget(connector: SyncConnector, state: PlanState, options: PlanOptions): Promise<PlanTarget> {
  const initialSync = connector.initialSync ?? 'both';
  const waiting = (waitsForFirstPull(connector) || holdsCreates(connector)) && (await firstPullPending(options.store, connector.id));
  const wanted = options.examples ?? 3;
  const target: PlanTarget = {
    connector: connector.id,
    type: connector.type,
    initialSync,
    waitsForFirstPull: waiting && waitsForFirstPull(connector),
    createsWaitForFirstPull: waiting && holdsCreates(connector),
    considered: 0,
    create: 0,
    update: 0,
    unchanged: 0,
    restricted: 0,
    suppressed: 0,
    fields: {},
    examples: [],
  };
  const fields = new Map<string, number>();
  const now = new Date().toISOString();
  for (const pid of state.candidates(connector.id)) {
    const profile = await state.profile(pid);
    if (!profile) continue;
    target.considered++;
    if (await state.suppressed(profile.identities)) {
      target.suppressed++;
      continue;
    }
    const shadow = (await state.shadow(connector.id, pid)) ?? undefined;
    const change = outboundChange(connector, profile, shadow, options.policy, now);
    if (change.kind === 'restricted') {
      target.restricted++;
      continue;
    }
    if (change.kind === 'unchanged') {
      target.unchanged++;
      continue;
    }
    const action = shadow?.externalId ? 'update' : 'create';
    target[action]++;
    for (const field of Object.keys(change.fields)) fields.set(field, (fields.get(field) ?? 0) + 1);
    if (target.examples.filter((e) => e.action === action).length < wanted) {
      target.examples.push(planExample(action, shadow?.externalId ?? undefined, change.fields, shadow?.values));
    }
  }
  target.fields = Object.fromEntries([...fields].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  return target;
}

/**
 * One planned write with e-mail addresses and phone numbers redacted, the record's id too (a
 * Segment `userId`, say, may be an e-mail address).
 */
export function planExample(
  action: 'create' | 'update',
  externalId: string | undefined,
  fields: Record<string, Json>,
  held: Record<string, Json> | undefined,
): PlanExample {
  const show = (value: Json): string => redactContacts(JSON.stringify(value)).slice(0, 200);
  return {
    action,
    ...(externalId === undefined ? {} : { externalId: redactContacts(externalId) }),
    fields: Object.fromEntries(
      Object.entries(fields).map(([field, to]) => {
        const from = held?.[field];
        return [field, { ...(from === undefined ? {} : { from: show(from) }), to: show(to) }];
      }),
    ),
  };
}

/**
 * Push: contact properties go through `batch/upsert` by e-mail for records HubSpot does not
 * know yet, and `batch/update` by id for known ones (so a changed e-mail updates the contact
 * rather than creating another), at most 100 per call. Subscription statuses go through the
 * v4 `statuses/batch/write`, with the legal basis mapped from the canonical consent. Partial
 * failures (207, per-input errors) are handled record by record; a call refused as a whole
 * throws, and the engine then sends the records one by one.
 */
import type { PushOutcome, PushRecord } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { HubSpotApi, Reservation } from './api.js';
import type { HubSpotConfig, HubSpotLegalBasis, SubscriptionType } from './config.js';
import { statusToWrite, subscriptionField, subscriptionIdOf, toHubSpotLegalBasis, toPropertyValue, type StatusState } from './mapping.js';
import { chunks, redactContacts } from '../../src/connector/kit/index.js';
import { BATCH, type HubSpotReader, type StatusOf } from './read.js';

interface StandardErrorLike {
  category?: string;
  message?: string;
  context?: Record<string, string[] | undefined>;
}

interface StatusWriteInput {
  subscriberIdString: string;
  subscriptionId: number;
  channel: 'EMAIL';
  statusState: StatusState;
  legalBasis?: HubSpotLegalBasis;
  legalBasisExplanation?: string;
}

interface StatusWriteResponse {
  /** `PublicStatus`es: `timestamp` is HubSpot's stamp of the status as written. */
  results?: { subscriberIdString: string; subscriptionId: number; status: string; timestamp?: string }[];
  errors?: StandardErrorLike[];
}

/** Per-input error categories that will not succeed on retry. */
const PERMANENT = new Set(['VALIDATION_ERROR', 'CONFLICT', 'OBJECT_NOT_FOUND', 'INVALID_EMAIL', 'OBJECT_ALREADY_EXISTS']);

interface Work {
  record: PushRecord;
  properties: Record<string, string>;
  statuses: Map<number, StatusState>;
  email: string | undefined;
  externalId: string | undefined;
  /** HubSpot's `updatedAt` of the contact after our properties landed. */
  updatedAt?: string;
  /** HubSpot's stamp of each status this push leaves (by subscription id): of our write, or of the one it already held. */
  statusesAt: Map<number, string>;
  failure?: PushOutcome;
}

function reasonOf(e: StandardErrorLike): string {
  return `${e.category ?? 'ERROR'}: ${redactContacts(e.message ?? 'no message').slice(0, 300)}`;
}

function outcomeOf(profileId: string, e: StandardErrorLike): PushOutcome {
  return PERMANENT.has(e.category ?? '')
    ? { status: 'rejected', profileId, reason: reasonOf(e), code: e.category ?? 'ERROR' }
    : { status: 'retryable', profileId, reason: reasonOf(e) };
}

export class HubSpotPusher {
  private readonly byId: Map<number, SubscriptionType>;

  constructor(
    private readonly api: HubSpotApi,
    private readonly reader: HubSpotReader,
    config: HubSpotConfig,
  ) {
    this.byId = new Map(config.subscriptions.map((s) => [s.id, s]));
  }

  async push(batch: readonly PushRecord[], signal: AbortSignal): Promise<PushOutcome[]> {
    const work = batch.map((record) => this.prepare(record));
    const creates = work.filter((w) => !w.failure && w.externalId === undefined);
    const updates = work.filter((w) => !w.failure && w.externalId !== undefined && Object.keys(w.properties).length > 0);
    const emails = new Set<string>();
    for (const w of creates) {
      if (!w.email)
        w.failure = {
          status: 'rejected',
          profileId: w.record.profileId,
          reason: 'no e-mail to create the HubSpot contact by',
          code: 'missing_email',
        };
      else if (emails.has(w.email))
        w.failure = { status: 'retryable', profileId: w.record.profileId, reason: 'another record of the batch has the same e-mail' };
      else emails.add(w.email);
    }
    // Every call this push makes is let through at once, or none is (see `HubSpotApi.reserve`).
    const statusWork = work.filter((w) => !w.failure && w.statuses.size > 0);
    const reservation = this.api.reserve(
      chunks(
        creates.filter((w) => !w.failure),
        BATCH,
      ).length +
        chunks(updates, BATCH).length +
        chunks(
          statusWork.filter((w) => w.email === undefined),
          BATCH,
        ).length +
        chunks(statusWork, BATCH).length +
        chunks(
          statusWork.flatMap((w) => [...w.statuses.keys()]),
          BATCH,
        ).length,
    );
    try {
      // What HubSpot holds before anything is written: a status someone chose after the hub's value is news, not overwritten.
      const held = await this.heldStatuses(statusWork, signal, reservation);
      await this.upsert(
        creates.filter((w) => !w.failure),
        signal,
        reservation,
      );
      const notFound = await this.update(
        updates.filter((w) => !w.failure),
        signal,
        reservation,
      );
      // A contact deleted in HubSpot meanwhile is created again when we know its e-mail.
      await this.upsert(
        notFound.filter((w) => w.email !== undefined && !w.failure),
        signal,
        reservation,
      );
      for (const w of notFound) {
        if (w.externalId !== undefined || w.failure) continue;
        w.failure = {
          status: 'rejected',
          profileId: w.record.profileId,
          reason: 'the HubSpot contact no longer exists',
          code: 'OBJECT_NOT_FOUND',
        };
      }
      await this.writeStatuses(
        statusWork.filter((w) => !w.failure),
        held,
        signal,
        reservation,
      );
    } finally {
      this.api.release(reservation);
    }
    return work.map(
      (w) =>
        w.failure ??
        (w.externalId
          ? {
              status: 'ok',
              profileId: w.record.profileId,
              externalId: w.externalId,
              // Statuses land later than the properties: a stamp for all the fields only without
              // them; with them, the stamp is the properties' own.
              ...(w.updatedAt !== undefined && w.statuses.size === 0 ? { writtenAt: w.updatedAt } : {}),
              ...(w.statuses.size > 0 ? fieldsWrittenAt(w) : {}),
            }
          : { status: 'retryable', profileId: w.record.profileId, reason: 'HubSpot returned no result for the record' }),
    );
  }

  private prepare(record: PushRecord): Work {
    const properties: Record<string, string> = {};
    const statuses = new Map<number, StatusState>();
    for (const [name, value] of Object.entries(record.fields)) {
      const id = subscriptionIdOf(name);
      if (id === undefined) properties[name] = toPropertyValue(value);
      else if (this.byId.has(id)) statuses.set(id, statusToWrite(value));
    }
    const email = properties.email ? properties.email.trim().toLowerCase() : undefined;
    return { record, properties, statuses, email, externalId: record.externalId, statusesAt: new Map() };
  }

  /** https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-upsert */
  private async upsert(work: Work[], signal: AbortSignal, reservation: Reservation): Promise<void> {
    for (const part of chunks(work, BATCH)) {
      const byEmail = new Map(part.map((w) => [w.email ?? '', w]));
      const res = await this.api.call(
        'standard',
        signal,
        () =>
          this.api.client.crm.contacts.batchApi.upsertWithHttpInfo({
            inputs: part.map((w) => ({ id: w.email ?? '', idProperty: 'email', properties: { ...w.properties, email: w.email ?? '' } })),
          }),
        reservation,
      );
      for (const r of res.data.results) {
        const w = byEmail.get((r.properties.email ?? '').toLowerCase());
        if (w) w.externalId = r.id;
      }
      const errors: StandardErrorLike[] = 'errors' in res.data ? (res.data.errors ?? []) : [];
      for (const e of errors) {
        for (const id of e.context?.ids ?? []) {
          const w = byEmail.get(id.trim().toLowerCase());
          if (w && w.externalId === undefined) w.failure = outcomeOf(w.record.profileId, e);
        }
      }
    }
  }

  /**
   * Updates known contacts by id; returns those HubSpot no longer has.
   * https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-update
   */
  private async update(work: Work[], signal: AbortSignal, reservation: Reservation): Promise<Work[]> {
    const notFound: Work[] = [];
    for (const part of chunks(work, BATCH)) {
      const byId = new Map(part.map((w) => [w.externalId ?? '', w]));
      const done = new Set<Work>();
      const res = await this.api.call(
        'standard',
        signal,
        () =>
          this.api.client.crm.contacts.batchApi.updateWithHttpInfo({
            inputs: part.map((w) => ({ id: w.externalId ?? '', properties: w.properties })),
          }),
        reservation,
      );
      for (const r of res.data.results) {
        const w = byId.get(r.id);
        if (!w) continue;
        done.add(w);
        w.updatedAt = r.updatedAt.toISOString();
      }
      const errors: StandardErrorLike[] = 'errors' in res.data ? (res.data.errors ?? []) : [];
      for (const e of errors) {
        for (const id of e.context?.ids ?? []) {
          const w = byId.get(id);
          if (!w || done.has(w)) continue;
          if (e.category === 'OBJECT_NOT_FOUND') notFound.push(w);
          else w.failure = outcomeOf(w.record.profileId, e);
        }
      }
      for (const w of part) {
        if (!done.has(w) && !w.failure && !notFound.includes(w)) {
          w.failure = { status: 'retryable', profileId: w.record.profileId, reason: 'HubSpot returned no result for the record' };
        }
      }
    }
    for (const w of notFound) w.externalId = undefined;
    return notFound;
  }

  /**
   * The subscription statuses HubSpot holds for the records whose statuses this push writes
   * (the e-mail of a known contact read first when the push does not carry it). A known contact
   * holding a status someone chose after the hub's value (`newerChoice`) is not written at all:
   * it is answered `retryable` with its id, the engine reads it first and the merge decides. No
   * HubSpot call makes the write itself conditional: a choice saved between this read and the
   * write is still overwritten.
   * https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-read
   */
  private async heldStatuses(work: Work[], signal: AbortSignal, reservation: Reservation): Promise<Map<string, Map<number, StatusOf>>> {
    const unknownEmail = work.filter((w) => w.email === undefined && w.externalId !== undefined);
    if (unknownEmail.length > 0) {
      const { found } = await this.reader.readContacts(
        unknownEmail.map((w) => w.externalId ?? ''),
        signal,
        undefined,
        reservation,
      );
      const emails = new Map(found.map((c) => [c.id, c.properties.email ?? undefined]));
      for (const w of unknownEmail) {
        const email = emails.get(w.externalId ?? '');
        if (email) w.email = email.toLowerCase();
        else
          w.failure = {
            status: 'retryable',
            profileId: w.record.profileId,
            reason: 'the HubSpot contact has no e-mail for its subscriptions',
          };
      }
    }
    const asked = work.filter((w) => !w.failure && w.email !== undefined);
    const held =
      asked.length > 0
        ? await this.reader.statuses(
            asked.map((w) => w.email ?? ''),
            signal,
            reservation,
          )
        : new Map<string, Map<number, StatusOf>>();
    for (const w of asked) {
      if (w.externalId === undefined) continue;
      const now = held.get(w.email ?? '');
      if ([...w.statuses].some(([id, state]) => newerChoice(w.record, subscriptionField(id), state, now?.get(id)))) {
        w.failure = {
          status: 'retryable',
          profileId: w.record.profileId,
          reason: "a subscription status was chosen in HubSpot after the hub's value: reading it before writing",
          retryAfterMs: 1_000,
          externalId: w.externalId,
        };
      }
    }
    return held;
  }

  /** https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-write */
  private async writeStatuses(
    work: Work[],
    held: ReadonlyMap<string, Map<number, StatusOf>>,
    signal: AbortSignal,
    reservation: Reservation,
  ): Promise<void> {
    const wanted: { work: Work; input: StatusWriteInput }[] = [];
    for (const w of work) {
      if (w.failure || !w.email) continue;
      for (const [id, state] of w.statuses) wanted.push({ work: w, input: this.statusInput(w, id, state) });
    }
    // A status HubSpot already holds (someone made the same choice there before its webhook
    // reached the hub) is not written again: a write that changes nothing is an echo write.
    // Such a status has stood since HubSpot's stamp of it: that is when it landed, as far as this push goes.
    const inputs = wanted.filter(({ work: w, input }) => {
      const now = held.get(input.subscriberIdString.toLowerCase())?.get(input.subscriptionId);
      const kept = now !== undefined && now.state === input.statusState && (now.legalBasis ?? undefined) === input.legalBasis;
      if (kept && now.at !== undefined) w.statusesAt.set(input.subscriptionId, now.at);
      return !kept;
    });
    for (const part of chunks(inputs, BATCH)) {
      const key = (email: string, id: number | string): string => `${email.toLowerCase()}|${id}`;
      const byKey = new Map(part.map((p) => [key(p.input.subscriberIdString, p.input.subscriptionId), p.work]));
      const written = new Set<string>();
      const res = await this.api.request<StatusWriteResponse>(
        signal,
        {
          method: 'POST',
          path: '/communication-preferences/v4/statuses/batch/write',
          body: { inputs: part.map((p) => p.input) },
        },
        reservation,
      );
      if (!res.data || !Array.isArray(res.data.results)) throw new MalformedPayloadError('statuses/batch/write answered without results');
      for (const r of res.data.results) {
        written.add(key(r.subscriberIdString, r.subscriptionId));
        const w = byKey.get(key(r.subscriberIdString, r.subscriptionId));
        if (w && r.timestamp !== undefined) w.statusesAt.set(Number(r.subscriptionId), r.timestamp);
      }
      for (const e of res.data.errors ?? []) {
        const emails = e.context?.subscriberIdString ?? [];
        const ids = e.context?.subscriptionId ?? [];
        emails.forEach((email, i) => {
          const w = byKey.get(key(email, ids[i] ?? ''));
          if (w && !w.failure) w.failure = outcomeOf(w.record.profileId, e);
        });
      }
      for (const p of part) {
        if (!written.has(key(p.input.subscriberIdString, p.input.subscriptionId)) && !p.work.failure) {
          p.work.failure = {
            status: 'retryable',
            profileId: p.work.record.profileId,
            reason: 'HubSpot did not confirm a subscription status',
          };
        }
      }
    }
  }

  private statusInput(w: Work, subscriptionId: number, state: StatusState): StatusWriteInput {
    const input: StatusWriteInput = { subscriberIdString: w.email ?? '', subscriptionId, channel: 'EMAIL', statusState: state };
    if (state !== 'SUBSCRIBED') return input;
    const type = this.byId.get(subscriptionId);
    const [purpose, channel] = type?.consent?.split('.') ?? [];
    const consent = purpose && channel ? w.record.profile?.consents[purpose]?.[channel] : undefined;
    if (consent) {
      const mapped = toHubSpotLegalBasis(consent.legalBasis);
      input.legalBasis = mapped.legalBasis;
      const evidence = [consent.evidence.method, consent.evidence.noticeVersion ? `notice ${consent.evidence.noticeVersion}` : undefined]
        .filter((x) => x !== undefined)
        .join(', ');
      input.legalBasisExplanation = redactContacts(`${mapped.article ? `${mapped.article}; ` : ''}recorded by Concord (${evidence})`).slice(
        0,
        500,
      );
    } else {
      input.legalBasis = type?.legalBasis ?? 'CONSENT_WITH_NOTICE';
    }
    return input;
  }
}

/**
 * HubSpot holds a status other than the one to write, set after the profile's value was chosen
 * (`PushRecord.valuesAt`), and not the one the hub last knew it held (`held`, as of when the hub
 * learnt that field, `heldFieldsAt`, else the row's `heldAt`): someone chose it after the hub's
 * choice, so writing over it would bury the newer one. Our own earlier write of that status,
 * known by then, is no such choice. (Judged by the row's time, a status re-chosen in HubSpot
 * after the hub last learnt it, before another field refreshed the row, passed for the known one.)
 */
function newerChoice(record: PushRecord, field: string, wanted: StatusState, status: StatusOf | undefined): boolean {
  if (status === undefined || status.state === wanted || status.at === undefined) return false;
  const setAt = Date.parse(status.at);
  const oursAt = Date.parse(record.valuesAt?.[field] ?? '');
  if (!Number.isFinite(setAt) || !Number.isFinite(oursAt) || setAt <= oursAt) return false;
  const knownAt = Date.parse(record.heldFieldsAt?.[field] ?? record.heldAt ?? '');
  return !(record.held?.[field] === status.state && Number.isFinite(knownAt) && setAt <= knownAt);
}

/**
 * When each field of a write with statuses landed, by HubSpot's stamps: the contact properties
 * at its `updatedAt`, each status at its own `timestamp` (a status already held, not written:
 * the stamp it had). A marketer's status stamped after ours landed is the state since, not a
 * value our write may have overwritten (taken for one, the shadow kept our value, and the
 * marketer's unsubscribe a moment later equalled it and was lost: storm, api+worker).
 */
function fieldsWrittenAt(w: Work): { fieldsWrittenAt?: Record<string, string> } {
  const out: Record<string, string> = {};
  if (w.updatedAt !== undefined) {
    for (const f of Object.keys(w.record.fields)) if (!f.startsWith('subscription:')) out[f] = w.updatedAt;
  }
  for (const [id, at] of w.statusesAt) if (w.statuses.has(id)) out[subscriptionField(id)] = at;
  return Object.keys(out).length > 0 ? { fieldsWrittenAt: out } : {};
}

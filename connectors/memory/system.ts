/**
 * An in-memory external system (a tiny CRM) for the engine's tests and benchmark. It knows
 * nothing of Concord: it holds records of free-form fields keyed by e-mail, and behaves like
 * the SaaS systems Concord talks to:
 *
 * - a change feed: every change stamps the record with a strictly increasing `modstamp`
 *   (milliseconds, time-like), so incremental pulls ask for `modstamp > since`; its change
 *   time (`updatedAt`) is the clock's, strictly increasing per record only, so a system
 *   changing more than one record per millisecond does not stamp changes in the future;
 * - batch upsert by e-mail (or by id) with one result per record;
 * - switches to reject a record permanently (poison), to fail records or whole calls with
 *   retryable errors, and a rate limit of N requests per window that answers 429 with
 *   Retry-After;
 * - call counters (the emulator kit's `CallLedger`; the system implements its `EmulatorControls`);
 * - erasure at once (default), or later (`asyncErase`), as Segment's regulations: `erase` answers
 *   a ticket, and the records go once `erasures` has been asked about it `steps` times;
 * - webhooks: every change, including changes written through the API (like HubSpot),
 *   is sent to a registered async sink as a signed JSON payload with an event id and the
 *   changed records. The origin marker (`fromApi`) is off by default, because the engine
 *   must survive systems that have none.
 *
 * The API surface (`MemorySystemApi`) is async and fails the way an HTTP client does
 * (`MemoryApiError` with `status`, `headers`, `body`; network resets as errors with
 * `code: 'ECONNRESET'`), so connectors classify failures with `classifyHttpError`. The
 * "user" side (`change`, `remove`, the switches and the stats) is not counted and not
 * rate-limited: it is what people do in the system's UI, and what tests use to look inside.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { CallLedger, type CallCounts, type EmulatorControls } from '../../src/connector/emulator-kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signMemoryWebhook } from './signature.js';

/** One record as the system holds it. */
export interface MemoryRecord {
  /** The system's id, e.g. `rec_12`. */
  id: string;
  /** Strictly increasing change stamp (ms, time-like): the change feed orders by it. */
  modstamp: number;
  /** When the record last changed (ISO instant). */
  updatedAt: string;
  /** Free-form fields; `email` is the upsert key (compared lower-cased). */
  fields: Record<string, Json>;
  /** The record's version: 1 when created, one more with each change (`ExternalRecord.version`). */
  version?: number;
}

/** One record to upsert: by `id` when given, else by `fields.email`. Fields are merged in. */
export interface UpsertInput {
  id?: string;
  fields: Record<string, Json>;
}

/** The per-record result of an upsert, in input order. */
export type UpsertResult =
  { status: 'ok'; id: string; created: boolean; changed: boolean } | { status: 'error'; retryable: boolean; code: string; message: string };

/** A reference to a record by id or e-mail. */
export interface MemoryRef {
  id?: string;
  email?: string;
}

/** One person to search for (`search`; a match of one identity, whichever, finds a record). */
export interface SearchQuery {
  /** E-mail addresses (compared lower-cased). */
  emails: string[];
  /** Phone numbers, compared with the record's `phone` field, digits and a leading `+` only. */
  phones: string[];
  /** Record ids. */
  ids: string[];
}

/** A record `search` found, and by which kinds of identity. */
export interface SearchHit {
  id: string;
  matchedBy: Array<'email' | 'phone' | 'id'>;
}

/**
 * The per-ref result of `erase`: `pending` when the system erases asynchronously (`asyncErase`):
 * the record is found and will go when its ticket finishes (one ticket per call).
 */
export type EraseResult =
  { status: 'erased'; id: string } | { status: 'not_found' } | { status: 'pending'; ticket: string; checkAfterMs: number };

/** Where an asynchronous erasure stands (`erasures`), named after Segment's regulation statuses. */
export interface ErasureStatus {
  ticket: string;
  /** `UNKNOWN`: the system has no such ticket. */
  state: 'INITIALIZED' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'UNKNOWN';
  /** `FAILED`: why, and whether erasing again may help. */
  reason?: string;
  retryable?: boolean;
  /** When to ask again (ms), while not finished. */
  checkAfterMs: number;
}

/** Asynchronous erasure (`MemorySystemOptions.asyncErase`). */
export interface AsyncErase {
  /** The `steps`-th question about a ticket (`erasures`) finds it finished (1: the first). */
  steps: number;
  /** The wait the system suggests between two questions, ms (default 50). */
  checkAfterMs?: number;
}

export interface ChangesPage {
  /** Records with `modstamp > since`, in modstamp order. */
  records: MemoryRecord[];
  /** More records follow this page. */
  hasMore: boolean;
}

/** The system's API, as a connector sees it. Every call counts as one request. */
export interface MemorySystemApi {
  /** Batch upsert, one result per input in order. At most `maxBatch` inputs (else HTTP 400). */
  upsert(inputs: UpsertInput[]): Promise<UpsertResult[]>;
  /** The change feed: records changed after `since`, oldest first, at most `limit`. */
  changes(query: { since: number; limit: number }): Promise<ChangesPage>;
  /** Records by id; unknown ids are left out. */
  read(ids: string[]): Promise<MemoryRecord[]>;
  /** Records by id or e-mail, one slot per ref (`null` when not found). */
  find(refs: MemoryRef[]): Promise<(MemoryRecord | null)[]>;
  /** Searches records by e-mail, phone and id: one list of hits per query, in order (`[]` when nothing matches). */
  search(queries: SearchQuery[]): Promise<SearchHit[][]>;
  /** Permanently deletes records (GDPR erasure), one result per ref; later, under a ticket, with `asyncErase`. */
  erase(refs: MemoryRef[]): Promise<EraseResult[]>;
  /** Where asynchronous erasures stand, one status per ticket in order (each question moves a ticket one step). */
  erasures(tickets: string[]): Promise<ErasureStatus[]>;
}

/** What the webhook sink receives: the raw body and headers, as an HTTP receiver would. */
export interface WebhookDelivery {
  eventId: string;
  body: Buffer;
  headers: Record<string, string>;
}
export type WebhookSink = (delivery: WebhookDelivery) => Promise<void>;

/** The JSON body of a webhook. */
export interface WebhookPayload {
  eventId: string;
  /** ISO instant of the change. */
  occurredAt: string;
  kind: 'changed' | 'deleted';
  /** `changed`: the changed records as they now are. */
  records?: MemoryRecord[];
  /** `deleted`: the ids removed. */
  ids?: string[];
  /** Only with `echoMarker: true`: whether the change was written through the API. */
  fromApi?: boolean;
}

export interface RateLimit {
  requests: number;
  windowMs: number;
  /** `rolling` (default, like HubSpot's TEN_SECONDLY_ROLLING): never more than N in any window. `fixed`: windows aligned on multiples of `windowMs`. */
  mode?: 'rolling' | 'fixed';
}

export interface MemorySystemOptions {
  /** Name for logs and the registry. */
  name?: string;
  /** HMAC secret for webhook signatures. */
  webhookSecret?: string;
  rateLimit?: RateLimit;
  /** Put `fromApi` in webhook payloads (an origin marker). Off by default. */
  echoMarker?: boolean;
  /** Most inputs one upsert call may carry (default 100). */
  maxBatch?: number;
  /** Simulated latency of every API call, ms (default 0). */
  latencyMs?: number;
  /** Delay before a webhook is sent, ms (default 0: right after the change, asynchronously). */
  webhookDelayMs?: number;
  /** Attempts per webhook when the sink throws (default 3), `webhookRetryDelayMs` apart (default 20). */
  webhookAttempts?: number;
  webhookRetryDelayMs?: number;
  /** Clock in ms (default `Date.now`). */
  clock?: () => number;
  /** Erase asynchronously, under tickets (see `AsyncErase`). Off by default: `erase` deletes at once. */
  asyncErase?: AsyncErase;
}

/** How a forced call failure looks. */
export type CallFailure = 'server_error' | 'reset' | 'rate_limited' | 'unauthorized';

export interface MemoryStats {
  /** API calls by operation (rate-limited and failed calls included). */
  calls: { upsert: number; changes: number; read: number; find: number; search: number; erase: number; erasures: number; total: number };
  /** Calls answered with 429 by the rate limiter. */
  rateLimited: number;
  /** Records received by upsert calls. */
  recordsUpserted: number;
  /** Upserted records that changed something. */
  recordsChanged: number;
  webhooksSent: number;
  webhooksFailed: number;
  /** The most requests accepted in any rolling window (when a rate limit is set). */
  peakRequestsInWindow: number;
}

/** An HTTP-like error of the API (what an HTTP client library would throw). */
export class MemoryApiError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Json;
  constructor(status: number, body: Json, headers: Record<string, string> = {}) {
    super(`memory system answered HTTP ${status}`);
    this.name = 'MemoryApiError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** A network-level failure (connection reset), shaped like Node's. */
export class MemoryNetworkError extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('socket hang up');
    this.name = 'MemoryNetworkError';
  }
}

function normEmail(value: Json | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().toLowerCase() : undefined;
}

/** A phone number as `search` compares it: digits, and a leading `+`. */
function normPhone(value: string): string {
  const trimmed = value.trim();
  return (trimmed.startsWith('+') ? '+' : '') + trimmed.replace(/\D/g, '');
}

function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function copy(record: MemoryRecord): MemoryRecord {
  return { ...record, fields: structuredClone(record.fields) };
}

/** The in-memory system. Construct one per test (or per benchmark system). */
export class MemorySystem implements MemorySystemApi, EmulatorControls {
  readonly name: string;
  readonly webhookSecret: string;
  private readonly options: MemorySystemOptions;
  private readonly clock: () => number;
  /** Insertion order is modstamp order: an update deletes and re-inserts. */
  private readonly records = new Map<string, MemoryRecord>();
  private readonly byEmail = new Map<string, string>();
  private lastModstamp = 0;
  /** Set once a late commit broke the "insertion order is modstamp order" invariant. */
  private outOfOrder = false;
  private seq = 0;
  private rateLimit: RateLimit | undefined;
  private readonly accepted: number[] = [];
  /** Accepted request times within the last rolling window, for `peakRequestsInWindow`. */
  private readonly recent: number[] = [];
  private readonly poisoned = new Map<string, string>();
  private readonly retryableFailures = new Map<string, number>();
  private readonly callFailures: (CallFailure | { retryAfterSeconds: number })[] = [];
  private sink: WebhookSink | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly sentPayloads = new Map<string, WebhookDelivery>();
  /** The stats other than the calls (those are the ledger's). */
  private stats: Omit<MemoryStats, 'calls' | 'rateLimited'> = MemorySystem.emptyStats();
  /** API calls per operation and calls refused with 429 (the emulator kit's ledger). */
  private readonly ledger = new CallLedger();
  private asyncErase: AsyncErase | undefined;
  /** Asynchronous erasures by ticket: the records to delete, questions so far, and a planned failure. */
  private readonly tickets = new Map<
    string,
    { ids: string[]; asked: number; steps: number; state: ErasureStatus['state']; failure?: { reason: string; retryable: boolean } }
  >();
  private readonly erasureFailures: { reason: string; retryable: boolean }[] = [];
  private erasuresHeld = false;

  constructor(options: MemorySystemOptions = {}) {
    this.options = options;
    this.name = options.name ?? 'memory';
    this.webhookSecret = options.webhookSecret ?? 'memory-webhook-secret';
    this.clock = options.clock ?? Date.now;
    this.rateLimit = options.rateLimit;
    this.asyncErase = options.asyncErase;
  }

  private static emptyStats(): Omit<MemoryStats, 'calls' | 'rateLimited'> {
    return {
      recordsUpserted: 0,
      recordsChanged: 0,
      webhooksSent: 0,
      webhooksFailed: 0,
      peakRequestsInWindow: 0,
    };
  }

  // ------------------------------------------------------------------ API (counted)

  async upsert(inputs: UpsertInput[]): Promise<UpsertResult[]> {
    await this.enter('upsert');
    const maxBatch = this.options.maxBatch ?? 100;
    if (inputs.length > maxBatch) {
      throw new MemoryApiError(400, { message: `at most ${maxBatch} inputs per call`, code: 'BATCH_TOO_LARGE' });
    }
    this.stats.recordsUpserted += inputs.length;
    const changed: MemoryRecord[] = [];
    const results = inputs.map((input) => this.upsertOne(input, changed));
    this.stats.recordsChanged += changed.length;
    this.emitChanged(changed, true);
    return results;
  }

  async changes(query: { since: number; limit: number }): Promise<ChangesPage> {
    await this.enter('changes');
    const limit = Math.max(1, Math.min(1000, Math.floor(query.limit)));
    const records: MemoryRecord[] = [];
    let hasMore = false;
    const ordered = this.outOfOrder
      ? [...this.records.values()].filter((r) => r.modstamp > query.since).sort((a, b) => a.modstamp - b.modstamp)
      : this.records.values();
    for (const record of ordered) {
      if (record.modstamp <= query.since) continue;
      if (records.length === limit) {
        hasMore = true;
        break;
      }
      records.push(copy(record));
    }
    return { records, hasMore };
  }

  async read(ids: string[]): Promise<MemoryRecord[]> {
    await this.enter('read');
    const out: MemoryRecord[] = [];
    for (const id of ids) {
      const r = this.records.get(id);
      if (r) out.push(copy(r));
    }
    return out;
  }

  async find(refs: MemoryRef[]): Promise<(MemoryRecord | null)[]> {
    await this.enter('find');
    return refs.map((ref) => {
      const r = this.resolve(ref);
      return r ? copy(r) : null;
    });
  }

  async search(queries: SearchQuery[]): Promise<SearchHit[][]> {
    await this.enter('search');
    return queries.map((query) => {
      const emails = new Set(query.emails.map((e) => e.trim().toLowerCase()));
      const phones = new Set(query.phones.map(normPhone).filter((p) => p !== ''));
      const ids = new Set(query.ids);
      const hits: SearchHit[] = [];
      for (const record of this.records.values()) {
        const matchedBy: SearchHit['matchedBy'] = [];
        const email = normEmail(record.fields['email']);
        const phone = record.fields['phone'];
        if (email !== undefined && emails.has(email)) matchedBy.push('email');
        if (typeof phone === 'string' && phones.has(normPhone(phone))) matchedBy.push('phone');
        if (ids.has(record.id)) matchedBy.push('id');
        if (matchedBy.length > 0) hits.push({ id: record.id, matchedBy });
      }
      return hits;
    });
  }

  async erase(refs: MemoryRef[]): Promise<EraseResult[]> {
    await this.enter('erase');
    if (this.asyncErase) return this.acceptErasure(refs, this.asyncErase);
    const erased: string[] = [];
    const results = refs.map((ref): EraseResult => {
      const r = this.resolve(ref);
      if (!r) return { status: 'not_found' };
      this.delete(r);
      erased.push(r.id);
      return { status: 'erased', id: r.id };
    });
    this.emitDeleted(erased, true);
    return results;
  }

  async erasures(tickets: string[]): Promise<ErasureStatus[]> {
    await this.enter('erasures');
    const checkAfterMs = this.asyncErase?.checkAfterMs ?? 50;
    return tickets.map((ticket): ErasureStatus => {
      const t = this.tickets.get(ticket);
      if (!t) return { ticket, state: 'UNKNOWN', checkAfterMs };
      if (this.erasuresHeld && t.state === 'INITIALIZED') t.state = 'RUNNING';
      else if (!this.erasuresHeld && (t.state === 'INITIALIZED' || t.state === 'RUNNING')) {
        t.asked += 1;
        t.state = t.asked < t.steps ? 'RUNNING' : t.failure ? 'FAILED' : 'FINISHED';
        if (t.state === 'FINISHED') {
          const erased = t.ids.flatMap((id) => {
            const r = this.records.get(id);
            if (!r) return [];
            this.delete(r);
            return [id];
          });
          this.emitDeleted(erased, true);
        }
      }
      return { ticket, state: t.state, checkAfterMs, ...(t.state === 'FAILED' ? t.failure : {}) };
    });
  }

  // ------------------------------------------------------------------ the "user" side (not counted)

  /** Erase asynchronously from now on (`undefined`: at once again). Tickets already given keep going. */
  setAsyncErase(options: AsyncErase | undefined): void {
    this.asyncErase = options;
  }

  /** The next ticket `erase` gives ends `FAILED` (at its last step) with this reason, records kept. */
  failNextErasure(reason = 'erasure failed', retryable = true): void {
    this.erasureFailures.push({ reason, retryable });
  }

  /** While held, questions move no ticket past `RUNNING` (and do not count as steps); `false` lets them go on. */
  holdErasures(hold = true): void {
    this.erasuresHeld = hold;
  }

  /** The tickets given so far, oldest first, with where each stands (not counted as a question). */
  erasureTickets(): { ticket: string; state: ErasureStatus['state']; records: number }[] {
    return [...this.tickets].map(([ticket, t]) => ({ ticket, state: t.state, records: t.ids.length }));
  }

  /**
   * A change made by a person in the system's UI: upsert by `id`, else by `fields.email`.
   * `at` (ms) sets the change time (`updatedAt`), for tests that replay changes out of order;
   * the modstamp still increases. `commitLagMs` simulates a transaction that committed late:
   * the record becomes visible now but is stamped `commitLagMs` in the past (like Salesforce
   * SystemModstamp), so only a pull with a look-back window finds it. Fires a webhook
   * (`fromApi: false`). Returns the record.
   */
  change(fields: Record<string, Json>, options: { id?: string; at?: number; commitLagMs?: number } = {}): MemoryRecord {
    const changed: MemoryRecord[] = [];
    const input: UpsertInput = options.id === undefined ? { fields } : { id: options.id, fields };
    const result = this.upsertOne(input, changed, options.at, true, options.commitLagMs);
    if (result.status !== 'ok') throw new Error(`change refused: ${result.code} ${result.message}`);
    this.emitChanged(changed, false);
    const record = this.records.get(result.id);
    if (!record) throw new Error('record vanished');
    return copy(record);
  }

  /** A person deletes a record in the UI. Fires a `deleted` webhook. Returns whether it existed. */
  remove(ref: MemoryRef): boolean {
    const r = this.resolve(ref);
    if (!r) return false;
    this.delete(r);
    this.emitDeleted([r.id], false);
    return true;
  }

  /** A record by id or e-mail (a copy), without counting a call. */
  get(ref: MemoryRef | string): MemoryRecord | undefined {
    const r = this.resolve(typeof ref === 'string' ? { id: ref } : ref);
    return r ? copy(r) : undefined;
  }

  /** Every record (copies), in modstamp order. */
  all(): MemoryRecord[] {
    return [...this.records.values()].map(copy);
  }

  get size(): number {
    return this.records.size;
  }

  /** Upserts of this e-mail are rejected permanently (code `INVALID_RECORD`) until `unpoison`. */
  poison(email: string, reason = 'record rejected by validation rule'): void {
    this.poisoned.set(email.trim().toLowerCase(), reason);
  }

  unpoison(email: string): void {
    this.poisoned.delete(email.trim().toLowerCase());
  }

  /** The next `times` upserts of this e-mail fail with a retryable per-record error. */
  failRecord(email: string, times = 1): void {
    this.retryableFailures.set(email.trim().toLowerCase(), times);
  }

  /** The next API calls fail wholesale, one failure per call, in order. */
  failNextCalls(...failures: CallFailure[]): void {
    this.callFailures.push(...failures);
  }

  /** The next API call answers 429 with `Retry-After: <retryAfterSeconds>` (counted as rate-limited). */
  rateLimitNextCall(retryAfterSeconds = 1): void {
    this.callFailures.push({ retryAfterSeconds });
  }

  /** Sets (or removes, with `undefined`) the rate limit. */
  setRateLimit(limit: RateLimit | undefined): void {
    this.rateLimit = limit;
    this.accepted.length = 0;
    this.recent.length = 0;
  }

  /** Registers the webhook receiver (or removes it with `undefined`). */
  onWebhook(sink: WebhookSink | undefined): void {
    this.sink = sink;
  }

  /** Waits until every webhook scheduled so far has been delivered (or has failed for good). */
  async flushWebhooks(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Sends a past webhook again, byte for byte (at-least-once delivery, duplicates). */
  redeliver(eventId: string): Promise<void> {
    const delivery = this.sentPayloads.get(eventId);
    if (!delivery) throw new Error(`no webhook with event id ${eventId}`);
    return this.track(this.deliver(delivery, 0));
  }

  /** Ids of every webhook event emitted so far, oldest first. */
  webhookEventIds(): string[] {
    return [...this.sentPayloads.keys()];
  }

  /** A copy of the counters. */
  getStats(): MemoryStats {
    const { total, byEndpoint, rateLimited } = this.ledger.calls();
    const calls = { upsert: 0, changes: 0, read: 0, find: 0, search: 0, erase: 0, erasures: 0, ...byEndpoint, total };
    return structuredClone({ calls, rateLimited, ...this.stats });
  }

  resetStats(): void {
    this.stats = MemorySystem.emptyStats();
    this.ledger.reset();
  }

  /** API calls so far, per operation (`upsert`, `changes`, ...); `EmulatorControls` naming of `getStats().calls`. */
  calls(): CallCounts {
    return this.ledger.calls();
  }

  /** Forgets the API calls counted so far (the other stats stay). */
  resetCalls(): void {
    this.ledger.reset();
  }

  /** A person creates or edits the record of this address in the UI (fires a webhook). */
  userChange(email: string): MemoryRecord {
    return this.change({ email, first_name: 'Web', email_opt_out: false, newsletter: true });
  }

  // ------------------------------------------------------------------ internals

  private async enter(op: Exclude<keyof MemoryStats['calls'], 'total'>): Promise<void> {
    this.ledger.count(op);
    if (this.options.latencyMs) await sleep(this.options.latencyMs);
    else await Promise.resolve();
    const failure = this.callFailures.shift();
    if (failure === 'server_error') throw new MemoryApiError(503, { message: 'service unavailable' });
    if (failure === 'reset') throw new MemoryNetworkError();
    if (failure === 'unauthorized') throw new MemoryApiError(401, { message: 'invalid token' });
    if (failure === 'rate_limited') throw this.tooMany(1);
    if (typeof failure === 'object') throw this.tooMany(failure.retryAfterSeconds);
    this.admit();
  }

  private tooMany(seconds: number): MemoryApiError {
    this.ledger.refused();
    return new MemoryApiError(
      429,
      { message: 'rate limit exceeded', policyName: this.rateLimit?.mode === 'fixed' ? 'FIXED_WINDOW' : 'ROLLING_WINDOW' },
      { 'retry-after': String(seconds) },
    );
  }

  private admit(): void {
    const limit = this.rateLimit;
    if (!limit) return;
    const now = this.clock();
    const fixed = limit.mode === 'fixed';
    const windowStart = fixed ? Math.floor(now / limit.windowMs) * limit.windowMs : now - limit.windowMs;
    while (this.accepted.length > 0 && (this.accepted[0] ?? 0) <= windowStart - (fixed ? 1 : 0)) this.accepted.shift();
    if (this.accepted.length >= limit.requests) {
      const wait = fixed ? windowStart + limit.windowMs - now : (this.accepted[0] ?? now) + limit.windowMs - now;
      throw this.tooMany(Math.max(1, Math.ceil(wait / 1000)));
    }
    this.accepted.push(now);
    // Peak over a rolling window, whatever the mode.
    this.recent.push(now);
    while (this.recent.length > 0 && (this.recent[0] ?? 0) <= now - limit.windowMs) this.recent.shift();
    this.stats.peakRequestsInWindow = Math.max(this.stats.peakRequestsInWindow, this.recent.length);
  }

  /** `erase` under `asyncErase`: the records found wait under one new ticket; the rest are not found. */
  private acceptErasure(refs: MemoryRef[], options: AsyncErase): EraseResult[] {
    const found = refs.map((ref) => this.resolve(ref));
    if (found.every((r) => r === undefined)) return refs.map(() => ({ status: 'not_found' }));
    const ticket = `erq_${this.tickets.size + 1}`;
    const failure = this.erasureFailures.shift();
    this.tickets.set(ticket, {
      ids: [...new Set(found.flatMap((r) => (r ? [r.id] : [])))],
      asked: 0,
      steps: Math.max(1, options.steps),
      state: 'INITIALIZED',
      ...(failure ? { failure } : {}),
    });
    const checkAfterMs = options.checkAfterMs ?? 50;
    return found.map((r): EraseResult => (r ? { status: 'pending', ticket, checkAfterMs } : { status: 'not_found' }));
  }

  private resolve(ref: MemoryRef): MemoryRecord | undefined {
    if (ref.id !== undefined) return this.records.get(ref.id);
    const email = normEmail(ref.email);
    if (email === undefined) return undefined;
    const id = this.byEmail.get(email);
    return id === undefined ? undefined : this.records.get(id);
  }

  private delete(record: MemoryRecord): void {
    this.records.delete(record.id);
    const email = normEmail(record.fields['email']);
    if (email !== undefined && this.byEmail.get(email) === record.id) this.byEmail.delete(email);
  }

  private nextModstamp(): number {
    this.lastModstamp = Math.max(this.clock(), this.lastModstamp + 1);
    return this.lastModstamp;
  }

  private upsertOne(input: UpsertInput, changed: MemoryRecord[], at?: number, fromUser = false, commitLagMs = 0): UpsertResult {
    let record: MemoryRecord | undefined;
    const email = normEmail(input.fields['email']);
    if (input.id !== undefined) {
      record = this.records.get(input.id);
      if (!record) return { status: 'error', retryable: false, code: 'NOT_FOUND', message: 'no record with this id' };
    } else {
      if (email === undefined) {
        return { status: 'error', retryable: false, code: 'MISSING_EMAIL', message: 'email is required to create or match a record' };
      }
      const id = this.byEmail.get(email);
      record = id === undefined ? undefined : this.records.get(id);
    }
    const key = email ?? normEmail(record?.fields['email']);
    if (!fromUser && key !== undefined) {
      const reason = this.poisoned.get(key);
      if (reason !== undefined) return { status: 'error', retryable: false, code: 'INVALID_RECORD', message: reason };
      const left = this.retryableFailures.get(key) ?? 0;
      if (left > 0) {
        if (left === 1) this.retryableFailures.delete(key);
        else this.retryableFailures.set(key, left - 1);
        return { status: 'error', retryable: true, code: 'TEMPORARILY_UNAVAILABLE', message: 'record locked, try again' };
      }
    }
    if (email !== undefined) {
      const owner = this.byEmail.get(email);
      if (owner !== undefined && record !== undefined && owner !== record.id) {
        return { status: 'error', retryable: false, code: 'DUPLICATE_EMAIL', message: 'another record has this email' };
      }
    }
    const created = record === undefined;
    const fields: Record<string, Json> = record ? { ...record.fields } : {};
    let differs = created;
    for (const [k, v] of Object.entries(input.fields)) {
      if (!jsonEqual(fields[k], v)) {
        fields[k] = structuredClone(v);
        differs = true;
      }
    }
    const id = record?.id ?? `rec_${++this.seq}`;
    if (!differs) return { status: 'ok', id, created: false, changed: false };
    let modstamp = this.nextModstamp();
    if (commitLagMs > 0) {
      modstamp = Math.max(1, modstamp - commitLagMs);
      this.outOfOrder = true;
    }
    // The change time is the clock's (a busy system does not run ahead of it), after the
    // record's previous change: the modstamp is only the change feed's strictly increasing cursor.
    const stampedAt = at ?? Math.max(this.clock() - commitLagMs, record ? Date.parse(record.updatedAt) + 1 : 0);
    const next: MemoryRecord = { id, modstamp, updatedAt: new Date(stampedAt).toISOString(), fields, version: (record?.version ?? 0) + 1 };
    if (record) this.delete(record);
    this.records.set(id, next);
    const newEmail = normEmail(fields['email']);
    if (newEmail !== undefined) this.byEmail.set(newEmail, id);
    changed.push(copy(next));
    return { status: 'ok', id, created, changed: true };
  }

  private emitChanged(records: MemoryRecord[], fromApi: boolean): void {
    if (records.length === 0) return;
    const last = records[records.length - 1];
    this.emit({ kind: 'changed', records, occurredAt: last?.updatedAt ?? new Date(this.clock()).toISOString() }, fromApi);
  }

  private emitDeleted(ids: string[], fromApi: boolean): void {
    if (ids.length === 0) return;
    this.emit({ kind: 'deleted', ids, occurredAt: new Date(this.clock()).toISOString() }, fromApi);
  }

  private emit(event: Omit<WebhookPayload, 'eventId' | 'fromApi'>, fromApi: boolean): void {
    const eventId = randomUUID();
    const payload: WebhookPayload = { eventId, ...event, ...(this.options.echoMarker ? { fromApi } : {}) };
    const body = Buffer.from(JSON.stringify(payload));
    const delivery: WebhookDelivery = {
      eventId,
      body,
      headers: {
        'content-type': 'application/json',
        [EVENT_ID_HEADER]: eventId,
        [SIGNATURE_HEADER]: signMemoryWebhook(this.webhookSecret, body, this.clock()),
      },
    };
    this.sentPayloads.set(eventId, delivery);
    if (this.sink) void this.track(this.deliver(delivery, this.options.webhookDelayMs ?? 0));
  }

  private track(p: Promise<void>): Promise<void> {
    this.pending.add(p);
    return p.finally(() => this.pending.delete(p));
  }

  private async deliver(delivery: WebhookDelivery, delayMs: number): Promise<void> {
    await sleep(delayMs);
    const attempts = this.options.webhookAttempts ?? 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const sink = this.sink;
      if (!sink) return;
      try {
        await sink(delivery);
        this.stats.webhooksSent += 1;
        return;
      } catch {
        if (attempt < attempts) await sleep(this.options.webhookRetryDelayMs ?? 20);
      }
    }
    this.stats.webhooksFailed += 1;
  }
}

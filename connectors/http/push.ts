/**
 * Writes: one call per record through the declared create/update (or upsert) endpoints, or a batch
 * endpoint with an outcome per record in its answer. A failure of one record is its outcome
 * (`retryable` for 429/5xx, `rejected` for another 4xx or a record over `maxRequestBytes`, with the
 * system's message, e-mail addresses removed); a batch refused as a whole is split to find the
 * record it refuses. A record that may exist (`mayExist`, no id known) is looked up through
 * `read.find` first, and so is a create that failed in transit (it may have landed): found, it is
 * `retryable` with its id, not written. A whole push throws only when nothing could be written
 * (every record rate-limited, the credentials or the target refused, a config mistake).
 */
import { ConnectorError, RateLimitedError, RejectedError, RequestTooLargeError, TransientError } from '../../src/connector/errors.js';
import type { PushOutcome, PushRecord } from '../../src/connector/define.js';
import { chunks, redactContacts } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import { failsTheInstance, type ApiAnswer, type HttpApi } from './api.js';
import type { BatchEndpoint, HttpConfig, WriteEndpoint } from './config.js';
import { getPath, idOf, recordBody, select, selectOne } from './records.js';
import { expandPath, expandQuery, renderBody } from './template.js';
import { findByEmail } from './read.js';

/** The e-mail address of a pushed record: its mapped field, else the profile's identity. */
export function emailOfRecord(record: PushRecord, emailField: string): string | undefined {
  const field = record.fields[emailField];
  if (typeof field === 'string' && field !== '') return field;
  return record.profile?.identities.find((i) => i.kind === 'email')?.value;
}

/** A system's message as a reason: e-mail addresses removed first, then cut (a cut address would escape the redaction). */
function shortReason(message: string): string {
  return redactContacts(message).slice(0, 200);
}

function failedOutcome(profileId: string, error: unknown): PushOutcome {
  if (error instanceof RateLimitedError) {
    return { status: 'retryable', profileId, reason: redactContacts(error.message), retryAfterMs: error.retryAfterMs };
  }
  if (error instanceof RejectedError) {
    return {
      status: 'rejected',
      profileId,
      reason: redactContacts(error.message),
      ...(error.reasonCode ? { code: error.reasonCode } : {}),
    };
  }
  // No retry makes a record smaller.
  if (error instanceof RequestTooLargeError) return { status: 'rejected', profileId, reason: error.message, code: 'too_large' };
  if (failsTheInstance(error)) throw error;
  if (error instanceof ConnectorError) return { status: 'retryable', profileId, reason: redactContacts(error.message) };
  throw error;
}

/** A push in which nothing was written because every record was rate-limited is a 429 for the whole call. */
function parkIfAllLimited(outcomes: PushOutcome[], errors: unknown[]): PushOutcome[] {
  const limited = errors.filter((e): e is RateLimitedError => e instanceof RateLimitedError);
  if (outcomes.length > 0 && limited.length === outcomes.length) {
    const wait = Math.max(...limited.map((e) => e.retryAfterMs));
    throw new RateLimitedError(limited[0]?.message ?? 'rate limited', { retryAfterMs: wait, nothingWritten: true });
  }
  return outcomes;
}

export class HttpPusher {
  constructor(
    private readonly api: HttpApi,
    private readonly config: HttpConfig,
  ) {}

  /** Whether the instance declares any write endpoint. */
  get writes(): boolean {
    const w = this.config.write;
    return w.batch !== undefined || w.upsert !== undefined || w.create !== undefined;
  }

  async push(batch: readonly PushRecord[], signal: AbortSignal): Promise<PushOutcome[]> {
    if (batch.length === 0) return [];
    const { batch: endpoint } = this.config.write;
    if (endpoint !== undefined) return this.pushBatches(batch, endpoint, signal);
    const errors: unknown[] = [];
    const outcomes = await Promise.all(
      batch.map((record) =>
        this.pushOne(record, signal).catch((error: unknown) => {
          errors.push(error);
          return failedOutcome(record.profileId, error);
        }),
      ),
    );
    return parkIfAllLimited(outcomes, errors);
  }

  private async pushOne(record: PushRecord, signal: AbortSignal): Promise<PushOutcome> {
    const { create, update, upsert } = this.config.write;
    const email = emailOfRecord(record, this.config.record.email);
    if (record.externalId !== undefined && update !== undefined) {
      const answer = await this.write(update, record, email, signal, [404, 410]);
      if (answer.status === 404 || answer.status === 410) {
        return { status: 'rejected', profileId: record.profileId, reason: 'the record no longer exists in the system', code: 'not_found' };
      }
      return { status: 'ok', profileId: record.profileId, externalId: record.externalId };
    }
    const endpoint = upsert ?? create;
    if (endpoint === undefined) {
      return {
        status: 'rejected',
        profileId: record.profileId,
        reason: 'the instance declares no write endpoint',
        code: 'no_write_endpoint',
      };
    }
    const known = await this.mayExistAs(record, email, signal);
    if (known !== undefined) return known;
    let answer: ApiAnswer;
    try {
      answer = await this.write(endpoint, record, email, signal, [409]);
    } catch (error) {
      // A create that failed in transit (a timeout, a 5xx, no answer) may have landed: look once before it is written again.
      const landed =
        upsert === undefined && error instanceof TransientError && email !== undefined
          ? await this.existing(email, signal).catch(() => undefined)
          : undefined;
      if (landed === undefined) throw error;
      return { status: 'retryable', profileId: record.profileId, reason: 'the create may have landed: read it first', externalId: landed };
    }
    if (answer.status === 409) {
      // A duplicate: someone (or an earlier attempt of ours) made the record. Read it, then write.
      const found = email === undefined ? undefined : await this.existing(email, signal);
      if (found !== undefined)
        return { status: 'retryable', profileId: record.profileId, reason: 'the record exists: read it first', externalId: found };
      return { status: 'rejected', profileId: record.profileId, reason: 'the system says the record exists (HTTP 409)', code: 'duplicate' };
    }
    // An answer without the id (e.g. 204): the record landed; find it rather than write it again.
    const externalId =
      idOf(selectOne(answer.json, endpoint.id ?? `$.${this.config.record.id}`)) ??
      record.externalId ??
      (email === undefined ? undefined : await this.existing(email, signal));
    if (externalId === undefined) {
      return { status: 'retryable', profileId: record.profileId, reason: 'the system answered without the record id' };
    }
    return {
      status: 'ok',
      profileId: record.profileId,
      externalId,
      ...(answer.status === 201 && upsert === undefined ? { created: true } : {}),
    };
  }

  /**
   * A record that may exist already (`PushRecord.mayExist`) with no id known, found through
   * `read.find`: not written, `retryable` with its id, so the engine reads it before writing.
   */
  private async mayExistAs(record: PushRecord, email: string | undefined, signal: AbortSignal): Promise<PushOutcome | undefined> {
    if (record.mayExist !== true || record.externalId !== undefined || email === undefined) return undefined;
    const found = await this.existing(email, signal);
    if (found === undefined) return undefined;
    return { status: 'retryable', profileId: record.profileId, reason: 'the record may exist: read it first', externalId: found };
  }

  private async existing(email: string, signal: AbortSignal): Promise<string | undefined> {
    if (this.config.read.find === undefined) return undefined;
    const [found] = await findByEmail(this.api, this.config, email, signal);
    return found?.externalId;
  }

  private write(endpoint: WriteEndpoint, record: PushRecord, email: string | undefined, signal: AbortSignal, accept: readonly number[]) {
    const vars = { ...(record.externalId === undefined ? {} : { id: record.externalId }), ...(email === undefined ? {} : { email }) };
    const body = renderBody(endpoint.body, { record: recordBody(record.fields), fields: record.fields, id: record.externalId, email });
    return this.api.call(
      {
        method: endpoint.method,
        path: expandPath(endpoint.path, vars),
        query: expandQuery(endpoint.query, vars),
        ...(body === undefined ? {} : { body }),
        accept,
      },
      signal,
    );
  }

  private async pushBatches(batch: readonly PushRecord[], endpoint: BatchEndpoint, signal: AbortSignal): Promise<PushOutcome[]> {
    const errors: unknown[] = [];
    // The records that may exist and are found are left out of the batch: the engine reads them first.
    const found = await Promise.all(
      batch.map((record) =>
        this.mayExistAs(record, emailOfRecord(record, this.config.record.email), signal).catch((error: unknown) => {
          errors.push(error);
          return failedOutcome(record.profileId, error);
        }),
      ),
    );
    const written: PushOutcome[] = [];
    const toWrite = batch.filter((_, i) => found[i] === undefined);
    for (const part of chunks(toWrite, endpoint.maxBatch)) written.push(...(await this.pushPart(part, endpoint, signal, errors)));
    const inOrder = written.values();
    const outcomes = batch.map(
      (record, i): PushOutcome =>
        found[i] ?? inOrder.next().value ?? { status: 'retryable', profileId: record.profileId, reason: 'no outcome for this record' },
    );
    return parkIfAllLimited(outcomes, errors);
  }

  /**
   * One batch call for `part`. A call refused as a whole, for its size (`maxRequestBytes`) or by a
   * 4xx, is split in halves until the refusal is one record's, so one record never sinks the others.
   */
  private async pushPart(
    part: readonly PushRecord[],
    endpoint: BatchEndpoint,
    signal: AbortSignal,
    errors: unknown[],
  ): Promise<PushOutcome[]> {
    try {
      return await this.pushBatch(part, endpoint, signal);
    } catch (error) {
      if (part.length > 1 && (error instanceof RejectedError || error instanceof RequestTooLargeError)) {
        const half = Math.ceil(part.length / 2);
        return [
          ...(await this.pushPart(part.slice(0, half), endpoint, signal, errors)),
          ...(await this.pushPart(part.slice(half), endpoint, signal, errors)),
        ];
      }
      return part.map((record) => {
        errors.push(error);
        return failedOutcome(record.profileId, error);
      });
    }
  }

  private async pushBatch(part: readonly PushRecord[], endpoint: BatchEndpoint, signal: AbortSignal): Promise<PushOutcome[]> {
    const items = part.map((record, i) =>
      renderBody(endpoint.item, {
        record: recordBody(record.fields),
        fields: record.fields,
        id: record.externalId,
        email: emailOfRecord(record, this.config.record.email),
        ref: String(i),
      }),
    );
    const body = renderBody(endpoint.body, { items: items.filter((item): item is Json => item !== undefined) });
    const answer = await this.api.call(
      { method: endpoint.method, path: endpoint.path, query: expandQuery(endpoint.query, {}), ...(body === undefined ? {} : { body }) },
      signal,
    );
    const results = select(answer.json, endpoint.results);
    return part.map((record, i) => {
      const result =
        endpoint.resultRef === undefined ? results[i] : results.find((r) => String(getPath(r, endpoint.resultRef ?? '')) === String(i));
      if (result === undefined)
        return { status: 'retryable', profileId: record.profileId, reason: 'the batch answer has no result for this record' };
      if (getPath(result, endpoint.resultStatus.path) !== endpoint.resultStatus.ok) {
        const message = endpoint.resultError === undefined ? undefined : getPath(result, endpoint.resultError);
        const reason = typeof message === 'string' ? shortReason(message) : 'the system refused the record';
        return { status: 'rejected', profileId: record.profileId, reason };
      }
      const externalId = idOf(getPath(result, endpoint.resultId)) ?? record.externalId;
      if (externalId === undefined)
        return { status: 'retryable', profileId: record.profileId, reason: 'the batch result has no record id' };
      const created = endpoint.resultCreated !== undefined && getPath(result, endpoint.resultCreated) === true;
      return { status: 'ok', profileId: record.profileId, externalId, ...(created ? { created: true } : {}) };
    });
  }
}

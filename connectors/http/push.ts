/**
 * Writes: one call per record through the declared create/update (or upsert) endpoints, or a batch
 * endpoint with an outcome per record in its answer. A failure of one record is its outcome
 * (`retryable` for 429/5xx, `rejected` for another 4xx or a record over `maxRequestBytes`, with the
 * system's message, e-mail addresses removed); a batch refused as a whole is split to find the
 * record it refuses. A whole push throws only when nothing could be written (every record
 * rate-limited, the credentials or the target refused, a config mistake).
 */
import { ConnectorError, RateLimitedError, RejectedError, RequestTooLargeError } from '../../src/connector/errors.js';
import type { PushOutcome, PushRecord } from '../../src/connector/define.js';
import { chunks, redactEmails } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import { failsTheInstance, type HttpApi } from './api.js';
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

function failedOutcome(profileId: string, error: unknown): PushOutcome {
  if (error instanceof RateLimitedError) return { status: 'retryable', profileId, reason: error.message, retryAfterMs: error.retryAfterMs };
  if (error instanceof RejectedError) {
    return { status: 'rejected', profileId, reason: redactEmails(error.message), ...(error.reasonCode ? { code: error.reasonCode } : {}) };
  }
  // No retry makes a record smaller.
  if (error instanceof RequestTooLargeError) return { status: 'rejected', profileId, reason: error.message, code: 'too_large' };
  if (failsTheInstance(error)) throw error;
  if (error instanceof ConnectorError) return { status: 'retryable', profileId, reason: error.message };
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
    if (record.mayExist === true && upsert === undefined && email !== undefined) {
      const found = await this.existing(email, signal);
      if (found !== undefined)
        return { status: 'retryable', profileId: record.profileId, reason: 'the record may exist: read it first', externalId: found };
    }
    const answer = await this.write(endpoint, record, email, signal, [409]);
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

  private async existing(email: string, signal: AbortSignal): Promise<string | undefined> {
    if (this.config.read.find === undefined) return undefined;
    const [found] = await findByEmail(this.api, this.config, email, signal);
    return found?.externalId;
  }

  private write(endpoint: WriteEndpoint, record: PushRecord, email: string | undefined, signal: AbortSignal, accept: readonly number[]) {
    const vars = { ...(record.externalId === undefined ? {} : { id: record.externalId }), ...(email === undefined ? {} : { email }) };
    const body = renderBody(endpoint.body, { record: recordBody(record.fields), id: record.externalId, email });
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
    const outcomes: PushOutcome[] = [];
    const errors: unknown[] = [];
    for (const part of chunks([...batch], endpoint.maxBatch)) outcomes.push(...(await this.pushPart(part, endpoint, signal, errors)));
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
        const reason = typeof message === 'string' ? redactEmails(message.slice(0, 200)) : 'the system refused the record';
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

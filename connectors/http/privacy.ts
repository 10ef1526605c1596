/**
 * Data-subject rights on a generic system: erasure through the declared `delete` endpoint (each
 * record the ref names, an e-mail found through `read.find`), and/or a `dsr.erasure_requested`
 * webhook the system acts on (then `pending` until the webhook is delivered); export through the
 * `export` endpoint (else `read.get`), with everything its answer holds (the record whole, the rest as related). A ref known by its e-mail
 * alone needs `read.find` (or, for erasure, the webhook): without, erasure fails (not retryable)
 * and export is refused, rather than report nothing held.
 */
import { ConnectorError, RateLimitedError, RejectedError } from '../../src/connector/errors.js';
import { isDeepStrictEqual } from 'node:util';
import type { EraseOutcome, EraseRef, ErasureProgress, ExportedRecord, OutboundWebhooks } from '../../src/connector/define.js';
import { nonEmptyFields } from '../../src/connector/kit/index.js';
import { failsTheInstance, type HttpApi } from './api.js';
import type { HttpConfig } from './config.js';
import { erasureMessage } from './events-out.js';
import { findByEmail } from './read.js';
import { asJson, isObject, selectOne, toExternalRecord } from './records.js';
import { expandPath, expandQuery } from './template.js';

/** How often a delivery of `dsr.erasure_requested` is asked about. */
const DELIVERY_POLL_MS = 30_000;

/** Why a ref known by its e-mail alone cannot be acted on. */
const NO_FIND = 'cannot look a record up by e-mail: declare read.find';

/**
 * The system's ids a ref names: its own id, or the records holding its e-mail. A ref known by its
 * e-mail alone on an instance without `read.find` is a `RejectedError`: "nothing held" would be a
 * guess, and an erasure or export must not report one.
 */
async function idsOf(api: HttpApi, config: HttpConfig, ref: EraseRef, signal: AbortSignal): Promise<string[]> {
  if (ref.externalId !== undefined) return [ref.externalId];
  if (ref.email === undefined) return [];
  if (config.read.find === undefined) throw new RejectedError(NO_FIND);
  return (await findByEmail(api, config, ref.email, signal)).map((r) => r.externalId);
}

function failure(ref: EraseRef, error: unknown): EraseOutcome {
  if (failsTheInstance(error) || error instanceof RateLimitedError || !(error instanceof ConnectorError)) throw error;
  return { status: 'failed', ref, reason: error.message, retryable: !(error instanceof RejectedError) };
}

export class HttpPrivacy {
  constructor(
    private readonly api: HttpApi,
    private readonly config: HttpConfig,
    private readonly instanceId: string,
    private readonly webhooks: OutboundWebhooks | undefined,
    private readonly now: () => number,
  ) {}

  /** Whether erasure reaches the system at all (a delete endpoint, or the erasure webhook). */
  get canErase(): boolean {
    return this.config.delete !== undefined || this.announcesErasure;
  }

  private get announcesErasure(): boolean {
    return this.webhooks !== undefined && (this.config.webhooksOut?.events ?? []).includes('dsr.erasure_requested');
  }

  async erase(refs: readonly EraseRef[], signal: AbortSignal): Promise<EraseOutcome[]> {
    const outcomes: EraseOutcome[] = [];
    for (const ref of refs) outcomes.push(await this.eraseOne(ref, signal).catch((error: unknown) => failure(ref, error)));
    return outcomes;
  }

  private async eraseOne(ref: EraseRef, signal: AbortSignal): Promise<EraseOutcome> {
    if (!this.canErase)
      return {
        status: 'failed',
        ref,
        reason: 'the instance declares no delete endpoint and no dsr.erasure_requested webhook',
        retryable: false,
      };
    let ticket: string | undefined;
    if (this.announcesErasure && this.webhooks !== undefined) {
      const message = erasureMessage(this.instanceId, ref, new Date(this.now()).toISOString());
      await this.webhooks.enqueue([message]);
      ticket = message.id;
    }
    // A ref known by its e-mail alone, without read.find, is left to the erasure webhook when there is one (it carries the e-mail).
    const deletes =
      this.config.delete !== undefined && (ticket === undefined || ref.externalId !== undefined || this.config.read.find !== undefined);
    const erased = deletes ? await this.deleteAll(ref, signal) : undefined;
    if (erased === false && ticket === undefined) return { status: 'not_found', ref };
    if (ticket !== undefined && !deletes) {
      return { status: 'pending', ref, ticket, checkAfterMs: DELIVERY_POLL_MS, progress: 'erasure webhook queued for delivery' };
    }
    return erased === false ? { status: 'not_found', ref } : { status: 'erased', ref };
  }

  /** Deletes every record the ref names; false when there was none. */
  private async deleteAll(ref: EraseRef, signal: AbortSignal): Promise<boolean> {
    const endpoint = this.config.delete;
    if (endpoint === undefined) return false;
    let deleted = false;
    for (const id of await idsOf(this.api, this.config, ref, signal)) {
      const answer = await this.api.call(
        {
          method: endpoint.method,
          path: expandPath(endpoint.path, { id }),
          query: expandQuery(endpoint.query, { id }),
          accept: endpoint.notFound,
        },
        signal,
      );
      if (!endpoint.notFound.includes(answer.status)) deleted = true;
    }
    return deleted;
  }

  /** An erasure announced by webhook is done once the system acknowledged the delivery. */
  async eraseProgress(tickets: readonly string[]): Promise<ErasureProgress[]> {
    const states = this.webhooks === undefined ? tickets.map(() => 'unknown' as const) : await this.webhooks.status(tickets);
    return tickets.map((ticket, i): ErasureProgress => {
      const state = states[i];
      if (state === 'delivered') return { ticket, status: 'done', progress: 'the system acknowledged the erasure webhook' };
      if (state === 'pending')
        return { ticket, status: 'pending', progress: 'erasure webhook not delivered yet', checkAfterMs: DELIVERY_POLL_MS };
      return {
        ticket,
        status: 'failed',
        reason: state === 'failed' ? 'the erasure webhook could not be delivered' : 'unknown erasure webhook',
        retryable: state !== 'failed',
      };
    });
  }

  /**
   * Everything the system holds on each ref, one record per record found: the record as the
   * system returns it (nested as it is, empty values left out), and beside it (`related`) the
   * answer's other top-level members, such as the notes, activity or consents an export endpoint
   * adds next to the record.
   */
  async export(refs: readonly EraseRef[], signal: AbortSignal): Promise<ExportedRecord[]> {
    const endpoint = this.config.export ?? this.config.read.get;
    if (endpoint === undefined) return [];
    const ids = new Set<string>();
    for (const ref of refs) for (const id of await idsOf(this.api, this.config, ref, signal)) ids.add(id);
    const records: ExportedRecord[] = [];
    for (const id of ids) {
      const answer = await this.api.call(
        { method: 'GET', path: expandPath(endpoint.path, { id }), query: expandQuery(endpoint.query, { id }), accept: [404, 410] },
        signal,
      );
      if (answer.status === 404 || answer.status === 410) continue;
      const selected = selectOne(answer.json, endpoint.record);
      const record = toExternalRecord(selected, this.config.record);
      const related = isObject(answer.json)
        ? nonEmptyFields(Object.fromEntries(Object.entries(answer.json).filter(([, value]) => !isDeepStrictEqual(asJson(value), selected))))
        : {};
      records.push({
        externalId: record.externalId,
        at: record.at,
        fields: isObject(selected) ? nonEmptyFields(selected) : {},
        ...(Object.keys(related).length > 0 ? { related } : {}),
      });
    }
    return records;
  }
}

/**
 * The HTTP Tracking API (`api.segment.io/v1`): `POST /v1/batch` and the single calls
 * (`/v1/identify`, `/v1/track`, `/v1/page`, `/v1/screen`, `/v1/group`, `/v1/alias`).
 * https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/
 * - Auth: the write key as the Basic-auth user name (empty password), or `writeKey` in the body.
 * - 200 `{success: true}` for nearly everything (the answer body is not documented; this is what
 *   the emulator sends). 400 for bad JSON, a batch over 500 KB, a single call over 32 KB, and (as
 *   documented) a batch with an event over 32 KB; option `oversizedBatchEvent: 'drop'` accepts the
 *   batch without it instead.
 * - Dropped silently, answered 200 (and listed by the side door with the reason): events past the
 *   2,500th of a batch, events with neither userId nor anonymousId, track calls without `event`,
 *   events of suppressed users, identify calls of poisoned addresses. A messageId seen in the last
 *   24 h (any write key) is accepted and ignored (a duplicate).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendTrackingError } from './errors.js';
import { accepts, basicUser } from './limits.js';
import type { SegmentEmulatorOptions } from './options.js';
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES, type SegmentState } from './state.js';

/** Segment's limit of one batch request (500 KB). */
export const MAX_BATCH_BYTES = 500 * 1024;
const SINGLE_CALLS = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;

/** A fault the side door queued: the status answered, and whether the call was taken first (the answer lost, not the call). */
export interface TrackingFault {
  status: number;
  afterAccepting: boolean;
}

/** Faults the side door injects into the Tracking API (its next calls answer this status). */
export class TrackingFaults {
  private readonly queued: TrackingFault[] = [];

  failNext(count: number, fault: TrackingFault): void {
    for (let i = 0; i < count; i++) this.queued.push({ ...fault });
  }

  /** The fault of this call, if one is queued. */
  take(): TrackingFault | undefined {
    return this.queued.shift();
  }
}

export interface TrackingDeps {
  state: SegmentState;
  options: Pick<SegmentEmulatorOptions, 'writeKey' | 'oversizedBatchEvent'>;
  faults: TrackingFaults;
  sizes: WeakMap<object, number>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bytesOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));
const ok = (reply: FastifyReply): FastifyReply => reply.code(200).type('application/json').send({ success: true });

/** The write key of a call (Basic auth first, then the body's `writeKey`), or a refusal already sent. */
function writeKeyOf(req: FastifyRequest, reply: FastifyReply, deps: TrackingDeps): string | FastifyReply {
  const body: unknown = req.body;
  const fromBody = isRecord(body) && typeof body['writeKey'] === 'string' && body['writeKey'] !== '' ? body['writeKey'] : undefined;
  const key = basicUser(req) ?? fromBody;
  return accepts(key, deps.options.writeKey) ? key : sendTrackingError(reply, 401, 'Invalid write key');
}

/** The checks every Tracking API call goes through first: injected faults, JSON object, write key. */
function admitCall(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: TrackingDeps,
): { writeKey: string; body: Record<string, unknown>; fault: TrackingFault | undefined } | FastifyReply {
  const fault = deps.faults.take();
  if (fault && !fault.afterAccepting) return failWith(reply, fault);
  const body: unknown = req.body;
  if (!isRecord(body)) return sendTrackingError(reply, 400, 'Invalid JSON');
  const writeKey = writeKeyOf(req, reply, deps);
  return typeof writeKey === 'string' ? { writeKey, body, fault } : writeKey;
}

const failWith = (reply: FastifyReply, fault: TrackingFault): FastifyReply => sendTrackingError(reply, fault.status, 'Service Unavailable');

/** 200 `{success: true}`, or the injected fault's status once the call was taken. */
const answer = (reply: FastifyReply, fault: TrackingFault | undefined): FastifyReply => (fault ? failWith(reply, fault) : ok(reply));

export function registerTrackingRoutes(app: FastifyInstance, deps: TrackingDeps): void {
  const { state } = deps;

  app.post('/v1/batch', async (req, reply) => {
    const admitted = admitCall(req, reply, deps);
    if (!('writeKey' in admitted)) return admitted;
    const { writeKey, body, fault } = admitted;
    if ((deps.sizes.get(req) ?? 0) > MAX_BATCH_BYTES) return sendTrackingError(reply, 400, 'Batch exceeds the 500KB limit');
    const batch = body['batch'];
    if (!Array.isArray(batch)) return sendTrackingError(reply, 400, '`batch` must be an array');
    const kept = batch.slice(0, MAX_BATCH_EVENTS);
    const oversized = new Set(kept.filter((e) => bytesOf(e) > MAX_EVENT_BYTES));
    if (oversized.size > 0 && deps.options.oversizedBatchEvent === 'reject') {
      return sendTrackingError(reply, 400, 'An event exceeds the 32KB limit');
    }
    for (const event of kept) {
      if (oversized.has(event)) state.drop(writeKey, 'oversized', event);
      else state.ingest(isRecord(event) ? event : {}, writeKey, { sentAt: body['sentAt'], context: body['context'] });
    }
    for (const event of batch.slice(MAX_BATCH_EVENTS)) state.drop(writeKey, 'over_batch_limit', event);
    return answer(reply, fault);
  });

  for (const type of SINGLE_CALLS) {
    app.post(`/v1/${type}`, async (req, reply) => {
      const admitted = admitCall(req, reply, deps);
      if (!('writeKey' in admitted)) return admitted;
      const { writeKey, body, fault } = admitted;
      if ((deps.sizes.get(req) ?? 0) > MAX_EVENT_BYTES) {
        state.drop(writeKey, 'oversized', body);
        return sendTrackingError(reply, 400, 'Message exceeds the 32KB limit');
      }
      state.ingest({ ...body, type }, writeKey);
      return answer(reply, fault);
    });
  }
}

/**
 * The side door: what happens in Segment outside the connector's calls (a downstream tool sends
 * an identify from its own source; a person signs up somewhere that reports to Segment), fault
 * injection (the Tracking API's next calls fail, a regulation ends FAILED or PARTIAL_SUCCESS), and
 * the emulator's views (accepted and dropped events, duplicates, profiles with each trait's time,
 * regulations). Also served over HTTP under `/_emulator/`.
 *
 * Poison: Segment has no per-record error (the Tracking API answers 200 and drops what it does
 * not take), so a poisoned address makes its identify calls be dropped silently, listed in
 * `dropped()` with reason `poisoned`; the conformance poison test (a per-record failure) is not
 * offered by this system.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  EmulatorSideDoor,
  SIDE_DOOR_PREFIX,
  SideDoorError,
  sideDoorAction,
  type CallLedger,
} from '../../../src/connector/emulator-kit/index.js';
import { regulationJson } from './regulation-routes.js';
import type { AcceptedEvent, DroppedEvent, ExternalId, RegulationOutcome, SegmentMessage, SegmentState, StoredProfile } from './state.js';
import type { TrackingFaults } from './tracking-routes.js';
import type { WebhookDelivery, WebhookLoop } from './webhook-sender.js';

/** The write key of the "downstream tool" source the side door's identify calls come from. */
export const DOWNSTREAM_WRITE_KEY = 'side-door-downstream-source';

/** A profile as the side door shows it: every trait with the time it was last set. */
export interface ProfileView {
  segmentId: string;
  userId: string | undefined;
  traits: Record<string, { value: unknown; updatedAt: string; sourceId: string }>;
  externalIds: ExternalId[];
  createdAt: string;
  updatedAt: string;
}

function view(p: StoredProfile): ProfileView {
  return {
    segmentId: p.segmentId,
    userId: p.externalIds.find((x) => x.type === 'user_id')?.id,
    traits: Object.fromEntries([...p.traits].map(([k, t]) => [k, { ...t }])),
    externalIds: p.externalIds.map((x) => ({ ...x })),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export class SegmentSideDoor extends EmulatorSideDoor<SegmentMessage, string, WebhookDelivery> {
  private nextUser = 1;

  constructor(
    ledger: CallLedger,
    webhooks: WebhookLoop,
    private readonly state: SegmentState,
    private readonly faults: TrackingFaults,
  ) {
    super(ledger, webhooks);
  }

  /** Identify calls whose `traits.email` is this address are dropped from now on (reason `poisoned`). */
  poison(email: string): void {
    this.state.poisoned.add(email.trim().toLowerCase());
  }

  /**
   * A person signs up in a tool that reports to Segment: an identify from that tool's source with
   * a fresh userId and `traits {email}`, which reaches the webhook destination.
   */
  userChange(email: string): SegmentMessage {
    return this.downstreamIdentify(`usr_${String(this.nextUser++).padStart(6, '0')}`, { email });
  }

  /** A downstream tool sets traits: an identify from another source (it reaches the webhook). */
  downstreamIdentify(userId: string, traits: Record<string, unknown>, options: { timestamp?: string } = {}): SegmentMessage {
    const messageId = `side-door-${randomUUID()}`;
    const outcome = this.state.ingest(
      { type: 'identify', userId, traits, messageId, ...(options.timestamp ? { timestamp: options.timestamp } : {}) },
      DOWNSTREAM_WRITE_KEY,
    );
    const accepted = this.state.accepted.findLast((e) => e.message.messageId === messageId);
    if (outcome !== 'accepted' || !accepted) throw new SideDoorError(`the identify was dropped (${outcome})`);
    return accepted.message;
  }

  /**
   * The Tracking API's next `count` calls answer `status` (e.g. 503, 500, 429 without Retry-After).
   * `afterAccepting`: the calls are taken first and only the answer fails (as when a response is
   * lost), so the client's retry is a duplicate.
   */
  failNextTrackingCalls(count: number, status = 503, options: { afterAccepting?: boolean } = {}): void {
    this.faults.failNext(count, { status, afterAccepting: options.afterAccepting ?? false });
  }

  /** The next regulation created ends this way instead of FINISHED. */
  failNextRegulation(outcome: Exclude<RegulationOutcome, 'FINISHED'> = 'FAILED'): void {
    this.state.forceNextRegulation(outcome);
  }

  /** This regulation (not finished yet) ends this way. */
  setRegulationOutcome(regulateId: string, outcome: RegulationOutcome): void {
    this.state.settle();
    const r = this.state.regulations.get(regulateId);
    if (!r) throw new SideDoorError(`no regulation ${regulateId}`);
    if (r.applied) throw new SideDoorError(`regulation ${regulateId} has already ended`);
    r.outcome = outcome;
  }

  /** The events the Tracking API accepted (oldest first), with the write key they came with. */
  events(): readonly AcceptedEvent[] {
    return this.state.accepted;
  }

  /** The events it dropped, with why. */
  dropped(): readonly DroppedEvent[] {
    return this.state.dropped;
  }

  /** Events accepted and ignored because their messageId was seen in the last 24 h. */
  duplicates(): number {
    return this.state.duplicates;
  }

  profile(userId: string): ProfileView | undefined {
    const p = this.state.profile(`user_id:${userId}`);
    return p ? view(p) : undefined;
  }

  profileByEmail(email: string): ProfileView | undefined {
    const p = this.state.profile(`email:${email}`);
    return p ? view(p) : undefined;
  }

  /** Every regulation as `GET /regulations/:id` answers it. */
  regulations(): Record<string, unknown>[] {
    this.state.settle();
    return [...this.state.regulations.values()].map((r) => regulationJson(this.state, r));
  }

  /** User ids whose events are dropped (suppressed by a finished regulation). */
  suppressed(): string[] {
    this.state.settle();
    return [...this.state.suppressed];
  }
}

const Outcome = z.enum(['FINISHED', 'PARTIAL_SUCCESS', 'FAILED']);

/** Segment's own side-door routes over HTTP (the kit mounts calls, rate limits, poison and webhooks). */
export function registerSideDoorRoutes(app: FastifyInstance, door: SegmentSideDoor): void {
  const P = SIDE_DOOR_PREFIX;
  const run = sideDoorAction;
  app.get(`${P}/events`, async () => door.events());
  app.get(`${P}/dropped`, async () => ({ dropped: door.dropped(), duplicates: door.duplicates() }));
  app.get(`${P}/profile`, async (req, reply) => {
    const q = z.object({ userId: z.string().optional(), email: z.string().optional() }).parse(req.query);
    const p = q.userId !== undefined ? door.profile(q.userId) : q.email !== undefined ? door.profileByEmail(q.email) : undefined;
    return p ?? reply.code(404).send({ message: 'not found' });
  });
  app.post(`${P}/identify`, async (req) => {
    const body = z
      .object({ userId: z.string().min(1), traits: z.record(z.string(), z.unknown()), timestamp: z.string().optional() })
      .parse(req.body);
    return run(() => door.downstreamIdentify(body.userId, body.traits, body.timestamp ? { timestamp: body.timestamp } : {}));
  });
  app.post(`${P}/user-change`, async (req) => run(() => door.userChange(z.object({ email: z.string().min(1) }).parse(req.body).email)));
  app.post(`${P}/tracking/fail-next`, async (req, reply) => {
    const body = z
      .object({ count: z.number().int().min(1).default(1), status: z.number().int().min(400).max(599).default(503) })
      .parse(req.body ?? {});
    door.failNextTrackingCalls(body.count, body.status);
    return reply.code(204).send();
  });
  app.get(`${P}/regulations`, async () => door.regulations());
  app.post(`${P}/regulations/fail-next`, async (req, reply) => {
    const body = z.object({ outcome: z.enum(['PARTIAL_SUCCESS', 'FAILED']).default('FAILED') }).parse(req.body ?? {});
    door.failNextRegulation(body.outcome);
    return reply.code(204).send();
  });
  app.post(`${P}/regulations/:regulateId/outcome`, async (req, reply) => {
    const { regulateId } = z.object({ regulateId: z.string() }).parse(req.params);
    run(() => door.setRegulationOutcome(regulateId, Outcome.parse((req.body as { outcome?: unknown } | undefined)?.outcome)));
    return reply.code(204).send();
  });
}

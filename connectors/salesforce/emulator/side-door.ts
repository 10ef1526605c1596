/**
 * The side door: lets tests and the demo act as a sales rep in the Salesforce UI (create and
 * edit contacts and leads, tick "Email Opt Out", record consent on the Individual and its
 * ContactPointTypeConsents, delete), inspect the org (records, the change log with each
 * change's user and `Sforce-Call-Options` client, Outbound Message deliveries), count API
 * calls and provoke limits. Rep changes send Outbound Messages exactly like API changes.
 * Also served over HTTP under `/_emulator/`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  EmulatorSideDoor,
  SIDE_DOOR_PREFIX,
  SideDoorError,
  sideDoorAction,
  type CallLedger,
  type WebhookDeliveryLoop,
} from '../../../src/connector/emulator-kit/index.js';
import type { OutboundDelivery, QueuedNotification } from './outbound.js';
import { SaveError, type Actor, type BlindOverwrite, type ChangeEntry, type IdleWrite, type OrgState, type StoredRecord } from './state.js';

/** The org's switches the server and the side door share (the calls are the kit's `CallLedger`). */
export interface OrgControls {
  /** API requests counted against the daily allowance. */
  apiUsage: { used: number; max: number };
  /** Issued access tokens -> expiry (ms, 0 = never). */
  tokens: Map<string, number>;
}

export type ConsentStatus = 'OptIn' | 'OptOut' | 'Seen' | 'NotSeen';

/**
 * The Salesforce side door: the kit's `EmulatorControls` and `WebhookControls` (calls, where
 * `rateLimited` counts 429s and `REQUEST_LIMIT_EXCEEDED`; `rateLimitNextCall` answered with a 429
 * `REQUEST_LIMIT_EXCEEDED`; Outbound Messages as webhooks), and what a rep does in the UI.
 */
export class SideDoor extends EmulatorSideDoor<QueuedNotification, string, OutboundDelivery> {
  private readonly rep: Actor;

  constructor(
    private readonly state: OrgState,
    outbound: WebhookDeliveryLoop<QueuedNotification, string, OutboundDelivery>,
    ledger: CallLedger,
    private readonly controls: OrgControls,
    repUserId: string,
  ) {
    super(ledger, outbound);
    this.rep = { userId: repUserId };
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SaveError) throw new SideDoorError(err.message);
      throw err;
    }
  }

  /** Creates a Contact with this address as a rep would (the conformance adapter's change). */
  userChange(email: string): StoredRecord {
    return this.create('Contact', { LastName: 'Hopper', FirstName: 'Grace', Email: email });
  }

  /** Creates a record as a rep would (e.g. a Contact with LastName and Email). */
  create(object: string, fields: Record<string, unknown>): StoredRecord {
    return { ...this.run(() => this.state.create(object, fields, this.rep)) };
  }

  /** Edits a record's fields as a rep would, e.g. `{HasOptedOutOfEmail: true}`. */
  update(object: string, id: string, fields: Record<string, unknown>): StoredRecord {
    return { ...this.run(() => this.state.update(object, id, fields, this.rep)) };
  }

  /**
   * Arms a race: the rep saves `fields` on this record (as their own change, `leadMs` before
   * it) just before the next API write to it lands. That write still lands on top, changing only
   * the fields it sends, so the record ends with the rep's edit under the integration user's
   * name, and Outbound Messages carry it that way, as Salesforce's do.
   */
  armRace(object: string, id: string, fields: Record<string, unknown>, options: { leadMs?: number } = {}): void {
    this.run(() => this.state.armRace(object, id, { fields, actor: this.rep, leadMs: options.leadMs ?? 2 }));
  }

  /** Races armed and not yet run (each runs at the next API write to its record). */
  armedRaces(): number {
    return this.state.armedRaces();
  }

  /** Deletes a record from the UI (to the recycle bin). */
  delete(object: string, id: string): void {
    this.run(() => this.state.delete(object, id, this.rep));
  }

  /** Sets the person's Individual fields (creating and linking the Individual when missing). */
  setIndividual(object: 'Contact' | 'Lead', personId: string, fields: Record<string, unknown>): StoredRecord {
    const individualId = this.individualOf(object, personId, true) ?? '';
    return this.update('Individual', individualId, fields);
  }

  /** Records consent for a data use purpose and contact point type, as a rep filling the consent form. */
  setConsent(
    object: 'Contact' | 'Lead',
    personId: string,
    purposeName: string,
    contactPointType: string,
    status: ConsentStatus,
    captureDate?: string,
  ): StoredRecord {
    const partyId = this.individualOf(object, personId, true) ?? '';
    const purpose = this.state.findByField('DataUsePurpose', 'Name', purposeName)[0];
    if (!purpose) throw new SideDoorError(`no DataUsePurpose named ${purposeName}`);
    const fields = {
      PrivacyConsentStatus: status,
      CaptureDate: captureDate ?? new Date().toISOString(),
      CaptureSource: 'Salesforce UI',
      CaptureContactPointType: 'Web',
      EffectiveFrom: captureDate ?? new Date().toISOString(),
    };
    const existing = this.state
      .all('ContactPointTypeConsent')
      .find((c) => c['PartyId'] === partyId && c['DataUsePurposeId'] === purpose['Id'] && c['ContactPointType'] === contactPointType);
    if (existing) return this.update('ContactPointTypeConsent', String(existing['Id']), fields);
    return this.create('ContactPointTypeConsent', {
      Name: `${purposeName} ${contactPointType}`,
      PartyId: partyId,
      DataUsePurposeId: purpose['Id'],
      ContactPointType: contactPointType,
      ...fields,
    });
  }

  get(object: string, id: string): StoredRecord | undefined {
    const r = this.state.get(object, id);
    return r ? { ...r } : undefined;
  }

  findByEmail(email: string, object: 'Contact' | 'Lead' = 'Contact'): StoredRecord | undefined {
    const address = email.trim().toLowerCase();
    const r = this.state.all(object).find((c) => typeof c['Email'] === 'string' && c['Email'].toLowerCase() === address);
    return r ? { ...r } : undefined;
  }

  list(object: string): StoredRecord[] {
    return this.state.all(object).map((r) => ({ ...r }));
  }

  /** The person's Individual, when linked. */
  individual(object: 'Contact' | 'Lead', personId: string): StoredRecord | undefined {
    const id = this.individualOf(object, personId, false);
    return id ? this.get('Individual', id) : undefined;
  }

  /** The person's consents as `{purpose, type, status, captureDate}`. */
  consents(
    object: 'Contact' | 'Lead',
    personId: string,
  ): { purpose: string; type: string; status: string; captureDate: string | null; captureSource: string | null }[] {
    const partyId = this.individualOf(object, personId, false);
    if (!partyId) return [];
    return this.state
      .all('ContactPointTypeConsent')
      .filter((c) => c['PartyId'] === partyId)
      .map((c) => ({
        purpose: String(this.state.get('DataUsePurpose', String(c['DataUsePurposeId']))?.['Name'] ?? ''),
        type: String(c['ContactPointType']),
        status: String(c['PrivacyConsentStatus']),
        captureDate: c['CaptureDate'] === null ? null : String(c['CaptureDate']),
        captureSource: c['CaptureSource'] === null ? null : String(c['CaptureSource']),
      }));
  }

  /** Loads records without announcing them (seeding a large org for a benchmark). */
  seed(object: string, records: Record<string, unknown>[]): string[] {
    const ids: string[] = [];
    const wasPaused = this.outboundPaused;
    this.webhooks.pause();
    try {
      for (const r of records) ids.push(String(this.run(() => this.state.create(object, r, this.rep))['Id']));
    } finally {
      this.webhooks.dropPending();
      if (!wasPaused) this.webhooks.resume();
    }
    return ids;
  }

  private get outboundPaused(): boolean {
    return this.webhooks.isPaused();
  }

  /** Every write of this address fails from now on (`INVALID_EMAIL_ADDRESS`), a permanently rejected record. */
  poison(email: string): void {
    this.state.poisoned.add(email.trim().toLowerCase());
  }

  /** Changes with who made them and the `client` their API call named. */
  changes(): readonly ChangeEntry[] {
    return this.state.changes;
  }

  /** Updates by the integration user over values another user set since the API last read the record, oldest first. */
  blindOverwrites(): readonly BlindOverwrite[] {
    return [...this.state.blindOverwrites];
  }

  /** Updates by the integration user that changed no field value, oldest first. */
  idleWrites(): readonly IdleWrite[] {
    return [...this.state.idleWrites];
  }

  /** Sets the daily API allowance (and optionally what is already used). */
  setDailyLimit(max: number, used?: number): void {
    this.controls.apiUsage.max = max;
    if (used !== undefined) this.controls.apiUsage.used = used;
  }

  apiUsage(): { used: number; max: number } {
    return { ...this.controls.apiUsage };
  }

  /** Invalidates every issued access token (the next call gets 401 `INVALID_SESSION_ID`). */
  expireTokens(): void {
    this.controls.tokens.clear();
  }

  /** Every notification queued so far (redeliverable). */
  notifications(): QueuedNotification[] {
    return this.webhooks.items();
  }

  private individualOf(object: 'Contact' | 'Lead', personId: string, create: boolean): string | undefined {
    const person = this.state.get(object, personId);
    if (!person) throw new SideDoorError(`no ${object} ${personId}`);
    const linked = person['IndividualId'];
    if (typeof linked === 'string' && this.state.get('Individual', linked)) return linked;
    if (!create) return undefined;
    const individual = this.create('Individual', { FirstName: person['FirstName'], LastName: person['LastName'] ?? 'Unknown' });
    this.update(object, personId, { IndividualId: individual['Id'] });
    return String(individual['Id']);
  }
}

const Fields = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const Person = z.enum(['Contact', 'Lead']);

/** Salesforce's own side-door routes over HTTP (the kit mounts calls, rate limits, poison and webhooks). */
export function registerSideDoorRoutes(app: FastifyInstance, door: SideDoor): void {
  const P = SIDE_DOOR_PREFIX;
  const run = sideDoorAction;
  const params = (p: unknown): { object: string; id: string } => p as { object: string; id: string };
  app.get(`${P}/records/:object`, async (req) => door.list(params(req.params).object));
  app.post(`${P}/records/:object`, async (req) => run(() => door.create(params(req.params).object, Fields.parse(req.body))));
  app.get(
    `${P}/records/:object/:id`,
    async (req, reply) => door.get(params(req.params).object, params(req.params).id) ?? reply.code(404).send({ message: 'not found' }),
  );
  app.patch(`${P}/records/:object/:id`, async (req) =>
    run(() => door.update(params(req.params).object, params(req.params).id, Fields.parse(req.body))),
  );
  app.delete(`${P}/records/:object/:id`, async (req, reply) => {
    run(() => door.delete(params(req.params).object, params(req.params).id));
    return reply.code(204).send();
  });
  app.post(`${P}/records/:object/:id/race`, async (req, reply) => {
    const body = z.object({ fields: Fields, leadMs: z.number().int().min(0).optional() }).parse(req.body);
    run(() =>
      door.armRace(params(req.params).object, params(req.params).id, body.fields, body.leadMs === undefined ? {} : { leadMs: body.leadMs }),
    );
    return reply.code(204).send();
  });
  app.get(`${P}/races`, async () => ({ armed: door.armedRaces() }));
  app.patch(`${P}/records/:object/:id/individual`, async (req) =>
    run(() => door.setIndividual(Person.parse(params(req.params).object), params(req.params).id, Fields.parse(req.body))),
  );
  app.post(`${P}/records/:object/:id/consents`, async (req) => {
    const body = z
      .object({
        purpose: z.string(),
        contactPointType: z.string(),
        status: z.enum(['OptIn', 'OptOut', 'Seen', 'NotSeen']),
        captureDate: z.string().optional(),
      })
      .parse(req.body);
    return run(() =>
      door.setConsent(
        Person.parse(params(req.params).object),
        params(req.params).id,
        body.purpose,
        body.contactPointType,
        body.status,
        body.captureDate,
      ),
    );
  });
  app.get(`${P}/records/:object/:id/consents`, async (req) =>
    door.consents(Person.parse(params(req.params).object), params(req.params).id),
  );
  app.get(`${P}/changes`, async () => door.changes());
  app.get(`${P}/notifications`, async () => door.notifications());
  app.post(`${P}/limits`, async (req, reply) => {
    const body = z.object({ max: z.number().int().positive(), used: z.number().int().min(0).optional() }).parse(req.body);
    door.setDailyLimit(body.max, body.used);
    return reply.code(204).send();
  });
}

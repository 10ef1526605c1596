/**
 * Reading from HubSpot: contacts (list, search, batch read) and their subscription statuses
 * (communication preferences v4, which the client does not wrap), turned into
 * `ExternalRecord`s in the connector's vocabulary (see `mapping.ts`).
 */
import type { ExternalRecord } from '../../src/connector/define.js';
import { matchesFieldName } from '../../src/connector/mapping.js';
import { chunks } from '../../src/connector/kit/index.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { Json } from '../../src/profile/schema.js';
import type { HubSpotApi, Reservation } from './api.js';
import type { HubSpotConfig } from './config.js';
import {
  DEFAULT_PROPERTIES,
  fromPropertyValue,
  HUBSPOT_OPT_OUT_PROPERTIES,
  statusFieldValue,
  subscriptionField,
  type StatusState,
} from './mapping.js';
import { ReadPlanner, untouchedSinceCreation } from './read-plan.js';

/** What every contact read returns (the client's `SimplePublicObject` shapes). */
export interface ContactObject {
  id: string;
  properties: Record<string, string | null>;
  /** When the contact was created (HubSpot's `createdate`). */
  createdAt?: Date;
  updatedAt: Date;
  archived?: boolean;
  /** Each asked property's versions, newest first (`propertiesWithHistory`). */
  propertiesWithHistory?: Record<string, { value: string; timestamp: Date }[]>;
}

interface PublicStatus {
  subscriberIdString: string;
  subscriptionId: number;
  status: StatusState;
  /** When the status was set (ISO). */
  timestamp?: string;
  legalBasis?: string;
}

/** A subscription status and when it was set (ISO, when HubSpot says). */
export interface StatusOf {
  state: StatusState;
  at?: string;
  legalBasis?: string;
}

interface StatusesReadResponse {
  results?: { subscriberIdString: string; statuses?: PublicStatus[] }[];
}

/** Records per HubSpot batch call (batch read, create, update; subscription statuses). */
export const BATCH = 100;
/** Records per read that asks for property history: HubSpot returns at most 50 objects with `propertiesWithHistory`. */
export const HISTORY_BATCH = 50;

/** The contact properties a read asks for. */
export function propertiesToRead(config: HubSpotConfig): string[] {
  return [...new Set([...DEFAULT_PROPERTIES, ...config.properties, 'lastmodifieddate'])];
}

/**
 * The properties a read asks the history of (`propertiesWithHistory`), all but the opt-out
 * mirrors: a record stamps each with when its value was set (`fieldsAt`), identities (`email`,
 * `phone`) included, so an older address or number is not stamped with a later change of the
 * contact (`lastmodifieddate`).
 */
export function historyProperties(config: HubSpotConfig): string[] {
  return propertiesToRead(config).filter((p) => p !== 'lastmodifieddate' && !matchesFieldName(HUBSPOT_OPT_OUT_PROPERTIES, p));
}

/**
 * The plain mapped properties (not identities, not opt-out mirrors): their webhook values are
 * taken as they are (identities are read).
 */
export function valueProperties(config: HubSpotConfig): string[] {
  return historyProperties(config).filter((p) => !['email', 'phone'].includes(p));
}

export class HubSpotReader {
  private readonly plan = new ReadPlanner(BATCH, HISTORY_BATCH);

  constructor(
    private readonly api: HubSpotApi,
    private readonly config: HubSpotConfig,
  ) {}

  /**
   * Subscription statuses of up to 100 addresses per call: e-mail -> subscription id -> state.
   * https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-read
   */
  async statuses(emails: readonly string[], signal?: AbortSignal, reservation?: Reservation): Promise<Map<string, Map<number, StatusOf>>> {
    const out = new Map<string, Map<number, StatusOf>>();
    if (this.config.subscriptions.length === 0) return out;
    const unique = [...new Set(emails.map((e) => e.trim().toLowerCase()).filter((e) => e.length > 0))];
    for (const part of chunks(unique, BATCH)) {
      const res = await this.api.request<StatusesReadResponse>(
        signal,
        {
          method: 'POST',
          path: '/communication-preferences/v4/statuses/batch/read',
          qs: { channel: 'EMAIL' },
          body: { inputs: part },
        },
        reservation,
      );
      if (!res.data || !Array.isArray(res.data.results)) throw new MalformedPayloadError('statuses/batch/read answered without results');
      for (const r of res.data.results) {
        const map = new Map<number, StatusOf>();
        for (const s of r.statuses ?? []) {
          const at = s.timestamp !== undefined && !Number.isNaN(Date.parse(s.timestamp)) ? new Date(s.timestamp).toISOString() : undefined;
          map.set(s.subscriptionId, {
            state: s.status,
            ...(at === undefined ? {} : { at }),
            ...(s.legalBasis ? { legalBasis: s.legalBasis } : {}),
          });
        }
        out.set(r.subscriberIdString.toLowerCase(), map);
      }
    }
    return out;
  }

  /** Contacts plus their statuses as external records. */
  async toRecords(contacts: readonly ContactObject[], signal?: AbortSignal, reservation?: Reservation): Promise<ExternalRecord[]> {
    const emails = contacts.map((c) => c.properties.email ?? '').filter((e) => e !== '');
    const statuses = await this.statuses(emails, signal, reservation);
    return contacts.map((c) => this.toRecord(c, statuses));
  }

  /**
   * One contact as a record. Each subscription status carries its own timestamp: it becomes the
   * field's stamp (`fieldsAt`), so a status set after one of our writes began is never taken
   * for a snapshot predating that write (see `ChangeContext.fieldsAt`). So does each property
   * read with its history (`historyProperties`, e-mail and phone included): its newest
   * version's timestamp, when that version holds the value read. The contact's
   * `lastmodifieddate` is the time of its last change of any property (often our own write): a
   * marketer's older edit of another property (or of the phone) stamped with it would beat a
   * newer edit made elsewhere in between (storm, api+worker).
   */
  toRecord(contact: ContactObject, statuses: Map<string, Map<number, StatusOf>>): ExternalRecord {
    // Unset values are left out: HubSpot not knowing a value is no reason to clear the profile's.
    const fields: Record<string, Json> = {};
    for (const name of propertiesToRead(this.config)) {
      if (name === 'lastmodifieddate') continue;
      const value = fromPropertyValue(contact.properties[name]);
      if (value !== null) fields[name] = value;
    }
    const email = contact.properties.email?.toLowerCase();
    const own = email ? statuses.get(email) : undefined;
    const fieldsAt: Record<string, string> = {};
    for (const [name, versions] of Object.entries(contact.propertiesWithHistory ?? {})) {
      const newest = versions[0];
      if (!Object.hasOwn(fields, name) || newest === undefined || newest.value !== contact.properties[name]) continue;
      const ms = new Date(newest.timestamp).getTime();
      if (!Number.isNaN(ms)) fieldsAt[name] = new Date(ms).toISOString();
    }
    for (const s of this.config.subscriptions) {
      const status = own?.get(s.id);
      const value = status === undefined ? null : statusFieldValue(status.state);
      if (value === null) continue;
      fields[subscriptionField(s.id)] = value;
      if (status?.at !== undefined) fieldsAt[subscriptionField(s.id)] = status.at;
    }
    const modified = contact.properties.lastmodifieddate;
    const at = modified && !Number.isNaN(Date.parse(modified)) ? new Date(modified) : contact.updatedAt;
    return { externalId: contact.id, at: at.toISOString(), fields, ...(Object.keys(fieldsAt).length > 0 ? { fieldsAt } : {}) };
  }

  /**
   * How `readStamped` should read `count` contacts (`ReadPlanner`), and the most calls it may
   * make so: values first, every contact may have changed since its creation and be read again.
   */
  planStampedRead(count: number): { valuesFirst: boolean; maxCalls: number } {
    const valuesFirst = this.plan.valuesFirst(count);
    const withHistory = Math.ceil(count / HISTORY_BATCH);
    return { valuesFirst, maxCalls: valuesFirst ? Math.ceil(count / BATCH) + withHistory : withHistory };
  }

  /**
   * Reads contacts by id with what `toRecord` needs to stamp each value with when it was set:
   * values first, then those changed since their creation again with their history; or all
   * with their history, when that costs no more calls (`planStampedRead`).
   */
  async readStamped(
    ids: readonly string[],
    signal?: AbortSignal,
    reservation?: Reservation,
    valuesFirst = this.planStampedRead(new Set(ids).size).valuesFirst,
  ): Promise<ContactObject[]> {
    const { found } = await this.readContacts(ids, signal, undefined, reservation, !valuesFirst);
    const untouched: ContactObject[] = [];
    const changed: ContactObject[] = [];
    for (const c of found) (untouchedSinceCreation(c) ? untouched : changed).push(c);
    this.plan.observe(found.length, changed.length);
    if (!valuesFirst || changed.length === 0) return found;
    // A contact deleted in between is left out; one merged in between answers with the winner,
    // which replaces the winner's own earlier snapshot.
    const again = (
      await this.readContacts(
        changed.map((c) => c.id),
        signal,
        undefined,
        reservation,
        true,
      )
    ).found;
    const reread = new Set(again.map((c) => c.id));
    return [...untouched.filter((c) => !reread.has(c.id)), ...again];
  }

  /**
   * Reads contacts by id (or by e-mail with `idProperty: 'email'`), 100 per call (50 `withHistory`:
   * the `historyProperties` with their versions, for `toRecord`), and lists the ids HubSpot
   * does not know. A merged-away id answers with the winner.
   * https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-read
   */
  async readContacts(
    ids: readonly string[],
    signal?: AbortSignal,
    idProperty?: 'email',
    reservation?: Reservation,
    withHistory = false,
  ): Promise<{ found: ContactObject[]; missing: string[] }> {
    const found: ContactObject[] = [];
    const missing: string[] = [];
    const history = withHistory ? historyProperties(this.config) : [];
    for (const part of chunks([...new Set(ids)], history.length > 0 ? HISTORY_BATCH : BATCH)) {
      const res = await this.api.call(
        'standard',
        signal,
        () =>
          this.api.client.crm.contacts.batchApi.readWithHttpInfo({
            inputs: part.map((id) => ({ id })),
            properties: [...propertiesToRead(this.config), 'hs_additional_emails'],
            propertiesWithHistory: history,
            ...(idProperty ? { idProperty } : {}),
          }),
        reservation,
      );
      found.push(...res.data.results);
      const errors = 'errors' in res.data ? (res.data.errors ?? []) : [];
      for (const e of errors) missing.push(...(e.context.ids ?? []));
    }
    return { found, missing };
  }
}

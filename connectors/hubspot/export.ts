/**
 * Access requests (Art. 15): everything HubSpot holds on a person. Each contact is read with
 * every contact property the account defines (the properties API, read once per instance), so
 * `fields` holds every property with a value and `labels` their HubSpot labels; the address's
 * subscription statuses (every subscription type, not only the mapped ones) are `related`.
 */
import type { ExportedRecord, EraseRef } from '../../src/connector/define.js';
import { chunks, ExpiringCache, nonEmpty, nonEmptyFields, SCHEMA_TTL_MS, splitRefs, uniqueBy } from '../../src/connector/kit/index.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { Json } from '../../src/profile/schema.js';
import type { HubSpotApi } from './api.js';
import { BATCH, type ContactObject } from './read.js';

/** The account's contact properties: names to read, and their labels. */
export interface ContactProperties {
  names: string[];
  labels: Record<string, string>;
}

interface StatusesResponse {
  results?: { subscriberIdString: string; statuses?: Record<string, unknown>[] }[];
}

export class HubSpotExporter {
  /** Read again every `SCHEMA_TTL_MS`: an account's property list changes seldom, and a DSR must not read it per person. */
  private readonly properties = new ExpiringCache<'contacts', ContactProperties>(SCHEMA_TTL_MS);

  constructor(private readonly api: HubSpotApi) {}

  /**
   * Every contact property the account defines, with its label.
   * https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/get-crm-v3-properties-objectType
   */
  contactProperties(signal?: AbortSignal): Promise<ContactProperties> {
    return this.properties.get('contacts', () =>
      this.api
        .call('standard', signal, () => this.api.client.crm.properties.coreApi.getAllWithHttpInfo('contacts', false))
        .then((res) => {
          const labels: Record<string, string> = {};
          for (const p of res.data.results) labels[p.name] = p.label;
          return { names: Object.keys(labels), labels };
        }),
    );
  }

  /** The contacts the refs name (by id, and by e-mail for refs without one), whole. */
  async export(refs: readonly EraseRef[], signal: AbortSignal): Promise<ExportedRecord[]> {
    const { ids, emails } = splitRefs(refs);
    if (ids.length === 0 && emails.length === 0) return [];
    const properties = await this.contactProperties(signal);
    const contacts = uniqueBy(
      [await this.read(ids, properties, signal), await this.read(emails, properties, signal, 'email')],
      (c) => c.id,
    );
    const statuses = await this.statuses(
      contacts.flatMap((c) => {
        const address = c.properties.email;
        return address ? [address] : [];
      }),
      signal,
    );
    return contacts.map((c) => {
      const fields = nonEmptyFields(c.properties);
      const own = c.properties.email ? statuses.get(c.properties.email.toLowerCase()) : undefined;
      const related: Record<string, Json> = {};
      const kept = nonEmpty(own);
      if (kept !== undefined) related.subscriptionStatuses = kept;
      const modified = c.properties.lastmodifieddate;
      const at = modified && !Number.isNaN(Date.parse(modified)) ? new Date(modified) : c.updatedAt;
      return {
        externalId: c.id,
        at: at.toISOString(),
        fields,
        labels: Object.fromEntries(
          Object.keys(fields).flatMap((name) => (properties.labels[name] ? [[name, properties.labels[name]]] : [])),
        ),
        ...(Object.keys(related).length > 0 ? { related } : {}),
      };
    });
  }

  /** Batch reads with every property (100 per call); ids HubSpot does not know are left out. */
  private async read(
    ids: readonly string[],
    properties: ContactProperties,
    signal: AbortSignal,
    idProperty?: 'email',
  ): Promise<ContactObject[]> {
    const found: ContactObject[] = [];
    for (const part of chunks([...new Set(ids)], BATCH)) {
      const res = await this.api.call('standard', signal, () =>
        this.api.client.crm.contacts.batchApi.readWithHttpInfo({
          inputs: part.map((id) => ({ id })),
          properties: properties.names,
          propertiesWithHistory: [],
          ...(idProperty ? { idProperty } : {}),
        }),
      );
      found.push(...res.data.results);
    }
    return found;
  }

  /**
   * Every subscription status of each address as HubSpot answers it (`PublicStatus`), by address.
   * https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-read
   */
  private async statuses(emails: readonly string[], signal: AbortSignal): Promise<Map<string, Record<string, unknown>[]>> {
    const out = new Map<string, Record<string, unknown>[]>();
    const unique = [...new Set(emails.map((e) => e.trim().toLowerCase()).filter((e) => e !== ''))];
    for (const part of chunks(unique, BATCH)) {
      const res = await this.api.request<StatusesResponse>(signal, {
        method: 'POST',
        path: '/communication-preferences/v4/statuses/batch/read',
        qs: { channel: 'EMAIL' },
        body: { inputs: part },
      });
      if (!res.data || !Array.isArray(res.data.results)) throw new MalformedPayloadError('statuses/batch/read answered without results');
      for (const r of res.data.results) out.set(r.subscriberIdString.toLowerCase(), r.statuses ?? []);
    }
    return out;
  }
}

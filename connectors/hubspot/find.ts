/**
 * `find` in HubSpot: contacts by id and by e-mail through batch reads (100 per call, the
 * e-mail one with `idProperty: email`, which also matches a contact's additional addresses), and
 * by phone through the CRM search (`phone IN` or `mobilephone IN`, 100 numbers and 100 results
 * per call, paged), which HubSpot paces apart (`searchRequestsPerSecond`).
 */
import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import type { FindQuery, FoundRecord } from '../../src/connector/define.js';
import { chunks, emailKey, FindHits, findIdentities } from '../../src/connector/kit/index.js';
import type { HubSpotApi } from './api.js';
import { BATCH, type ContactObject } from './read.js';

/** Phone properties a phone is looked for in. */
const PHONE_PROPERTIES = ['phone', 'mobilephone'] as const;
/** What a find reads of each contact. */
const FIND_PROPERTIES = ['email', 'hs_additional_emails', 'hs_merged_object_ids', ...PHONE_PROPERTIES];
/** Results per search page. */
const SEARCH_LIMIT = 100;

const split = (value: string | null | undefined): string[] => (value ?? '').split(';').filter((v) => v !== '');

export class HubSpotFinder {
  constructor(private readonly api: HubSpotApi) {}

  /** One answer per query, in input order (see `ConnectorInstance.find`). */
  async find(queries: readonly FindQuery[], signal: AbortSignal): Promise<FoundRecord[][]> {
    const { emails, phones, externalIds } = findIdentities(queries);
    const hits = new FindHits();
    for (const c of await this.batchRead(externalIds, signal)) {
      // A merged-away id answers with the contact it went into.
      for (const id of [c.id, ...split(c.properties.hs_merged_object_ids)]) if (externalIds.includes(id)) hits.add('externalId', id, c.id);
    }
    const asked = new Set(emails);
    for (const c of await this.batchRead(emails, signal, 'email')) {
      for (const e of [c.properties.email ?? '', ...split(c.properties.hs_additional_emails)]) {
        if (asked.has(emailKey(e))) hits.add('email', e, c.id);
      }
    }
    for (const part of chunks(phones, BATCH)) {
      for (const c of await this.searchPhones(part, signal)) {
        for (const p of PHONE_PROPERTIES) {
          const value = c.properties[p];
          if (value) hits.add('phone', value, c.id);
        }
      }
    }
    return hits.answer(queries);
  }

  /** https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-read */
  private async batchRead(ids: readonly string[], signal: AbortSignal, idProperty?: 'email'): Promise<ContactObject[]> {
    const found: ContactObject[] = [];
    for (const part of chunks(ids, BATCH)) {
      const res = await this.api.call('standard', signal, () =>
        this.api.client.crm.contacts.batchApi.readWithHttpInfo({
          inputs: part.map((id) => ({ id })),
          properties: FIND_PROPERTIES,
          propertiesWithHistory: [],
          ...(idProperty ? { idProperty } : {}),
        }),
      );
      found.push(...res.data.results);
    }
    return found;
  }

  /**
   * Contacts whose phone or mobile phone is one of `phones` (at most 100), every page.
   * https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/search/post-crm-v3-objects-contacts-search
   */
  private async searchPhones(phones: readonly string[], signal: AbortSignal): Promise<ContactObject[]> {
    const found: ContactObject[] = [];
    let after: string | undefined;
    do {
      const res = await this.api.call('search', signal, () =>
        this.api.client.crm.contacts.searchApi.doSearchWithHttpInfo({
          filterGroups: PHONE_PROPERTIES.map((propertyName) => ({
            filters: [{ propertyName, operator: FilterOperatorEnum.In, values: [...phones] }],
          })),
          properties: FIND_PROPERTIES,
          limit: SEARCH_LIMIT,
          sorts: [],
          ...(after === undefined ? {} : { after }),
        }),
      );
      found.push(...res.data.results);
      after = res.data.paging?.next?.after;
    } while (after !== undefined);
    return found;
  }
}

/** `ConnectorContext.knownRecords` over the store: the records of an instance the hub holds. */
import type { KnownRecord } from '../connector/define.js';
import type { ShadowRepository } from '../store/contracts/shadows.js';

/** One page of the instance's shadows with an external id, in profile-id order: empty only at the end. */
export async function knownRecordsOf(
  store: Pick<ShadowRepository, 'shadowsByConnector'>,
  id: string,
  page: { after?: string; limit: number },
): Promise<KnownRecord[]> {
  let after = page.after;
  for (;;) {
    const shadows = await store.shadowsByConnector(id, { limit: page.limit, ...(after === undefined ? {} : { after }) });
    const known = shadows.flatMap((s) => (s.externalId === null ? [] : [{ key: s.profileId, externalId: s.externalId }]));
    if (known.length > 0 || shadows.length === 0) return known;
    after = shadows.at(-1)?.profileId;
  }
}

/** HubSpot's JSON shapes for contacts and subscription statuses. */
import type { HubSpotState, StoredContact, StoredStatus } from './state.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** `SimplePublicObject` (and the `WithAssociations` variant, without associations). */
export function contactJson(
  state: HubSpotState,
  c: StoredContact,
  properties?: readonly string[],
  options: { omitUnset?: boolean; withHistory?: readonly string[] } = {},
): Record<string, unknown> {
  const read = state.readProperties(c, properties);
  // `SimplePublicUpsertObject.properties` is not nullable: unset values are left out there.
  const shown = options.omitUnset ? Object.fromEntries(Object.entries(read).filter(([, v]) => v !== null)) : read;
  const out: Record<string, unknown> = {
    id: c.id,
    properties: shown,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    archived: c.archived,
  };
  if (c.archivedAt !== undefined) out.archivedAt = iso(c.archivedAt);
  if (options.withHistory && options.withHistory.length > 0) {
    // `ValueWithTimestamp`: each version of each asked property, newest first.
    const history = state.readHistory(c, options.withHistory);
    out.propertiesWithHistory = Object.fromEntries(
      Object.entries(history).map(([name, versions]) => [
        name,
        versions.map((v) => ({
          value: v.value,
          timestamp: iso(v.timestamp),
          sourceType: v.sourceType,
          ...(v.sourceId === undefined ? {} : { sourceId: v.sourceId }),
        })),
      ]),
    );
  }
  return out;
}

/** `PublicStatus` of the communication preferences v4 API. */
export function statusJson(state: HubSpotState, email: string, s: StoredStatus, setStatusSuccessReason?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    subscriberIdString: email,
    subscriptionId: s.subscriptionId,
    subscriptionName: state.definition(s.subscriptionId)?.name ?? '',
    channel: 'EMAIL',
    status: s.status,
    source: s.source,
    timestamp: iso(s.timestamp),
    businessUnitId: 0,
  };
  if (s.legalBasis !== null) out.legalBasis = s.legalBasis;
  if (s.legalBasisExplanation !== null) out.legalBasisExplanation = s.legalBasisExplanation;
  if (setStatusSuccessReason) out.setStatusSuccessReason = setStatusSuccessReason;
  return out;
}

/** The frame of HubSpot's batch responses (`status`, `startedAt`, `completedAt`, errors when any). */
export function batchResponse(startedAt: number, completedAt: number, results: unknown[], errors: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    startedAt: iso(startedAt),
    completedAt: iso(completedAt),
  };
  if (errors.length > 0) {
    out.errors = errors;
    out.numErrors = errors.length;
  }
  return out;
}

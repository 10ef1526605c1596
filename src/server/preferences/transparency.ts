/**
 * Which systems receive each purpose's data, derived from the config: a connector instance
 * receives a purpose when its compiled mapping sends a consent of that purpose out (an entry
 * `consent: <purpose>.<channel>` with direction `push` or `both`, written in YAML, derived from
 * the connector's own keys, or one of its defaults). Disabled instances are not connected, so
 * they are not listed.
 */
import type { LocalizedText } from '../../config/localized.js';
import type { CanonicalTarget } from '../../connector/mapping.js';

/** A system as the transparency section names it. */
export interface Recipient {
  /** The connector instance id. */
  id: string;
  /** The connector type (`hubspot`, `http`...). */
  type: string;
  /** The instance's `displayName`, if the config gives one. */
  displayName?: LocalizedText;
}

/** What `recipientsByPurpose` reads of a connector instance (a `SyncConnector` has it). */
export interface MappedConnector {
  id: string;
  type: string;
  mapping: { outbound: readonly { target: CanonicalTarget }[] };
}

/** Purpose id -> the systems its consents are sent to, in the order the connectors are configured. */
export function recipientsByPurpose(
  connectors: readonly MappedConnector[],
  displayNames: Readonly<Record<string, LocalizedText | undefined>> = {},
): Record<string, Recipient[]> {
  const out: Record<string, Recipient[]> = {};
  for (const connector of connectors) {
    const purposes = new Set<string>();
    for (const { target } of connector.mapping.outbound) if (target.kind === 'consent') purposes.add(target.purpose);
    const displayName = displayNames[connector.id];
    for (const purpose of purposes) {
      (out[purpose] ??= []).push({ id: connector.id, type: connector.type, ...(displayName !== undefined ? { displayName } : {}) });
    }
  }
  return out;
}

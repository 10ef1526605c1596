/**
 * The segment connector's default mappings: the system's field names to the canonical profile.
 *
 * TODO from the vendor's documentation: its field names; consents and subscriptions (an opt-out
 * flag is withdraw-only: declare it in `withdrawOnlyFields`); the entries an instance's own
 * config keys imply (`derivedMappings`, tested entry by entry as in
 * `connectors/hubspot/mapping.test.ts`).
 */
import type { MappingEntryInput } from '../../src/connector/mapping-schema.js';

export const segmentDefaultMappings: readonly MappingEntryInput[] = [
  { identity: 'email', external: 'email' },
  { field: 'firstName', external: 'first_name' },
  { field: 'lastName', external: 'last_name' },
];

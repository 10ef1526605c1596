/**
 * Builds the merge policy (`profile/merge.ts` input) from a loaded configuration.
 */
import type { MergePolicy } from '../profile/schema.js';
import type { Config } from './schema.js';
import { HUB_SOURCES } from './schema.js';

/**
 * - priorities: each connector instance's `priority` (the hub sources count as 0);
 * - authorities per purpose: every connector instance that lists the purpose in
 *   `consentAuthority` (enabled or not: authority is about trust, not scheduling), plus the
 *   hub's own `preference_center` and `admin`, which may change every purpose;
 * - each purpose's policy, objection and default legal basis;
 * - the clock skew allowance;
 * - rights authorities: only the hub's own sources (the person's explicit request through the
 *   preference center or the admin API) lift a restriction or an objection.
 */
export function toMergePolicy(config: Config): MergePolicy {
  const priorities: Record<string, number> = {};
  for (const [instanceId, connector] of Object.entries(config.connectors)) {
    priorities[instanceId] = connector.priority;
  }
  const purposes: MergePolicy['purposes'] = {};
  for (const [purposeId, purpose] of Object.entries(config.catalog.purposes)) {
    const connectorAuthorities = Object.entries(config.connectors)
      .filter(([, connector]) => connector.consentAuthority.includes(purposeId))
      .map(([instanceId]) => instanceId)
      .sort();
    purposes[purposeId] = {
      policy: purpose.policy,
      authorities: [...connectorAuthorities, ...HUB_SOURCES],
      defaultLegalBasis: purpose.defaultLegalBasis,
      ...(purpose.objection === undefined ? {} : { objection: purpose.objection }),
    };
  }
  return { priorities, purposes, skewMs: config.hub.skew, rightsAuthorities: [...HUB_SOURCES] };
}

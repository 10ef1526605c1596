/**
 * What a push would send one record, decided without I/O: the profile gated by data-subject
 * rights, mapped out, and reduced to what differs from the shadow. The push stage (`push.ts`) and
 * `concord plan` (`plan/`) both decide by it, so a plan counts exactly what a push would send.
 */
import { changedFields, mapOutbound } from '../../connector/mapping.js';
import type { OutboundResult } from '../../connector/mapping.js';
import type { Json, MergePolicy, Profile } from '../../profile/schema.js';
import type { Shadow } from '../../store/types.js';
import type { SyncConnector } from '../bind.js';
import { gateProfile } from '../gate.js';
import type { GatedProfile } from '../gate.js';

/** What a push would do with one profile in one system. */
export type OutboundChange =
  /** Restricted (Art. 18) and unknown to the system: no new record is created anywhere. */
  | { kind: 'restricted' }
  /** The system holds every value already. */
  | { kind: 'unchanged'; out: OutboundResult }
  /** `fields` to write (those that differ from the shadow, then the connector's context fields). */
  | { kind: 'send'; fields: Record<string, Json>; out: OutboundResult; gated: GatedProfile };

/** `everyField`: send every mapped field, not only those that differ from the shadow (a push again). */
export function outboundChange(
  connector: Pick<SyncConnector, 'mapping' | 'contextFields'>,
  profile: Profile,
  shadow: Pick<Shadow, 'externalId' | 'values'> | undefined,
  policy: MergePolicy,
  now: string,
  options: { everyField?: boolean } = {},
): OutboundChange {
  const gated = gateProfile(profile);
  // While processing is restricted, no new record is created anywhere.
  if (gated.restricted && !shadow?.externalId) return { kind: 'restricted' };
  const out = mapOutbound(connector.mapping, gated.profile, policy, now, { creating: !shadow?.externalId });
  const fields = changedFields(out.fields, options.everyField ? undefined : shadow?.values);
  if (Object.keys(fields).length === 0) return { kind: 'unchanged', out };
  for (const field of connector.contextFields ?? []) {
    const value = out.fields[field];
    if (value !== undefined && !(field in fields)) fields[field] = value;
  }
  return { kind: 'send', fields, out, gated };
}

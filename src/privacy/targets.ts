/**
 * Which systems an erasure reaches, by which references, and which identities go on the
 * suppression list. Pure.
 *
 * A system is reached when the hub knows it holds the person (a shadow, or an external id of
 * the system among the person's identities) or when it is configured as always-erase. It is
 * asked by every record id the hub knows there, each with the person's first e-mail address
 * (a system that no longer knows the id may still find the person by address), and by every
 * further address on its own.
 */
import type { EraseRef } from '../connector/define.js';
import type { Identity, Profile } from '../profile/schema.js';
import type { Shadow } from '../store/types.js';

export interface ErasureTarget {
  id: string;
  capabilities: { erase: boolean };
}

export interface ErasurePlan {
  /** Connector id -> references to erase by. */
  refs: Record<string, EraseRef[]>;
  /** Systems that hold the person but cannot erase: they must be erased by hand. */
  manual: string[];
  /** Every identity of the person, external record ids included: they go on the suppression list. */
  identities: Identity[];
}

export interface PlanInput {
  profile: Profile | null;
  shadows: readonly Shadow[];
  /** Identities the request named (e.g. an e-mail address the hub does not know). */
  named: readonly Identity[];
  connectors: readonly ErasureTarget[];
  alwaysErase: readonly string[];
}

const identityKey = (i: Identity): string => `${i.kind}|${i.kind === 'external' ? (i.system ?? '') : ''}|${i.value.trim().toLowerCase()}`;

export function planErasure(input: PlanInput): ErasurePlan {
  const identities = new Map<string, Identity>();
  const add = (identity: Identity): void => {
    if (!identities.has(identityKey(identity))) identities.set(identityKey(identity), identity);
  };
  for (const identity of input.named) add(identity);
  for (const identity of input.profile?.identities ?? []) add(identity);
  for (const shadow of input.shadows) {
    if (shadow.externalId) add({ kind: 'external', system: shadow.connector, value: shadow.externalId });
  }
  const all = [...identities.values()];
  const emails = [...new Set(all.filter((i) => i.kind === 'email').map((i) => i.value.trim().toLowerCase()))];

  const holders = new Set<string>([
    ...input.shadows.map((s) => s.connector),
    ...all.flatMap((i) => (i.kind === 'external' && i.system ? [i.system] : [])),
  ]);
  const refs: Record<string, EraseRef[]> = {};
  const manual: string[] = [];
  for (const connector of input.connectors) {
    const holds = holders.has(connector.id);
    if (!holds && !input.alwaysErase.includes(connector.id)) continue;
    if (!connector.capabilities.erase) {
      if (holds) manual.push(connector.id);
      continue;
    }
    const ids = [...new Set(all.filter((i) => i.kind === 'external' && i.system === connector.id).map((i) => i.value))];
    const [first] = emails;
    const list: EraseRef[] = ids.map((externalId) => (first === undefined ? { externalId } : { externalId, email: first }));
    for (const email of ids.length > 0 ? emails.slice(1) : emails) list.push({ email });
    refs[connector.id] = list;
  }
  return { refs, manual: manual.sort(), identities: all };
}

/**
 * What the export says of recipients and retention, from the configuration: which purposes and
 * data each system receives (its outbound mappings, its `consentAuthority`), and how long data is
 * kept (the export's TTL, the hub's erasure policy; the hub has no retention rule of its own to
 * report, and says so). Pure.
 */
import type { MergePolicy } from '../../profile/schema.js';
import type { SyncConnector } from '../../sync/index.js';
import type { PrivacyOptions } from '../options.js';
import type { RecipientSource, Retention } from './document.js';

/** Connector id -> what the config says it receives. */
export function recipientSources(
  connectors: Iterable<Pick<SyncConnector, 'id' | 'type' | 'mapping'>>,
  policy: MergePolicy,
): Map<string, RecipientSource> {
  const out = new Map<string, RecipientSource>();
  for (const c of connectors) {
    const purposes: Record<string, string[]> = {};
    const data = new Set<string>();
    for (const entry of c.mapping.outbound) {
      data.add(entry.key);
      if (entry.target.kind === 'consent') {
        const channels = purposes[entry.target.purpose] ?? [];
        if (!channels.includes(entry.target.channel)) channels.push(entry.target.channel);
        purposes[entry.target.purpose] = channels.sort();
      }
    }
    const authorityFor = Object.entries(policy.purposes)
      // A purpose without authorities may be changed by any source.
      .filter(([, p]) => p.authorities === undefined || p.authorities.includes(c.id))
      .map(([id]) => id)
      .sort();
    out.set(c.id, { type: c.type, purposes, authorityFor, data: [...data].sort() });
  }
  return out;
}

/** The retention that applies, as configured. */
export function retentionOf(options: Pick<PrivacyOptions, 'exportTtlMs' | 'verifyErasure' | 'alwaysErase'>, expiresAt: string): Retention {
  return {
    export: { expiresAt, ttlMs: options.exportTtlMs },
    rules: [],
    profile:
      'No retention rule is configured: the hub keeps the profile, its consent ledger and its history until the person asks for erasure (or an operator erases them).',
    erasure: {
      verified: options.verifyErasure,
      alwaysErase: [...options.alwaysErase],
      keptAfterErasure:
        'After an erasure the hub keeps only proof that it was done: keyed hashes of the identities (so that systems sending the person again are refused), each system’s outcome and the times.',
    },
  };
}

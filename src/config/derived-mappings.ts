/**
 * Merges the mapping entries a connector derives from an instance's own keys
 * (`ConnectorDefinition.derivedMappings`, e.g. one per HubSpot subscription type) with the
 * instance's YAML `mappings`, so the YAML writes only what an operator changes.
 *
 * The rule, for one instance:
 * - the derived entries come first, in the connector's order, then the YAML entries in the
 *   order written (the compiled mapping puts both on top of the connector's `defaultMappings`);
 * - a YAML entry with the same canonical target and external field as a derived one is the
 *   same entry written twice when it says the same (direction, transforms, and whether it is
 *   withdraw-only once compiled): the derived one is dropped and the YAML one kept in its
 *   place, so a file written before the derivation maps exactly as it did;
 * - one that says something else is a `mapping_conflict` at the YAML entry. A derived entry is
 *   never overridden from `mappings`: it follows the key it comes from (the connector knows
 *   what that key means, e.g. that an opt-out flag can only withdraw consent).
 *
 * Derived entries are also checked against the catalog, reported at the key they come from.
 */
import type { ConnectorDefinition } from '../connector/define.js';
import { isWithdrawOnly, targetKeyOf } from '../connector/mapping.js';
import { MappingEntry } from '../connector/mapping-schema.js';
import { jsonEqual } from '../profile/order.js';
import { mappingReferenceFindings } from './checks.js';
import type { CheckFinding } from './checks.js';
import { formatPath } from './errors.js';
import type { ConfigPath } from './locate.js';

/** The merged mapping entries of one instance, and what is wrong with them. */
export interface MappingMerge {
  /** Derived entries the YAML does not repeat, then the YAML entries in the order written. */
  mappings: MappingEntry[];
  findings: CheckFinding[];
}

/** What two entries for the same target and external field must agree on. */
const COMPARED = ['direction', 'transform', 'withdrawOnly'] as const;

type Compared = Record<(typeof COMPARED)[number], unknown>;

/**
 * What an entry says, as compiled: an opt-out flag the connector names is withdraw-only whether
 * the entry says so or not, but an entry that says `withdrawOnly: false` says "may grant".
 */
function comparable(definition: Pick<ConnectorDefinition, 'withdrawOnlyFields'>, entry: MappingEntry): Compared {
  const withdrawOnly = entry.withdrawOnly === false ? false : isWithdrawOnly(definition, entry);
  return { direction: entry.direction, transform: entry.transform, withdrawOnly };
}

/** The identity of an entry for the merge: its canonical target and its external field. */
function identityOf(entry: MappingEntry): string {
  return `${targetKeyOf(entry)} <-> "${entry.external}"`;
}

interface Derived {
  /** Where the entry comes from, from the root of the file. */
  path: ConfigPath;
  entry: MappingEntry;
}

/**
 * The entries `definition` derives from the instance at `connectors.<instanceId>` (`own`: its
 * own keys as `configSchema` parsed them), merged with `yaml` (its `mappings`, each already
 * valid, or `undefined` where the schema refused it: such entries are kept out of the
 * comparison). `catalog` is the file's catalog, possibly invalid.
 */
export function mergeDerivedMappings(
  definition: Pick<ConnectorDefinition, 'type' | 'derivedMappings' | 'withdrawOnlyFields'>,
  instanceId: string,
  own: unknown,
  yaml: readonly (MappingEntry | undefined)[],
  catalog: unknown,
): MappingMerge {
  const base: ConfigPath = ['connectors', instanceId];
  const findings: CheckFinding[] = [];
  const derived: Derived[] = [];
  for (const item of definition.derivedMappings?.(own) ?? []) {
    const path = [...base, ...item.path];
    const parsed = MappingEntry.safeParse(item.entry);
    if (!parsed.success) {
      // A connector bug, not the operator's: say so, at the key the entry comes from.
      const reason = parsed.error.issues.map((i) => i.message).join('; ');
      findings.push({
        code: 'invalid',
        path,
        at: 'value',
        message: `connector type "${definition.type}" derives an invalid mapping entry from this key: ${reason}`,
      });
      continue;
    }
    findings.push(...mappingReferenceFindings(parsed.data, catalog, () => path));
    derived.push({ path, entry: parsed.data });
  }

  const repeated = new Set<Derived>();
  yaml.forEach((entry, i) => {
    if (entry === undefined) return;
    const identity = identityOf(entry);
    const twin = derived.find((d) => identityOf(d.entry) === identity);
    if (twin === undefined) return;
    const ours = comparable(definition, entry);
    const theirs = comparable(definition, twin.entry);
    const differ = COMPARED.filter((key) => !jsonEqual(ours[key], theirs[key]));
    if (differ.length === 0) {
      repeated.add(twin);
      return;
    }
    findings.push({
      code: 'mapping_conflict',
      path: [...base, 'mappings', i],
      at: 'value',
      message:
        `maps ${identity} like the entry ${formatPath(twin.path)} derives, but with another ${differ.join(', ')} ` +
        `(derived: ${differ.map((key) => `${key} ${JSON.stringify(theirs[key])}`).join(', ')}); ` +
        `remove this entry, or change ${formatPath(twin.path)}`,
    });
  });

  const kept = derived.filter((d) => !repeated.has(d)).map((d) => d.entry);
  return { mappings: [...kept, ...yaml.filter((e): e is MappingEntry => e !== undefined)], findings };
}

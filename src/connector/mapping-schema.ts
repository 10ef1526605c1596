/**
 * The YAML shape of a field mapping. The mapping engine (`mapping.ts`) interprets it; the
 * config schema embeds it under `connectors.<id>.mappings`.
 */
import { z } from 'zod';

/**
 * Named, declarative transforms between a canonical value and an external one. Push applies
 * an entry's transforms in order (canonical -> external); pull applies their inverses in
 * reverse order. Which transforms are invertible, and on which values, is tabled in
 * `transforms.ts`; a value a transform cannot convert is reported as a `MappingValueError`,
 * never thrown. `null` passes through every transform (it means "cleared").
 *
 * On the canonical side, consent entries carry a boolean (`true` = granted, `false` = denied),
 * as do topic and right entries; a `map` on a consent entry may use `granted` / `denied` as
 * keys.
 */
export const Transform = z.discriminatedUnion('type', [
  /** Canonical -> external: lower-case the string. Not invertible (pull keeps the lower-case). */
  z
    .object({ type: z.literal('lowercase') })
    .strict()
    .meta({ description: 'Canonical -> external: lower-case the string. Pull keeps the external (lower-case) value.' }),
  /** Boolean negation, e.g. canonical `granted` <-> external `HasOptedOutOfEmail: false`. */
  z
    .object({ type: z.literal('invert') })
    .strict()
    .meta({
      description:
        'Boolean negation, e.g. canonical granted <-> external HasOptedOutOfEmail: false. Pull also accepts "true"/"false" strings.',
    }),
  /** Value map canonical -> external; the reverse map is derived (must be one-to-one to invert). */
  z
    .object({
      type: z.literal('map'),
      values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).meta({
        description:
          'Canonical value -> external value. On consent, topic and right entries the keys may be granted / denied (or true / false). Must be one-to-one on a pulled entry.',
      }),
      /** External value used when a canonical value is not in the map (push only). */
      default: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional().meta({
        description: 'External value pushed when a canonical value is not in the map (push only; without it such a value is an error).',
      }),
    })
    .strict()
    .meta({ description: 'Value map canonical -> external; pull uses the reverse map, derived from values.' }),
  /**
   * ISO-8601 instant <-> the external date format: `iso` (an ISO string), `epoch_ms`,
   * `epoch_s` (drops milliseconds) or `date` (`YYYY-MM-DD`, drops the time of day; pulls give
   * midnight UTC). Epoch values may arrive as numeric strings.
   */
  z
    .object({
      type: z.literal('date'),
      format: z.enum(['iso', 'epoch_ms', 'epoch_s', 'date']).meta({
        description:
          'iso: an ISO-8601 string; epoch_ms: milliseconds since 1970 (numeric strings accepted on pull); epoch_s: seconds (drops milliseconds); date: YYYY-MM-DD (drops the time of day; pulls give midnight UTC).',
      }),
    })
    .strict()
    .meta({ description: 'A canonical ISO-8601 instant <-> the external date format.' }),
  /** Array of strings <-> one string joined by `separator` (e.g. HubSpot multi-checkbox `;`). */
  z
    .object({
      type: z.literal('join'),
      separator: z.string().min(1).default(';').meta({ description: 'What the items are joined with.' }),
    })
    .strict()
    .meta({ description: 'Canonical array of strings <-> one external string joined by separator (e.g. a HubSpot multi-checkbox, ;).' }),
  /** One string <-> array of strings split on `separator` (the inverse of join). */
  z
    .object({
      type: z.literal('split'),
      separator: z.string().min(1).default(';').meta({ description: 'What the string is split on.' }),
    })
    .strict()
    .meta({ description: 'Canonical string <-> an external array of strings split on separator (the inverse of join).' }),
]);
export type Transform = z.infer<typeof Transform>;

/** Which way an entry flows: `pull` (into the hub), `push` (out to the system) or `both`. */
export const MappingDirection = z.enum(['pull', 'push', 'both']);
export type MappingDirection = z.infer<typeof MappingDirection>;

/**
 * One mapping entry: exactly one canonical target (an attribute, a consent `purpose.channel`,
 * a subscription topic, an identity kind or a right) to one external field. In YAML, an entry
 * replaces the connector's default entry with the same canonical target.
 */
export const MappingEntry = z
  .object({
    /** Canonical attribute path, e.g. `firstName`. */
    field: z.string().min(1).optional().meta({ description: 'Canonical attribute path, e.g. firstName.' }),
    /** Consent as `purpose.channel`, e.g. `marketing.email`. */
    consent: z
      .string()
      .regex(/^[^.]+\.[^.]+$/, 'expected purpose.channel')
      .optional()
      .meta({ description: 'Consent as purpose.channel, e.g. marketing.email (true = granted on the canonical side).' }),
    /** Subscription topic, e.g. `newsletter`. */
    topic: z.string().min(1).optional().meta({ description: 'Subscription topic id, e.g. newsletter (true = subscribed).' }),
    /** Identity kind carried by the external field. */
    identity: z.enum(['email', 'phone']).optional().meta({ description: 'The identity kind the external field carries.' }),
    /** A right: `restricted` or `objections.<kind>`. */
    right: z
      .enum(['restricted', 'objections.directMarketing', 'objections.profiling', 'objections.automatedDecisions'])
      .optional()
      .meta({ description: 'A right: restricted (Art. 18) or an objection (Art. 21/22), true while it holds.' }),
    /** The external field name. */
    external: z.string().min(1).meta({ description: "The external field name (the system's property, field or path)." }),
    /** `pull` (external -> canonical only), `push` (canonical -> external only) or `both`. */
    direction: MappingDirection.default('both').meta({
      description: 'pull: external -> canonical only; push: canonical -> external only; both: either way.',
    }),
    /** Transforms applied in order on push, inverted in reverse order on pull. */
    transform: z.array(Transform).default([]).meta({
      description: 'Transforms applied in order on push and inverted in reverse order on pull (see Transforms).',
    }),
    /**
     * Consent entries only. The external field can withdraw consent but never grant it: a
     * boolean opt-out flag (Salesforce `HasOptedOutOfEmail`) whose "not opted out" is also what
     * the system stores by default, so it is no evidence that the person agreed to anything.
     * Inbound, a value that maps to `granted` is dropped (it is neither a change nor a grant);
     * a value that maps to `denied` still withdraws. Outbound, when the hub creates the record,
     * a consent it holds no state for is written as `denied` (the system's opt-out), so the
     * system's default never stands for a choice and reading the record back is an echo.
     * A connector may also name such fields itself (`ConnectorDefinition.withdrawOnlyFields`):
     * consent entries on them are withdraw-only whatever the YAML says.
     * @defaultValue `false`
     */
    withdrawOnly: z.boolean().optional().meta({
      description:
        'Consent entries: the field can withdraw consent but never grant it (an opt-out flag whose "not opted out" is also the default). Inbound, a value mapping to granted is ignored; on create, an unknown consent is written as denied. Default: false (true for the opt-out flags a connector names).',
    }),
  })
  .strict()
  .refine((m) => [m.field, m.consent, m.topic, m.identity, m.right].filter((x) => x !== undefined).length === 1, {
    message: 'a mapping needs exactly one of field, consent, topic, identity, right',
  })
  .refine((m) => m.withdrawOnly !== true || m.consent !== undefined, {
    message: 'withdrawOnly applies to consent entries only',
    path: ['withdrawOnly'],
  });
export type MappingEntry = z.infer<typeof MappingEntry>;
export type MappingEntryInput = z.input<typeof MappingEntry>;

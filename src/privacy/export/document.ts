/**
 * The export of a person's data (GDPR Art. 15 access, Art. 20 portability): one structured,
 * documented JSON document, whose JSON Schema is published (`docs/schemas/export.schema.json`,
 * generated from `ExportDocument`), and a flat CSV of the same facts. Pure.
 */
import { z } from 'zod';
import { ConsentEvidence, ConsentStatus, Identity, Instant, Json, LegalBasis, ObjectionKind, SourceId } from '../../profile/schema.js';
import type { MergePolicy, Profile } from '../../profile/schema.js';
import { isPrimaryIdentity } from '../../profile/identities.js';
import { HistoryKind, HistoryOutcome, HistoryReason } from '../../profile/explain.js';
import type { AuditEntry, HistoryEntry, LedgerEntry, PushLogEntry, Shadow } from '../../store/types.js';
import { SystemEvidence } from '../schema.js';
import { ConsentReceipt, Controller, consentReceipt } from './receipts.js';

export const EXPORT_FORMAT = 'concord.export/v1';

const stamp = {
  source: SourceId.meta({ description: 'The system (connector id) or hub source (preference_center, admin) that set it.' }),
  at: Instant.meta({ description: 'When it changed at that source.' }),
};

/** An identity with its stamp; optional members are absent in exports made before identities carried stamps. */
export const ExportIdentity = Identity.extend({
  source: stamp.source.optional(),
  at: Instant.optional().meta({ description: 'When it was last set at that source (1970-01-01 when not known).' }),
  primary: z.boolean().optional().meta({
    description:
      'True for the newest e-mail and phone (and record id per system): the ones the hub sends to systems; older ones only find the person.',
  }),
});
export type ExportIdentity = z.infer<typeof ExportIdentity>;

export const LiveRecord = z.object({
  externalId: z.string(),
  at: z.string(),
  fields: z
    .record(z.string(), Json)
    .meta({ description: 'The whole record as the system holds it: every field with a value, in the system’s own names.' }),
  labels: z
    .record(z.string(), z.string())
    .optional()
    .meta({ description: 'The system’s label of each field, where the system has labels (e.g. HubSpot property labels).' }),
  related: z.record(z.string(), Json).optional().meta({
    description:
      'Records the system keeps on the person beside this one, by kind: subscription statuses, consent records, tags, interests, notes.',
  }),
});
export type LiveRecord = z.infer<typeof LiveRecord>;

export const LiveExport = z.object({
  connector: z.string(),
  status: z.enum(['read', 'failed', 'unsupported']),
  error: z.string().nullable(),
  records: z.array(LiveRecord),
  search: SystemEvidence.shape.searched.meta({
    description:
      'How the system was searched for the person before reading: when, how, by which identities (keyed hashes) and how many records it found.',
  }),
  unsearchable: SystemEvidence.shape.unsearchable.meta({
    description:
      'The person’s identities (kind and keyed hash) the system cannot be searched by: not being found by them says nothing about what the system holds.',
  }),
});
export type LiveExport = z.infer<typeof LiveExport>;

/** One delivery to a connected system, from the hub's push log. */
export const SyncDelivery = z
  .object({
    connector: z.string().meta({ description: 'The connected system (connector instance id) the hub sent to.' }),
    type: z
      .string()
      .nullable()
      .meta({ description: 'The kind of system (connector type, e.g. hubspot); null when the connector is no longer configured.' }),
    externalId: z.string().nullable().meta({ description: 'The system’s id for the record written, as it answered.' }),
    sentAt: Instant.meta({ description: 'When the system accepted the delivery.' }),
    values: z.record(z.string(), Json).meta({ description: 'What was sent: the system’s own field name -> the value written.' }),
  })
  .meta({ description: 'One delivery the system accepted: what was sent there and when.' });
export type SyncDelivery = z.infer<typeof SyncDelivery>;

/** A system the person's data went to, with the purposes it serves. */
export const Recipient = z
  .object({
    connector: z.string().meta({ description: 'The connected system (connector instance id).' }),
    type: z.string().nullable().meta({ description: 'The kind of system (connector type); null when no longer configured.' }),
    purposes: z
      .array(
        z.object({
          purpose: z.string(),
          title: z.string().optional(),
          channels: z.array(z.string()).meta({ description: 'The channels whose consent is sent to the system for this purpose.' }),
          consentAuthority: z
            .boolean()
            .meta({ description: 'Whether the system may also change this consent (the config’s consentAuthority).' }),
        }),
      )
      .meta({
        description: 'The purposes whose consent the system receives or may change, from the config’s mappings and consentAuthority.',
      }),
    data: z.array(z.string()).meta({
      description:
        'What the hub sends there, from the config’s mappings: field:<path>, identity:<kind>, topic:<id>, consent:<purpose>.<channel>, right:<kind>.',
    }),
    deliveries: z.number().int().nonnegative().meta({ description: 'Deliveries of this person’s data in the push log.' }),
    firstSentAt: Instant.nullable(),
    lastSentAt: Instant.nullable(),
  })
  .meta({ description: 'A recipient (Art. 15(1)(c)): a system the hub sent this person’s data to.' });
export type Recipient = z.infer<typeof Recipient>;

/** What the config says a connector receives: derived from its outbound mappings and consentAuthority. */
export interface RecipientSource {
  type: string;
  /** Purpose -> channels whose consent is mapped outbound. */
  purposes: Readonly<Record<string, readonly string[]>>;
  /** Purposes the connector may change consent for. */
  authorityFor: readonly string[];
  /** Canonical keys mapped outbound, e.g. `field:firstName`. */
  data: readonly string[];
}

/** How long data is kept: the export itself, and the hub's rules as configured. */
export const Retention = z
  .object({
    export: z
      .object({
        expiresAt: Instant.meta({ description: 'When this export is deleted from the hub (it can be downloaded until then).' }),
        ttlMs: z.number().int().positive(),
      })
      .meta({ description: 'This export is kept for download for ttlMs, then deleted.' }),
    rules: z
      .array(z.object({ id: z.string(), description: z.string() }))
      .meta({ description: 'The retention rules configured in the hub; empty when none is configured.' }),
    profile: z.string().meta({ description: 'How long the hub keeps the profile, in plain words, from the configuration.' }),
    erasure: z
      .object({
        verified: z.boolean().meta({ description: 'Whether each system is read back after an erasure (hub.privacy.verifyErasure).' }),
        alwaysErase: z.array(z.string()).meta({ description: 'Systems every erasure reaches (hub.privacy.alwaysErase).' }),
        keptAfterErasure: z.string().meta({ description: 'What the hub keeps after an erasure, and why.' }),
      })
      .meta({ description: 'The hub’s erasure policy as configured.' }),
  })
  .meta({ description: 'The retention that applies (Art. 15(1)(d)).' });
export type Retention = z.infer<typeof Retention>;

export const ExportDocument = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    requestId: z.string().meta({ description: 'The data-subject request this export answers.' }),
    generatedAt: Instant,
    controller: Controller,
    subject: z.object({
      profileId: z.string().nullable().meta({ description: 'The hub’s id of the person; null when the hub holds nothing on them.' }),
      identities: z.array(ExportIdentity).meta({ description: 'E-mail addresses, phone numbers and record ids in connected systems.' }),
    }),
    profile: z
      .object({
        attributes: z.array(z.object({ path: z.string(), value: Json, ...stamp })),
        consents: z.array(
          z.object({
            purpose: z.string(),
            channel: z.string(),
            status: ConsentStatus,
            legalBasis: LegalBasis,
            expiresAt: Instant.optional(),
            evidence: ConsentEvidence,
            ...stamp,
          }),
        ),
        subscriptions: z.array(z.object({ topic: z.string(), subscribed: z.boolean(), ...stamp })),
        rights: z.object({
          restricted: z
            .object({ value: z.boolean(), ...stamp })
            .nullable()
            .meta({ description: 'Restriction of processing (Art. 18).' }),
          objections: z
            .array(z.object({ kind: ObjectionKind, value: z.boolean(), ...stamp }))
            .meta({ description: 'Objections (Art. 21, 22).' }),
        }),
      })
      .nullable()
      .meta({ description: 'The living profile: every field with the source that set it and when; null when none is held.' }),
    consentReceipts: z.array(ConsentReceipt).meta({ description: 'Every consent change from the append-only ledger, oldest first.' }),
    systems: z
      .array(
        z.object({
          connector: z.string(),
          type: z.string().nullable(),
          externalId: z.string().nullable().meta({ description: 'The system’s own id for the person.' }),
          lastSentAt: z.string().nullable().meta({ description: 'When the hub last sent changes to it.' }),
          updatedAt: z.string(),
          holds: z
            .record(z.string(), Json)
            .meta({ description: 'The values the system holds as far as the hub knows: what it last sent there or read from there.' }),
        }),
      )
      .meta({ description: 'The connected systems holding data on the person.' }),
    syncHistory: z.array(SyncDelivery).default([]).meta({
      description:
        'The sync history from the hub’s push log: every delivery to every connected system, what was sent where and when, oldest first.',
    }),
    valueHistory: z
      .array(
        z.object({
          kind: HistoryKind,
          path: z.string(),
          value: Json.meta({ description: 'The value the source sent (a consent: its status).' }),
          source: z.string(),
          at: z.string().meta({ description: 'When it changed at the source.' }),
          recordedAt: z.string().meta({ description: 'When the hub received and merged it.' }),
          outcome: HistoryOutcome,
          reason: HistoryReason,
        }),
      )
      .default([])
      .meta({
        description:
          'Every value any system sent about the person, whether it was taken (won) or not (lost), and why (e.g. newer, older_than_current, lower_priority, not_authority), oldest first.',
      }),
    history: z
      .array(
        z.object({
          at: z.string(),
          actor: z.string(),
          action: z.string(),
          source: z.string().nullable(),
          changes: z.array(z.string()).meta({ description: 'What changed, as kind:path (values are in the profile above).' }),
          reason: z.string().nullable(),
        }),
      )
      .meta({ description: 'The audit trail: every change received and from where, and every request, oldest first.' }),
    live: z
      .array(LiveExport)
      .nullable()
      .meta({ description: 'The whole records each system holds now, read for this export; null when not asked for.' }),
    recipients: z.array(Recipient).default([]).meta({
      description: 'The systems the hub sent this person’s data to, with the purposes each serves (from the config and the push log).',
    }),
    retention: Retention.optional(),
  })
  .meta({
    title: 'Concord export',
    description: 'Everything Concord holds on one person (GDPR Art. 15 and 20), in a structured, machine-readable format.',
  });
export type ExportDocument = z.infer<typeof ExportDocument>;

export interface ExportInput {
  requestId: string;
  generatedAt: string;
  controller: Controller;
  profile: Profile | null;
  ledger: readonly LedgerEntry[];
  shadows: readonly Shadow[];
  /** The profile's push log (what was sent where and when), any order. */
  pushes: readonly PushLogEntry[];
  /** The profile's history of values (`profileHistory`), any order. */
  valueHistory?: readonly HistoryEntry[];
  /** Audit entries of the profile, any order. */
  audit: readonly AuditEntry[];
  /** Connector id -> connector type. */
  connectorTypes: ReadonlyMap<string, string>;
  /** Decides which identity of a kind is the primary one. */
  policy: MergePolicy;
  /** Purpose id -> its title in the catalog. */
  purposeTitles?: Readonly<Record<string, string>>;
  live: readonly LiveExport[] | null;
  /** Connector id -> what the config says it receives (`recipientSources`). */
  recipientSources?: ReadonlyMap<string, RecipientSource>;
  retention?: Retention;
}

const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

function profileSection(profile: Profile): NonNullable<ExportDocument['profile']> {
  const consents: NonNullable<ExportDocument['profile']>['consents'] = [];
  for (const [purpose, channels] of Object.entries(profile.consents)) {
    for (const [channel, slot] of Object.entries(channels)) {
      consents.push({
        purpose,
        channel,
        status: slot.value,
        legalBasis: slot.legalBasis,
        ...(slot.expiresAt ? { expiresAt: slot.expiresAt } : {}),
        evidence: slot.evidence,
        source: slot.source,
        at: slot.at,
      });
    }
  }
  return {
    attributes: Object.entries(profile.attributes)
      .map(([path, s]) => ({ path, value: s.value, source: s.source, at: s.at }))
      .sort(byKey((a) => a.path)),
    consents: consents.sort(byKey((c) => `${c.purpose}.${c.channel}`)),
    subscriptions: Object.entries(profile.subscriptions)
      .map(([topic, s]) => ({ topic, subscribed: s.value, source: s.source, at: s.at }))
      .sort(byKey((s) => s.topic)),
    rights: {
      restricted: profile.rights.restricted ? { ...profile.rights.restricted } : null,
      objections: ObjectionKind.options.flatMap((kind) => {
        const o = profile.rights.objections[kind];
        return o ? [{ kind, value: o.value, source: o.source, at: o.at }] : [];
      }),
    },
  };
}

function stringOrNull(value: Json | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * The recipients: each system the push log shows a delivery of the person's data to (or whose
 * record the hub last wrote, per its shadow), with what the config says the system receives.
 */
function recipientsOf(input: ExportInput): Recipient[] {
  const sent = new Map<string, { deliveries: number; first: string | null; last: string | null }>();
  const note = (connector: string, at: string | null, count: number): void => {
    const s = sent.get(connector) ?? { deliveries: 0, first: null, last: null };
    s.deliveries += count;
    if (at !== null) {
      if (s.first === null || at < s.first) s.first = at;
      if (s.last === null || at > s.last) s.last = at;
    }
    sent.set(connector, s);
  };
  for (const p of input.pushes) note(p.connector, p.pushedAt, 1);
  for (const s of input.shadows) if (s.lastPushedAt !== null) note(s.connector, s.lastPushedAt, 0);
  return [...sent.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([connector, s]) => {
      const source = input.recipientSources?.get(connector);
      const purposeIds = [...new Set([...Object.keys(source?.purposes ?? {}), ...(source?.authorityFor ?? [])])].sort();
      return {
        connector,
        type: source?.type ?? input.connectorTypes.get(connector) ?? null,
        purposes: purposeIds.map((purpose) => {
          const title = input.purposeTitles?.[purpose];
          return {
            purpose,
            ...(title === undefined ? {} : { title }),
            channels: [...(source?.purposes[purpose] ?? [])],
            consentAuthority: source?.authorityFor.includes(purpose) ?? false,
          };
        }),
        data: [...(source?.data ?? [])],
        deliveries: s.deliveries,
        firstSentAt: s.first,
        lastSentAt: s.last,
      };
    });
}

/** Builds the export document. */
export function buildExport(input: ExportInput): ExportDocument {
  const { profile } = input;
  return {
    format: EXPORT_FORMAT,
    requestId: input.requestId,
    generatedAt: input.generatedAt,
    controller: input.controller,
    subject: {
      profileId: profile?.id ?? null,
      identities: profile ? profile.identities.map((i) => ({ ...i, primary: isPrimaryIdentity(i, profile.identities, input.policy) })) : [],
    },
    profile: profile ? profileSection(profile) : null,
    consentReceipts: [...input.ledger]
      .sort(byKey((e) => `${e.recordedAt}\u0000${e.id}`))
      .map((entry) => consentReceipt(entry, input.controller, input.purposeTitles?.[entry.purpose])),
    systems: [...input.shadows].sort(byKey((s) => s.connector)).map((s) => ({
      connector: s.connector,
      type: input.connectorTypes.get(s.connector) ?? null,
      externalId: s.externalId,
      lastSentAt: s.lastPushedAt,
      updatedAt: s.updatedAt,
      holds: { ...s.values },
    })),
    syncHistory: [...input.pushes]
      .map((p, i) => ({ p, i }))
      // Oldest first; deliveries recorded at the same instant keep the log's order.
      .sort((a, b) => (a.p.pushedAt < b.p.pushedAt ? -1 : a.p.pushedAt > b.p.pushedAt ? 1 : a.i - b.i))
      .map(({ p }) => ({
        connector: p.connector,
        type: input.connectorTypes.get(p.connector) ?? null,
        externalId: p.externalId,
        sentAt: p.pushedAt,
        values: { ...p.values },
      })),
    valueHistory: [...(input.valueHistory ?? [])].sort(byKey((e) => `${e.recordedAt}\u0000${e.id}`)).map((e) => ({
      kind: e.kind,
      path: e.path,
      value: e.offered.value,
      source: e.offered.source,
      at: e.offered.at,
      recordedAt: e.recordedAt,
      outcome: e.outcome,
      reason: e.reason,
    })),
    history: [...input.audit].sort(byKey((a) => `${a.at}\u0000${a.id}`)).map((a) => {
      const changes = a.detail['changes'];
      return {
        at: a.at,
        actor: a.actor,
        action: a.action,
        source: stringOrNull(a.detail['source']),
        changes: Array.isArray(changes) ? changes.filter((c): c is string => typeof c === 'string') : [],
        reason: stringOrNull(a.detail['reason']),
      };
    }),
    live: input.live ? input.live.map((l) => ({ ...l, records: l.records.map((r) => ({ ...r })) })) : null,
    recipients: recipientsOf(input),
    ...(input.retention ? { retention: input.retention } : {}),
  };
}

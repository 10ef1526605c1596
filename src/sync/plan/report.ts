/**
 * What `concord plan` reports (`--json` prints it as it is): per system read, what its records
 * would do to the hub; per system written, how many records a sync would create, update or leave
 * alone, which fields change how often, and a few examples with e-mail addresses and phone
 * numbers redacted. The schema is the contract of `--json`.
 */
import { z } from 'zod';

const count = z.number().int().min(0);
const InitialSyncMode = z.enum(['pull-only', 'push-only', 'both']);

/** What the records read from one system would do to the hub. */
export const PlanSource = z.object({
  connector: z.string(),
  type: z.string(),
  initialSync: InitialSyncMode,
  /** This would be the instance's first full pull (it has no cursor, or its first pull never finished). */
  firstPull: z.boolean(),
  pages: count,
  records: count,
  /** API calls the plan made to read it (pull pages; a page may take more than one request). */
  calls: count,
  /** How long reading and judging its records took, ms. */
  ms: count,
  /** Records that would create a hub profile. */
  created: count,
  /** Records that would change a hub profile. */
  updated: count,
  /** Records that would change nothing (the system holds what the hub knows, or its values lose the merge). */
  unchanged: count,
  /** push-only, first pull: records of people the hub knows, linked (id and values learned) but not ingested. */
  linked: count,
  /** push-only, first pull: records of people the hub does not know, left alone. */
  notLinked: count,
  /** Records whose identities are being erased (on the suppression list). */
  suppressed: count,
  /** Records without a usable e-mail address, phone number or id. */
  noIdentity: count,
  /** Records deleted at the source (not sync's business). */
  deleted: count,
  /** Records carrying the system's erasure flag (they would start an erasure, not be ingested). */
  erasureRequests: count,
});
export type PlanSource = z.infer<typeof PlanSource>;

/** One planned write, redacted. */
export const PlanExample = z.object({
  action: z.enum(['create', 'update']),
  /** The system's id of the record (absent for a create). */
  externalId: z.string().optional(),
  /** Field -> what the system holds now (absent: nothing known) and what would be written, as JSON text, contacts redacted. */
  fields: z.record(z.string(), z.object({ from: z.string().optional(), to: z.string() })),
});
export type PlanExample = z.infer<typeof PlanExample>;

/** What a sync would write to one system. */
export const PlanTarget = z.object({
  connector: z.string(),
  type: z.string(),
  initialSync: InitialSyncMode,
  /** pull-only and the first pull has not finished: these writes wait for it. */
  waitsForFirstPull: z.boolean(),
  /**
   * both or push-only on an instance that pulls on a schedule, and the first pull has not
   * finished: the creates wait for it (the updates of records already linked do not).
   */
  createsWaitForFirstPull: z.boolean(),
  /** Profiles a push would consider (changed by the reads, or holding values that lost). */
  considered: count,
  create: count,
  update: count,
  /** Considered, but the system holds every value already. */
  unchanged: count,
  /** Restricted (Art. 18) people unknown to the system: no record is created for them. */
  restricted: count,
  /** People being erased: nothing is sent. */
  suppressed: count,
  /** External field -> how many records would have it written, most often first. */
  fields: z.record(z.string(), count),
  examples: z.array(PlanExample),
});
export type PlanTarget = z.infer<typeof PlanTarget>;

export const PlanReport = z.object({
  /** When the plan was made (ISO 8601). */
  at: z.string(),
  /** The instance read, when one was named (else every instance that pulls). */
  only: z.string().optional(),
  sources: z.array(PlanSource),
  targets: z.array(PlanTarget),
  /** Wall-clock time of the plan, ms. */
  ms: count,
});
export type PlanReport = z.infer<typeof PlanReport>;

/** What the backfill bench's processes share (`backfill.ts`, `emulator.ts`, `hub.ts`). */

/** The emulated org and its connected app. */
export const BACKFILL_SF = {
  clientId: 'bench-backfill',
  clientSecret: 'bench-backfill-secret',
  organizationId: '00D5e000000BfilEAA',
} as const;

/** What the bench tells its hub process, as JSON in CONCORD_BENCH_BACKFILL. */
export interface BackfillHubSpec {
  redisUrl: string;
  prefix: string;
  dbUrl: string;
  /** The Salesforce emulator's URL. */
  loginUrl: string;
  /** Milliseconds between two samples. */
  sampleMs: number;
}

/** One line the hub process prints: a sample while the pull runs, then its end. */
export interface BackfillSample {
  /** Seconds since the pull was asked for. */
  seconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Records the pull has read and stored (its progress after each page). */
  records: number;
  state: string;
}

export interface BackfillEnd {
  done: true;
  state: string;
  error: string | null;
  seconds: number;
  records: number;
  /** Records of the system the hub links to a profile at the end (all of them, when nothing was lost). */
  linked: number;
}

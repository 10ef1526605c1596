/**
 * The segment connector's config (the YAML keys of an instance with `type: segment`; the JSON Schema
 * of `config/concord.yaml` derives from it, `npm run schema`) and its pull cursor.
 *
 * TODO from the vendor's documentation: authentication, the API's base URL, the options an
 * operator changes. Give each option TSDoc with its `@defaultValue`.
 */
import { z } from 'zod';

export const SegmentConfig = z.object({
  /** The API's base URL (the emulator's, `concord emulate segment`, is http://127.0.0.1:4040). */
  baseUrl: z.url(),
  /** The API token. A secret: `${env:SEGMENT_ACCESS_TOKEN}`. */
  accessToken: z.string().min(1),
  /** The secret the system signs its webhooks with. A secret: `${env:SEGMENT_WEBHOOK_SECRET}`. */
  webhookSecret: z.string().min(1),
  /**
   * How far behind the saved cursor an incremental pull starts, ms (records committed late may
   * carry an older change stamp).
   * @defaultValue 60000
   */
  lookBackMs: z.number().int().nonnegative().default(60_000),
  /**
   * Records per page of a pull.
   * @defaultValue 100
   */
  pageSize: z.number().int().positive().max(1000).default(100),
});
export type SegmentConfig = z.infer<typeof SegmentConfig>;
export type SegmentConfigInput = z.input<typeof SegmentConfig>;

/** The pull cursor, saved after each page. TODO: what the vendor's change feed resumes from. */
export const SegmentCursor = z.object({ since: z.iso.datetime({ offset: false }) });
export type SegmentCursor = z.infer<typeof SegmentCursor>;

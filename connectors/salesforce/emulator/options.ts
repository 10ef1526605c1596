/** Options of the Salesforce emulator. */
import { z } from 'zod';

const SalesforceId = z.string().regex(/^[a-zA-Z0-9]{18}$/, 'expected an 18-character Salesforce id');

export const SalesforceEmulatorOptions = z.object({
  port: z.number().int().min(0).max(65_535).default(0),
  host: z.string().default('127.0.0.1'),
  /** The connected app's consumer key and secret (OAuth 2.0 client credentials flow). */
  clientId: z.string().min(1).default('concord-connected-app'),
  clientSecret: z.string().min(1),
  /** The org's id, sent in every Outbound Message. */
  organizationId: SalesforceId.default('00D5e000000KQ2eEAG'),
  /** The user the client credentials flow runs as (the integration user). */
  integrationUserId: SalesforceId.default('0055e000001IntgAAC'),
  /** The user the side door acts as (a sales rep in the UI). */
  repUserId: SalesforceId.default('0055e000001RepXAAS'),
  /** Access tokens expire after this long (Salesforce's session timeout); 0 keeps them forever. */
  tokenTtlMs: z
    .number()
    .int()
    .min(0)
    .default(2 * 3_600_000),
  /** The org's API request allowance per 24 hours (`Sforce-Limit-Info`, `REQUEST_LIMIT_EXCEEDED`). */
  dailyApiLimit: z.number().int().positive().default(1_000_000),
  /** Records per query page unless `Sforce-Query-Options: batchSize=N` asks for fewer (200-2,000). */
  queryBatchSize: z.number().int().min(1).max(2_000).default(2_000),
  /** Bulk API 2.0 query result rows per page when the client gives no `maxRecords`. */
  bulkResultPageSize: z.number().int().positive().default(50_000),
  /** How long a Bulk API 2.0 job stays in progress before completing. */
  bulkJobDelayMs: z.number().int().min(0).default(0),
  /** Custom fields the org defines on top of the standard ones, per object (text, external id). */
  externalIdFields: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*__c$/)).default(['Concord_Id__c']),
  /**
   * Field-level security of the integration user's profile, by `Object.Field`: `hidden` fields are
   * left out of the object's describe (as Salesforce leaves out fields the user cannot see),
   * `readOnly` fields are described as neither createable nor updateable. Describe only.
   */
  fieldSecurity: z.record(z.string().regex(/^[A-Za-z]+\.[A-Za-z][A-Za-z0-9_]*$/), z.enum(['hidden', 'readOnly'])).default({}),
  /**
   * Fields of Contact and Lead with Field History Tracking on (Setup > Object Manager > Fields &
   * Relationships > Set History Tracking): each change of one is a `ContactHistory`/`LeadHistory`
   * row. None by default, and then those objects do not exist (a query of them is INVALID_TYPE).
   */
  fieldHistory: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/)).default([]),
  /** DataUsePurpose records present from the start (by Name). */
  dataUsePurposes: z.array(z.string().min(1)).default(['Marketing', 'Analytics', 'Product updates']),
  /**
   * The Outbound Message's endpoint URL, as configured in Salesforce: messages go exactly there
   * (for Concord, `<hub>/webhooks/<id>/<outboundMessageToken>`); none are sent when absent.
   */
  outboundMessageUrl: z.url().optional(),
  /** Objects whose changes send an Outbound Message (one workflow rule each). */
  outboundObjects: z
    .array(z.enum(['Contact', 'Lead', 'Individual', 'ContactPointTypeConsent']))
    .default(['Contact', 'Lead', 'Individual', 'ContactPointTypeConsent']),
  /** Changes are gathered this long before a message is sent (up to 100 notifications each). */
  outboundBatchMs: z.number().int().min(0).default(20),
  /** Delivery attempts before giving up (Salesforce retries for up to 24 hours). */
  outboundMaxAttempts: z.number().int().positive().default(20),
  outboundRetryBaseMs: z.number().int().min(0).default(100),
  outboundRetryMaxMs: z.number().int().min(0).default(5_000),
});
export type SalesforceEmulatorOptions = z.infer<typeof SalesforceEmulatorOptions>;
export type SalesforceEmulatorOptionsInput = z.input<typeof SalesforceEmulatorOptions>;

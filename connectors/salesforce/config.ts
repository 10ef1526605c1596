/**
 * The Salesforce connector's own YAML keys (under `connectors.<id>` with `type: salesforce`),
 * beside the common keys every connector has (`mappings`, `limits`, `schedule`...).
 */
import { z } from 'zod';
import { Duration } from '../../src/config/duration.js';

/** ContactPointTypeConsent.ContactPointType picklist values. */
export const ContactPointType = z.enum(['Email', 'MailingAddress', 'Phone', 'Social', 'Web']);
export type ContactPointType = z.infer<typeof ContactPointType>;

const ConsentRef = z.string().regex(/^[^.]+\.[^.]+$/, 'expected purpose.channel');
const SalesforceId = z.string().regex(/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/, 'expected a 15- or 18-character Salesforce id');

export const SalesforceConfig = z.object({
  loginUrl: z.url().default('https://login.salesforce.com').meta({
    description:
      'Where the OAuth token is requested (`/services/oauth2/token`): login.salesforce.com, test.salesforce.com, a My Domain URL, or the emulator.',
  }),
  clientId: z.string().min(1).meta({ description: "The connected app's consumer key (client credentials flow)." }),
  clientSecret: z.string().min(1).meta({ description: "The connected app's consumer secret." }),
  instanceUrl: z.url().optional().meta({ description: "The org's instance URL; by default the one the token response names." }),
  apiVersion: z
    .string()
    .regex(/^\d{2,3}\.0$/, 'expected an API version such as 62.0')
    .default('62.0')
    .meta({ description: 'REST API version (46.0 or later: sObject Collections upsert).' }),
  object: z.enum(['Contact', 'Lead']).default('Contact').meta({ description: 'The object people are kept in.' }),
  externalIdField: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]*__c$/, 'expected a custom field API name ending in __c')
    .default('Concord_Id__c')
    .meta({
      description:
        "A custom external id field (text, unique) on the object; records Concord creates are upserted on it with the hub's profile id.",
    }),
  fields: z
    .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/))
    .default([])
    .meta({
      description:
        'Fields to read besides the default ones (Email, FirstName, LastName, Phone and the opt-out flags), e.g. MailingCountry.',
    }),
  channelFlags: z
    .object({
      HasOptedOutOfEmail: ConsentRef.optional(),
      DoNotCall: ConsentRef.optional(),
      HasOptedOutOfFax: ConsentRef.optional(),
    })
    .strict()
    .default({})
    .meta({
      description:
        'The canonical consent (purpose.channel) each opt-out flag carries. Each flag is mapped to its consent (inverted, withdraw-only: "not opted out" grants nothing) without a mappings entry.',
    }),
  dataUsePurposes: z.record(z.string(), z.string().min(1)).default({}).meta({
    description:
      'Catalog purpose -> DataUsePurpose Name. Each pair with each contact point type below is one ContactPointTypeConsent; map the ones the catalog has under mappings (external "ContactPointTypeConsent:<type>:<Name>").',
  }),
  contactPointTypes: z
    .record(z.string(), ContactPointType)
    .default({ email: 'Email', phone: 'Phone' })
    .meta({ description: 'Catalog channel -> ContactPointType of its ContactPointTypeConsents.' }),
  captureSource: z
    .string()
    .min(1)
    .max(255)
    .default('Concord')
    .meta({ description: 'CaptureSource written on the consents Concord records.' }),
  leadCompany: z
    .string()
    .min(1)
    .default('[not provided]')
    .meta({ description: 'Company sent when Concord creates a Lead (a required field) and the profile has none.' }),
  organizationId: SalesforceId.optional().meta({
    description: 'The org id Outbound Messages must carry; messages from any other org are refused. Setting it turns Outbound Messages on.',
  }),
  /**
   * The secret last path segment of the Outbound Message endpoint URL: Salesforce sends to
   * `<publicUrl>/webhooks/<connector id>/<token>`, and a request without it (or with another)
   * is refused before its body is read. Required in production when `organizationId` is set;
   * without it (development only) Outbound Messages are taken at `/webhooks/<connector id>`.
   */
  outboundMessageToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]{32,256}$/, 'expected 32 to 256 URL-safe characters (A-Z a-z 0-9 _ -), e.g. from concord secret')
    .optional()
    .meta({
      description:
        'Secret last path segment of the Outbound Message endpoint URL (<publicUrl>/webhooks/<connector id>/<token>); requests without it are refused before their body is read. Required in production with organizationId. Generate one with concord secret.',
    }),
  integrationUserId: SalesforceId.optional().meta({
    description:
      "The integration user's id: records it last modified are echoes of Concord's writes. Learned from the OAuth identity URL when absent.",
  }),
  fieldHistory: z.boolean().default(false).meta({
    description:
      "Read the object's field history (ContactHistory/LeadHistory) with each notified record, in the same Composite call, so a field changed by an earlier save than the record's last one keeps its own time. Needs Field History Tracking on the mapped fields; without it a read record's fields all carry its LastModifiedDate.",
  }),
  lookBackMs: z
    .number()
    .int()
    .nonnegative()
    .default(5 * 60_000)
    .meta({
      description: 'An incremental pull re-reads this far behind its cursor (records committed late carry an older SystemModstamp).',
    }),
  queryBatchSize: z
    .number()
    .int()
    .min(200)
    .max(2_000)
    .default(2_000)
    .meta({ description: 'Records per SOQL page (Sforce-Query-Options batchSize).' }),
  bulkQueryThreshold: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .meta({ description: 'A first full pull of more records than this goes through Bulk API 2.0 query.' }),
  bulkQueryPageSize: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .meta({ description: 'Rows per Bulk API 2.0 result page (maxRecords); one pull page each.' }),
  bulkIngestThreshold: z.number().int().positive().default(1_000).meta({
    description:
      'A push batch larger than this (raise limits.maxBatch for an initial load) writes its records through Bulk API 2.0 ingest.',
  }),
  bulkPollIntervalMs: z.number().int().positive().default(1_000).meta({ description: 'How often a Bulk API 2.0 job is checked.' }),
  bulkTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30 * 60_000)
    .meta({ description: 'How long a Bulk API 2.0 job may run before the call fails (retried later).' }),
  /**
   * How long the instance's queues park after REQUEST_LIMIT_EXCEEDED without a Retry-After
   * (the org's rolling 24-hour allowance is spent); an operator can lift a park early
   * (`concord unpark <id>`).
   * @defaultValue `15m`
   */
  requestLimitPark: Duration.prefault('15m').meta({
    description:
      "How long the queues park after REQUEST_LIMIT_EXCEEDED (the org's rolling 24-hour allowance is spent), e.g. 15m. Lift a park early with concord unpark <id>.",
  }),
});
export type SalesforceConfig = z.infer<typeof SalesforceConfig>;
export type SalesforceConfigInput = z.input<typeof SalesforceConfig>;

/** Config keys that hold secrets and must come from `${env:...}`. */
export const SALESFORCE_SECRET_KEYS = ['clientId', 'clientSecret', 'outboundMessageToken'] as const;

/**
 * Where a pull stands. `full`: the first read of everything, by SOQL or (over the threshold)
 * a Bulk API 2.0 query job paged by locator; `incremental`: changes since `since` (ms), the
 * run in progress resuming at `resumeAt` (a SystemModstamp) after a crash.
 */
export const SalesforceCursor = z.discriminatedUnion('phase', [
  z.object({
    phase: z.literal('full'),
    startedAt: z.number().int(),
    /** Records with SystemModstamp before this (ms) were read. */
    resumeAt: z.number().int().optional(),
  }),
  z.object({
    phase: z.literal('bulk'),
    startedAt: z.number().int(),
    jobId: z.string().min(1),
    /** The Sforce-Locator of the next result page; absent for the first page. */
    locator: z.string().min(1).optional(),
  }),
  z.object({
    phase: z.literal('incremental'),
    since: z.number().int(),
    resumeAt: z.number().int().optional(),
  }),
]);
export type SalesforceCursor = z.infer<typeof SalesforceCursor>;

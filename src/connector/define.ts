/**
 * The connector plugin contract. A connector is a folder under `connectors/` whose
 * `connector.ts` default-exports `defineConnector({...})`. The engine knows connectors only
 * through this contract.
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Instant, Json, Profile } from '../profile/schema.js';

/** What a connector can do. The engine only calls what is declared. */
export interface ConnectorCapabilities {
  pull: boolean;
  push: boolean;
  webhooks: boolean;
  erase: boolean;
  export: boolean;
}

/** The external API's limits, which the engine enforces (YAML may override them per instance). */
export interface ConnectorLimits {
  /** Requests allowed per `windowMs`. */
  requestsPerWindow: number;
  windowMs: number;
  /** Most records one push call may carry. */
  maxBatch: number;
  /** Calls in flight at once. */
  concurrency: number;
}

/**
 * A record as the external system holds it, in the system's own field names. The mapping
 * engine turns it into a `ProfilePatch`.
 */
export interface ExternalRecord {
  /** The system's own id for the record. */
  externalId: string;
  /** When the record last changed at the source. */
  at: Instant;
  /** Field name -> value, in the system's vocabulary (consent flags included). */
  fields: Record<string, Json>;
  /** The record was deleted at the source. */
  deleted?: boolean;
  /** Set when the source says this change was made by Concord itself (an origin marker). */
  echo?: boolean;
}

/** One page of a pull, with the cursor to save once the page is ingested. */
export interface PullPage<C> {
  records: ExternalRecord[];
  /** The cursor to resume from after this page. */
  cursor: C;
}

/** One record to write, already mapped to the system's fields and reduced to what differs. */
export interface PushRecord {
  profileId: string;
  /** Known external id, when the shadow has one. */
  externalId?: string;
  /** Fields to write (only those that differ from the shadow). */
  fields: Record<string, Json>;
  /**
   * The (gated) canonical profile the fields were mapped from, when the engine provides it.
   * Optional context for what field values cannot carry, e.g. a consent's legal basis and
   * evidence, which HubSpot takes beside each subscription status. Never required.
   */
  profile?: Profile;
}

/** The outcome of one pushed record. Every record in a batch gets exactly one. */
export type PushOutcome =
  | { status: 'ok'; profileId: string; externalId: string }
  | { status: 'retryable'; profileId: string; reason: string; retryAfterMs?: number }
  | { status: 'rejected'; profileId: string; reason: string; code?: string };

/** A raw inbound webhook request, with the body exactly as received (signatures cover bytes). */
export interface RawWebhook {
  method: string;
  /** Full URL as the sender addressed it (some signatures cover it). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  receivedAt: Instant;
}

/** What a verified webhook carries. */
export type WebhookEvent =
  | { kind: 'records'; eventId: string; records: ExternalRecord[] }
  /** The source only says which records changed; the engine reads them with `read`. */
  | { kind: 'changed'; eventId: string; externalIds: string[]; at: Instant; echo?: boolean }
  | { kind: 'deleted'; eventId: string; externalIds: string[]; at: Instant }
  /** The source asks for an erasure (e.g. HubSpot privacyDeletion). */
  | { kind: 'erase'; eventId: string; externalIds: string[]; at: Instant }
  /** Two external records became one (e.g. HubSpot contact.merge). */
  | { kind: 'merge'; eventId: string; winnerId: string; loserIds: string[]; at: Instant };

/** The reply the webhook endpoint must send (e.g. a SOAP Ack for Salesforce). */
export interface WebhookReply {
  status: number;
  contentType?: string;
  body?: string;
}

/** Result of signature verification; an expected failure is a value, not an exception. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Services the engine hands a connector instance. */
export interface ConnectorContext<Config> {
  /** The instance id from YAML (e.g. `hubspot` or `crm-eu`). */
  instanceId: string;
  config: Config;
  logger: Logger;
  /** Called by the connector whenever it reads rate-limit headers, for metrics and status. */
  reportBudget?(budget: { remaining: number; max?: number; resetAt?: Instant; window: string }): void;
}

/** A live connector instance. */
export interface ConnectorInstance<Cursor> {
  /** Yields pages from `cursor` (or from the beginning when `undefined`). */
  pull?(cursor: Cursor | undefined, signal: AbortSignal): AsyncIterable<PullPage<Cursor>>;
  /** Writes one batch in as few calls as the API allows; one outcome per record. */
  push?(batch: PushRecord[], signal: AbortSignal): Promise<PushOutcome[]>;
  /** Reads records by external id (used after webhooks that carry only ids). */
  read?(externalIds: string[], signal: AbortSignal): Promise<ExternalRecord[]>;
  /** Erases records by external id or identity; one outcome per ref. */
  erase?(refs: EraseRef[], signal: AbortSignal): Promise<EraseOutcome[]>;
  /** Reads everything the system holds on a person, for access requests. */
  export?(refs: EraseRef[], signal: AbortSignal): Promise<ExternalRecord[]>;
  /** Checks a webhook's authenticity over the raw request. */
  verify?(raw: RawWebhook): VerifyResult | Promise<VerifyResult>;
  /** Parses a verified webhook into events. Throws `MalformedPayloadError` on bad input. */
  parse?(raw: RawWebhook): WebhookEvent[] | Promise<WebhookEvent[]>;
  /** The reply to send once the events are safely enqueued. */
  reply?(events: WebhookEvent[]): WebhookReply;
  close?(): Promise<void>;
}

/** A reference to a person in one system, for erasure and export. */
export interface EraseRef {
  externalId?: string;
  email?: string;
}
export type EraseOutcome =
  | { status: 'erased'; ref: EraseRef }
  | { status: 'not_found'; ref: EraseRef }
  | { status: 'failed'; ref: EraseRef; reason: string; retryable: boolean };

/** The declaration a connector default-exports. */
export interface ConnectorDefinition<Config = unknown, Cursor = unknown> {
  /** The connector type, as written in YAML `type:` (e.g. `hubspot`). */
  type: string;
  /** Type-specific YAML keys; plugs into the config schema under `connectors.<id>`. */
  configSchema: z.ZodType<Config>;
  /** Validates a stored cursor before it is handed back to `pull`. */
  cursorSchema: z.ZodType<Cursor>;
  capabilities: ConnectorCapabilities;
  limits: ConnectorLimits;
  /** Default field mappings; YAML entries are applied on top. */
  defaultMappings?: readonly unknown[];
  /** Names of config keys that hold secrets and so must come from `${env:...}`. */
  secretKeys?: readonly string[];
  create(ctx: ConnectorContext<Config>): ConnectorInstance<Cursor> | Promise<ConnectorInstance<Cursor>>;
}

/** Declares a connector. Identity function that fixes the types. */
export function defineConnector<Config, Cursor>(
  def: ConnectorDefinition<Config, Cursor>,
): ConnectorDefinition<Config, Cursor> {
  return def;
}

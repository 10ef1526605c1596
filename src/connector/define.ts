/**
 * The connector plugin contract. A connector is a folder under `connectors/` whose
 * `connector.ts` default-exports `defineConnector({...})`. The engine knows connectors only
 * through this contract.
 *
 * ## How the engine uses a connector
 *
 * - **Config.** The YAML block `connectors.<id>` is validated with `configSchema` (secrets
 *   named in `secretKeys` must come from `${env:NAME}`), then `create(ctx)` builds one live
 *   instance per configured id. Mappings are the connector's `defaultMappings`, then the
 *   entries it derives from the instance's own keys (`derivedMappings`, e.g. one per HubSpot
 *   subscription type), then the YAML `mappings` (the loader merges the last two, see
 *   `config/derived-mappings.ts`); the engine compiles them (`connector/mapping.ts`) and the
 *   instance sees external fields only.
 * - **Inbound.** `pull(cursor)` yields pages; the engine ingests a page, then saves its
 *   cursor, so a crash resumes from the last saved page (records may be seen twice: ingest
 *   is idempotent). Webhooks are checked with `verify(raw)` and turned into events with
 *   `parse(raw)`; `read(ids)` fetches records a webhook only named.
 * - **Outbound.** `push(batch)` receives up to `limits.maxBatch` records already mapped,
 *   reduced to the fields that differ from the shadow, and gated by consent and restriction.
 *   It returns one `PushOutcome` per record, in input order.
 * - **Privacy.** `erase(refs)` and `export(refs)` serve data-subject requests. A system that
 *   erases later (Segment's regulations) answers `pending` with its handle (a ticket), and the
 *   engine asks `eraseProgress(tickets)` again after `checkAfterMs` until it is done or failed.
 *
 * ## Errors
 *
 * A failure of a whole call is thrown as a `ConnectorError` from `connector/errors.ts`
 * (use `classifyHttpError` on whatever the client library threw):
 * - `RateLimitedError` (HTTP 429, with `retryAfterMs`): the engine parks the connector's queue
 *   without spending an attempt;
 * - `TransientError` (5xx, timeouts, connection resets): retried with backoff;
 * - `RejectedError`, `AuthError`: not retried blindly; the job ends in the dead-letter view;
 * - `MalformedPayloadError`: an inbound payload has the wrong shape.
 * A failure of one record inside a batch is not thrown: it is that record's `PushOutcome`
 * (`retryable` or `rejected`) or `EraseOutcome` (`failed`).
 *
 * Every method receives an `AbortSignal` where the call may be long; when it fires (shutdown,
 * job timeout) the method should stop promptly and reject.
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Instant, Json, Profile } from '../profile/schema.js';
import type { MappingEntryInput } from './mapping-schema.js';

/**
 * What a connector can do. The engine only calls what is declared, and a declared
 * capability requires the matching instance methods (the conformance suite checks this).
 */
export interface ConnectorCapabilities {
  /** Incremental reads through `pull` (scheduled pulls, the safety net for lost webhooks). */
  pull: boolean;
  /** Writes through `push`. */
  push: boolean;
  /** Inbound webhooks through `verify` and `parse` (and `reply` when the sender expects one). */
  webhooks: boolean;
  /** GDPR erasure through `erase`. */
  erase: boolean;
  /** Access and portability requests through `export`. */
  export: boolean;
  /**
   * Data-subject requests search the system through `find` (by e-mail, phone and the system's
   * own ids), so that a person the hub never synced is found too. Required of a connector that
   * declares `erase` or `export` (the conformance suite checks it).
   */
  find: boolean;
}

/**
 * The external API's limits, which the engine enforces for every call the instance makes
 * (YAML may override them per instance, e.g. for a higher API tier). Keep them at or below
 * the vendor's published limits: the engine then never provokes a 429 on its own.
 */
export interface ConnectorLimits {
  /** Requests allowed per `windowMs`. */
  requestsPerWindow: number;
  /** The length of the rate-limit window, ms. */
  windowMs: number;
  /** Most records one push call may carry. */
  maxBatch: number;
  /** Calls in flight at once. */
  concurrency: number;
}

/**
 * A record as the external system holds it, in the system's own field names. The mapping
 * engine turns it into a `ProfilePatch` (`mapInbound`). A record may carry only some fields
 * (e.g. a property-change webhook): absent fields mean "not reported", never "cleared".
 */
export interface ExternalRecord {
  /** The system's own id for the record. */
  externalId: string;
  /** When the record last changed at the source (becomes the patch's `at`, used by merge ordering). */
  at: Instant;
  /** Field name -> value, in the system's vocabulary (consent flags included). */
  fields: Record<string, Json>;
  /**
   * When each of these fields took its value at the source, for sources that stamp values one
   * by one (HubSpot's subscription status timestamps and property history). A field stamped
   * after one of our writes to the record began is the system's state after that write, never a
   * snapshot taken before it; fields without a stamp are judged by the record's `at` and when it
   * was received. The stamp is also the time of the value it maps to: a slot's
   * (`ProfilePatch.slotsAt`), an identity's (`PatchIdentity.at`), instead of the record's `at`.
   */
  fieldsAt?: Record<string, Instant>;
  /**
   * The record's version at the source, when the system numbers them (increasing with each
   * change of the record, whatever its `at` says). A version lower than one the hub already
   * ingested of the same record is older news: the fields that newer version carried are
   * dropped (webhooks delivered, or ingested by several hub processes, out of order; see
   * `sync/inbound/record-order.ts`). Absent, versions are not compared.
   */
  version?: number;
  /** The record was deleted at the source. */
  deleted?: boolean;
  /**
   * The record only changes a record the hub already knows by this external id (a value a
   * webhook carries, sent beside a read of the whole record): one it does not know is left to
   * that read, so a profile is never made from a few fields.
   */
  knownOnly?: boolean;
  /**
   * What the source says about who made the change: `true`, Concord itself (an origin
   * marker, a hint only: the record is still compared field by field with what the hub wrote,
   * since the last writer of a record is not the author of each of its values); `false`,
   * someone else (none of it is taken for our own write coming back, even when its values
   * equal one); absent, the source does not say.
   */
  echo?: boolean;
  /**
   * With `echo: false`: the fields whose last change the source attributes to Concord all the
   * same (Salesforce's field history names each change's author, while `LastModifiedById` names
   * whoever saved the record last, perhaps another field). They are compared with what the hub
   * wrote, as the fields of a record whose author is not known.
   */
  echoFields?: string[];
}

/**
 * One page of a pull, with the cursor to save once the page is ingested. The cursor must
 * survive a JSON round trip and validate against the connector's `cursorSchema`.
 */
export interface PullPage<C> {
  /** The page's records, oldest change first. */
  records: ExternalRecord[];
  /** The cursor to resume from after this page. */
  cursor: C;
}

/**
 * One record to write, already mapped to the system's fields (`mapOutbound`), reduced to what
 * differs from the shadow, and gated by consent and restriction.
 */
export interface PushRecord {
  /** The hub's profile id; echoed back in the record's `PushOutcome`. */
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
  /**
   * Set (on a record without `externalId`) when an earlier write of this record to this system
   * may have landed without the hub learning its id (its push died, or its call failed without
   * an answer): the system may hold the record already, edited since. A connector that can
   * find it must not write over it blindly: it answers `retryable` with the `externalId` found,
   * and the engine reads the record before writing again.
   */
  mayExist?: boolean;
  /**
   * What the hub last saw the system hold for the fields in `fields` (its shadow), field by
   * field; a field absent here was never seen. A connector that reads the record before writing
   * it must not write over a field that changed since (someone edited it after the hub's last
   * read): it answers `retryable` with the `externalId`, and the engine reads the record before
   * writing again, so the merge, not the order of the calls, decides which edit wins.
   */
  held?: Record<string, Json>;
  /** When the hub last learned anything of what the system holds for this record (its shadow row's time, ISO 8601). */
  heldAt?: string;
  /**
   * When the hub learned each value of `held` (ISO 8601, by field): a row refreshed by another
   * field does not make this one known any later. Judge a field by its own time here, by
   * `heldAt` only when it has none.
   */
  heldFieldsAt?: Record<string, string>;
  /**
   * When the profile's values behind `fields` were chosen (ISO 8601, by field). A value the
   * system says was set after that, and after `heldFieldsAt` (or different from `held`), is someone's
   * newer choice: a connector that can tell answers `retryable` with the `externalId` instead of
   * writing over it, as for `held`, and the merge decides.
   */
  valuesAt?: Record<string, string>;
}

/**
 * The outcome of one pushed record. Every record in a batch gets exactly one, in input order,
 * with the record's `profileId`:
 * - `ok`: written; `externalId` is the system's id for the record (kept in the shadow);
 * - `retryable`: not written this time (locked, temporarily unavailable); the engine retries
 *   it with backoff, after `retryAfterMs` when given;
 * - `rejected`: the system refuses this record for good (validation, duplicate); the engine
 *   dead-letters it with `reason` (and the system's `code`), and the rest of the batch is
 *   unaffected. `reason` must not contain personal data such as e-mail addresses.
 */
export type PushOutcome =
  /**
   * `created`: the system says this write created the record, so the fields it did not send
   * hold the system's defaults (reading them back is no news). Leave it unset when the system
   * does not say (an upsert that may have matched a record someone else made).
   */
  | {
      status: 'ok';
      profileId: string;
      externalId: string;
      created?: boolean;
      /**
       * The system's own stamp of the record right after this write (HubSpot's `updatedAt`),
       * when every field the write sent lands at that moment: a value the system stamps after
       * it was set after our write landed. Leave it unset otherwise.
       */
      writtenAt?: Instant;
      /**
       * The system's stamp of the fields named, when they land at a different moment than the
       * rest of the write (HubSpot: the contact properties at its `updatedAt`, the subscription
       * statuses later, by another call), so `writtenAt` cannot be given for the whole write.
       */
      fieldsWrittenAt?: Readonly<Record<string, Instant>>;
    }
  | {
      status: 'retryable';
      profileId: string;
      reason: string;
      retryAfterMs?: number;
      /** The record exists in the system under this id, unknown to the hub (see `PushRecord.mayExist`): read it before writing again. */
      externalId?: string;
    }
  | { status: 'rejected'; profileId: string; reason: string; code?: string };

/** A raw inbound webhook request, with the body exactly as received (signatures cover bytes). */
export interface RawWebhook {
  /** HTTP method, upper case. */
  method: string;
  /**
   * The URL the sender was given: `hub.publicUrl` followed by the request's path and query, never
   * taken from the request's `Host` or `X-Forwarded-*` headers (some signatures cover it).
   */
  url: string;
  /**
   * The secret path segment after the connector id (`/webhooks/<id>/<token>`), for senders
   * that authenticate by a secret in the endpoint URL (Salesforce Outbound Messages); absent
   * when the URL has none. Never log it.
   */
  urlToken?: string;
  /** Request headers with lower-case names, as Node delivers them. */
  headers: Record<string, string | string[] | undefined>;
  /** The body bytes exactly as received. */
  body: Buffer;
  /** When the hub received the request (the reference for signature timestamp windows). */
  receivedAt: Instant;
}

/**
 * What a verified webhook carries. `eventId` is stable across redeliveries of the same event
 * (the engine dedupes on it), so derive it from the sender's event id, never from a clock or
 * a random source.
 */
export type WebhookEvent =
  /** The changed records themselves (full or partial field sets). */
  | { kind: 'records'; eventId: string; records: ExternalRecord[] }
  /**
   * The source only says which records changed; the engine reads them with `read`. `echo`: the
   * source attributes every change this event reports, value by value, to Concord (HubSpot's
   * change source per property), so there is nothing to read; any other change arrives in an
   * event of its own. A source that can only name a record's last writer must not set it.
   * `readIfUnknown`: every change this event reports either came with its value, as a read
   * would give it, in a `records` event of the same verified webhook (signed with a secret only
   * the vendor and the hub hold), or was the hub's own write; so a record the hub already links
   * is not read again, and one it does not know yet is read, to learn who it is. Fields the
   * source sends no webhook for are left to the next pull, as for any lost webhook.
   */
  | { kind: 'changed'; eventId: string; externalIds: string[]; at: Instant; echo?: boolean; readIfUnknown?: boolean }
  /** Records were deleted at the source (not an erasure request: the person may still exist elsewhere). */
  | { kind: 'deleted'; eventId: string; externalIds: string[]; at: Instant }
  /** The source asks for an erasure (e.g. HubSpot privacyDeletion). */
  | { kind: 'erase'; eventId: string; externalIds: string[]; at: Instant }
  /** Two external records became one (e.g. HubSpot contact.merge). */
  | { kind: 'merge'; eventId: string; winnerId: string; loserIds: string[]; at: Instant };

/** The reply the webhook endpoint must send (e.g. a SOAP Ack for Salesforce). Default: 200 with an empty body. */
export interface WebhookReply {
  /** HTTP status to answer with. */
  status: number;
  /** Content-Type of `body`. */
  contentType?: string;
  /** Response body. */
  body?: string;
}

/** A problem `checkConfig` finds: where under the instance's keys, and what to do. */
export interface ConnectorConfigFinding {
  path: readonly (string | number)[];
  message: string;
}

/**
 * A mapping entry a connector derives from its own config keys (`derivedMappings`), with the
 * key it comes from, where the loader reports a problem with it.
 */
export interface DerivedMapping {
  /**
   * Where under the instance's keys the entry's canonical target is written, e.g.
   * `['subscriptions', 0, 'consent']` or `['channelFlags', 'HasOptedOutOfEmail']`.
   */
  path: readonly (string | number)[];
  /** The entry, as a YAML `mappings` item would write it. */
  entry: MappingEntryInput;
}

/** Result of signature verification; an expected failure is a value, not an exception. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** What is known of a webhook request before its body is read: the request line and headers. */
export type WebhookHead = Pick<RawWebhook, 'method' | 'url' | 'urlToken' | 'headers'>;

/**
 * Whether a webhook request may be read at all: 401 for a missing or wrong secret in the URL,
 * 413 for a declared size over the connector's limit. `reason` is fixed text, never anything
 * the sender chose.
 */
export type AdmitResult = { ok: true } | { ok: false; status: 401 | 413; reason: string };

/** A record of the instance the hub holds (`ConnectorContext.knownRecords`). */
export interface KnownRecord {
  /** The paging key (opaque to the connector): pass the last one back as `after`. */
  key: string;
  /** The system's id for the record. */
  externalId: string;
}

/**
 * A Standard Webhooks endpoint an instance sends to (`ConnectorDefinition.outboundWebhooks`): the
 * hub stores every message and a worker of the `push` role delivers it, signed, with retries.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export interface OutboundWebhookEndpoint {
  url: string;
  /** `whsec_<base64>` signing secret(s); the first signs, every one signs during a rotation. */
  secrets: readonly string[];
  /** Delays between attempts, ms: the spec's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h by default. */
  retryScheduleMs: readonly number[];
  /** How long one attempt may take, ms. */
  timeoutMs: number;
  /** Private, loopback and link-local receivers allowed (`safeFetch`): tests, the demo. */
  allowPrivateNetwork: boolean;
}

/** One message for an outbound webhook endpoint (`OutboundWebhooks.enqueue`). */
export interface OutboundWebhookMessage {
  /** webhook-id: stable, unique per endpoint, no '.' (the receiver dedupes on it). */
  id: string;
  /** e.g. profile.updated */
  type: string;
  /** `data` of `{ type, timestamp, data }`; timestamp = when the event happened (ISO). */
  data: Json;
  at: Instant;
}

/** The delivery state of one message: `failed` is a dead letter or a message of a disabled endpoint. */
export type OutboundWebhookStatus = 'pending' | 'delivered' | 'failed' | 'unknown';

/** The instance's outbound webhooks (`ConnectorContext.outboundWebhooks`), stored durably by the hub. */
export interface OutboundWebhooks {
  /**
   * Stores the messages durably for delivery (idempotent on id); resolves once stored. Throws
   * (`sync.invalid_webhook_message`, nothing stored) on an id that is not 1-256 printable ASCII
   * characters without space or '.', an empty type, or a body over 1 MiB.
   */
  enqueue(messages: readonly OutboundWebhookMessage[]): Promise<void>;
  /** Delivery state per id, in input order: 'pending' | 'delivered' | 'failed' (dead letter or endpoint disabled) | 'unknown'. */
  status(ids: readonly string[]): Promise<OutboundWebhookStatus[]>;
}

/** Services the engine hands a connector instance at `create`. */
export interface ConnectorContext<Config> {
  /** The instance id from YAML (e.g. `hubspot` or `crm-eu`); also the `source` of its patches. */
  instanceId: string;
  /** The instance's config, already validated by `configSchema` with secrets resolved. */
  config: Config;
  /** A child logger bound to the instance. Never log e-mail addresses, phone numbers or tokens. */
  logger: Logger;
  /**
   * The hub's metrics registry, served on /metrics. A connector registers its own metrics
   * (`concord_<type>_*`, labelled by `instance`) here, through `counterOn` / `gaugeOn` of
   * `connector/metrics.ts` so that several instances share one metric; never on prom-client's
   * global registry. Absent (a connector used on its own, e.g. in tests): use a private one.
   */
  metrics?: Registry;
  /**
   * The records of this instance the hub holds (its shadows with an external id), a page at a
   * time in a stable order: `after` is the last `key` of the previous page. For systems without a
   * change feed, whose pull walks the records the hub knows (Segment's Profile API reads one
   * profile per call and lists none). A page may hold fewer than `limit` records; an empty page
   * ends the walk. Absent (a connector used on its own): the hub knows none.
   */
  knownRecords?(page: { after?: string; limit: number }): Promise<KnownRecord[]>;
  /**
   * The instance's outbound Standard Webhooks: present when the definition's `outboundWebhooks`
   * returns an endpoint for this instance's config. Messages are stored in the hub's database and
   * delivered by the processes with the `push` role.
   */
  outboundWebhooks?: OutboundWebhooks;
  /** Called by the connector whenever it reads rate-limit headers, for metrics and status. */
  reportBudget?(budget: { remaining: number; max?: number; resetAt?: Instant; window: string }): void;
  /**
   * What each external field the instance writes carries, as the canonical target's key
   * (`consent:marketing.email`, `topic:newsletter`, `field:firstName`, `identity:email`), from the
   * instance's compiled mapping: for connectors that report a change by its meaning (the generic
   * HTTP connector's `consent.changed` webhooks). Absent: none known.
   */
  fieldTargets?: Readonly<Record<string, string>>;
}

/**
 * A live connector instance. Methods exist exactly for the declared capabilities (`read` is
 * optional beside `webhooks` or `pull`). Instances may be called concurrently, up to
 * `limits.concurrency` calls at once.
 */
export interface ConnectorInstance<Cursor> {
  /**
   * Yields pages of records changed since `cursor` (or everything when `undefined`), oldest
   * first. Incremental pulls should start a look-back window behind the cursor, because
   * records committed late may carry an older change stamp; re-seeing a record is harmless.
   * Yields nothing when nothing changed.
   */
  pull?(cursor: Cursor | undefined, signal: AbortSignal): AsyncIterable<PullPage<Cursor>>;
  /**
   * Writes one batch (at most `limits.maxBatch` records) in as few calls as the API allows,
   * ideally one; returns one outcome per record, in input order. An empty batch returns `[]`.
   * Throws a `ConnectorError` when the whole call fails.
   */
  push?(batch: PushRecord[], signal: AbortSignal): Promise<PushOutcome[]>;
  /** Reads records by external id (used after webhooks that carry only ids). Unknown ids are left out. */
  read?(externalIds: string[], signal: AbortSignal): Promise<ExternalRecord[]>;
  /**
   * Erases records by external id or identity, permanently (GDPR Art. 17); one outcome per
   * ref, in input order (`not_found` when the system holds nothing for it, `pending` when the
   * system accepted the erasure and carries it out later).
   */
  erase?(refs: EraseRef[], signal: AbortSignal): Promise<EraseOutcome[]>;
  /**
   * How the erasures the system carries out later (`pending` outcomes of `erase`) are going:
   * one `ErasureProgress` per ticket, in input order. Required of a connector whose `erase`
   * can answer `pending` (the conformance suite checks it); absent otherwise. An unknown ticket
   * is `failed` (`retryable: true` when erasing again would help). Throws a `ConnectorError`
   * when the whole call fails.
   */
  eraseProgress?(tickets: string[], signal: AbortSignal): Promise<ErasureProgress[]>;
  /**
   * Reads everything the system holds on a person, for access requests (Art. 15): every
   * non-empty field of each record, with the system's labels where it has them, and the
   * related records it keeps on the person (subscription statuses, consent records).
   */
  export?(refs: EraseRef[], signal: AbortSignal): Promise<ExportedRecord[]>;
  /**
   * Searches the system for people: one answer per query, in input order, each listing the
   * records that match any identity of the query (an e-mail address, a phone number, or one of
   * the system's own ids), with what matched. A query matching nothing answers `[]`. Read-only,
   * batched where the API allows (a batch read, one query with `IN`), and a rate limit throws
   * `RateLimitedError` like any call. Data-subject requests resolve the person with it in every
   * system before acting, and read erasures back with it.
   */
  find?(queries: FindQuery[], signal: AbortSignal): Promise<FoundRecord[][]>;
  /**
   * The kinds of identity this instance's `find` can search by, when it cannot search by all
   * three (e.g. a system whose API has no phone lookup, or an HTTP instance without a `read.find`
   * endpoint). `find` ignores identities of other kinds (it never refuses a query for them), and
   * a data-subject request records them as not searchable in that system, never as "searched,
   * not found".
   * @defaultValue every kind: `['email', 'phone', 'externalId']`
   */
  findsBy?: readonly FindKind[];
  /**
   * Checks a webhook request before its body is read (a secret in the URL, the declared
   * Content-Length), so that a refused sender costs no parsing. Cheap and synchronous; the HTTP
   * surface calls it first. A connector without it takes no `urlToken`. `verify` must check
   * the same again: callers may hand a raw webhook to the engine directly.
   */
  admit?(head: WebhookHead): AdmitResult;
  /**
   * Checks a webhook's authenticity over the raw request: signature over the exact body bytes,
   * compared in constant time, and a timestamp window against `raw.receivedAt` where the
   * scheme has one. Failure is a value, never an exception.
   */
  verify?(raw: RawWebhook): VerifyResult | Promise<VerifyResult>;
  /** Parses a verified webhook into events. Throws `MalformedPayloadError` on bad input. */
  parse?(raw: RawWebhook): WebhookEvent[] | Promise<WebhookEvent[]>;
  /**
   * The answer to a sender's validation request: a GET to the webhook address, which some
   * senders send before they save a webhook (Mailchimp, which also wants it within 10 s). Called
   * only after `admit` let the request in; nothing is read or enqueued. Without it, such a GET
   * is 404 like any address that takes no webhooks.
   */
  validation?(head: WebhookHead): WebhookReply;
  /**
   * Tells the system what it must know of the hub, such as the webhook to call (at
   * `hub.webhookUrl`, the hub's public URL of this instance's webhook endpoint; the connector adds
   * its URL token), and returns what it did, one line each (`concord connector setup <id>`). Run
   * twice, it does nothing more: a registration already right is kept, a wrong one corrected.
   */
  setup?(hub: { webhookUrl: string }, signal: AbortSignal): Promise<string[]>;
  /**
   * Checks the connection with read-only calls: the system is reachable, the credentials are
   * accepted, the scopes or permissions the connector needs are granted, and (where the system
   * lets us ask) the webhook is registered at `hub.webhookUrl` (the hub's public URL of this
   * instance's webhook endpoint, as for `setup`; absent when the caller does not know it). One
   * result per check, for `concord check` and `POST /api/v1/connectors/{id}/check`. Never writes
   * anything, and never throws for a failed call: a failure is a result with `ok: false`.
   * Required of every connector (the conformance suite checks a good and a wrong credential).
   */
  check?(signal: AbortSignal, hub?: { webhookUrl: string }): Promise<ConnectionCheck[]>;
  /** The reply to send once the events are safely enqueued. */
  reply?(events: WebhookEvent[]): WebhookReply;
  /**
   * The reply to send when a webhook is refused (`verify` failed, or `parse` threw
   * `MalformedPayloadError`), for senders that expect their own error format, e.g. a SOAP
   * fault for Salesforce Outbound Messages. Optional: without it the HTTP surface answers with
   * its own error. Nothing of a refused webhook is enqueued.
   */
  refuse?(failure: { status: number; reason: string }): WebhookReply;
  /**
   * Forgets every rate-limit block the instance keeps in memory (e.g. "no calls until the
   * daily allowance resets"): an operator lifted the park (`concord unpark`), so the next call
   * goes to the system. The engine calls it in every process that holds the instance.
   */
  unpark?(): void;
  /** Releases connections and timers; called once at shutdown. */
  close?(): Promise<void>;
}

/**
 * One result of `ConnectorInstance.check`. `path` names the instance's config key to fix (e.g.
 * `['baseUrl']`, `['auth']`), where `concord check` points at file:line:col; `fix` says what to do.
 * Neither holds a secret.
 */
export interface ConnectionCheck {
  ok: boolean;
  /**
   * Nothing could be checked: the system offers no way to ask from here (e.g. HubSpot private-app
   * webhook subscriptions). Printed as a neutral line (`–`), never a failure; `ok` is true.
   */
  neutral?: boolean;
  /** What was checked and what came of it, e.g. `list endpoint answered (HTTP 200)`. */
  detail: string;
  path?: readonly (string | number)[];
  fix?: string;
}

/** A reference to a person in one system, for erasure and export: the system's id when known, else an e-mail. */
/** What `find` searches a system by (a match of one identity, whichever, finds a record). */
export interface FindQuery {
  /** Normalized (trimmed, lower-case) e-mail addresses. */
  emails: string[];
  /** Phone numbers as the hub keeps them (E.164 where known). */
  phones: string[];
  /** The system's own record ids. */
  externalIds: string[];
}

/** A kind of identity `find` searches by. */
export type FindKind = 'email' | 'phone' | 'externalId';

/** A record `find` found, and which kinds of identity matched it. */
export interface FoundRecord {
  externalId: string;
  matchedBy: FindKind[];
}

/**
 * A record as an access request shows it: the whole record as the system holds it, not only
 * the mapped fields.
 */
export interface ExportedRecord extends ExternalRecord {
  /**
   * Every non-empty field of the record, in the system's own names (properties, fields, merge
   * fields, traits): empty strings, `null` and empty lists are left out.
   */
  fields: Record<string, Json>;
  /** The system's label of a field, where the system has labels (HubSpot property labels, Salesforce field labels, Mailchimp merge-field names). */
  labels?: Record<string, string>;
  /** Records the system keeps on the person beside this one, by kind (e.g. `subscriptionStatuses`, `individual`, `consents`, `tags`). */
  related?: Record<string, Json>;
}

export interface EraseRef {
  /** The system's own id for the record. */
  externalId?: string;
  /** A normalized e-mail address, when the system's id is not known. */
  email?: string;
}
/**
 * The outcome of erasing one ref: `erased`, `not_found` (nothing held, which also completes
 * the request), `failed` with whether trying again may help, or `pending`: the system accepted
 * the erasure and carries it out later (a Segment regulation, over minutes to days).
 *
 * A `pending` outcome carries the system's handle of the erasure (`ticket`; several refs may
 * share one, e.g. one regulation for a batch), a short `progress` text for people (e.g.
 * `regulation 2b4c… INITIALIZED`; never personal data such as e-mail addresses), and when to
 * ask again (`checkAfterMs`). The engine keeps the ticket on the request, shows the progress,
 * and asks `eraseProgress` after `checkAfterMs`; once the ticket is `done`, its refs count as
 * erased and the system is read back as for any erasure. A connector that answers `pending`
 * must implement `eraseProgress`.
 */
export type EraseOutcome =
  | { status: 'erased'; ref: EraseRef }
  | { status: 'not_found'; ref: EraseRef }
  | { status: 'failed'; ref: EraseRef; reason: string; retryable: boolean }
  | { status: 'pending'; ref: EraseRef; ticket: string; checkAfterMs: number; progress: string };

/**
 * What the system says of one ticket of a `pending` erasure (`eraseProgress`):
 * - `pending`: still being carried out; ask again after `checkAfterMs`;
 * - `done`: carried out (a Segment regulation `FINISHED`); `progress` says so in the system's
 *   words;
 * - `failed`: the system gave up or did only part of it (Segment `FAILED`, `PARTIAL_SUCCESS`,
 *   `INVALID`), with `reason` (the system's status, no personal data) and whether erasing again
 *   may help (`retryable`: the engine forgets the ticket and calls `erase` again later; not
 *   retryable: the system's part of the request fails).
 */
export type ErasureProgress =
  | { ticket: string; status: 'pending'; progress: string; checkAfterMs: number }
  | { ticket: string; status: 'done'; progress: string }
  | { ticket: string; status: 'failed'; reason: string; retryable: boolean };

/**
 * A value in a source record that asks for the person's erasure (Salesforce's Individual
 * `ShouldForget: true`). `field` is an external field name as the connector's records carry it,
 * `value` the JSON value that raises the flag (compared by `jsonEqual`).
 */
export interface ErasureFlag {
  field: string;
  value: Json;
}

/** The declaration a connector default-exports. */
export interface ConnectorDefinition<Config = unknown, Cursor = unknown> {
  /** The connector type, as written in YAML `type:` (e.g. `hubspot`). */
  type: string;
  /** Type-specific YAML keys; plugs into the config schema under `connectors.<id>`. */
  configSchema: z.ZodType<Config>;
  /** Validates a stored cursor before it is handed back to `pull`. */
  cursorSchema: z.ZodType<Cursor>;
  /** What the connector can do; the engine only calls what is declared. */
  capabilities: ConnectorCapabilities;
  /** The external API's limits (defaults; YAML may override them per instance). */
  limits: ConnectorLimits;
  /**
   * Default field mappings (`MappingEntryInput` objects from `mapping-schema.ts`, validated when
   * compiled); YAML entries are applied on top, replacing defaults with the same canonical target.
   */
  defaultMappings?: readonly unknown[];
  /**
   * The mapping entries an instance's own config implies, so that the YAML does not write them
   * a second time under `mappings`: e.g. HubSpot's `subscriptions` list (each type's status
   * to its consent or topic), Salesforce's `channelFlags` (each opt-out flag to its consent,
   * withdraw-only). Pure and cheap: it runs on a config that passed `configSchema`, when the
   * config loads. Each entry names the key it comes from, where catalog references are checked.
   *
   * The loader merges them with the YAML `mappings` (`config/derived-mappings.ts`): derived
   * entries first, then the YAML's in the order written. A YAML entry with the same canonical
   * target and external field as a derived one must say the same: the derived one is then
   * dropped, so a file written before the derivation keeps working as it did. One that says
   * something else is a config error (`mapping_conflict`): change the key it derives from.
   * @defaultValue none
   */
  derivedMappings?(config: Config): readonly DerivedMapping[];
  /**
   * External fields that are opt-out flags: "not opted out" is also the value the system stores
   * by default, so it is no evidence of consent. Every consent entry on such a field is
   * withdraw-only (see `MappingEntry.withdrawOnly`), whatever the YAML says; an entry that sets
   * `withdrawOnly: false` on one is a config error. A string names one field, a RegExp a family
   * (e.g. HubSpot's `hs_email_optout_<id>`).
   * @defaultValue `[]`
   */
  withdrawOnlyFields?: readonly (string | RegExp)[];
  /**
   * A record field by which the system itself asks for a person's erasure, for systems that
   * record a "forget me" request rather than sending one (Salesforce: `Individual.ShouldForget`
   * set to `true`). The privacy service screens every record the connector reports: one whose
   * `field` holds `value` starts an erasure of that person in every system instead of being
   * ingested. Systems that send an erasure event instead (HubSpot's privacy deletion) emit a
   * `WebhookEvent` of kind `erase` and leave this unset.
   * @defaultValue none: no record asks for an erasure
   */
  erasureFlag?: ErasureFlag;
  /**
   * External fields sent with every write of a record that changes anything, whatever the
   * shadow says the system holds: context the system needs on each event rather than state it
   * keeps (Segment's consent categories: an event without its consent context reaches every
   * destination unenforced). Pure, from the instance's config; a field the mapping gives no value
   * is left to the connector.
   * @defaultValue none
   */
  contextFields?(config: Config): readonly string[];
  /** Names of config keys that hold secrets and so must come from `${env:...}`. */
  secretKeys?: readonly string[];
  /**
   * Keys (HTTP headers, fields) whose values are secrets the system sends or receives, e.g. its
   * webhook signature header: every hub logger censors them wherever they appear (lower-case
   * header names, as Node gives them).
   * @defaultValue none
   */
  sensitiveKeys?: readonly string[];
  /**
   * Those of `secretKeys` that the operator generates rather than the system issues (e.g. a
   * token the operator puts in the webhook URL the system calls). Production mode refuses them
   * below 256 bits of strength (`concord secret` prints one); a vendor-issued secret keeps the
   * vendor's format, and only the values published with Concord are refused there.
   * @defaultValue none
   */
  generatedSecretKeys?: readonly string[];
  /**
   * Rules on a config that passed `configSchema` and depend on the hub's mode, e.g. a setting
   * production requires. `concord validate` and `concord start` report each finding at
   * `connectors.<id>.<path>`; the message says what to do (and never shows a secret).
   */
  checkConfig?(config: Config, hub: { mode: 'development' | 'production' }): ConnectorConfigFinding[];
  /**
   * The Standard Webhooks endpoint this instance sends to, from its config (e.g. the generic HTTP
   * connector's `webhooksOut`); the instance then finds `ctx.outboundWebhooks`. Pure and cheap.
   * @defaultValue none: the instance sends no outbound webhooks
   */
  outboundWebhooks?(config: Config): OutboundWebhookEndpoint | undefined;
  /**
   * Builds a live instance. May throw `ConnectorConfigError` (e.g. an unreachable system named in the
   * config); should not call the external API eagerly, so that `concord validate` stays offline.
   */
  create(ctx: ConnectorContext<Config>): ConnectorInstance<Cursor> | Promise<ConnectorInstance<Cursor>>;
}

/**
 * Declares a connector. Identity function that fixes the `Config` and `Cursor` types.
 *
 * ```ts
 * export default defineConnector({
 *   type: 'acme',
 *   configSchema: z.object({ baseUrl: z.url(), token: z.string() }),
 *   cursorSchema: z.object({ since: z.number() }),
 *   capabilities: { pull: true, push: true, webhooks: false, erase: true, export: false },
 *   limits: { requestsPerWindow: 100, windowMs: 10_000, maxBatch: 100, concurrency: 2 },
 *   secretKeys: ['token'],
 *   create: (ctx) => ({ pull, push, erase }),
 * });
 * ```
 */
export function defineConnector<Config, Cursor>(def: ConnectorDefinition<Config, Cursor>): ConnectorDefinition<Config, Cursor> {
  return def;
}

/**
 * The `Store` facade shared by both dialects: each method hands over to the repository of
 * its aggregate (`repos/`); the facade itself owns only migrations and closing.
 */
import type { Kysely } from 'kysely';
import type { Identity, Json, Profile, ProfilePatch } from '../profile/schema.js';
import type { Database } from './db-schema.js';
import { runMigrations } from './migrations.js';
import { KyselyAudit } from './repos/audit.js';
import { KyselyCursors } from './repos/cursors.js';
import { StoreDb } from './repos/db.js';
import type { StoreDbConfig } from './repos/db.js';
import { KyselyDsr } from './repos/dsr.js';
import { KyselyOutbox } from './repos/outbox.js';
import { KyselyProfiles } from './repos/profiles.js';
import { KyselyRuns } from './repos/runs.js';
import { KyselyShadows } from './repos/shadows.js';
import { KyselySuppression } from './repos/suppression.js';
import { KyselyVerifications } from './repos/verifications.js';
import { KyselyWebhooksOut } from './repos/webhooks-out.js';
import { withRetry } from './retry.js';
import type {
  ApplyOptions,
  ApplyResult,
  AuditEntry,
  AuditFilter,
  DataSubjectRequest,
  DsrKind,
  DsrStatus,
  DsrSystemStatus,
  IdleProfile,
  HistoryEntry,
  LedgerEntry,
  OutboxRow,
  OutboxSettlement,
  PushLogEntry,
  Shadow,
  Store,
  ClaimedWebhookDelivery,
  NewWebhookDelivery,
  RecordedWebhookAttempts,
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEndpointRecord,
  WebhookEndpointReport,
  WebhookEndpointState,
  NewRequesterVerification,
  RequesterVerification,
  VerificationConsumption,
  NewSyncRun,
  RunOutcome,
  RunPage,
  RunQuery,
  SyncRun,
} from './types.js';

export type KyselyStoreConfig = StoreDbConfig;

export class KyselyStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly #db: StoreDb;
  readonly #profiles: KyselyProfiles;
  readonly #shadows: KyselyShadows;
  readonly #outbox: KyselyOutbox;
  readonly #cursors: KyselyCursors;
  readonly #suppression: KyselySuppression;
  readonly #dsr: KyselyDsr;
  readonly #audit: KyselyAudit;
  readonly #webhooksOut: KyselyWebhooksOut;
  readonly #verifications: KyselyVerifications;
  readonly #runs: KyselyRuns;

  constructor(db: Kysely<Database>, config: KyselyStoreConfig) {
    this.#db = new StoreDb(db, config);
    this.dialect = config.dialect;
    this.#profiles = new KyselyProfiles(this.#db);
    this.#shadows = new KyselyShadows(this.#db);
    this.#outbox = new KyselyOutbox(this.#db);
    this.#cursors = new KyselyCursors(this.#db);
    this.#suppression = new KyselySuppression(this.#db);
    this.#dsr = new KyselyDsr(this.#db);
    this.#audit = new KyselyAudit(this.#db);
    this.#webhooksOut = new KyselyWebhooksOut(this.#db);
    this.#verifications = new KyselyVerifications(this.#db);
    this.#runs = new KyselyRuns(this.#db);
  }

  migrate(): Promise<string[]> {
    return withRetry(() => runMigrations(this.#db.db, this.dialect), { attempts: 5, ...this.#db.config.busyRetry });
  }

  async close(): Promise<void> {
    await this.#db.db.destroy();
  }

  // Profiles, identities, merges, consent ledger.
  applyPatch(patch: ProfilePatch, options?: ApplyOptions): Promise<ApplyResult> {
    return this.#profiles.applyPatch(patch, options);
  }
  applyPatches(items: { patch: ProfilePatch; options?: ApplyOptions }[]): Promise<ApplyResult[]> {
    return this.#profiles.applyPatches(items);
  }
  getProfile(profileId: string): Promise<Profile | null> {
    return this.#profiles.getProfile(profileId);
  }
  getProfiles(profileIds: readonly string[]): Promise<Map<string, Profile>> {
    return this.#profiles.getProfiles(profileIds);
  }
  findProfile(identity: Identity): Promise<Profile | null> {
    return this.#profiles.findProfile(identity);
  }
  findProfileIdByExternalId(connector: string, externalId: string): Promise<string | null> {
    return this.#profiles.findProfileIdByExternalId(connector, externalId);
  }
  findProfileIdsByExternalIds(connector: string, externalIds: readonly string[]): Promise<(string | null)[]> {
    return this.#profiles.findProfileIdsByExternalIds(connector, externalIds);
  }
  consentHistory(profileId: string): Promise<LedgerEntry[]> {
    return this.#profiles.consentHistory(profileId);
  }
  profileHistory(profileId: string, options?: { limit?: number }): Promise<HistoryEntry[]> {
    return this.#profiles.profileHistory(profileId, options);
  }

  purgeProfileHistory(before: string): Promise<number> {
    return this.#profiles.purgeProfileHistory(before);
  }
  deleteProfileData(profileId: string): Promise<void> {
    return this.#profiles.deleteProfileData(profileId);
  }
  idleProfiles(query: { before: string; after?: string; limit: number }): Promise<IdleProfile[]> {
    return this.#profiles.idleProfiles(query);
  }

  // Shadows and the push log.
  getShadow(profileId: string, connector: string): Promise<Shadow | null> {
    return this.#shadows.getShadow(profileId, connector);
  }
  getShadows(connector: string, profileIds: readonly string[]): Promise<Map<string, Shadow>> {
    return this.#shadows.getShadows(connector, profileIds);
  }
  shadowsByConnector(connector: string, options?: { limit?: number; after?: string }): Promise<Shadow[]> {
    return this.#shadows.shadowsByConnector(connector, options);
  }
  countKnownRecords(connector: string): Promise<number> {
    return this.#shadows.countKnownRecords(connector);
  }
  shadowsByProfile(profileId: string): Promise<Shadow[]> {
    return this.#shadows.shadowsByProfile(profileId);
  }
  updateShadow(
    profileId: string,
    connector: string,
    update: { externalId?: string | null; values: Record<string, Json>; forget?: readonly string[]; pushedAt?: string },
  ): Promise<void> {
    return this.#shadows.updateShadow(profileId, connector, update);
  }
  recordPushes(entries: readonly PushLogEntry[]): Promise<void> {
    return this.#shadows.recordPushes(entries);
  }
  pushHistory(profileId: string): Promise<PushLogEntry[]> {
    return this.#shadows.pushHistory(profileId);
  }

  // Outbox.
  claimOutbox(limit: number, leaseMs?: number): Promise<OutboxRow[]> {
    return this.#outbox.claimOutbox(limit, leaseMs);
  }
  markRelayed(ids: readonly string[], leasedUntil: string): Promise<void> {
    return this.#outbox.markRelayed(ids, leasedUntil);
  }
  ackOutbox(ids: readonly string[]): Promise<void> {
    return this.#outbox.ackOutbox(ids);
  }
  settleOutbox(connector: string, settled: readonly OutboxSettlement[]): Promise<void> {
    return this.#outbox.settleOutbox(connector, settled);
  }
  redriveOutbox(): Promise<number> {
    return this.#outbox.redriveOutbox();
  }

  // Cursors.
  getCursor(connector: string): Promise<Json | null> {
    return this.#cursors.getCursor(connector);
  }
  setCursor(connector: string, cursor: Json): Promise<void> {
    return this.#cursors.setCursor(connector, cursor);
  }

  // Suppression.
  hashIdentity(identity: Identity): string {
    return this.#suppression.hashIdentity(identity);
  }
  suppress(hashes: readonly string[], reason: string): Promise<void> {
    return this.#suppression.suppress(hashes, reason);
  }
  isSuppressed(hashes: readonly string[]): Promise<boolean> {
    return this.#suppression.isSuppressed(hashes);
  }
  suppressedAmong(hashes: readonly string[]): Promise<Set<string>> {
    return this.#suppression.suppressedAmong(hashes);
  }

  // Data-subject requests.
  createDsr(request: Omit<DataSubjectRequest, 'systems'> & { systems: string[] }): Promise<DataSubjectRequest> {
    return this.#dsr.createDsr(request);
  }
  getDsr(id: string): Promise<DataSubjectRequest | null> {
    return this.#dsr.getDsr(id);
  }
  updateDsr(
    id: string,
    update: Partial<Pick<DataSubjectRequest, 'status' | 'extendedTo' | 'subjectToldAt' | 'completedAt' | 'detail' | 'profileId'>>,
  ): Promise<void> {
    return this.#dsr.updateDsr(id, update);
  }
  updateDsrSystem(id: string, connector: string, update: Partial<Omit<DsrSystemStatus, 'connector' | 'updatedAt'>>): Promise<void> {
    return this.#dsr.updateDsrSystem(id, connector, update);
  }
  listDsr(filter?: { status?: DsrStatus; overdueAt?: string; profileId?: string; kind?: DsrKind }): Promise<DataSubjectRequest[]> {
    return this.#dsr.listDsr(filter);
  }

  // Audit.
  appendAudit(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void> {
    return this.#audit.appendAudit(entry);
  }
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]> {
    return this.#audit.listAudit(filter);
  }
  // Outbound webhooks.
  registerWebhookEndpoint(endpoint: string, url: string): Promise<WebhookEndpointRecord> {
    return this.#webhooksOut.registerWebhookEndpoint(endpoint, url);
  }
  enqueueWebhooks(endpoint: string, messages: readonly NewWebhookDelivery[]): Promise<number> {
    return this.#webhooksOut.enqueueWebhooks(endpoint, messages);
  }
  webhookStatuses(
    endpoint: string,
    messageIds: readonly string[],
  ): Promise<{ state: WebhookEndpointState | null; statuses: (WebhookDeliveryStatus | null)[] }> {
    return this.#webhooksOut.webhookStatuses(endpoint, messageIds);
  }
  claimWebhookDeliveries(endpoint: string, limit: number, leaseMs: number): Promise<ClaimedWebhookDelivery[]> {
    return this.#webhooksOut.claimWebhookDeliveries(endpoint, limit, leaseMs);
  }
  recordWebhookAttempts(attempts: readonly WebhookAttempt[]): Promise<RecordedWebhookAttempts> {
    return this.#webhooksOut.recordWebhookAttempts(attempts);
  }
  releaseWebhookClaims(endpoint: string, claims: readonly { messageId: string; claimId: string }[]): Promise<void> {
    return this.#webhooksOut.releaseWebhookClaims(endpoint, claims);
  }
  webhookEndpoint(endpoint: string): Promise<WebhookEndpointReport | null> {
    return this.#webhooksOut.webhookEndpoint(endpoint);
  }
  pendingWebhookCounts(): Promise<Map<string, number>> {
    return this.#webhooksOut.pendingWebhookCounts();
  }
  webhookDeadLetters(endpoint: string, options?: { limit?: number }): Promise<WebhookDelivery[]> {
    return this.#webhooksOut.webhookDeadLetters(endpoint, options);
  }
  redeliverWebhooks(endpoint: string, messageIds?: readonly string[]): Promise<number> {
    return this.#webhooksOut.redeliverWebhooks(endpoint, messageIds);
  }
  enableWebhookEndpoint(endpoint: string): Promise<WebhookEndpointState | null> {
    return this.#webhooksOut.enableWebhookEndpoint(endpoint);
  }
  purgeDeliveredWebhooks(before: string): Promise<number> {
    return this.#webhooksOut.purgeDeliveredWebhooks(before);
  }

  // Requester verifications (the public request page's one-time links).
  createVerification(verification: NewRequesterVerification): Promise<void> {
    return this.#verifications.createVerification(verification);
  }
  countVerifications(filter: { addressHash: string; since: string } | { clientHash: string; since: string }): Promise<number> {
    return this.#verifications.countVerifications(filter);
  }
  findVerification(tokenHash: string): Promise<RequesterVerification | null> {
    return this.#verifications.findVerification(tokenHash);
  }
  getVerification(id: string): Promise<RequesterVerification | null> {
    return this.#verifications.getVerification(id);
  }
  consumeVerification(tokenHash: string, at: string): Promise<VerificationConsumption> {
    return this.#verifications.consumeVerification(tokenHash, at);
  }
  attachVerificationDsr(id: string, dsrId: string): Promise<void> {
    return this.#verifications.attachVerificationDsr(id, dsrId);
  }
  deleteVerification(id: string): Promise<void> {
    return this.#verifications.deleteVerification(id);
  }
  purgeVerifications(before: string, requestsBefore: string): Promise<number> {
    return this.#verifications.purgeVerifications(before, requestsBefore);
  }

  // Sync runs.
  startRun(run: NewSyncRun): Promise<SyncRun> {
    return this.#runs.startRun(run);
  }
  renewRun(id: string, leasedUntil: string): Promise<boolean> {
    return this.#runs.renewRun(id, leasedUntil);
  }
  finishRun(id: string, outcome: RunOutcome): Promise<boolean> {
    return this.#runs.finishRun(id, outcome);
  }
  getRun(id: string): Promise<SyncRun | null> {
    return this.#runs.getRun(id);
  }
  listRuns(query?: RunQuery): Promise<RunPage> {
    return this.#runs.listRuns(query);
  }
  failAbandonedRuns(now: string): Promise<number> {
    return this.#runs.failAbandonedRuns(now);
  }
  purgeRuns(before: string): Promise<number> {
    return this.#runs.purgeRuns(before);
  }
}

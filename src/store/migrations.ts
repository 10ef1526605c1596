/**
 * Versioned, forward-only schema migrations, in code. The same statements build the
 * schema on SQLite and PostgreSQL. A new migration is appended to `MIGRATIONS` with a
 * version that sorts after the last one; applied migrations are never edited.
 */
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './db-schema.js';
import { StoreError } from './errors.js';

export interface Migration {
  /** Sorts lexicographically in application order, e.g. `0001_initial`. */
  version: string;
  /** `dialect`: for what only one of them has (a table's storage parameters on PostgreSQL). */
  up(db: Transaction<Database>, dialect: 'sqlite' | 'postgres'): Promise<void>;
}

const initial: Migration = {
  version: '0001_initial',
  async up(db) {
    await db.schema
      .createTable('profiles')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('profile_aliases')
      .addColumn('merged_id', 'text', (c) => c.primaryKey())
      .addColumn('into_id', 'text', (c) => c.notNull())
      .addColumn('merged_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('profile_aliases_into').on('profile_aliases').column('into_id').execute();

    await db.schema
      .createTable('identities')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('system', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('profile_id', 'text', (c) => c.notNull().references('profiles.id'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('identities_pk', ['kind', 'system', 'value'])
      .execute();
    await db.schema.createIndex('identities_profile').on('identities').column('profile_id').execute();

    await db.schema
      .createTable('consent_ledger')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('profile_id', 'text', (c) => c.notNull().references('profiles.id'))
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('previous', 'text')
      .addColumn('patch_id', 'text', (c) => c.notNull())
      .addColumn('recorded_at', 'text', (c) => c.notNull())
      .addColumn('accepted', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('consent_ledger_profile').on('consent_ledger').columns(['profile_id', 'recorded_at']).execute();
    await db.schema.createIndex('consent_ledger_patch').on('consent_ledger').column('patch_id').execute();

    await db.schema
      .createTable('shadows')
      .addColumn('profile_id', 'text', (c) => c.notNull().references('profiles.id'))
      .addColumn('connector', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('values', 'text', (c) => c.notNull())
      .addColumn('last_pushed_at', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('shadows_pk', ['profile_id', 'connector'])
      .execute();
    await db.schema.createIndex('shadows_connector').on('shadows').columns(['connector', 'external_id']).execute();

    await db.schema
      .createTable('outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('profile_id', 'text', (c) => c.notNull().references('profiles.id'))
      .addColumn('connector', 'text', (c) => c.notNull())
      .addColumn('profile_version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('leased_until', 'text')
      .addUniqueConstraint('outbox_profile_connector', ['profile_id', 'connector'])
      .execute();
    await db.schema.createIndex('outbox_claim').on('outbox').columns(['leased_until', 'updated_at']).execute();

    await db.schema
      .createTable('cursors')
      .addColumn('connector', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('suppression')
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('dsr')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('profile_id', 'text')
      .addColumn('identity_hashes', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('due_at', 'text', (c) => c.notNull())
      .addColumn('extended_to', 'text')
      .addColumn('subject_told_at', 'text')
      .addColumn('completed_at', 'text')
      .addColumn('detail', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('dsr_status').on('dsr').columns(['status', 'due_at']).execute();
    await db.schema.createIndex('dsr_profile').on('dsr').column('profile_id').execute();

    await db.schema
      .createTable('dsr_systems')
      .addColumn('dsr_id', 'text', (c) => c.notNull().references('dsr.id').onDelete('cascade'))
      .addColumn('connector', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('dsr_systems_pk', ['dsr_id', 'connector'])
      .execute();

    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('profile_id', 'text')
      .addColumn('detail', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_profile').on('audit_log').columns(['profile_id', 'at']).execute();
    await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
  },
};

/** What was sent where and when, for access requests (GDPR Art. 15(1)(c): the recipients). */
const pushLog: Migration = {
  version: '0002_push_log',
  async up(db) {
    await db.schema
      .createTable('push_log')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('profile_id', 'text', (c) => c.notNull())
      .addColumn('connector', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('values', 'text', (c) => c.notNull())
      .addColumn('pushed_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('push_log_profile').on('push_log').columns(['profile_id', 'pushed_at']).execute();
  },
};

/**
 * Outbox rows stay until the target acknowledged the push that carried them: the relay marks a
 * row relayed (it is in a Redis dirty set) instead of deleting it, so rows whose Redis work was
 * lost can be relayed again. Rows waiting for the relay get their own index (partial, on both
 * dialects), so a backlog of relayed rows never slows the relay's claim.
 */
const outboxRelayed: Migration = {
  version: '0003_outbox_relayed',
  async up(db) {
    await db.schema.alterTable('outbox').addColumn('relayed_at', 'text').execute();
    await db.schema
      .createIndex('outbox_unrelayed')
      .on('outbox')
      .columns(['created_at', 'id'])
      .where(sql.ref('relayed_at'), 'is', null)
      .execute();
  },
};

/**
 * Outbound Standard Webhooks (`ConnectorContext.outboundWebhooks`): one row per message and
 * endpoint (connector instance) until it is delivered or dead-lettered, and each endpoint's state
 * (a 410 or a receiver failing for a whole retry schedule disables it). Due rows of an endpoint
 * get their own partial index, so delivered and dead rows never slow the worker's claim.
 */
const webhooksOut: Migration = {
  version: '0004_webhooks_out',
  async up(db) {
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('endpoint', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('claim_id', 'text')
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('delivered_at', 'text')
      .addPrimaryKeyConstraint('webhook_deliveries_pk', ['endpoint', 'message_id'])
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['endpoint', 'next_attempt_at'])
      .where(sql.ref('status'), '=', 'pending')
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_status')
      .on('webhook_deliveries')
      .columns(['endpoint', 'status', 'created_at'])
      .execute();

    await db.schema
      .createTable('webhook_endpoints')
      .addColumn('endpoint', 'text', (c) => c.primaryKey())
      .addColumn('url_sha256', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('disabled_at', 'text')
      .addColumn('reason', 'text')
      .addColumn('last_success_at', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
};

const requesterVerifications: Migration = {
  version: '0005_requester_verifications',
  async up(db) {
    await db.schema
      .createTable('requester_verifications')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('address_hash', 'text', (c) => c.notNull())
      .addColumn('client_hash', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('locale', 'text', (c) => c.notNull())
      .addColumn('sealed_address', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('consumed_at', 'text')
      .addColumn('dsr_id', 'text')
      .execute();
    await db.schema
      .createIndex('requester_verifications_address')
      .on('requester_verifications')
      .columns(['address_hash', 'created_at'])
      .execute();
    await db.schema
      .createIndex('requester_verifications_client')
      .on('requester_verifications')
      .columns(['client_hash', 'created_at'])
      .execute();
    await db.schema.createIndex('requester_verifications_expiry').on('requester_verifications').column('expires_at').execute();
  },
};

/**
 * Sync runs (`contracts/runs.ts`): one row per pull, push batch, backfill or erasure pass, with
 * its counts and a bounded JSON list of row errors. Listed newest first per connector; the sweep
 * finds running rows by lease, the retention purge finished rows by end.
 */
const syncRuns: Migration = {
  version: '0006_sync_runs',
  async up(db) {
    await db.schema
      .createTable('sync_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('connector', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('triggered_by', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('leased_until', 'text')
      .addColumn('read_count', 'integer', (c) => c.notNull())
      .addColumn('changed_count', 'integer', (c) => c.notNull())
      .addColumn('written_count', 'integer', (c) => c.notNull())
      .addColumn('skipped_count', 'integer', (c) => c.notNull())
      .addColumn('failed_count', 'integer', (c) => c.notNull())
      .addColumn('error_count', 'integer', (c) => c.notNull())
      .addColumn('errors', 'text', (c) => c.notNull())
      .addColumn('failure', 'text')
      .addColumn('request_id', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sync_runs_connector').on('sync_runs').columns(['connector', 'started_at', 'id']).execute();
    await db.schema.createIndex('sync_runs_started').on('sync_runs').columns(['started_at', 'id']).execute();
    await db.schema
      .createIndex('sync_runs_running')
      .on('sync_runs')
      .column('leased_until')
      .where(sql.ref('status'), '=', 'running')
      .execute();
    await db.schema.createIndex('sync_runs_ended').on('sync_runs').column('ended_at').execute();
  },
};

/**
 * Why each value won or lost (`profile_history`, see `contracts/profiles.ts`), and indexes for
 * the audit endpoint's filters by actor and action.
 */
const profileHistory: Migration = {
  version: '0007_profile_history',
  async up(db) {
    await db.schema
      .createTable('profile_history')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('profile_id', 'text', (c) => c.notNull().references('profiles.id'))
      .addColumn('patch_id', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('offered', 'text', (c) => c.notNull())
      .addColumn('previous', 'text')
      .addColumn('recorded_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('profile_history_profile').on('profile_history').columns(['profile_id', 'recorded_at']).execute();
    await db.schema.createIndex('profile_history_patch').on('profile_history').columns(['patch_id', 'profile_id']).execute();
    await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor', 'at']).execute();
    await db.schema.createIndex('audit_log_action').on('audit_log').columns(['action', 'at']).execute();
  },
};

/**
 * When each field of a shadow was last written or observed (`values_at`, JSON: field -> ISO
 * time, hub clock). A row written before this migration has none: its fields count as known as
 * of the row's `updated_at` (see `Shadow.valuesAt`), and its first update seeds them so.
 */
const shadowValuesAt: Migration = {
  version: '0008_shadow_values_at',
  async up(db) {
    await db.schema.alterTable('shadows').addColumn('values_at', 'text').execute();
  },
};

/**
 * Indexes for lookups that read a whole table without them: the runs that kept row errors (an
 * erasure looks for the ones naming the person; most runs keep none), one system's shadows in
 * profile order (a full pull pages through them; without it each page sorted them all), and the
 * request links whose request was made (purged after a while, at every new request).
 */
const lookupIndexes: Migration = {
  version: '0009_lookup_indexes',
  async up(db) {
    await db.schema.createIndex('sync_runs_with_errors').on('sync_runs').column('id').where(sql.ref('errors'), '<>', '[]').execute();
    await db.schema.createIndex('shadows_connector_profile').on('shadows').columns(['connector', 'profile_id']).execute();
    await db.schema
      .createIndex('requester_verifications_confirmed')
      .on('requester_verifications')
      .column('consumed_at')
      .where(sql.ref('dsr_id'), 'is not', null)
      .execute();
  },
};

/**
 * The outbox's lease index goes: no statement reads it since the claim uses `outbox_unrelayed`,
 * and while it indexed `leased_until` every lease written was a row version with an entry in
 * each of the outbox's indexes. On PostgreSQL a lease can now be a HOT update (the new version
 * on the row's page, no index entry), if the page has room: the outbox's pages are filled to
 * half (`fillfactor`), as a queue's rows are written several times in a short life. With the
 * default (full pages) 1 % of the leases were HOT in `outbox-churn.test.ts`, 92 % at half.
 */
const outboxLeaseIndex: Migration = {
  version: '0010_outbox_lease_index',
  async up(db, dialect) {
    await db.schema.dropIndex('outbox_claim').ifExists().execute();
    if (dialect === 'postgres') await sql`alter table outbox set (fillfactor = 50)`.execute(db);
  },
};

/** Every migration, in order. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  initial,
  pushLog,
  outboxRelayed,
  webhooksOut,
  requesterVerifications,
  syncRuns,
  profileHistory,
  shadowValuesAt,
  lookupIndexes,
  outboxLeaseIndex,
];

/** Arbitrary constant identifying Concord's migration lock among PostgreSQL advisory locks. */
const PG_MIGRATION_LOCK = 4_711_202_603;

/**
 * Applies pending migrations in one transaction and returns the versions applied. Safe
 * when several processes start at once: PostgreSQL serialises on an advisory lock,
 * SQLite on its write lock (the store's transactions begin IMMEDIATE).
 */
export async function runMigrations(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`.execute(trx);
    }
    await trx.schema
      .createTable('concord_migrations')
      .ifNotExists()
      .addColumn('version', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute();
    const done = new Set((await trx.selectFrom('concord_migrations').select('version').execute()).map((r) => r.version));
    const known = new Set(migrations.map((migration) => migration.version));
    const unknown = [...done].filter((version) => !known.has(version));
    if (unknown.length > 0) {
      throw new StoreError(
        'schema_too_new',
        `the database has migrations this version does not know (${unknown.join(', ')}): upgrade Concord`,
      );
    }
    const applied: string[] = [];
    for (const migration of [...migrations].sort((a, b) => (a.version < b.version ? -1 : 1))) {
      if (done.has(migration.version)) continue;
      await migration.up(trx, dialect);
      await trx.insertInto('concord_migrations').values({ version: migration.version, applied_at: new Date().toISOString() }).execute();
      applied.push(migration.version);
    }
    return applied;
  });
}

/**
 * The store finds every row it touches through an index: a statement whose plan reads a whole
 * table costs time in proportion to the table, so a store of a million profiles would spend
 * seconds per batch where a few thousand cost milliseconds (and the sync bench, with a few
 * thousand, would not show it). The test runs the store's calls, then asks each dialect for the
 * plan of every statement they sent, with the values they bound (SQLite and PostgreSQL both
 * plan with them). The store runs no `analyze`, so SQLite plans without statistics, as a new
 * database does; PostgreSQL's choices on small tables are steered (see `postgresScans`).
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { countStatements } from '../../../harness/statement-count.js';
import type { ProfilePatch } from '../../../src/profile/schema.js';
import type { ApplyOptions, Store } from '../../../src/store/index.js';
import { at, openTestStore, patch } from './fixtures.js';

type Item = { patch: ProfilePatch; options?: ApplyOptions };

/**
 * Statements allowed to scan a table, each with why: maintenance that runs rarely and reads
 * the whole table on purpose, where an index would cost every write of the sync path.
 */
const SCANS_ALLOWED: readonly { statement: RegExp; why: string }[] = [
  {
    statement: /^select "id" from "profile_history" where "recorded_at" < \? limit \?$/,
    why: 'the history retention sweep (hourly at most); an index on recorded_at would cost every history row written',
  },
  {
    statement: /^delete from "profile_history" where "recorded_at" < \?$/,
    why: 'the same sweep, run only when the read above found an expired row',
  },
  {
    statement:
      /^update "outbox" set "relayed_at" = \?, "leased_until" = \? where (?:"id" in \(select "id" from "outbox" where )?\("relayed_at" is not null or "leased_until" is not null\)(?: order by [^)]*\))?$/,
    why: 'the redrive after Redis came back empty hands back nearly every row of the table',
  },
  {
    statement: /^delete from "webhook_deliveries" where "status" = \? and "delivered_at" < \?$/,
    why: 'the outbound webhooks retention sweep deletes most of what it reads',
  },
  {
    statement: /^select "id", "data", "version", "updated_at" from "profiles" where "updated_at" < \? order by "id" limit \?$/,
    why: 'the idle-profile sweep pages through every profile in id order, each once per sweep',
  },
];

/** `count` people, each with an e-mail address and a record in HubSpot, changed at `second`. */
function people(tag: string, count: number, second: number): Item[] {
  return Array.from({ length: count }, (_, n) => ({
    patch: patch({
      at: at(second),
      identities: [
        { kind: 'email', value: `${tag}-${n}@example.com` },
        { kind: 'external', value: `hubspot-${tag}-${n}` },
      ],
      attributes: { firstName: `F${second}`, score: n },
      consents: n % 3 === 0 ? { marketing: { email: { status: 'granted' } } } : {},
    }),
    options: { observed: { connector: 'hubspot', externalId: `hs-${tag}-${n}`, values: { n, second } } },
  }));
}

/** Every call of the sync path and of the sweeps the engine runs on a timer. */
async function syncPath(store: Store, size: number): Promise<void> {
  const created = await store.applyPatches(people('a', size, 1));
  const ids = created.flatMap((result) => ('profileId' in result ? [result.profileId] : []));
  // Known people changed again: the batch update of profiles that exist.
  await store.applyPatches(people('a', size, 2));
  await store.findProfileIdsByExternalIds(
    'hubspot',
    ids.map((_, n) => `hs-a-${n}`),
  );

  const claimed = await store.claimOutbox(size * 3, 60_000);
  const leasedUntil = claimed[0]?.leasedUntil ?? at(60);
  await store.markRelayed(
    claimed.map((row) => row.id),
    leasedUntil,
  );
  const shadows = await store.getShadows('salesforce', ids);
  expect(shadows.size).toBe(0);
  await store.recordPushes(
    ids.map((profileId, n) => ({ profileId, connector: 'salesforce', externalId: `sf-${n}`, values: { n }, pushedAt: at(3) })),
  );
  await store.getShadows('salesforce', ids);
  await store.settleOutbox(
    'salesforce',
    ids.map((profileId) => ({ profileId, version: 2 })),
  );
  await store.ackOutbox(claimed.filter((row) => row.connector === 'mailchimp').map((row) => row.id));
  await store.suppressedAmong(ids.map((id) => store.hashIdentity({ kind: 'email', value: `${id}@example.com` })));

  const run = await store.startRun({ connector: 'salesforce', kind: 'push', trigger: 'schedule', requestId: 'r-1', leasedUntil: at(120) });
  await store.renewRun(run.id, at(180));
  await store.finishRun(run.id, {
    status: 'succeeded',
    counts: { read: size, changed: size, written: size, skipped: 0, failed: 0 },
    errors: [],
  });
  await store.startRun({ connector: 'hubspot', kind: 'pull', trigger: 'schedule', requestId: 'r-2', leasedUntil: at(10) });

  // One record at a time: a webhook's single patch, an echo's shadow, lookups by record id.
  await store.applyPatch(people('a', 1, 3)[0]?.patch ?? patch({}));
  const [one] = ids;
  if (one) {
    await store.updateShadow(one, 'hubspot', { externalId: 'hs-a-0', values: { n: 0 }, forget: ['second'], pushedAt: at(4) });
    await store.getShadow(one, 'hubspot');
    await store.getProfile(one);
  }
  await store.getProfiles(ids);
  await store.findProfileIdByExternalId('hubspot', 'hs-a-0');
  await store.setCursor('hubspot', { after: 'x' });
  await store.getCursor('hubspot');
  const hashes = ids.slice(0, 3).map((id) => store.hashIdentity({ kind: 'email', value: `${id}@example.com` }));
  await store.suppress(hashes, 'erased');
  await store.isSuppressed(hashes);
  await store.appendAudit({ actor: 'hubspot', action: 'profile.viewed', profileId: one ?? null, detail: {} });
  await store.getRun(run.id);

  await store.failAbandonedRuns(at(3600));
  await store.purgeRuns(at(7200));
  await store.redriveOutbox();
  await store.purgeProfileHistory(at(7200));
}

/** The calls of outbound webhooks, data-subject requests, the request page's links and the operator's lists. */
async function otherPaths(store: Store, size: number): Promise<void> {
  const [first] = await store.applyPatches(people('b', 1, 1));
  const profileId = first && 'profileId' in first ? first.profileId : 'none';

  await store.registerWebhookEndpoint('crm-hook', 'https://hooks.example.com/in');
  const messages = Array.from({ length: size }, (_, n) => ({ messageId: `msg-${n}`, type: 'profile.updated', body: '{}' }));
  await store.enqueueWebhooks('crm-hook', messages);
  await store.webhookStatuses(
    'crm-hook',
    messages.map((message) => message.messageId),
  );
  const claimed = await store.claimWebhookDeliveries('crm-hook', size, 30_000);
  await store.recordWebhookAttempts(
    claimed.map((claim, n) => ({
      endpoint: claim.endpoint,
      messageId: claim.messageId,
      claimId: claim.claimId,
      startedAt: at(5),
      outcome: n % 2 === 0 ? { kind: 'delivered' as const, status: 200 } : { kind: 'dead' as const, status: 500, error: 'boom' },
    })),
  );
  await store.releaseWebhookClaims('crm-hook', []);
  await store.webhookEndpoint('crm-hook');
  await store.pendingWebhookCounts();
  await store.webhookDeadLetters('crm-hook', { limit: 10 });
  await store.redeliverWebhooks('crm-hook', ['msg-1']);
  await store.enableWebhookEndpoint('crm-hook');
  await store.purgeDeliveredWebhooks(at(7200));

  const dsr = await store.createDsr({
    id: 'dsr-1',
    kind: 'erase',
    status: 'received',
    profileId,
    identityHashes: ['h1'],
    receivedAt: at(1),
    dueAt: at(86_400),
    extendedTo: null,
    subjectToldAt: null,
    completedAt: null,
    detail: {},
    systems: ['hubspot', 'salesforce'],
  });
  await store.updateDsr(dsr.id, { status: 'in_progress' });
  await store.updateDsrSystem(dsr.id, 'hubspot', { status: 'completed', attempts: 1 });
  await store.getDsr(dsr.id);
  await store.listDsr({ status: 'in_progress' });
  await store.listDsr({ overdueAt: at(100_000) });
  await store.listDsr({ profileId, kind: 'erase' });

  await store.createVerification({
    id: 'v-1',
    tokenHash: 't-1',
    addressHash: 'a-1',
    clientHash: 'c-1',
    kind: 'erase',
    locale: 'en',
    sealedAddress: 'sealed',
    createdAt: at(1),
    expiresAt: at(3600),
  });
  await store.countVerifications({ addressHash: 'a-1', since: at(0) });
  await store.countVerifications({ clientHash: 'c-1', since: at(0) });
  await store.findVerification('t-1');
  await store.consumeVerification('t-1', at(2));
  await store.attachVerificationDsr('v-1', dsr.id);
  await store.purgeVerifications(at(7200), at(7200));

  await store.consentHistory(profileId);
  await store.profileHistory(profileId, { limit: 50 });
  await store.pushHistory(profileId);
  await store.shadowsByProfile(profileId);
  await store.shadowsByConnector('hubspot', { limit: 100 });
  await store.countKnownRecords('hubspot');
  await store.listAudit({ profileId });
  await store.listAudit({ actor: 'hubspot', since: at(0) });
  await store.listAudit({ action: 'profile.updated', until: at(9000) });
  await store.listRuns({ connector: 'hubspot', kind: 'pull', status: 'running', limit: 10 });
  await store.idleProfiles({ before: at(3600), limit: 100 });
  await store.findProfile({ kind: 'email', value: 'b-0@example.com' });
  await store.deleteProfileData(profileId);
}

/** A statement the store sent, with the values bound to it the first time. */
interface Sent {
  text: string;
  parameters: readonly unknown[];
}

interface Plan {
  statement: string;
  scans: string[];
}

/**
 * SQLite: the steps of the statement's plan (made with its values, as SQLite plans it when they
 * are bound) that read a whole table or a whole index, build an index on the fly, or sort every
 * matching row to return the first few. Reading a whole partial index reads only the rows the
 * statement is about.
 */
function sqliteScans(db: BetterSqlite3.Database, sent: Sent): string[] {
  const steps = db.prepare(`explain query plan ${sent.text}`).all(...sent.parameters) as { detail: string }[];
  const partial = (table: string, index: string): boolean =>
    (db.pragma(`index_list("${table}")`) as { name: string; partial: number }[]).some((row) => row.name === index && row.partial === 1);
  const limited = /\blimit \?$/.test(sent.text);
  return steps
    .map((step) => step.detail)
    .filter(
      (detail) =>
        /^SCAN (?!\d+ CONSTANT ROWS|\d+-ROW VALUES CLAUSE|[vk]$)/.test(detail) ||
        detail.includes('AUTOMATIC') ||
        (limited && detail === 'USE TEMP B-TREE FOR ORDER BY'),
    )
    .filter((detail) => {
      const scan = /^SCAN (\w+)(?: AS \w+)? USING (?:COVERING )?INDEX (\w+)/.exec(detail);
      return !(scan?.[1] && scan[2] && partial(scan[1], scan[2]));
    });
}

interface PostgresNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PostgresNode[];
}

/**
 * PostgreSQL: the steps of the statement's plan (with its values, as the driver's unnamed
 * statements are planned) that read a whole table or a whole index that is not partial. On a
 * test's small tables PostgreSQL rightly prefers reading them whole, so sequential scans, hash
 * and merge joins are disabled: what reads a whole table or index then has no index to use.
 */
async function postgresScans(client: pg.Client, sent: Sent, partialIndexes: ReadonlySet<string>): Promise<string[]> {
  const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PostgresNode }[] }>(`explain (format json) ${sent.text}`, [
    ...sent.parameters,
  ]);
  const scans: string[] = [];
  const visit = (node: PostgresNode): void => {
    const type = node['Node Type'];
    if (type === 'Seq Scan' && node['Relation Name']) scans.push(`Seq Scan on ${node['Relation Name']}`);
    const index = node['Index Name'];
    if ((type === 'Index Scan' || type === 'Index Only Scan') && index && !node['Index Cond'] && !partialIndexes.has(index)) {
      scans.push(`${type} using ${index} on ${node['Relation Name'] ?? '?'} (no condition)`);
    }
    for (const child of node.Plans ?? []) visit(child);
  };
  for (const row of rows) for (const plan of row['QUERY PLAN']) visit(plan.Plan);
  return scans;
}

async function plansOf(database: TestDatabase, statements: readonly Sent[]): Promise<Plan[]> {
  if (database.dialect === 'sqlite') {
    const db = new BetterSqlite3(database.url.replace(/^sqlite:/, ''), { readonly: true, fileMustExist: true });
    try {
      return statements.map((sent) => ({ statement: sent.text, scans: sqliteScans(db, sent) }));
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    for (const setting of ['enable_seqscan', 'enable_hashjoin', 'enable_mergejoin']) await client.query(`set ${setting} = off`);
    const partial = await client.query<{ name: string }>(
      'select indexrelid::regclass::text as name from pg_index where indpred is not null',
    );
    const partialIndexes = new Set(partial.rows.map((row) => row.name));
    const plans: Plan[] = [];
    for (const sent of statements) plans.push({ statement: sent.text, scans: await postgresScans(client, sent, partialIndexes) });
    return plans;
  } finally {
    await client.end();
  }
}

/** Statement text as SQLite gets it (PostgreSQL's numbered placeholders as `?`), for the allowed list. */
function asWritten(statement: string): string {
  return statement.replace(/\$\d+/g, '?');
}

/** Each statement once, with the values of its first sending. */
function distinct(texts: readonly string[], parameters: readonly (readonly unknown[])[]): Sent[] {
  const seen = new Map<string, Sent>();
  texts.forEach((text, n) => {
    if (!seen.has(text) && /^\s*(select|insert|update|delete|with)\b/i.test(text))
      seen.set(text, { text, parameters: parameters[n] ?? [] });
  });
  return [...seen.values()];
}

/** Batches of the sizes the engine sends: below and above the size a lookup list switches to a joined table, and the largest. */
describe.each(TEST_DIALECTS.flatMap((dialect) => [5, 120, 500].map((size) => [dialect, size] as const)))(
  'query plans of the store on %s (batches of %i)',
  (dialect, size) => {
    it('look every row of the sync path up by an index', async () => {
      const database = await createTestDatabase(dialect);
      let plans: Plan[];
      let statements: Sent[];
      try {
        const store = await openTestStore(database.url);
        const counter = countStatements();
        try {
          await syncPath(store, size);
          await otherPaths(store, size);
          statements = distinct(counter.texts, counter.parameters);
        } finally {
          counter.stop();
          await store.close();
        }
        plans = await plansOf(database, statements);
      } finally {
        await database.drop();
      }
      // The sync path's own statements must have been seen, or the test proves nothing.
      expect(statements.some((sent) => sent.text.startsWith('update "profiles"'))).toBe(true);
      expect(statements.some((sent) => sent.text.includes('"sync_runs"') && sent.text.includes('"leased_until" <'))).toBe(true);
      const scanning = plans.filter(
        (plan) => plan.scans.length > 0 && !SCANS_ALLOWED.some((allowed) => allowed.statement.test(asWritten(plan.statement))),
      );
      expect(scanning.map((plan) => `${plan.statement.slice(0, 200)}\n  -> ${plan.scans.join('; ')}`)).toEqual([]);
    });
  },
);

/**
 * SQLite looks every row the sync path touches up by an index: a statement whose plan scans a
 * whole table costs time in proportion to the table, so a store of a million profiles would
 * spend seconds per batch where a few thousand cost milliseconds (and the bench, with a few
 * thousand, would not show it). The test runs the store's sync-path and maintenance calls,
 * then asks SQLite for the plan of every statement they sent (`explain query plan`: the plan
 * of a statement does not depend on its bound values, as the store runs no `analyze`).
 */
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../harness/db.js';
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
    statement: /^select .* from "outbox" where "relayed_at" is null and .* order by "created_at", "id" limit \?$/,
    why: 'the relay walks the partial index of rows not relayed yet, oldest first, and stops at its limit',
  },
  {
    statement:
      /^update "outbox" set "relayed_at" = \?, "leased_until" = \? where \("relayed_at" is not null or "leased_until" is not null\)$/,
    why: 'the redrive after Redis came back empty hands back nearly every row of the table',
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

  await store.failAbandonedRuns(at(3600));
  await store.purgeRuns(at(7200));
  await store.redriveOutbox();
  await store.purgeProfileHistory(at(7200));
}

interface Plan {
  statement: string;
  scans: string[];
}

/** The steps of `statement`'s plan that read a whole table, or build an index of one on the fly. */
function scansOf(db: BetterSqlite3.Database, statement: string): string[] {
  const parameters = (statement.match(/\?/g) ?? []).map(() => null);
  const steps = db.prepare(`explain query plan ${statement}`).all(...parameters) as { detail: string }[];
  return steps
    .map((step) => step.detail)
    .filter((detail) => /^SCAN (?!\d+ CONSTANT ROWS|\d+-ROW VALUES CLAUSE)/.test(detail) || detail.includes('AUTOMATIC'))
    .filter((detail) => !/^SCAN (v|k)$/.test(detail));
}

/** Batches of the sizes the engine sends: above and below the size a lookup list switches to a joined table. */
describe.each([5, 120, 500])('query plans of the store on SQLite (batches of %i)', (size) => {
  it('look every row of the sync path up by an index', async () => {
    const database = await createTestDatabase('sqlite');
    const store = await openTestStore(database.url);
    const counter = countStatements();
    let statements: string[];
    try {
      await syncPath(store, size);
      statements = [...new Set(counter.texts)].filter((text) => /^\s*(select|insert|update|delete|with)\b/i.test(text));
    } finally {
      counter.stop();
      await store.close();
    }
    const file = database.url.replace(/^sqlite:/, '');
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    let plans: Plan[];
    try {
      plans = statements.map((statement) => ({ statement, scans: scansOf(db, statement) }));
    } finally {
      db.close();
      await database.drop();
    }
    // The sync path's own statements must have been seen, or the test proves nothing.
    expect(statements.some((text) => text.startsWith('update "profiles"'))).toBe(true);
    expect(statements.some((text) => text.includes('"sync_runs"') && text.includes('"leased_until" <'))).toBe(true);
    const scanning = plans.filter(
      (plan) => plan.scans.length > 0 && !SCANS_ALLOWED.some((allowed) => allowed.statement.test(plan.statement)),
    );
    expect(scanning.map((plan) => `${plan.statement.slice(0, 200)}\n  -> ${plan.scans.join('; ')}`)).toEqual([]);
  });
});

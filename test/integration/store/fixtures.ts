/** Shared fixtures of the store's integration tests. */
import pg from 'pg';
import { afterEach, beforeEach } from 'vitest';
import { createTestDatabase } from '../../../harness/db.js';
import type { TestDatabase, TestDialect } from '../../../harness/db.js';
import { MergePolicy, ProfilePatch } from '../../../src/profile/schema.js';
import type { ProfilePatchInput } from '../../../src/profile/schema.js';
import { openStore } from '../../../src/store/index.js';
import type { Store, StoreOptions } from '../../../src/store/index.js';

export const POLICY: MergePolicy = MergePolicy.parse({
  priorities: { preference_center: 100, salesforce: 20, hubspot: 10, segment: 5 },
  purposes: {
    marketing: { policy: 'latest', authorities: ['hubspot', 'salesforce', 'preference_center'] },
    analytics: { policy: 'most-restrictive' },
    profiling: { policy: 'latest', objection: 'profiling' },
  },
});

export const TARGETS = ['hubspot', 'salesforce', 'mailchimp'] as const;
export const HASH_KEY = 'test-hash-key';

export function storeOptions(url: string, overrides: Partial<StoreOptions> = {}): StoreOptions {
  return { url, policy: POLICY, outboxTargets: [...TARGETS], hashKey: HASH_KEY, ...overrides };
}

export function openTestStore(url: string, overrides: Partial<StoreOptions> = {}): Promise<Store> {
  return openStore(storeOptions(url, overrides));
}

/**
 * A fresh database and store of the dialect for each test of the enclosing `describe`
 * (registers its `beforeEach` and `afterEach`): `store()` is the current test's.
 */
export function storeEachTest(dialect: TestDialect, overrides: Partial<StoreOptions> = {}): { store(): Store; db(): TestDatabase } {
  let db: TestDatabase | undefined;
  let store: Store | undefined;
  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = await openTestStore(db.url, overrides);
  });
  afterEach(async () => {
    await store?.close();
    await db?.drop();
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('no store outside a test');
    return value;
  };
  return { store: () => need(store), db: () => need(db) };
}

let counter = 0;

/** A valid patch; `at` and `receivedAt` default to a fixed instant. */
export function patch(input: Partial<ProfilePatchInput> & { source?: string }): ProfilePatch {
  counter += 1;
  return ProfilePatch.parse({
    id: `patch-${counter}`,
    source: 'hubspot',
    at: '2026-01-01T10:00:00.000Z',
    receivedAt: '2026-01-01T10:00:01.000Z',
    ...input,
  });
}

/** `2026-01-01T10:00:00.000Z` plus `seconds`. */
export function at(seconds: number): string {
  return new Date(Date.parse('2026-01-01T10:00:00.000Z') + seconds * 1000).toISOString();
}

/** PostgreSQL: every row `event` (e.g. `before update on sync_runs`) waits `seconds` inside its transaction. */
export async function slowDown(url: string, event: string, seconds: number): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(
      `create function slow_down() returns trigger language plpgsql as $$ begin perform pg_sleep(${seconds}); return new; end $$`,
    );
    await admin.query(`create trigger slow_down ${event} for each row execute function slow_down()`);
  } finally {
    await admin.end();
  }
}

/** A profile holding these e-mail addresses (a new one, or the one they merge into); its id. */
export async function profileOf(store: Store, ...emails: string[]): Promise<string> {
  const result = await store.applyPatch(patch({ identities: emails.map((value) => ({ kind: 'email' as const, value })) }));
  if (!('profileId' in result)) throw new Error(`no profile: ${result.status}`);
  return result.profileId;
}

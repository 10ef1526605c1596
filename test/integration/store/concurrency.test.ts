/**
 * Eight writers apply conflicting patches to the same profiles at once: eight OS processes
 * on SQLite, eight connection pools on PostgreSQL. The final state must equal the merge of
 * every patch (no lost update), with exactly one pending outbox row per profile × connector.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyProfile, merge } from '../../../src/profile/merge.js';
import type { ProfilePatch } from '../../../src/profile/schema.js';
import { normalizeIdentities, openStore } from '../../../src/store/index.js';
import type { ApplyResult, Store } from '../../../src/store/index.js';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { at, openTestStore, patch, POLICY, storeOptions, TARGETS } from './fixtures.js';

const WRITERS = 8;
const PATCHES_PER_WRITER = 16;
const SOURCES = ['hubspot', 'salesforce', 'segment', 'preference_center'];
/** Profiles 0..2 are always addressed by their e-mail; profile 3 by e-mail, phone or both (so it is created twice and merged). */
const PROFILES = 4;

function email(k: number): string {
  return `person${k}@concurrency.example`;
}
function phone(k: number): string {
  return `+1415555010${k}`;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Planned {
  target: number;
  patch: ProfilePatch;
}

function plan(): Planned[][] {
  const rnd = random(20_260_101);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const writers: Planned[][] = [];
  for (let w = 0; w < WRITERS; w++) {
    const list: Planned[] = [];
    for (let i = 0; i < PATCHES_PER_WRITER; i++) {
      const target = (w + i) % PROFILES;
      const variant = target === 3 ? pick(['email', 'phone', 'both'] as const) : pick(['email', 'both'] as const);
      const identities = [
        ...(variant !== 'phone' ? [{ kind: 'email' as const, value: i % 5 === 0 ? email(target).toUpperCase() : email(target) }] : []),
        ...(variant !== 'email' ? [{ kind: 'phone' as const, value: phone(target) }] : []),
      ];
      // Whole seconds over a short window: many exact timestamp ties, broken by priority and source.
      const seconds = Math.floor(rnd() * 20);
      list.push({
        target,
        patch: patch({
          id: `w${w}-p${i}`,
          source: pick(SOURCES),
          at: at(seconds),
          identities,
          attributes: { name: `w${w}-${i}`, [`seen_w${w}`]: i, score: Math.floor(rnd() * 3) },
          subscriptions: rnd() < 0.5 ? { newsletter: rnd() < 0.5 } : {},
          consents: {
            marketing: { email: { status: rnd() < 0.5 ? 'granted' : 'denied' } },
            ...(rnd() < 0.5 ? { analytics: { web: { status: rnd() < 0.5 ? 'granted' : 'denied' } } } : {}),
          },
          rights: { objections: rnd() < 0.3 ? { profiling: rnd() < 0.5 } : {} },
        }),
      });
    }
    writers.push(list);
  }
  // Profile 3 must be linked at least once so it ends as one profile.
  const linked = writers.flat().some((p) => p.target === 3 && p.patch.identities.length === 2);
  if (!linked) throw new Error('plan never links profile 3');
  return writers;
}

async function runSqliteWriters(url: string, writers: Planned[][]): Promise<ApplyResult[][]> {
  const script = fileURLToPath(new URL('./concurrent-writer.ts', import.meta.url));
  const children = writers.map(() => fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    const ready = children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.once('message', (message: { type: string; message?: string }) =>
            message.type === 'ready' ? resolve() : reject(new Error(message.message)),
          );
          child.once('exit', (code) => reject(new Error(`writer exited with ${code} before ready`)));
        }),
    );
    children.forEach((child, w) => child.send({ url, patches: writers[w]?.map((p) => p.patch) }));
    await Promise.all(ready);
    const done = children.map(
      (child) =>
        new Promise<ApplyResult[]>((resolve, reject) => {
          child.on('message', (message: { type: string; results?: ApplyResult[]; message?: string }) => {
            if (message.type === 'done' && message.results) resolve(message.results);
            if (message.type === 'error') reject(new Error(message.message));
          });
          child.once('exit', (code) => code !== 0 && reject(new Error(`writer exited with ${code}`)));
        }),
    );
    for (const child of children) child.send({ type: 'go' });
    return await Promise.all(done);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

async function runPostgresWriters(url: string, writers: Planned[][]): Promise<ApplyResult[][]> {
  const stores: Store[] = [];
  try {
    // All writers open (and migrate) the fresh database at the same time.
    stores.push(...(await Promise.all(writers.map(() => openStore(storeOptions(url, { poolSize: 1 }))))));
    return await Promise.all(
      writers.map(async (list, w) => {
        const store = stores[w];
        if (!store) throw new Error('missing store');
        const results: ApplyResult[] = [];
        for (const planned of list) results.push(await store.applyPatch(planned.patch));
        return results;
      }),
    );
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

describe.each(TEST_DIALECTS)('concurrent writers (%s)', (dialect) => {
  let db: TestDatabase;
  let store: Store | undefined;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = undefined;
  });
  afterEach(async () => {
    await store?.close();
    await db.drop();
  });

  it('converges to the merge of every patch, with no lost update and one outbox row per profile × connector', async () => {
    const writers = plan();
    // The database is fresh: the writers also race to migrate it as they open.
    const results = dialect === 'sqlite' ? await runSqliteWriters(db.url, writers) : await runPostgresWriters(db.url, writers);
    const reader = await openTestStore(db.url);
    store = reader;
    expect(await reader.migrate()).toEqual([]);
    const all = writers.flatMap((list, w) => list.map((planned, i) => ({ planned, result: results[w]?.[i] })));
    expect(all.every(({ result }) => result !== undefined && (result.status === 'applied' || result.status === 'unchanged'))).toBe(true);

    const finalIds: string[] = [];
    for (let k = 0; k < PROFILES; k++) {
      const actual = await reader.findProfile({ kind: 'email', value: email(k) });
      if (!actual) throw new Error(`profile ${k} missing`);
      finalIds.push(actual.id);
      expect((await reader.findProfile({ kind: 'phone', value: phone(k) }))?.id ?? actual.id).toBe(actual.id);

      // The same patches merged one after the other in memory.
      let expected = emptyProfile(actual.id);
      for (const { planned } of all.filter(({ planned }) => planned.target === k)) {
        const identities = normalizeIdentities(planned.patch.identities, { defaultSystem: planned.patch.source }).identities;
        expected = merge(expected, { ...planned.patch, identities }, POLICY).profile;
      }
      const { version, ...state } = actual;
      const { version: _unused, ...expectedState } = expected;
      expect(state).toEqual(expectedState);

      if (k < 3) {
        // Every committed change bumped the version exactly once: none was lost.
        const appliedCount = all.filter(({ planned, result }) => planned.target === k && result?.status === 'applied').length;
        expect(version).toBe(appliedCount);
      }
    }
    expect(new Set(finalIds).size).toBe(PROFILES);
    expect(await db.count('profiles')).toBe(PROFILES);

    const outbox = await db.query<{ profile_id: string; connector: string; profile_version: number }>(
      'select profile_id, connector, profile_version from outbox order by profile_id, connector',
    );
    const expectedOutbox = [];
    for (const id of [...finalIds].sort()) {
      const profile = await reader.getProfile(id);
      for (const connector of [...TARGETS].sort()) expectedOutbox.push({ profile_id: id, connector, profile_version: profile?.version });
    }
    expect(outbox.map((row) => ({ ...row, profile_version: Number(row.profile_version) }))).toEqual(expectedOutbox);

    // One ledger row per consent change and per non-authority report: no duplicates from
    // retries. Exact counts on profiles 0..2, whose results list only the patches' own changes.
    const ledger = await db.query<{ profile_id: string; patch_id: string; purpose: string; channel: string }>(
      'select profile_id, patch_id, purpose, channel from consent_ledger',
    );
    const keys = ledger.map((row) => `${row.patch_id}|${row.purpose}|${row.channel}`);
    expect(new Set(keys).size).toBe(keys.length);
    const simple = all.filter(({ planned }) => planned.target < 3);
    const consentChanges = simple.reduce(
      (n, { result }) => n + (result?.status === 'applied' ? result.changes.filter((c) => c.kind === 'consent').length : 0),
      0,
    );
    const notAuthority = simple.reduce(
      (n, { result }) =>
        n +
        (result?.status === 'applied' || result?.status === 'unchanged'
          ? result.ignored.filter((i) => i.kind === 'consent' && i.reason === 'not_authority').length
          : 0),
      0,
    );
    expect(notAuthority).toBeGreaterThan(0);
    const simpleIds = new Set(finalIds.slice(0, 3));
    expect(ledger.filter((row) => simpleIds.has(row.profile_id))).toHaveLength(consentChanges + notAuthority);
    const merges = all.reduce((n, { result }) => n + (result?.status === 'applied' ? result.mergedProfileIds.length : 0), 0);
    expect(await db.count('profile_aliases')).toBe(merges);
  }, 180_000); // 8 OS processes each load tsx: slow on a busy 2-core machine
});

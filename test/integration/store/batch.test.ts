import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase, TestDialect } from '../../../harness/db.js';
import { countStatements } from '../../../harness/statement-count.js';
import type { ProfilePatch } from '../../../src/profile/schema.js';
import { WriteConflictError } from '../../../src/store/index.js';
import type { ApplyOptions, ApplyResult, Store } from '../../../src/store/index.js';
import { at, openTestStore, patch } from './fixtures.js';

type Item = { patch: ProfilePatch; options?: ApplyOptions };

/** Statements a batch may send whatever its size (BEGIN and COMMIT included). */
const BATCH_STATEMENTS = 18;

/**
 * A batch touching `people` people: new profiles, updates from sources of several priorities,
 * consents from an authority and from a source that is not one, observed shadows (a record
 * id that changes), and a patch replayed within the batch.
 */
function mixedBatch(tag: string, people: number, size: number): Item[] {
  const items: Item[] = [];
  const sources = ['hubspot', 'salesforce', 'segment'];
  for (let n = 0; n < size; n++) {
    const person = n % people;
    const source = sources[n % sources.length] ?? 'hubspot';
    const item: Item = {
      patch: patch({
        source,
        at: at(n),
        identities: [
          { kind: 'email', value: `${tag}-${person}@example.com` },
          ...(n < people ? [{ kind: 'external' as const, value: `${source}-${tag}-${person}` }] : []),
        ],
        attributes: { firstName: `F${n % 7}`, score: n },
        consents: n % 4 === 0 ? { marketing: { email: { status: n % 8 === 0 ? 'granted' : 'denied' } } } : {},
        subscriptions: n % 5 === 0 ? { newsletter: n % 10 === 0 } : {},
      }),
    };
    if (n % 2 === 0) item.options = { observed: { connector: source, externalId: `rec-${person}-${n % 3}`, values: { n } } };
    items.push(item);
    if (n % 9 === 4) items.push(item);
  }
  return items;
}

/** Results without the random profile ids. */
function comparable(results: readonly ApplyResult[]): unknown[] {
  return results.map((result) => {
    if (result.status === 'applied') return { ...result, profileId: '*', mergedProfileIds: result.mergedProfileIds.length };
    return 'profileId' in result ? { ...result, profileId: '*' } : result;
  });
}

/** What the store holds about `email`, without ids and times a second run cannot repeat. */
async function holdings(store: Store, email: string): Promise<unknown> {
  const profile = await store.findProfile({ kind: 'email', value: email });
  if (!profile) return null;
  const shadows = await store.shadowsByProfile(profile.id);
  const ledger = await store.consentHistory(profile.id);
  const history = await store.profileHistory(profile.id);
  const audit = await store.listAudit({ profileId: profile.id, limit: 1000 });
  return {
    profile: { ...profile, id: '*' },
    shadows: shadows.map((s) => ({
      ...s,
      profileId: '*',
      updatedAt: '*',
      valuesAt: Object.fromEntries(Object.keys(s.valuesAt).map((field) => [field, '*'])),
    })),
    ledger: ledger.map((e) => ({ ...e, id: '*', profileId: '*', recordedAt: '*' })),
    history: history.map((e) => ({ ...e, id: '*', profileId: '*', recordedAt: '*' })),
    audit: audit.map((e) => ({ ...e, id: '*', at: '*', profileId: '*', detail: { ...e.detail, mergedFrom: '*' } })).reverse(),
  };
}

async function withStore<T>(dialect: TestDialect, fn: (store: Store, db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await createTestDatabase(dialect);
  const store = await openTestStore(db.url);
  try {
    return await fn(store, db);
  } finally {
    await store.close();
    await db.drop();
  }
}

describe.each(TEST_DIALECTS)('applyPatches as one batch (%s)', (dialect) => {
  it('normalises identities before its transaction: a retried batch logs a rejected identity once', async () => {
    const db = await createTestDatabase(dialect);
    const lines: string[] = [];
    let conflicts = 1;
    const store = await openTestStore(db.url, {
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
      faultInjection: {
        beforeCommit: () => {
          if (conflicts-- > 0) throw new WriteConflictError('injected');
        },
      },
    });
    try {
      const [result] = await store.applyPatches([
        {
          patch: patch({
            identities: [
              { kind: 'email', value: 'kept@example.com' },
              { kind: 'email', value: 'not an address' },
            ],
          }),
        },
      ]);
      expect(result).toMatchObject({ status: 'applied' });
      expect(conflicts).toBe(-1);
      expect(lines.filter((line) => line.includes('identities rejected'))).toHaveLength(1);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('sends a bounded number of statements, whatever the size of the batch', async () => {
    await withStore(dialect, async (store) => {
      const counts: number[] = [];
      for (const size of [10, 100]) {
        await store.applyPatches(mixedBatch(`seed${size}`, size / 2, size / 2));
        const counter = countStatements();
        try {
          const results = await store.applyPatches(mixedBatch(`seed${size}`, size / 2, size));
          expect(results.filter((r) => r.status === 'applied').length).toBeGreaterThan(size / 4);
        } finally {
          counter.stop();
        }
        expect(counter.count, counter.texts.join('\n')).toBeLessThanOrEqual(BATCH_STATEMENTS);
        counts.push(counter.count);
      }
      expect(counts[1]).toBeLessThanOrEqual((counts[0] ?? 0) + 2);
    });
  });

  it('gives the results and rows that applying the patches one by one gives, identity merges included', async () => {
    const tag = 'same';
    const items = mixedBatch(tag, 6, 40);
    // Mid-batch, one patch links two people: their profiles merge, and later patches see the merge.
    items.splice(20, 0, {
      patch: patch({
        source: 'salesforce',
        at: at(100),
        identities: [
          { kind: 'email', value: `${tag}-1@example.com` },
          { kind: 'email', value: `${tag}-2@example.com` },
        ],
        attributes: { lastName: 'Linked' },
      }),
      options: { observed: { connector: 'salesforce', externalId: 'rec-linked', values: { linked: true } } },
    });
    const emails = Array.from({ length: 6 }, (_, person) => `${tag}-${person}@example.com`);
    const oneByOne = await withStore(dialect, async (store) => {
      const results: ApplyResult[] = [];
      for (const item of items) results.push(await store.applyPatch(item.patch, item.options));
      return { results: comparable(results), held: await Promise.all(emails.map((email) => holdings(store, email))) };
    });
    const batched = await withStore(dialect, async (store) => {
      const results = await store.applyPatches(items);
      return { results: comparable(results), held: await Promise.all(emails.map((email) => holdings(store, email))) };
    });
    expect(batched.results).toEqual(oneByOne.results);
    expect(batched.held).toEqual(oneByOne.held);
    expect(oneByOne.results).toContainEqual(expect.objectContaining({ status: 'applied', mergedProfileIds: 1 }));
  });

  it('stores values a list of bound values must escape as they came (quotes, backslashes, braces, NULL, unicode)', async () => {
    const awkward = [
      'a"b',
      'back\\slash\\',
      '{braces}',
      'comma, here',
      'NULL',
      '',
      'line\nbreak\ttab',
      'ünï 😀',
      "it's",
      ' spaced ',
      '\\"',
    ];
    // A bare `NULL` as a whole element: an external id and an attribute's name (a history path).
    const externalId = (value: string, n: number): string => (value === 'NULL' ? value : `ext-${value}-${n}`);
    const sourceOf = (n: number): string => (n % 2 === 0 ? 'hubspot' : 'salesforce');
    const items: Item[] = awkward.map((value, n) => ({
      patch: patch({
        id: `patch-${value}-${n}`,
        source: sourceOf(n),
        at: at(n),
        identities: [
          { kind: 'email', value: `awkward-${n % 3}@example.com` },
          { kind: 'external', value: externalId(value, n), system: sourceOf(n) },
        ],
        attributes: { firstName: value, [value === 'NULL' ? value : `note${n}`]: { text: value, list: [value, null] } },
        consents: n % 2 === 0 ? { marketing: { email: { status: n % 4 === 0 ? 'granted' : 'denied' } } } : {},
      }),
      options: { observed: { connector: 'hubspot', externalId: `rec-${value}-${n}`, values: { firstname: value } } },
    }));
    const emails = [0, 1, 2].map((n) => `awkward-${n}@example.com`);
    const run = (batched: boolean): Promise<{ results: unknown[]; held: unknown[]; found: boolean[] }> =>
      withStore(dialect, async (store) => {
        const results: ApplyResult[] = [];
        if (batched) results.push(...(await store.applyPatches(items)));
        else for (const item of items) results.push(await store.applyPatch(item.patch, item.options));
        // Each person found by each external id stored: the identity rows hold the values as sent.
        const owners = await Promise.all(
          awkward.map((value, n) => store.findProfile({ kind: 'external', value: externalId(value, n), system: sourceOf(n) })),
        );
        const byEmail = await Promise.all(emails.map((email) => store.findProfile({ kind: 'email', value: email })));
        const found = owners.map((owner, n) => owner !== null && owner.id === byEmail[n % 3]?.id);
        return { results: comparable(results), held: await Promise.all(emails.map((email) => holdings(store, email))), found };
      });
    const oneByOne = await run(false);
    const batched = await run(true);
    expect(batched).toEqual(oneByOne);
    expect(batched.found).toEqual(awkward.map(() => true));
    // The values themselves, not only both paths alike: the last patch of each person holds.
    type Held = {
      profile: { attributes: Record<string, { value: unknown }> };
      history: { patchId: string; path: string; offered: unknown }[];
      ledger: { patchId: string }[];
    };
    const [held, second] = batched.held as Held[];
    expect(held?.profile.attributes.note9?.value).toEqual({ text: awkward[9], list: [awkward[9], null] });
    expect(held?.history.map((entry) => entry.offered)).toContainEqual(expect.objectContaining({ value: awkward[0] }));
    expect(second?.history.map((entry) => entry.path)).toContain('NULL');
    expect(held?.ledger.map((entry) => entry.patchId)).toContain(`patch-${awkward[0] ?? ''}-0`);
    expect(second?.history.map((entry) => entry.patchId)).toContain(`patch-${awkward[10] ?? ''}-10`);
  });

  it('finds the owner of a record by its shadow in a statement of records alone (more records than identities)', async () => {
    await withStore(dialect, async (store) => {
      const [known] = await store.applyPatches([
        {
          patch: patch({ source: 'crm', at: at(1), identities: [{ kind: 'email', value: 'known@example.com' }] }),
          options: { observed: { connector: 'crm', externalId: 'rec-known', values: { n: 1 } } },
        },
      ]);
      // 250 records of one person fill the first lookup statement with records; the known
      // record, now reported with a new address, falls into a statement of records alone.
      const fillers = Array.from({ length: 250 }, (_, n) => ({
        patch: patch({ source: 'crm', at: at(2), identities: [{ kind: 'email' as const, value: 'filler@example.com' }] }),
        options: { observed: { connector: 'crm', externalId: `rec-filler-${n}`, values: { n } } },
      }));
      const results = await store.applyPatches([
        ...fillers,
        {
          patch: patch({ source: 'crm', at: at(3), identities: [{ kind: 'email', value: 'moved@example.com' }] }),
          options: { observed: { connector: 'crm', externalId: 'rec-known', values: { n: 2 } } },
        },
      ]);
      const knownId = known && 'profileId' in known ? known.profileId : 'none';
      expect(results.at(-1)).toMatchObject({ status: 'applied', profileId: knownId });
      expect((await store.findProfile({ kind: 'email', value: 'moved@example.com' }))?.id).toBe(knownId);
    });
  });
});

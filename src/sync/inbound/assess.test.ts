import { describe, expect, it } from 'vitest';
import { compileMapping, mapInbound } from '../../connector/mapping.js';
import type { ExternalRecord } from '../../connector/define.js';
import { emptyProfile, merge } from '../../profile/merge.js';
import { MergePolicy, ProfilePatch } from '../../profile/schema.js';
import type { Json } from '../../profile/schema.js';
import type { Shadow } from '../../store/types.js';
import type { SyncConnector } from '../bind.js';
import { assess, instant, patchIdOf } from './assess.js';
import type { BatchState, IngestItem } from './assess.js';
import type { WriteEntry } from './write-log.js';

const mapping = compileMapping({}, [
  { identity: 'email', external: 'email' },
  { field: 'firstName', external: 'first_name' },
  { topic: 'newsletter', external: 'newsletter' },
  { field: 'signedUpAt', external: 'signup_ms', transform: [{ type: 'date', format: 'epoch_ms' }] },
]);

function connector(id = 'crm'): SyncConnector {
  return {
    id,
    type: 'test',
    capabilities: {} as SyncConnector['capabilities'],
    limits: {} as SyncConnector['limits'],
    mapping,
    create: () => Promise.reject(new Error('not in these tests')),
  };
}

const CRM = connector();
const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** A record of `crm` stamped at T0 + `at` and received at T0 + `received` (ms). */
function item(fields: Record<string, Json>, at: number, received: number, extra: Partial<ExternalRecord> = {}, source = CRM): IngestItem {
  return { connector: source, record: { externalId: 'r1', at: iso(T0 + at), fields, ...extra }, receivedAt: iso(T0 + received) };
}

function shadow(values: Record<string, Json>, externalId: string | null = 'r1'): Shadow {
  return {
    profileId: 'p1',
    connector: 'crm',
    externalId,
    values,
    valuesAt: Object.fromEntries(Object.keys(values).map((field) => [field, iso(T0)])),
    lastPushedAt: null,
    updatedAt: iso(T0),
  };
}

/** An accepted write of ours between T0 + `from` and T0 + `to` (null: still open), its outcome in the shadow. */
const write = (from: number, to: number | null, fields: WriteEntry['fields'], prev: WriteEntry['prev'], extra: Partial<WriteEntry> = {}) =>
  ({ from: T0 + from, to: to === null ? null : T0 + to, fields, prev, ok: true, shadowed: true, ...extra }) satisfies WriteEntry;

/** The batch state as `Ingestor` loads it: every record mapped, of profile p1, unsettled, unless told otherwise. */
function batch(items: IngestItem[], over: Partial<Omit<BatchState, 'items'>> = {}): BatchState {
  return {
    items,
    outcomes: items.map(() => undefined),
    mapped: items.map((it) =>
      mapInbound(it.connector.mapping, it.record, {
        source: it.connector.id,
        receivedAt: instant(it.receivedAt),
        patchId: patchIdOf(it.connector.id, it.record),
      }),
    ),
    profileIds: items.map(() => 'p1'),
    loaded: items.map(() => []),
    shadows: items.map(() => null),
    expected: items.map(() => undefined),
    toleranceMs: 50,
    ...over,
  };
}

describe('assess', () => {
  it('a record equal to its shadow is an echo, with nothing for the shadow to learn', () => {
    const out = assess(
      batch([item({ email: 'a@example.com', first_name: 'Ada' }, 0, 10)], {
        shadows: [shadow({ email: 'a@example.com', first_name: 'Ada' })],
      }),
    );
    expect(out.decisions).toEqual([{ kind: 'echo', shadow: null }]);
    expect(out.learnedPrev).toEqual([]);
  });

  it('a record with a real change is applied with only that change and the identities, which then only find the person', () => {
    const it0 = item({ email: 'a@example.com', first_name: 'Ann', newsletter: true }, 0, 10);
    const out = assess(batch([it0], { shadows: [shadow({ email: 'a@example.com', first_name: 'Ada', newsletter: true })] }));
    const decision = out.decisions[0];
    if (decision?.kind !== 'apply') throw new Error('expected a patch to apply');
    expect(decision.patch.id).toBe(patchIdOf('crm', it0.record));
    expect(decision.patch.attributes).toEqual({ firstName: 'Ann' });
    expect(decision.patch.subscriptions).toEqual({});
    expect(decision.patch.identities).toEqual([
      { kind: 'external', system: 'crm', value: 'r1', lookup: true },
      expect.objectContaining({ kind: 'email', value: 'a@example.com', lookup: true }),
    ]);
    // The shadow gets every value the record showed, not only the changed ones.
    expect(decision.options).toEqual({
      observed: { connector: 'crm', externalId: 'r1', values: { email: 'a@example.com', first_name: 'Ann', newsletter: true } },
    });
    expect(decision.unmapped).toEqual([]);
  });

  it('a record nothing is known of (no shadow, no write) is applied whole, as mapped', () => {
    const state = batch([item({ email: 'a@example.com', first_name: 'Ada' }, 0, 10)], { profileIds: [null] });
    const decision = assess(state).decisions[0];
    expect(decision?.kind === 'apply' && decision.patch).toBe(state.mapped[0]?.patch);
  });

  it('values that could not be mapped are named, for the log', () => {
    const out = assess(batch([item({ email: 'a@example.com', signup_ms: 'soon' }, 0, 10)]));
    expect(out.decisions[0]).toMatchObject({ kind: 'apply', unmapped: [expect.stringMatching(/^/)] });
  });

  it('records settled before, or not mapped, are left alone', () => {
    const items = [item({ first_name: 'A' }, 0, 10), item({ first_name: 'B' }, 0, 10), item({ first_name: 'C' }, 0, 10)];
    const state = batch(items);
    const out = assess({
      ...state,
      outcomes: ['busy', undefined, undefined],
      mapped: [state.mapped[0] ?? null, null, state.mapped[2] ?? null],
    });
    expect(out.decisions[0]).toBeUndefined();
    expect(out.decisions[1]).toBeUndefined();
    expect(out.decisions[2]?.kind).toBe('apply');
  });

  it('our own write that landed unseen comes back as an echo: the shadow learns the record and its id', () => {
    // The push died after the write landed: the log has it, the shadow never heard of it.
    const loaded = [[write(100, 110, { email: 'a@example.com', first_name: 'Ada' }, {}, { shadowed: false })]];
    const out = assess(batch([item({ email: 'a@example.com', first_name: 'Ada' }, 105, 200)], { loaded }));
    expect(out.decisions).toEqual([{ kind: 'echo', shadow: { values: { email: 'a@example.com', first_name: 'Ada' }, externalId: 'r1' } }]);
    // Without a profile there is no shadow to teach.
    const unknown = assess(batch([item({ email: 'a@example.com', first_name: 'Ada' }, 105, 200)], { loaded, profileIds: [null] }));
    expect(unknown.decisions).toEqual([{ kind: 'echo', shadow: null }]);
  });

  it('a field the shadow never knew, holding what the hub would write, in a record stamped by our write: an echo that teaches the shadow', () => {
    const loaded = [[write(100, 110, { first_name: 'Ada' }, { first_name: 'Al' })]];
    const state = batch([item({ email: 'a@example.com', first_name: 'Ada', newsletter: true }, 105, 200)], {
      loaded,
      shadows: [shadow({ email: 'a@example.com', first_name: 'Ada' })],
      expected: [{ newsletter: true }],
    });
    expect(assess(state).decisions).toEqual([{ kind: 'echo', shadow: { values: { newsletter: true } } }]);
    // Said by someone else (`echo: false`), it is news.
    const foreign = item({ email: 'a@example.com', first_name: 'Ada', newsletter: true }, 105, 200, { echo: false });
    expect(assess({ ...state, items: [foreign] }).decisions[0]?.kind).toBe('apply');
  });

  it('an earlier record of the batch is the base of a later one of the same external record', () => {
    const items = [item({ first_name: 'Ann' }, 0, 10), item({ first_name: 'Ann' }, 5, 15)];
    const out = assess(batch(items, { shadows: [shadow({ first_name: 'Ada' }), shadow({ first_name: 'Ada' })] }));
    expect(out.decisions.map((d) => d?.kind)).toEqual(['apply', 'echo']);
    // Another external record of the same profile does not take it as its base.
    const other = item({ first_name: 'Ann' }, 5, 15);
    other.record.externalId = 'r2';
    const apart = assess(
      batch([items[0] as IngestItem, other], { shadows: [shadow({ first_name: 'Ada' }), shadow({ first_name: 'Ada' }, 'r2')] }),
    );
    expect(apart.decisions.map((d) => d?.kind)).toEqual(['apply', 'apply']);
  });

  // Storm (api+worker), traced: our write of a status had no landing stamp; a marketer's newer
  // value stamped inside its window left the shadow holding ours, and the marketer taking it back
  // a moment later equalled that shadow: no change, and a push wrote the newer value over it.
  it('a value that raced our write of it, with no stamp of when ours landed, makes the shadow forget the field', () => {
    const loaded = [[write(100, 200, { newsletter: false }, { newsletter: true }, { valuesAt: { newsletter: T0 + 50 } })]];
    const raced = item({ newsletter: true }, 150, 160, { fieldsAt: { newsletter: iso(T0 + 150) }, echo: false });
    const out = assess(batch([raced], { loaded, shadows: [shadow({ first_name: 'Ada', newsletter: false })] }));
    const decision = out.decisions[0];
    if (decision?.kind !== 'apply') throw new Error('expected a patch to apply');
    expect(decision.patch.subscriptions).toEqual({ newsletter: true });
    expect(decision.options.observed).toMatchObject({ values: {}, forget: ['newsletter'] });
    // Taken back, the same in one batch: the later record is judged by the earlier one's state.
    const back = item({ newsletter: false }, 700, 710, { fieldsAt: { newsletter: iso(T0 + 700) }, echo: false });
    const both = assess(
      batch([raced, back], {
        loaded: [loaded[0] ?? [], loaded[0] ?? []],
        shadows: [shadow({ newsletter: false }), shadow({ newsletter: false })],
      }),
    );
    expect(both.decisions.map((d) => d?.kind)).toEqual(['apply', 'apply']);
    // A raced record with nothing new (our write carried no time of its value) still tells the shadow to forget.
    const untimed = [[write(100, 200, { newsletter: false }, { newsletter: true })]];
    const same = assess(batch([raced], { loaded: untimed, shadows: [shadow({ newsletter: true })] }));
    expect(same.decisions).toEqual([{ kind: 'echo', shadow: { values: {}, forget: ['newsletter'] } }]);
  });

  it("records of one profile share its write-log entries: what one snapshot teaches about our write's prev, the next one sees", () => {
    // Two snapshots taken before our write of the name: the first carries the user's edit, the
    // second still holds it. Loaded apart (as `WriteLog.load` parses each), they are judged on one list.
    const ours = (): WriteEntry[] => [write(100, 110, { first_name: 'Hub' }, { first_name: 'Old' })];
    const items = [item({ first_name: 'User' }, 90, 95), item({ first_name: 'User', newsletter: true }, 92, 98)];
    const base = shadow({ first_name: 'Hub', newsletter: false });
    const loaded = [ours(), ours()];
    const out = assess(batch(items, { loaded, shadows: [base, base] }));
    // The second is judged against the user's value the first taught: only the newsletter changed.
    const [first, second] = out.decisions;
    if (first?.kind !== 'apply' || second?.kind !== 'apply') throw new Error('expected two patches to apply');
    expect(first.patch.attributes).toEqual({ firstName: 'User' });
    expect(second.patch.attributes).toEqual({});
    expect(Object.keys(second.patch.subscriptions)).toEqual(['newsletter']);
    // Neither snapshot goes to the shadow for the field our write sent since.
    expect(first.options.observed?.values).toEqual({});
    expect(second.options.observed?.values).toEqual({ newsletter: true });
    // The entries to store once, with what was learned; the first record's list is the one shared.
    expect(out.learnedPrev).toEqual([{ connector: 'crm', profileId: 'p1', entries: loaded[0] }]);
    expect(out.learnedPrev[0]?.entries).toBe(loaded[0]);
    expect(loaded[0]?.[0]?.prev).toEqual({ first_name: 'User' });
    expect(loaded[1]?.[0]?.prev).toEqual({ first_name: 'Old' });
  });

  it('each profile and system has its own entries and learns apart', () => {
    const ours = (): WriteEntry[] => [write(100, 110, { first_name: 'Hub' }, { first_name: 'Old' })];
    const erp = connector('erp');
    const items = [
      item({ first_name: 'User' }, 90, 95),
      item({ first_name: 'User' }, 90, 95, {}, erp),
      item({ first_name: 'Old' }, 90, 95),
    ];
    (items[2] as IngestItem).record.externalId = 'r3';
    const loaded = [ours(), ours(), ours()];
    const base = shadow({ first_name: 'Hub' });
    const out = assess(
      batch(items, {
        loaded,
        shadows: [base, { ...base, connector: 'erp' }, { ...base, externalId: 'r3' }],
        profileIds: ['p1', 'p1', 'p3'],
      }),
    );
    expect(out.learnedPrev.map(({ connector: c, profileId }) => `${c}/${profileId}`)).toEqual(['crm/p1', 'erp/p1', 'crm/p3']);
    expect(out.decisions.map((d) => d?.kind)).toEqual(['apply', 'apply', 'echo']);
    expect(loaded.map((l) => l[0]?.prev)).toEqual([{ first_name: 'User' }, { first_name: 'User' }, { first_name: 'Old' }]);
  });

  // The symmetric case of our value standing: a rep withdraws (sets back the value our write
  // replaced) after our write ended; a read begun before it ended returns the record stamped by
  // the rep. It cannot predate our write: the withdrawal is applied, and the shadow learns it.
  it("a rep's revert after our write ended is applied, even from a read begun before it ended", () => {
    const ours = (): WriteEntry[] => [write(521, 613, { newsletter: true }, { newsletter: false })];
    const base = shadow({ email: 'a@example.com', newsletter: true });
    const reverted = item({ email: 'a@example.com', newsletter: false }, 700, 600, { echo: false });
    const out = assess(batch([reverted], { loaded: [ours()], shadows: [base] }));
    const decision = out.decisions[0];
    if (decision?.kind !== 'apply') throw new Error('expected a patch to apply');
    expect(Object.keys(decision.patch.subscriptions)).toEqual(['newsletter']);
    expect(decision.options.observed?.values).toEqual({ email: 'a@example.com', newsletter: false });
    // Stamped within the clock tolerance of our write's end, it may be a snapshot from before it: judged as one.
    const close = item({ email: 'a@example.com', newsletter: false }, 650, 600, { echo: false });
    expect(assess(batch([close], { loaded: [ours()], shadows: [base] })).decisions[0]).toEqual({ kind: 'echo', shadow: null });
  });

  // Storm (api+worker), traced: a marketer set the name at .845; our write of the newsletter
  // landed at .943 (the record's time, the system's last change); an operator set the name in
  // the hub at .938. The value read carries its own time (HubSpot's property history): the
  // marketer's older name is news for the shadow, but loses the merge to the operator's newer one.
  it("a field stamped apart keeps its own time, before the record's: an older edit read after our write loses to a newer one", () => {
    const ours = [write(900, 950, { newsletter: true }, { newsletter: false }, { landedAt: T0 + 943 })];
    const read = item({ email: 'a@example.com', first_name: 'Marketer', newsletter: true }, 943, 960, {
      fieldsAt: { first_name: iso(T0 + 845), newsletter: iso(T0 + 943) },
    });
    const base = shadow({ email: 'a@example.com', first_name: 'Before', newsletter: true });
    const decision = assess(batch([read], { loaded: [ours], shadows: [base] })).decisions[0];
    if (decision?.kind !== 'apply') throw new Error('expected a patch to apply');
    expect(decision.patch.attributes).toEqual({ firstName: 'Marketer' });
    expect(decision.patch.slotsAt).toEqual({ 'attributes.firstName': iso(T0 + 845) });
    expect(decision.options.observed?.values).toMatchObject({ first_name: 'Marketer' });

    const policy = MergePolicy.parse({});
    const admin = merge(
      emptyProfile('p1'),
      ProfilePatch.parse({
        id: 'admin:1',
        source: 'admin',
        at: iso(T0 + 938),
        receivedAt: iso(T0 + 938),
        attributes: { firstName: 'Operator' },
      }),
      policy,
    ).profile;
    expect(merge(admin, decision.patch, policy).profile.attributes['firstName']).toMatchObject({ value: 'Operator' });
    // Stamped with the record's time (the contact's lastmodifieddate), the older edit won.
    const unstamped = item({ email: 'a@example.com', first_name: 'Marketer', newsletter: true }, 943, 960);
    const wrong = assess(batch([unstamped], { loaded: [ours], shadows: [base] })).decisions[0];
    if (wrong?.kind !== 'apply') throw new Error('expected a patch to apply');
    expect(merge(admin, wrong.patch, policy).profile.attributes['firstName']).toMatchObject({ value: 'Marketer' });
  });

  it('a record taken after our writes teaches no prev', () => {
    const loaded = [[write(100, 110, { first_name: 'Hub' }, { first_name: 'Old' })]];
    const out = assess(batch([item({ first_name: 'Hub' }, 105, 200)], { loaded, shadows: [shadow({ first_name: 'Hub' })] }));
    expect(out.decisions).toEqual([{ kind: 'echo', shadow: null }]);
    expect(out.learnedPrev).toEqual([]);
  });
});

/**
 * The Segment connector against its emulator, beyond the conformance suite: what an identify
 * carries, delivery through the official client's retries without doubling, pulls over the
 * records the hub knows, exports by e-mail, and erasure followed through a regulation's life.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectorInstance, FindQuery, KnownRecord, PushRecord } from '../../../src/connector/define.js';
import { RateLimitedError } from '../../../src/connector/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { createSegmentInstance } from '../../../connectors/segment/connector.js';
import type { SegmentConfigInput, SegmentCursor } from '../../../connectors/segment/config.js';
import { DEFAULT_SPACE_ID, type RunningSegmentEmulator } from '../../../connectors/segment/emulator/index.js';
import { emulator, SECRET } from './emulator-helpers.js';

const signal = (): AbortSignal => new AbortController().signal;

function instance(
  e: RunningSegmentEmulator,
  config: Partial<SegmentConfigInput> = {},
  known: Map<string, string> = new Map(),
): ConnectorInstance<SegmentCursor> {
  const knownRecords = async (page: { after?: string; limit: number }): Promise<KnownRecord[]> =>
    [...known.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .filter(([key]) => page.after === undefined || key > page.after)
      .slice(0, page.limit)
      .map(([key, externalId]) => ({ key, externalId }));
  return createSegmentInstance({
    instanceId: 'segment',
    logger: silentLogger(),
    knownRecords,
    config: {
      writeKey: 'test-write-key',
      baseUrl: e.url,
      spaceId: DEFAULT_SPACE_ID,
      profileToken: 'test-profile-token',
      publicApiToken: 'test-public-api-token',
      webhookSecret: SECRET,
      regulationPollMs: 20,
      consentCategories: [{ category: 'Email Marketing', consent: 'marketing.email' }],
      ...config,
    } as never,
  });
}

const record = (i: number, over: Partial<PushRecord> = {}): PushRecord => ({
  profileId: `p-${String(i).padStart(4, '0')}`,
  fields: { email: `person${i}@example.com`, firstName: `P${i}`, 'consent:Email Marketing': i % 2 === 0 },
  valuesAt: { firstName: '2026-12-01T10:00:00.000Z', 'consent:Email Marketing': '2026-12-02T10:00:00.000Z' },
  ...over,
});

describe('Segment push', () => {
  it('sends one identify per record: traits, consent categories in context, the latest choice as timestamp, a concord messageId', async () => {
    const e = await emulator();
    const outcomes = await instance(e).push?.([record(1), record(2, { externalId: 'known-user' })], signal());
    expect(outcomes).toEqual([
      { status: 'ok', profileId: 'p-0001', externalId: 'p-0001' },
      { status: 'ok', profileId: 'p-0002', externalId: 'known-user' },
    ]);
    const [first, second] = e.sideDoor.events().map((ev) => ev.message);
    expect(first).toMatchObject({
      type: 'identify',
      userId: 'p-0001',
      traits: { email: 'person1@example.com', firstName: 'P1' },
      context: { consent: { categoryPreferences: { 'Email Marketing': false } } },
      timestamp: '2026-12-02T10:00:00.000Z',
    });
    expect(first?.traits).not.toHaveProperty('consent:Email Marketing');
    expect(first?.messageId).toMatch(/^concord-/);
    expect(second).toMatchObject({ userId: 'known-user', context: { consent: { categoryPreferences: { 'Email Marketing': true } } } });
    expect(e.sideDoor.calls().byEndpoint).toMatchObject({ 'POST /v1/batch': 1 });
  });

  // Review finding: a name change went out without its consent context, and Segment forwards
  // such an event to every destination unenforced.
  it('every identify carries every consent category: one the record does not carry has no granted state, false', async () => {
    const e = await emulator();
    await instance(e).push?.([record(10, { fields: { firstName: 'Only' } })], signal());
    expect(e.sideDoor.events()[0]?.message).toMatchObject({
      traits: { firstName: 'Only' },
      context: { consent: { categoryPreferences: { 'Email Marketing': false } } },
    });
  });

  it('an aborted push rejects, and its client sends nothing afterwards (no old value after a newer one)', async () => {
    const e = await emulator();
    e.sideDoor.failNextTrackingCalls(1, 503);
    const abort = new AbortController();
    const pushing = instance(e).push?.([record(13)], abort.signal);
    await new Promise((r) => setTimeout(r, 100));
    abort.abort(new Error('shutdown'));
    await expect(pushing).rejects.toThrow();
    // The client would retry after its backoff (at least 500 ms).
    await new Promise((r) => setTimeout(r, 1_500));
    expect(e.sideDoor.calls().byEndpoint['POST /v1/batch']).toBe(1);
    expect(e.sideDoor.events()).toHaveLength(0);
  });

  it('close waits for a push in flight to be delivered', async () => {
    const e = await emulator();
    const segment = instance(e);
    e.sideDoor.failNextTrackingCalls(1, 503);
    let answered = false;
    const pushing = segment.push?.([record(14)], signal()).then((o) => {
      answered = true;
      return o;
    });
    await new Promise((r) => setTimeout(r, 50));
    await segment.close?.();
    expect(answered).toBe(true);
    expect((await pushing)?.map((o) => o.status)).toEqual(['ok']);
  });

  it('a lost answer is retried by the client and Segment drops the repeat: one event, the push ok', async () => {
    const e = await emulator();
    e.sideDoor.failNextTrackingCalls(1, 503, { afterAccepting: true });
    const outcomes = await instance(e).push?.([record(3)], signal());
    expect(outcomes?.map((o) => o.status)).toEqual(['ok']);
    expect(e.sideDoor.events()).toHaveLength(1);
    expect(e.sideDoor.duplicates()).toBe(1);
  });

  it('past the client’s retries the records are retryable, and pushing them again sends the same messageIds', async () => {
    const e = await emulator();
    const segment = instance(e);
    // The client tries 1 + 2 times; the calls are taken each time and only the answers fail.
    e.sideDoor.failNextTrackingCalls(3, 503, { afterAccepting: true });
    const failed = await segment.push?.([record(4), record(5)], signal());
    expect(failed?.map((o) => o.status)).toEqual(['retryable', 'retryable']);
    const again = await segment.push?.([record(4), record(5)], signal());
    expect(again?.map((o) => o.status)).toEqual(['ok', 'ok']);
    expect(e.sideDoor.events()).toHaveLength(2);
    expect(e.sideDoor.duplicates()).toBe(6);
    // The same value chosen again later is a new change.
    await segment.push?.([record(4, { valuesAt: { firstName: '2026-12-03T00:00:00.000Z' } })], signal());
    expect(e.sideDoor.events()).toHaveLength(3);
  });

  // The client's own size check counts pieces of the encoded JSON, not bytes: this event passed
  // it, and Segment answered 400 for the whole batch, three records dead-lettered for one.
  it('an event over 32 KB is rejected before sending and the rest of the batch goes out', async () => {
    const e = await emulator();
    const big = record(6, { fields: { email: 'big@example.com', notes: 'x'.repeat(40 * 1024) } });
    const outcomes = await instance(e).push?.([record(7), big, record(8)], signal());
    expect(outcomes?.map((o) => o.status)).toEqual(['ok', 'rejected', 'ok']);
    expect(outcomes?.[1]).toMatchObject({ code: 'segment_event_too_large' });
    expect(e.sideDoor.events().map((ev) => ev.message.userId)).toEqual(['p-0007', 'p-0008']);
  });

  it('a batch of 500 goes in one call when it fits under 500 KB, else in calls under it, never answered 400', async () => {
    const e = await emulator();
    const small = Array.from({ length: 500 }, (_, i) => record(1000 + i));
    expect((await instance(e).push?.(small, signal()))?.every((o) => o.status === 'ok')).toBe(true);
    expect(e.sideDoor.calls().byEndpoint['POST /v1/batch']).toBe(1);
    const large = Array.from({ length: 500 }, (_, i) =>
      record(2000 + i, { fields: { email: `l${i}@example.com`, notes: 'n'.repeat(1500) } }),
    );
    expect((await instance(e).push?.(large, signal()))?.every((o) => o.status === 'ok')).toBe(true);
    // About 1.9 KB an event as sent: at least two calls, each under Segment's 500 KB.
    expect(e.sideDoor.calls().byEndpoint['POST /v1/batch']).toBeGreaterThanOrEqual(3);
    expect(e.sideDoor.events()).toHaveLength(1_000);
    expect(e.sideDoor.dropped()).toEqual([]);
  });

  it('a 429 is not waited out inside the client: the push throws RateLimitedError with the Retry-After', async () => {
    const e = await emulator();
    e.sideDoor.rateLimitNextCall(7);
    const err = await instance(e)
      .push?.([record(9)], signal())
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(7000);
  });
});

describe('Segment pull, read and export', () => {
  it('walks the profiles the hub knows, profilesPerPull per run, each trait stamped with when it was set', async () => {
    const e = await emulator();
    const known = new Map<string, string>();
    const segment = instance(e, { profilesPerPull: 3 }, known);
    const batch = [1, 2, 3, 4, 5].map((i) => record(i));
    await segment.push?.(batch, signal());
    for (const r of batch) known.set(r.profileId, r.profileId);
    known.set('p-9999', 'not-in-segment');
    const runs: { ids: string[]; cursor: SegmentCursor | undefined }[] = [];
    let cursor: SegmentCursor | undefined;
    for (let run = 0; run < 4; run++) {
      const ids: string[] = [];
      for await (const page of segment.pull?.(cursor, signal()) ?? []) {
        ids.push(...page.records.map((r) => r.externalId));
        cursor = page.cursor;
      }
      runs.push({ ids, cursor });
    }
    expect(runs).toEqual([
      { ids: ['p-0001', 'p-0002', 'p-0003'], cursor: { after: 'p-0003' } },
      // A profile Segment does not hold is left out.
      { ids: ['p-0004', 'p-0005'], cursor: { after: 'p-9999' } },
      // The walk's end clears the cursor, and the next pull starts over.
      { ids: [], cursor: {} },
      { ids: ['p-0001', 'p-0002', 'p-0003'], cursor: { after: 'p-0003' } },
    ]);
    const [read] = (await segment.read?.(['p-0001', 'nobody'], signal())) ?? [];
    const received = e.sideDoor.profile('p-0001')?.traits['firstName']?.updatedAt;
    expect(read).toMatchObject({ externalId: 'p-0001', fields: { email: 'person1@example.com', firstName: 'P1' } });
    expect(read?.fieldsAt?.['firstName']).toBe(received);
    expect(read?.at).toBe(
      Object.values(read?.fieldsAt ?? {})
        .sort()
        .at(-1),
    );
  });

  it('exports by e-mail (the profile’s user ids through the email: identifier) with its external ids', async () => {
    const e = await emulator();
    const segment = instance(e);
    await segment.push?.([record(11)], signal());
    const byEmail = (await segment.export?.([{ email: 'person11@example.com' }, { email: 'nobody@example.com' }], signal())) ?? [];
    expect(byEmail.map((r) => r.externalId)).toEqual(['p-0011']);
    expect(byEmail[0]?.related?.externalIds).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'user_id', id: 'p-0011' }),
        expect.objectContaining({ type: 'email', id: 'person11@example.com' }),
      ]),
    );
  });

  it('without the Profile API: no read or export, and pulls yield nothing', async () => {
    const e = await emulator();
    const segment = instance(e, { spaceId: undefined, profileToken: undefined });
    expect(segment.read).toBeUndefined();
    expect(segment.export).toBeUndefined();
    const pages = [];
    for await (const page of segment.pull?.(undefined, signal()) ?? []) pages.push(page);
    expect(pages).toEqual([]);
  });

  it('a Profile API 429 surfaces as RateLimitedError with its Retry-After', async () => {
    const e = await emulator();
    const segment = instance(e);
    await segment.push?.([record(12)], signal());
    e.sideDoor.rateLimitNextCall(2);
    await expect(segment.read?.(['p-0012'], signal())).rejects.toMatchObject({ retryAfterMs: 2000 });
  });
});

describe('Segment erasure', () => {
  it('one regulation for the batch, pending with its id until FINISHED; an unknown address is not_found', async () => {
    const e = await emulator({ regulationStepMs: 30 });
    const segment = instance(e);
    await segment.push?.([record(21), record(22)], signal());
    const refs = [{ externalId: 'p-0021' }, { email: 'person22@example.com' }, { email: 'nobody@example.com' }];
    const outcomes = (await segment.erase?.(refs, signal())) ?? [];
    expect(outcomes.map((o) => o.status)).toEqual(['pending', 'pending', 'not_found']);
    expect(e.sideDoor.regulations()).toHaveLength(1);
    const ticket = outcomes[0]?.status === 'pending' ? outcomes[0].ticket : '';
    expect(outcomes[1]).toMatchObject({ status: 'pending', ticket, progress: `regulation ${ticket} INITIALIZED` });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const [progress] = (await segment.eraseProgress?.([ticket], signal())) ?? [];
      seen.add(progress?.status === 'failed' ? 'failed' : (progress?.progress ?? ''));
      if (progress?.status === 'done') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect([...seen].at(-1)).toBe(`regulation ${ticket} FINISHED`);
    expect(seen).toContain(`regulation ${ticket} RUNNING`);
    expect(await segment.read?.(['p-0021', 'p-0022'], signal())).toEqual([]);
    // SUPPRESS_WITH_DELETE, of both user ids.
    expect(e.sideDoor.suppressed().sort()).toEqual(['p-0021', 'p-0022']);
  });

  it('a regulation that ends FAILED or PARTIAL_SUCCESS fails with that status, for a person to look at', async () => {
    for (const outcome of ['FAILED', 'PARTIAL_SUCCESS'] as const) {
      const e = await emulator({ regulationStepMs: 1 });
      const segment = instance(e);
      e.sideDoor.failNextRegulation(outcome);
      const [pending] = (await segment.erase?.([{ externalId: 'u-1' }], signal())) ?? [];
      const ticket = pending?.status === 'pending' ? pending.ticket : '';
      await new Promise((r) => setTimeout(r, 20));
      expect(await segment.eraseProgress?.([ticket], signal())).toEqual([
        {
          ticket,
          status: 'failed',
          retryable: false,
          reason: `regulation ${ticket} ${outcome}: see the regulation's streamStatus in Segment`,
        },
      ]);
    }
  });

  it('scoped to a source, the regulation is created under /regulations/sources/{id}', async () => {
    const e = await emulator({ regulationStepMs: 1 });
    const [pending] = (await instance(e, { regulationSourceId: 'src_web' }).erase?.([{ externalId: 'u-3' }], signal())) ?? [];
    expect(pending?.status).toBe('pending');
    expect(e.sideDoor.calls().byEndpoint).toMatchObject({ 'POST /regulations/sources/:sourceId': 1 });
  });

  it('a regulation the workspace does not know (its token or region changed) fails that ticket alone, to be tried again', async () => {
    const e = await emulator({ regulationStepMs: 1 });
    const segment = instance(e);
    const [pending] = (await segment.erase?.([{ externalId: 'u-4' }], signal())) ?? [];
    const ticket = pending?.status === 'pending' ? pending.ticket : '';
    await new Promise((r) => setTimeout(r, 20));
    expect(await segment.eraseProgress?.([ticket, 'reg_unknown'], signal())).toEqual([
      { ticket, status: 'done', progress: `regulation ${ticket} FINISHED` },
      { ticket: 'reg_unknown', status: 'failed', retryable: true, reason: 'regulation reg_unknown not found in the workspace' },
    ]);
  });

  it('past 5,000 subjects: when a second regulation cannot be created, the first is kept and only the rest is tried again', async () => {
    const e = await emulator({ regulationCreatesPerMinute: 1 });
    const segment = instance(e, { spaceId: undefined, profileToken: undefined });
    const refs = Array.from({ length: 5_001 }, (_, i) => ({ externalId: `u-${i}` }));
    const outcomes = (await segment.erase?.(refs, signal())) ?? [];
    expect(e.sideDoor.regulations()).toHaveLength(1);
    expect(new Set(outcomes.slice(0, 5_000).map((o) => (o.status === 'pending' ? o.ticket : o.status))).size).toBe(1);
    expect(outcomes[0]?.status).toBe('pending');
    expect(outcomes[5_000]).toMatchObject({ status: 'failed', retryable: true });
  });

  it('without a Public API token every reference fails for good, saying what to set', async () => {
    const e = await emulator();
    const outcomes = await instance(e, { publicApiToken: undefined }).erase?.([{ externalId: 'u-2' }], signal());
    expect(outcomes).toEqual([
      {
        status: 'failed',
        ref: { externalId: 'u-2' },
        retryable: false,
        reason: 'erasure in Segment needs publicApiToken (a Public API token)',
      },
    ]);
  });
});

describe('Segment find', () => {
  const query = (q: Partial<FindQuery>): FindQuery => ({ emails: [], phones: [], externalIds: [], ...q });

  it('finds a profile by e-mail and user id, and a phone only through the space’s phone identifier', async () => {
    const e = await emulator({ customIdentifiers: ['phone'] });
    e.sideDoor.downstreamIdentify('user-a', { email: 'pat@example.com', phone: '+14155550123' });
    e.sideDoor.downstreamIdentify('user-b', { email: 'sam@example.com' });
    const withoutPhones = instance(e);
    e.sideDoor.resetCalls();
    const answers = await withoutPhones.find?.(
      [
        query({ emails: ['PAT@example.com'], externalIds: ['user-a'] }),
        query({ phones: ['+14155550123'] }),
        query({ externalIds: ['user-b', 'nobody'] }),
      ],
      signal(),
    );
    expect(answers).toEqual([
      [{ externalId: 'user-a', matchedBy: ['email', 'externalId'] }],
      [],
      [{ externalId: 'user-b', matchedBy: ['externalId'] }],
    ]);
    // One lookup for the e-mail (which found user-a), one per other id; none for the phone.
    expect(e.sideDoor.calls().total).toBe(3);
    const withPhones = instance(e, { phoneIdentifier: 'phone' });
    expect(await withPhones.find?.([query({ phones: ['+14155550123'] })], signal())).toEqual([
      [{ externalId: 'user-a', matchedBy: ['phone'] }],
    ]);
  });
});

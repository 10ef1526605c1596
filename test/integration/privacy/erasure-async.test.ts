/**
 * Erasure in a system that carries it out later, as Segment's regulations do: the system
 * accepts the erasure under a ticket (`pending`), and the eraser asks it how it is going
 * (`eraseProgress`) until it is done or failed. Meanwhile the request stays in progress with
 * the system's progress visible and no attempt spent, overdue-visible past its deadline; once
 * done, the system is read back and the request completes with the ticket kept as proof. A
 * failure the system reports is retried with a new erasure (retryable) or fails the system.
 * The systems are in-memory (`connectors/memory`, `asyncErase`), driven through their side door.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describe as describeRequest } from '../../../src/cli/commands/dsr.js';
import { DsrView as DsrViewSchema, PrivacyService } from '../../../src/privacy/index.js';
import type { PrivacyTuningInput } from '../../../src/privacy/options.js';
import type { DsrView } from '../../../src/privacy/index.js';
import type { TestDialect } from '../../../harness/db.js';
import { startHub, waitFor as waitUntil, type Hub } from '../../../harness/sync-hub.js';
import type { MemorySystem } from '../../../connectors/memory/index.js';

const ADA = 'ada@example.com';
const DAY_MS = 86_400_000;

/** Short timings for the privacy module (see harness/privacy-hub.ts). */
const TUNING = {
  eraseBatchWaitMs: 20,
  backoff: { baseMs: 50, maxMs: 300, jitter: 0.2 },
  sweepEveryMs: 3_600_000,
  callRetryMinMs: 10,
  limiterMarginMs: 10,
  erasePollMinMs: 10,
} as const;

interface AsyncHub {
  hub: Hub;
  privacy: PrivacyService;
  /** The system that erases later. */
  crm: MemorySystem;
  /** A system that erases at once. */
  mail: MemorySystem;
  /** Moves the privacy service's clock (deadlines, overdue). */
  clock: { offsetMs: number };
  waitFor(id: string, done: (view: DsrView) => boolean, timeoutMs?: number): Promise<DsrView>;
  close(): Promise<void>;
}

/** Ada, made in the CRM (which erases later) and carried by the hub to the mailing tool. */
async function start(dialect: TestDialect, tuning: Partial<PrivacyTuningInput> = {}): Promise<AsyncHub> {
  const hub = await startHub({
    dialect,
    systems: [{ id: 'crm', system: { asyncErase: { steps: 2, checkAfterMs: 30 } } }, { id: 'mail' }],
  });
  const clock = { offsetMs: 0 };
  const privacy = new PrivacyService({
    store: hub.store,
    redis: hub.engine.connection,
    prefix: hub.engine.prefix,
    connectors: hub.connectors,
    policy: hub.policy,
    ingestPatch: () => Promise.reject(new Error('this test makes no hub patches')),
    metrics: hub.engine.metrics.registry,
    now: () => Date.now() + clock.offsetMs,
    options: { tuning: { ...TUNING, ...tuning } },
  });
  privacy.attachSources(hub.engine);
  await privacy.start(hub.engine);
  const crm = hub.systems['crm'] as MemorySystem;
  const mail = hub.systems['mail'] as MemorySystem;
  crm.change({ email: ADA, first_name: 'Ada', email_opt_out: false });
  await hub.settle();
  expect(mail.get({ email: ADA })).toBeDefined();
  return {
    hub,
    privacy,
    crm,
    mail,
    clock,
    async waitFor(id, done, timeoutMs = 30_000) {
      let last: DsrView | undefined;
      await waitUntil(
        async () => {
          const view = await privacy.get(id);
          if (!view.ok) throw view.error;
          last = view.value;
          return done(view.value);
        },
        timeoutMs,
        `request ${id}`,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}: ${JSON.stringify(last)}`);
      });
      if (!last) throw new Error('no view');
      return last;
    },
    async close() {
      await privacy.close();
      await hub.close();
    },
  };
}

const system = (view: DsrView, connector: string) => view.systems.find((s) => s.connector === connector);

async function submitErasure(h: AsyncHub): Promise<string> {
  const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: ADA } }, { origin: 'api', actor: 'test' });
  if (!submitted.ok) throw submitted.error;
  expect(submitted.value.systems.map((s) => s.connector).sort()).toEqual(['crm', 'mail']);
  return submitted.value.id;
}

/** Submits Ada's erasure with the CRM's first ticket set to fail. */
function eraseFailingFirst(h: AsyncHub, reason: string, retryable: boolean): Promise<string> {
  h.crm.failNextErasure(reason, retryable);
  return submitErasure(h);
}

/** Audit rows of one action, oldest first. */
async function auditsOf(h: AsyncHub, action: string) {
  return (await h.hub.store.listAudit({ limit: 1000 })).filter((a) => a.action === action).reverse();
}

describe('erasure in a system that carries it out later', () => {
  let h: AsyncHub | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('stays in progress with the system’s progress and no attempt spent, overdue-visible, then completes verified with the ticket as proof', async () => {
    h = await start('sqlite');
    const { crm, mail } = h;
    crm.holdErasures();
    const id = await submitErasure(h);

    const waiting = await h.waitFor(
      id,
      (v) => system(v, 'crm')?.progress?.text === 'erasure erq_1 RUNNING' && system(v, 'mail')?.status === 'completed',
    );
    expect(waiting.status).toBe('in_progress');
    expect(system(waiting, 'crm')).toMatchObject({
      status: 'in_progress',
      attempts: 0,
      error: null,
      outcome: null,
      progress: { text: 'erasure erq_1 RUNNING', tickets: ['erq_1'] },
    });
    expect(crm.get({ email: ADA })).toBeDefined();
    expect(mail.get({ email: ADA })).toBeUndefined();
    // As the admin API (its response schema) and `concord dsr show` give it.
    expect(DsrViewSchema.parse(waiting).systems.find((s) => s.connector === 'crm')?.progress).toMatchObject({ tickets: ['erq_1'] });
    expect(describeRequest(waiting)).toMatch(
      /crm +in_progress +attempts 0\n +progress: erasure erq_1 RUNNING \(since .+, reported .+; erq_1\)/,
    );

    // The eraser keeps asking; waiting for the system spends no attempt and calls erase only once.
    const asked = crm.getStats().calls.erasures;
    await waitUntil(() => crm.getStats().calls.erasures >= asked + 2, 10_000, 'more questions about the ticket');
    const still = await h.waitFor(id, () => true);
    expect(system(still, 'crm')).toMatchObject({ status: 'in_progress', attempts: 0, error: null });
    // An unchanged answer writes nothing: the progress is still the one first reported.
    expect(system(still, 'crm')?.progress).toEqual(system(waiting, 'crm')?.progress);
    expect(system(still, 'crm')?.updatedAt).toBe(system(waiting, 'crm')?.updatedAt);
    expect(crm.getStats().calls.erase).toBe(1);
    // Audited when the system accepted it and when its progress changed, not at every question.
    expect((await auditsOf(h, 'dsr.erase.pending')).map((a) => [a.detail['connector'], a.detail['progress']])).toEqual([
      ['crm', 'erasure erq_1 INITIALIZED'],
      ['crm', 'erasure erq_1 RUNNING'],
    ]);
    expect(await auditsOf(h, 'dsr.erase.retry')).toEqual([]);

    // Past the legal deadline while the system is still at it: overdue, in the list and the metric.
    h.clock.offsetMs = 40 * DAY_MS;
    const late = await h.waitFor(id, () => true);
    expect(late).toMatchObject({ status: 'in_progress', overdue: true });
    expect((await h.privacy.list({ overdue: true })).map((v) => v.id)).toEqual([id]);
    expect(await h.hub.engine.metrics.registry.metrics()).toMatch(/concord_dsr_overdue\{kind="erase"\} 1/);

    crm.holdErasures(false);
    const done = await h.waitFor(id, (v) => v.status === 'completed');
    expect(system(done, 'crm')).toMatchObject({
      status: 'completed',
      attempts: 1,
      error: null,
      progress: null,
      outcome: expect.objectContaining({ outcome: 'erased', records: 1, verified: 'yes', tickets: ['erq_1'] }),
    });
    expect(crm.get({ email: ADA })).toBeUndefined();
    expect(crm.erasureTickets()).toEqual([{ ticket: 'erq_1', state: 'FINISHED', records: 1 }]);
    expect(crm.getStats().calls.erase).toBe(1);
    expect(await h.hub.store.findProfile({ kind: 'email', value: ADA })).toBeNull();
    // Only the proof is kept: no address, and no erasure state beside the outcome.
    const row = await h.hub.store.getDsr(id);
    expect(row?.detail['erasing']).toBeUndefined();
    const rows = [await h.hub.db.query('select * from dsr'), await h.hub.db.query('select * from audit_log')];
    expect(JSON.stringify(rows).toLowerCase()).not.toContain('ada@');
  });

  it('a ticket the system fails with a retryable reason is forgotten: a new erasure, then completed', async () => {
    h = await start('sqlite');
    const { crm } = h;
    const id = await eraseFailingFirst(h, 'quota exceeded', true);
    const done = await h.waitFor(id, (v) => v.status === 'completed');
    expect(system(done, 'crm')).toMatchObject({
      status: 'completed',
      attempts: 2,
      error: null,
      outcome: expect.objectContaining({ outcome: 'erased', records: 1, verified: 'yes', tickets: ['erq_2'] }),
    });
    expect(crm.erasureTickets()).toEqual([
      { ticket: 'erq_1', state: 'FAILED', records: 1 },
      { ticket: 'erq_2', state: 'FINISHED', records: 1 },
    ]);
    expect(crm.getStats().calls.erase).toBe(2);
    expect(crm.get({ email: ADA })).toBeUndefined();
    expect((await auditsOf(h, 'dsr.erase.retry')).map((a) => a.detail['reason'])).toEqual(['erasure erq_1 FAILED: quota exceeded']);
  });

  it('a ticket the system fails for good fails the system with the reason; a retry starts a new erasure', async () => {
    h = await start('postgres');
    const { crm } = h;
    const id = await eraseFailingFirst(h, 'subject type not supported', false);
    const failed = await h.waitFor(id, (v) => v.status === 'failed');
    expect(system(failed, 'crm')).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: 'erasure erq_1 FAILED: subject type not supported',
      progress: null,
      outcome: expect.objectContaining({ outcome: 'failed' }),
    });
    expect(system(failed, 'mail')).toMatchObject({ status: 'completed' });
    expect(crm.get({ email: ADA })).toBeDefined();

    const retried = await h.privacy.retry(id, 'test');
    if (!retried.ok) throw retried.error;
    const done = await h.waitFor(id, (v) => v.status === 'completed');
    expect(system(done, 'crm')).toMatchObject({
      status: 'completed',
      outcome: expect.objectContaining({ outcome: 'erased', verified: 'yes', tickets: ['erq_2'] }),
    });
    expect(crm.get({ email: ADA })).toBeUndefined();
    expect(crm.getStats().calls.erase).toBe(2);
  });

  it('asking fails: a 503 keeps the ticket and counts an attempt with the error visible, a 429 parks without one; then done from the same ticket', async () => {
    // A backoff long enough to see the failure before the next question.
    h = await start('sqlite', { backoff: { baseMs: 1_500, maxMs: 3_000, jitter: 0.1 } });
    const { crm } = h;
    crm.holdErasures();
    const id = await submitErasure(h);
    await h.waitFor(id, (v) => system(v, 'crm')?.progress?.text === 'erasure erq_1 RUNNING');

    // The call's quick retries fail too: the attempt counts, the ticket stays.
    crm.failNextCalls('server_error', 'server_error', 'server_error');
    const failing = await h.waitFor(id, (v) => system(v, 'crm')?.error !== null);
    expect(system(failing, 'crm')).toMatchObject({
      status: 'in_progress',
      attempts: 1,
      error: expect.stringMatching(/503|Transient|unavailable/i),
      progress: { text: 'erasure erq_1 RUNNING', tickets: ['erq_1'] },
    });
    // The next answer, still RUNNING, clears the error; waiting spends no further attempt.
    const recovered = await h.waitFor(id, (v) => system(v, 'crm')?.error === null, 15_000);
    expect(system(recovered, 'crm')).toMatchObject({ status: 'in_progress', attempts: 1 });

    crm.rateLimitNextCall(1);
    await waitUntil(() => crm.getStats().rateLimited >= 1, 10_000, 'the 429');
    // Once a later question is answered (after the park), the 429 has left no trace.
    const asked = crm.getStats().calls.erasures;
    await waitUntil(() => crm.getStats().calls.erasures > asked, 10_000, 'a question after the park');
    const parked = await h.waitFor(id, () => true);
    expect(system(parked, 'crm')).toMatchObject({ status: 'in_progress', attempts: 1, error: null, progress: { tickets: ['erq_1'] } });

    crm.holdErasures(false);
    const done = await h.waitFor(id, (v) => v.status === 'completed');
    expect(system(done, 'crm')).toMatchObject({
      status: 'completed',
      attempts: 2,
      error: null,
      outcome: expect.objectContaining({ outcome: 'erased', verified: 'yes', tickets: ['erq_1'] }),
    });
    expect(crm.getStats().calls.erase).toBe(1);
    expect(crm.get({ email: ADA })).toBeUndefined();
  });
});

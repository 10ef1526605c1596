/**
 * Chaos scenario (d): Redis is killed 2 s after a burst of edits and comes back empty (no
 * persistence, as shipped). The connectors are paced (one record per call, 8 calls a second)
 * so the burst is still being pushed when Redis dies: the hub has acknowledged those edits
 * (webhooks answered) but Redis held the work. While Redis is away people keep editing, and the
 * hub must refuse their webhooks at once (503 with Retry-After, within 1 s) so the systems
 * retry later. When Redis is back:
 *   - 0 lost: every system holds every edit (burst and outage), one record per person;
 *   - the job schedulers (relay sweep, DSR sweep, both pulls) are back within one minute, by
 *     themselves (no hub process restarts); the time from the Redis restart is printed.
 * Echo writes are printed, not asserted: a push in flight when Redis died may be sent again.
 *
 * Where it runs (the suite must stay under ~6 minutes on 2 cores; about 40 s a run): the two
 * multi-process topologies, where the process that answers webhooks is not the one that
 * rebuilds schedulers and re-drives the outbox; one per dialect.
 *   api+worker                          postgres
 *   api,push+ingest,relay,pull,privacy  sqlite
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestDialect } from '../helpers/db.js';
import { waitFor } from '../integration/sync/harness.js';
import { applyEdits, createInHubSpot, edit, emailOf } from './harness/people.js';
import { observableEdits } from './harness/observable.js';
import type { Edit } from './harness/people.js';
import { sleep } from './harness/os.js';
import { compare, diagnose, explain, observe, reportLine } from './harness/state.js';
import type { TopologyName } from './harness/topologies.js';
import { ChaosWorld } from './harness/world.js';
import type { WebhookProbe } from './harness/world.js';

const RUNS: { topology: TopologyName; dialect: TestDialect }[] = [
  { topology: 'api+worker', dialect: 'postgres' },
  { topology: 'api,push+ingest,relay,pull,privacy', dialect: 'sqlite' },
];
const PEOPLE = 30;
const EDITS_WHILE_DOWN = 6;
const DOWN_MS = 3_000;
/** Valid webhooks sent while Redis is away, one every so often until it restarts. */
const PROBE_EVERY_MS = 40;
/** Slow enough that a burst of PEOPLE edits takes several seconds to push. */
const LIMITS = { maxBatch: 1, concurrency: 1, requestsPerWindow: 8, windowMs: 1_000 };

describe.each(RUNS)('chaos (d): Redis killed after a burst, back empty ($topology, $dialect)', ({ topology, dialect }) => {
  let world: ChaosWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('loses nothing, refuses webhooks at once while down, and gets its schedulers back within a minute', async () => {
    world = await ChaosWorld.start({ topology, dialect, connectors: { pullEvery: '1h', limits: LIMITS } });
    const w = world;
    const start = createInHubSpot(w, PEOPLE, 'd');
    await w.settle(120_000);
    const before = compare(w, start, await observe(w), 0);
    expect(before.mismatches, 'the people before the burst').toEqual([]);
    const schedulers = await w.schedulers();
    expect(schedulers, 'the schedulers before the kill').toHaveLength(4);
    // The probes are webhooks the hub takes while Redis is up.
    const upProbes = [await w.probeWebhook('hubspot', emailOf(0, 'd')), await w.probeWebhook('salesforce', emailOf(1, 'd'))];
    expect(
      upProbes.map((p) => p.status),
      JSON.stringify(upProbes),
    ).toEqual([200, 200]);

    // The burst: every person edited once, in HubSpot or Salesforce (names; opt-outs in
    // Salesforce, consent flips in HubSpot).
    const since = Date.now();
    const edits: Edit[] = [];
    for (let i = 0; i < PEOPLE; i++) {
      const email = emailOf(i, 'd');
      if (i % 6 === 0) edits.push(await edit(w, 'salesforce', email, 'marketingEmail', 'denied'));
      else if (i % 6 === 3) edits.push(await edit(w, 'hubspot', email, 'marketingEmail', 'flip'));
      else if (i % 2 === 0) edits.push(await edit(w, 'hubspot', email, 'lastName', `Burst${i}`));
      else edits.push(await edit(w, 'salesforce', email, 'firstName', `Burst${i}`));
    }
    await sleep(2_000);
    const pendingAtKill = compare(w, applyEdits(start, edits), await observe(w), since).counts.lost;
    await w.redis.kill();
    const killedAt = Date.now();

    // While Redis is away: people keep editing (their systems retry), and valid webhooks
    // (probes, spread over the outage) are refused at once.
    const probes: WebhookProbe[] = [];
    for (let i = 0; i < EDITS_WHILE_DOWN; i++) {
      await sleep(100);
      const email = emailOf((i * 5 + 1) % PEOPLE, 'd');
      edits.push(await edit(w, i % 2 === 0 ? 'hubspot' : 'salesforce', email, 'lastName', `Down${i}`));
    }
    while (Date.now() - killedAt < DOWN_MS) {
      probes.push(await w.probeWebhook(probes.length % 2 === 0 ? 'hubspot' : 'salesforce', emailOf((probes.length * 7 + 2) % PEOPLE, 'd')));
      await sleep(PROBE_EVERY_MS);
    }
    const restartAt = Date.now();
    // The systems' deliveries sent while Redis was away, by when they were sent: one the hub
    // took while Redis was up can be answered (200) just before the kill and that answer be
    // logged just after it (once in a run: '200 instead of 503').
    const deliveries = [...w.hubspot.sideDoor.webhookDeliveries(), ...w.salesforce.sideDoor.webhookDeliveries()];
    const refused = deliveries.filter((d) => d.sentAt >= killedAt && d.sentAt < restartAt).map((d) => d.status);
    // Printed: deliveries sent before the kill whose answer was logged after it.
    const acrossKill = deliveries.filter((d) => d.sentAt < killedAt && d.at >= killedAt).map((d) => d.status);

    await w.redis.start();
    const restartedAt = Date.now();
    let schedulersBackMs: number | undefined;
    await waitFor(
      async () => {
        const now = await w.schedulers();
        if (now.length === schedulers.length) schedulersBackMs = Date.now() - restartedAt;
        return schedulersBackMs !== undefined;
      },
      60_000,
      'the job schedulers back',
    ).catch(() => undefined);
    const schedulersNow = await w.schedulers();

    await w.settle(120_000);
    const result = compare(w, applyEdits(start, edits), await observe(w), since, applyEdits(start, observableEdits(w, edits)));
    console.log(
      reportLine('d', w, result.counts, {
        people: PEOPLE,
        edits: edits.length,
        pendingAtKill,
        webhookAnswersWhileDown: [...new Set(refused)].join(',') || 'none',
        answeredAcrossKill: acrossKill.join(',') || 'none',
        probes: `${probes.length}x${[...new Set(probes.map((p) => p.status))].join('/')}`,
        probeMaxMs: Math.max(...probes.map((p) => p.ms)),
        schedulersBackMs: schedulersBackMs ?? 'never',
      }),
    );
    expect(pendingAtKill, 'edits still on their way when Redis died').toBeGreaterThan(0);
    expect(
      probes.map((p) => ({ status: p.status, retryAfter: p.retryAfter !== null, fast: p.ms < 1_000 })),
      `webhooks while Redis is away: ${JSON.stringify(probes.map((p) => `${p.status} in ${p.ms} ms${p.retryAfter === null ? ', no Retry-After' : ''}`))}`,
    ).toEqual(probes.map(() => ({ status: 503, retryAfter: true, fast: true })));
    expect(refused.length, 'the systems tried to deliver while Redis was away').toBeGreaterThan(0);
    expect(
      refused.filter((s) => s !== 503),
      'deliveries while Redis was away answered 503',
    ).toEqual([]);
    expect(schedulersNow, 'the schedulers, back by themselves').toEqual(schedulers);
    expect(schedulersBackMs, 'time from the Redis restart to the schedulers back').toBeLessThan(60_000);
    expect(
      explain(result.mismatches, edits),
      `every system against every edit\n${(await diagnose(w, result.mismatches)).join('\n')}`,
    ).toEqual([]);
    expect({
      lost: result.counts.lost,
      duplicated: result.counts.duplicated,
      disagreements: result.counts.disagreements,
      wrongWinners: result.counts.wrongWinners,
    }).toEqual({
      lost: 0,
      duplicated: 0,
      disagreements: 0,
      wrongWinners: 0,
    });
  }, 180_000);
});

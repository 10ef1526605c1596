/**
 * Run now and resync, as an operator does it: `concord sync <id> [--full]` and `POST
 * /api/v1/connectors/{id}/sync` pull a connector at once through its pull queue (the hub's
 * workers, its limiter); a full resync re-reads every record yet brings no echo (nothing the hub
 * wrote comes back as a change, nothing is pushed) and no resurrection (an erased person a
 * system still holds stays erased). `concord push <profile>` and `POST
 * /api/v1/profiles/{id}/push` push one profile again, whole, to every system, mending a system
 * that drifted without telling the hub. Against the HubSpot and Salesforce emulators, a hub
 * process with every role, Redis, and SQLite (PostgreSQL for the resync).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../harness/sync-hub.js';
import type { TestDialect } from '../../harness/db.js';
import { runConcord } from '../helpers/cli.js';
import { ENV, KEYS, startOperatorHub } from './operator-hub.js';
import type { OperatorHub } from './operator-hub.js';
import { EngineTuning } from '../../src/sync/index.js';
import { engineKeys } from '../../src/queue/keys.js';

const PEOPLE = [
  ['ada@example.com', 'Lovelace'],
  ['grace@example.com', 'Hopper'],
  ['alan@example.com', 'Turing'],
] as const;

function concord(op: OperatorHub, args: string[]): ReturnType<typeof runConcord> {
  return runConcord([...args, '--config', op.configPath, '--no-demo'], { ...process.env, ...ENV, LOG_LEVEL: 'silent' });
}

/** No look-back: an incremental pull reads only what changed since its cursor. */
const NO_LOOK_BACK = { hubspot: '\n    searchLookBackMs: 0', salesforce: '\n    lookBackMs: 0' };

/** The records a `concord sync` run says it read. */
function recordsRead(stdout: string): number {
  return Number(/: (\d+) records read\n$/.exec(stdout)?.[1] ?? Number.NaN);
}

async function settled(op: OperatorHub): Promise<void> {
  await waitFor(() => op.hub.engine.idle(), 30_000, 'the hub idle');
}

/** Creates the people through the hub and waits until both systems hold them. */
async function seed(op: OperatorHub): Promise<void> {
  for (const [email, lastName] of PEOPLE) await op.createPerson(email, lastName);
  await waitFor(
    () => PEOPLE.every(([email]) => op.hubspot.sideDoor.findByEmail(email) && op.salesforce.sideDoor.findByEmail(email)),
    30_000,
    'everyone in both systems',
  );
  await settled(op);
}

/** What would show any change or push: profile versions, outbox rows, push log rows, profile audit rows. */
async function footprint(op: OperatorHub): Promise<Record<string, unknown>> {
  const versions = await op.db.query<{ id: string; version: number }>('select id, version from profiles order by id');
  return {
    versions: versions.map((r) => `${r.id}@${Number(r.version)}`),
    outbox: await op.db.count('outbox'),
    pushLog: await op.db.count('push_log'),
    changes: await op.db.count("audit_log where action like 'profile.%'"),
  };
}

async function suppressed(op: OperatorHub, connector: string): Promise<number> {
  const metric = await op.hub.engine.metrics.registry.getSingleMetric('concord_sync_suppressed_total')?.get();
  return metric?.values.find((v) => v.labels['connector'] === connector)?.value ?? 0;
}

describe('run now and full resync', () => {
  let op: OperatorHub | undefined;
  afterEach(async () => {
    await op?.close();
    op = undefined;
  });

  it.each<TestDialect>(['sqlite', 'postgres'])(
    '%s: concord sync --full re-reads every record of each system, and what the hub wrote is an echo: no change, no outbox row, no push',
    async (dialect) => {
      op = await startOperatorHub({ dialect, extra: NO_LOOK_BACK });
      await seed(op);
      for (const system of ['hubspot', 'salesforce']) {
        // Incremental pulls save a cursor, until one finds nothing new (the hub's own writes
        // may still be settling behind the first).
        let read = Number.NaN;
        for (let i = 0; i < 5 && read !== 0; i++) {
          const incremental = await concord(op, ['sync', system]);
          expect(incremental.code).toBe(0);
          read = recordsRead(incremental.stdout);
        }
        expect(read, system).toBe(0);
      }
      await settled(op);
      const before = await footprint(op);
      expect(before.outbox).toBe(0);

      for (const system of ['hubspot', 'salesforce']) {
        const run = await concord(op, ['sync', system, '--full']);
        expect(run.stderr).toMatch(new RegExp(`^${system}: full pull done: \\d+ records read in \\d+ pages in \\d+s\\n$`, 'm'));
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(new RegExp(`^${system}: full pull done \\(job pull-full-[^)]+\\): \\d+ records read\\n$`));
        // Every record, not only those changed since the cursor.
        expect(recordsRead(run.stdout)).toBeGreaterThanOrEqual(PEOPLE.length);
        await settled(op);
      }
      expect(await footprint(op)).toEqual(before);
      // The full pull saved its own cursor: the next incremental pull reads from there.
      const json = await concord(op, ['sync', 'hubspot', '--json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ connector: 'hubspot', full: false, state: 'completed', records: 0, error: null });
    },
    120_000,
  );

  it('a full resync after an erasure does not bring back a person a system still holds', async () => {
    op = await startOperatorHub({ extra: NO_LOOK_BACK });
    await seed(op);
    expect((await concord(op, ['sync', 'salesforce'])).code).toBe(0);
    const ada = await op.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });
    // A `concord push` mark not pushed yet (as when the push workers are down): the erasure drops it.
    const redis = op.hub.engine.connection;
    const repush = engineKeys(op.hub.engine.prefix).repush('hubspot');
    const origin = engineKeys(op.hub.engine.prefix).repushOrigin('hubspot');
    await redis.sadd(repush, ada?.id ?? '');
    await redis.hset(origin, ada?.id ?? '', JSON.stringify({ trigger: 'manual', requestId: 'r' }));
    const submitted = await op.hub.privacy.submit(
      { kind: 'erase', subject: { email: 'ada@example.com' } },
      { origin: 'api', actor: 'test' },
    );
    if (!submitted.ok) throw submitted.error;
    await waitFor(
      async () => {
        const got = await op?.hub.privacy.get(submitted.value.id);
        return got?.ok === true && got.value.status === 'completed';
      },
      60_000,
      'the erasure',
    );
    expect(await op.hub.store.getProfile(ada?.id ?? '')).toBeNull();
    expect(await redis.sismember(repush, ada?.id ?? '')).toBe(0);
    expect(await redis.hexists(origin, ada?.id ?? '')).toBe(0);

    // Salesforce gets her back unannounced (a restore from backup); an incremental pull reads
    // her once, after which only a full pull reads her again.
    op.salesforce.sideDoor.pauseWebhooks();
    op.salesforce.sideDoor.create('Contact', { Email: 'ada@example.com', FirstName: 'Ada', LastName: 'Lovelace' });
    // A rep's edit after it, so Ada is not the last record an incremental pull starts from.
    const grace = op.salesforce.sideDoor.findByEmail('grace@example.com');
    op.salesforce.sideDoor.update('Contact', String(grace?.['Id']), { FirstName: 'Gracie' });
    expect((await concord(op, ['sync', 'salesforce'])).code).toBe(0);
    await settled(op);
    const suppressedBefore = await suppressed(op, 'salesforce');
    const before = await footprint(op);

    const run = await concord(op, ['sync', 'salesforce', '--full']);
    expect(run.code).toBe(0);
    await settled(op);

    // Read and dropped: no profile, no change, nothing pushed to HubSpot.
    expect(await suppressed(op, 'salesforce')).toBeGreaterThan(suppressedBefore);
    expect(await op.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' })).toBeNull();
    expect(await footprint(op)).toEqual(before);
    expect(op.hubspot.sideDoor.findByEmail('ada@example.com')).toBeUndefined();
  }, 120_000);

  it('through the admin API: 202 with the job, its progress until completed; problems for unknown connectors and keys without admin', async () => {
    op = await startOperatorHub();
    await seed(op);
    const before = await footprint(op);
    const res = await op.api('POST', '/api/v1/connectors/hubspot/sync', KEYS.admin, { full: true });
    expect(res.status).toBe(202);
    const job = res.body as { jobId: string; state: string; full: boolean };
    expect(job).toMatchObject({ connector: 'hubspot', full: true, state: 'queued' });
    let view: { state: string; progress: { records: number; expected?: number }; result: { records: number } | null } | undefined;
    await waitFor(
      async () => {
        const polled = await (op as OperatorHub).api('GET', `/api/v1/connectors/hubspot/sync/${job.jobId}`);
        expect(polled.status).toBe(200);
        view = polled.body as typeof view;
        return view?.state === 'completed';
      },
      30_000,
      'the pull job',
    );
    expect(view?.result?.records).toBeGreaterThanOrEqual(PEOPLE.length);
    // A full pull knows how many records to expect (the hub's records of that system).
    expect(view?.progress.expected).toBe(PEOPLE.length);
    await settled(op);
    expect(await footprint(op)).toEqual(before);

    // No body: an incremental pull. While another pull of the system runs (its lock held), the
    // operator's waits for it instead of being skipped as a scheduled one would be.
    const lock = engineKeys(op.hub.engine.prefix).pullLock('salesforce');
    await op.hub.engine.connection.set(lock, 'another-pull', 'PX', 30_000);
    const plain = await op.api('POST', '/api/v1/connectors/salesforce/sync');
    expect(plain.status).toBe(202);
    expect(plain.body).toMatchObject({ connector: 'salesforce', full: false });
    const plainJob = `/api/v1/connectors/salesforce/sync/${(plain.body as { jobId: string }).jobId}`;
    const stateOf = async (): Promise<{ state: string; result: unknown }> =>
      (await (op as OperatorHub).api('GET', plainJob)).body as { state: string; result: unknown };
    await waitFor(async () => (await stateOf()).state === 'delayed', 10_000, 'the pull waiting');
    await op.hub.engine.connection.del(lock);
    await waitFor(async () => (await stateOf()).state === 'completed', 10_000, 'the pull done');
    expect((await stateOf()).result).not.toHaveProperty('skipped');

    expect((await op.api('POST', '/api/v1/connectors/nosuch/sync')).status).toBe(404);
    expect((await op.api('GET', '/api/v1/connectors/hubspot/sync/pull-now-0-nosuch')).status).toBe(404);
    expect((await op.api('POST', '/api/v1/connectors/hubspot/sync', KEYS.reader)).status).toBe(403);
    expect((await op.api('POST', '/api/v1/connectors/hubspot/sync', KEYS.admin, { full: 'yes' })).status).toBe(400);
    const doc = JSON.stringify((await op.api('GET', '/api/v1/openapi.json')).body);
    for (const path of ['/connectors/{id}/sync', '/connectors/{id}/sync/{jobId}', '/profiles/{profileId}/push'])
      expect(doc).toContain(path);
  }, 120_000);
});

describe('push a profile again', () => {
  let op: OperatorHub | undefined;
  afterEach(async () => {
    await op?.close();
    op = undefined;
  });

  it('concord push reaches a system that drifted unannounced, which a normal push would not (its shadow says nothing differs): the systems agree again', async () => {
    op = await startOperatorHub();
    await seed(op);
    // A rep edits Grace in Salesforce while its Outbound Messages are lost: the hub never hears of it.
    op.salesforce.sideDoor.pauseWebhooks();
    const grace = op.salesforce.sideDoor.findByEmail('grace@example.com');
    op.salesforce.sideDoor.update('Contact', String(grace?.['Id']), { LastName: 'Drifted' });
    const pushLog = await op.db.count('push_log');

    const run = await concord(op, ['push', 'Grace@Example.com', '--wait']);
    expect(run.code).toBe(0);
    const profile = await op.hub.store.findProfile({ kind: 'email', value: 'grace@example.com' });
    expect(run.stdout).toBe(`${profile?.id} -> hubspot: done\n${profile?.id} -> salesforce: done\n`);
    expect(run.stderr).toMatch(/: push done: 2 systems in \d+s\n$/);
    // Salesforce reads a record before writing it: the rep's edit, newer than anything the hub
    // holds, is found, read and merged instead of being written over, and reaches HubSpot.
    await waitFor(() => op?.hubspot.sideDoor.findByEmail('grace@example.com')?.properties['lastname'] === 'Drifted', 20_000, 'HubSpot');
    expect(op.salesforce.sideDoor.findByEmail('grace@example.com')).toMatchObject({ LastName: 'Drifted' });
    expect((await op.hub.store.findProfile({ kind: 'email', value: 'grace@example.com' }))?.attributes['lastName']?.value).toBe('Drifted');
    expect(await op.db.count('push_log')).toBeGreaterThanOrEqual(pushLog + 2);
    const audit = await op.db.query<{ action: string; profile_id: string }>(
      "select action, profile_id from audit_log where action = 'profile.push_requested'",
    );
    expect(audit).toEqual([{ action: 'profile.push_requested', profile_id: profile?.id }]);

    const unknown = await concord(op, ['push', 'nobody@example.com']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no profile with that e-mail address');
    expect(unknown.stderr).not.toContain('nobody@');
  }, 120_000);

  it('with no hub process working the queues, concord sync and concord push --wait run the workers in their own process', async () => {
    op = await startOperatorHub();
    await seed(op);
    await op.hub.close();
    // The rep edits past the echo tolerance of the hub's last write to Salesforce (the CLI runs
    // with the default): a field the hub never wrote, in a record stamped within it of the hub
    // creating that record, is a default Salesforce filled in then, not a change (`leftByOurWrite`).
    const [pushed] = await op.db.query<{ at: string }>("select max(last_pushed_at) as at from shadows where connector = 'salesforce'");
    const pushedAt = Date.parse(pushed?.at ?? '');
    expect(pushedAt).not.toBeNaN();
    await sleep(Math.max(0, pushedAt + EngineTuning.parse({}).echoToleranceMs + 100 - Date.now()));
    const grace = op.salesforce.sideDoor.findByEmail('grace@example.com');
    op.salesforce.sideDoor.update('Contact', String(grace?.['Id']), { FirstName: 'Gracie' });
    const changes = await op.db.count("audit_log where action like 'profile.%'");

    const sync = await concord(op, ['sync', 'salesforce']);
    expect(sync.code).toBe(0);
    expect(sync.stderr).toContain('no hub process works pull.salesforce: running the pull workers in this process');
    expect(recordsRead(sync.stdout)).toBeGreaterThanOrEqual(1);
    expect(await op.db.count("audit_log where action like 'profile.%'")).toBeGreaterThan(changes);

    const pushLog = await op.db.count('push_log');
    const push = await concord(op, ['push', 'alan@example.com', '--wait', '--json']);
    expect(push.code).toBe(0);
    expect(push.stderr).toContain('no hub process works push.hubspot, push.salesforce: running the push workers in this process');
    expect(JSON.parse(push.stdout)).toMatchObject({ queued: ['hubspot', 'salesforce'], outcome: { hubspot: 'done', salesforce: 'done' } });
    expect(await op.db.count('push_log')).toBe(pushLog + 2);

    // Without waiting, the pull is only queued.
    const queued = await concord(op, ['sync', 'hubspot', '--full', '--no-wait']);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(/^hubspot: full pull queued \(job pull-full-[^)]+\)\n$/);
    expect(queued.stderr).toBe('');
  }, 120_000);

  it('concord push --wait does not wait for a pull-only system still waiting for its first pull: it says the push is held until then', async () => {
    op = await startOperatorHub({ extra: { salesforce: '\n    initialSync: pull-only' } });
    await op.createPerson('ada@example.com', 'Lovelace');
    await waitFor(() => op?.hubspot.sideDoor.findByEmail('ada@example.com') !== undefined, 30_000, 'Ada in HubSpot');
    const profile = await op.hub.store.findProfile({ kind: 'email', value: 'ada@example.com' });

    const run = await concord(op, ['push', 'ada@example.com', '--wait']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${profile?.id} -> hubspot: done\n${profile?.id} -> salesforce: held until its first pull\n`);
    expect(op.salesforce.sideDoor.findByEmail('ada@example.com')).toBeUndefined();
  }, 120_000);

  it("through the admin API: 202 with the systems it was queued for; HubSpot (written without a read first) gets the hub's values back", async () => {
    op = await startOperatorHub();
    await seed(op);
    op.hubspot.sideDoor.pauseWebhooks();
    const alan = op.hubspot.sideDoor.findByEmail('alan@example.com');
    op.hubspot.sideDoor.editContact(alan?.id ?? '', { lastname: 'Drifted' });
    const profile = await op.hub.store.findProfile({ kind: 'email', value: 'alan@example.com' });

    const res = await op.api('POST', `/api/v1/profiles/${profile?.id}/push`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ profileId: profile?.id, queued: ['hubspot', 'salesforce'] });
    await waitFor(() => op?.hubspot.sideDoor.findByEmail('alan@example.com')?.properties['lastname'] === 'Turing', 20_000, 'Alan mended');

    expect((await op.api('POST', '/api/v1/profiles/00000000-0000-7000-8000-000000000000/push')).status).toBe(404);
    expect((await op.api('POST', `/api/v1/profiles/${profile?.id}/push`, KEYS.reader)).status).toBe(403);
  }, 120_000);
});

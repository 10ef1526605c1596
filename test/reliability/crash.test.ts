/**
 * Crash safety: the engine's worker runs in a child process on the same Redis and database.
 * SIGKILL it in the middle of a push batch (the system has applied the write, the worker never
 * sees the answer), start a new one: no change is lost, and the end state is the same as in a
 * run without the crash. And SIGTERM lets the batch in flight finish before the process exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Json } from '../../src/profile/schema.js';
import { TEST_DIALECTS } from '../../harness/db.js';
import type { TestDialect } from '../../harness/db.js';
import { DEFAULT_POLICY, REDIS_URL, startHub, TEST_TUNING, waitFor } from '../../harness/sync-hub.js';
import type { Hub, SystemSpec } from '../../harness/sync-hub.js';
import { serveSystems } from './memory-bridge.js';
import type { Bridge } from './memory-bridge.js';
import type { WorkerSpec } from './worker-process.js';

const WORKER = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const SYSTEMS: SystemSpec[] = [
  { id: 'a' },
  { id: 'b', system: { latencyMs: 40 }, limits: { maxBatch: 5 } },
  { id: 'c', system: { latencyMs: 40 }, limits: { maxBatch: 5 } },
];
const PEOPLE = 20;

interface Worker {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(hub: Hub, bridge: Bridge): Promise<Worker> {
  const spec: WorkerSpec = {
    redisUrl: REDIS_URL,
    prefix: hub.prefix,
    dbUrl: hub.db.url,
    bridgeUrl: bridge.url,
    systems: SYSTEMS,
    names: hub.names,
    policy: DEFAULT_POLICY(SYSTEMS.map((s) => s.id)),
    tuning: { ...TEST_TUNING, inflightLeaseMs: 2_000 },
  };
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, CONCORD_WORKER_SPEC: JSON.stringify(spec) },
    // stdin stays open while this process lives: the worker exits when it closes.
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('worker did not start'));
    }, 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (process.env['CONCORD_TEST_LOG']) process.stderr.write(chunk);
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve({ child, exited });
      }
    });
    child.once('exit', () => reject(new Error('worker exited before it was ready')));
  });
}

/** The systems under their registry names, as the worker's connectors address them. */
function byName(hub: Hub): Record<string, NonNullable<Hub['systems'][string]>> {
  const out: Record<string, NonNullable<Hub['systems'][string]>> = {};
  for (const [id, system] of Object.entries(hub.systems)) {
    const name = hub.names[id];
    if (name) out[name] = system;
  }
  return out;
}

/** What the systems and the store hold, without ids or timestamps. */
async function endState(hub: Hub): Promise<Record<string, Json>> {
  const state: Record<string, Json> = {};
  for (const [id, system] of Object.entries(hub.systems)) {
    state[id] = Object.fromEntries(
      system
        .all()
        .map((r) => [String(r.fields['email']), r.fields])
        .sort(),
    );
  }
  const profiles = await hub.profiles();
  state['store'] = Object.fromEntries(
    profiles
      .map((p) => [
        p.identities.find((i) => i.kind === 'email')?.value ?? '',
        {
          firstName: p.attributes['firstName']?.value ?? null,
          lastName: p.attributes['lastName']?.value ?? null,
          marketingEmail: p.consents['marketing']?.['email']?.value ?? null,
          newsletter: p.subscriptions['newsletter']?.value ?? null,
        },
      ])
      .sort(),
  );
  return state;
}

function makeChanges(hub: Hub): void {
  const a = hub.systems['a'];
  if (!a) throw new Error('no system a');
  const at = Date.parse('2026-11-29T08:00:00.000Z');
  for (let i = 0; i < PEOPLE; i++) {
    a.change(
      { email: `p${i}@example.com`, first_name: `First${i}`, last_name: `Last${i}`, email_opt_out: i % 2 === 0, newsletter: i % 3 === 0 },
      { at: at + i * 1000 },
    );
  }
}

describe.each(TEST_DIALECTS)('crash and restart (%s)', { timeout: 120_000 }, (dialect: TestDialect) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup.length = 0;
  });

  async function run(crash: boolean): Promise<{ state: Record<string, Json>; killed: boolean; hub: Hub }> {
    const hub = await startHub({ dialect, systems: SYSTEMS, roles: false });
    cleanup.push(() => hub.close());
    const bridge = await serveSystems(byName(hub));
    cleanup.push(() => bridge.close());
    let worker = await startWorker(hub, bridge);
    cleanup.push(async () => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      await worker.exited;
    });

    let killed = false;
    if (crash) {
      // The first batch to b is applied by b; the worker dies before it hears the answer.
      bridge.afterCall = async (system, operation) => {
        if (killed || system !== hub.names['b'] || operation !== 'upsert') return;
        killed = true;
        worker.child.kill('SIGKILL');
        await worker.exited;
      };
    }
    makeChanges(hub);
    if (crash) {
      await waitFor(() => killed, 20_000, 'the crash');
      const dead = await worker.exited;
      expect(dead.signal).toBe('SIGKILL');
      worker = await startWorker(hub, bridge);
    }
    await waitFor(() => ['b', 'c'].every((id) => hub.systems[id]?.size === PEOPLE), 30_000, 'every person in b and c');
    await hub.settle(30_000);
    const state = await endState(hub);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    return { state, killed, hub };
  }

  it('SIGKILL in the middle of a batch, restart: no change lost, same end state as without the crash', async () => {
    const calm = await run(false);
    const crashed = await run(true);
    expect(crashed.killed).toBe(true);
    expect(crashed.state).toEqual(calm.state);
    // And that state is every change, everywhere.
    const b = crashed.state['b'] as Record<string, Record<string, Json>>;
    expect(Object.keys(b)).toHaveLength(PEOPLE);
    expect(b['p7@example.com']).toEqual({
      email: 'p7@example.com',
      first_name: 'First7',
      last_name: 'Last7',
      email_opt_out: false,
      newsletter: false,
    });
    // The batch that was cut off is sent again (at least once delivery) unless the system's own
    // report of those writes (an echo, which now links the records) reached the hub first;
    // either way nothing changes twice.
    expect(calm.hub.systems['b']?.getStats().recordsUpserted).toBe(PEOPLE);
    expect(crashed.hub.systems['b']?.getStats().recordsUpserted).toBeGreaterThanOrEqual(PEOPLE);
    expect(crashed.hub.systems['b']?.getStats().recordsChanged).toBe(PEOPLE);
  });

  it('SIGTERM lets the batch in flight finish, then the process exits cleanly', async () => {
    const hub = await startHub({ dialect, systems: SYSTEMS, roles: false });
    cleanup.push(() => hub.close());
    const bridge = await serveSystems(byName(hub));
    cleanup.push(() => bridge.close());
    const worker = await startWorker(hub, bridge);
    let signalled = false;
    let answered = false;
    bridge.afterCall = async (system, operation) => {
      if (signalled || system !== hub.names['b'] || operation !== 'upsert') return;
      signalled = true;
      worker.child.kill('SIGTERM');
      // Hold the answer a little: the worker must wait for it rather than drop it.
      await sleep(300);
      answered = true;
    };
    makeChanges(hub);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(answered).toBe(true);
    // The batch in flight completed: its profiles are delivered and nothing is left in flight.
    const status = await hub.engine.status();
    expect(status.connectors.find((c) => c.connector === 'b')?.inflight).toBe(0);
    expect(status.queues.find((q) => q.queue === 'push.b')?.active).toBe(0);
    expect(hub.systems['b']?.size).toBeGreaterThan(0);
  });
});

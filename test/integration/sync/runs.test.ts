/**
 * Sync runs as the engine records them, against the HTTP emulator's REST CRM (the example
 * instance `crm`): a pull's run counts what it read, changed, wrote and skipped (a seeded change in
 * the CRM is one change, re-read records are skipped); a push batch with one record the CRM refuses
 * (422) is a partial run with one row error carrying the connector's code; a pull asked for inside
 * an HTTP request carries that request's id. Every run writes exactly one info line and one debug
 * line per change, with no e-mail address or phone number in any of them; runs a dead process left
 * running are failed by the sweep.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from '../../../connectors/http/connector.js';
import { startHttpEmulator } from '../../../connectors/http/emulator/index.js';
import type { RunningHttpEmulator } from '../../../connectors/http/emulator/index.js';
import { createTestDatabase } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';
import { exampleInstance } from '../../../harness/http-systems.js';
import { createTestEngine, deletePrefix, waitFor } from '../../../harness/sync-hub.js';
import { compileMapping } from '../../../src/connector/mapping.js';
import { createLogger, requestLogScope } from '../../../src/log/logger.js';
import { MergePolicy, ProfilePatch } from '../../../src/profile/schema.js';
import { openStore } from '../../../src/store/index.js';
import type { RunKind, Store, SyncRun } from '../../../src/store/index.js';
import { bindConnector } from '../../../src/sync/bind.js';
import type { Engine } from '../../../src/sync/engine.js';
import { sweepRuns } from '../../../src/sync/runs.js';

const POLICY = MergePolicy.parse({
  priorities: { api: 50, crm: 4 },
  purposes: { marketing: { policy: 'latest', authorities: ['crm', 'api'] } },
});

type Line = Record<string, unknown> & { level: number; msg: string };

interface Hub {
  store: Store;
  engine: Engine;
  crm: RunningHttpEmulator;
  /** Every log line written so far, parsed, and the raw text. */
  lines: Line[];
  text: () => string;
}

let hub: Hub | undefined;
let db: TestDatabase | undefined;
let prefix = '';

beforeEach(async () => {
  db = await createTestDatabase('sqlite');
  prefix = `{test-runs-${randomBytes(4).toString('hex')}}`;
});

afterEach(async () => {
  await hub?.engine.close();
  await hub?.store.close();
  await hub?.crm.close();
  await db?.drop();
  await deletePrefix(prefix);
  hub = undefined;
});

async function startHub(): Promise<Hub> {
  if (!db) throw new Error('no database');
  const crm = await startHttpEmulator({});
  const instance = await exampleInstance('crm', crm.url);
  const store = await openStore({ url: db.url, policy: POLICY, outboxTargets: ['crm'], hashKey: 'test-hash-key' });
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const engine = createTestEngine({
    prefix,
    store,
    policy: POLICY,
    logger,
    connectors: [bindConnector({ id: 'crm', definition: http, config: instance.config, mapping: compileMapping(http, instance.mappings) })],
  });
  const lines = (): Line[] =>
    raw
      .join('')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Line);
  return {
    store,
    engine,
    crm,
    get lines() {
      return lines();
    },
    text: () => raw.join(''),
  };
}

/**
 * The ended runs of a kind, newest first, once there are `count`. Runs still going are left out:
 * a later run may have begun meanwhile (a retry of the refused record, on a loaded machine), and
 * it is not the one a test waited for (it failed the Node 24 stage of a clean-clone CI so).
 */
async function endedRuns(store: Store, kind: RunKind, count: number): Promise<SyncRun[]> {
  let runs: SyncRun[] = [];
  await waitFor(
    async () => {
      runs = (await store.listRuns({ connector: 'crm', kind })).runs.filter((r) => r.status !== 'running');
      return runs.length >= count;
    },
    15_000,
    `${count} ended ${kind} runs`,
  );
  return runs;
}

const runLines = (h: Hub, runId: string, msg: string): Line[] => h.lines.filter((l) => l.runId === runId && l.msg === msg);

function expectNoContacts(h: Hub): void {
  const text = h.text();
  expect(text).not.toMatch(/@example\.com/);
  expect(text).not.toContain('+4915112345678');
  expect(text).not.toMatch(/49151123456/);
}

describe('sync runs of the engine', () => {
  it('counts a pull: new records written, re-read ones skipped, a seeded change written once', async () => {
    hub = await startHub();
    const h = hub;
    const ada = h.crm.sideDoor.userChange('ada@example.com');
    h.crm.sideDoor.crmUserEdit(ada.id, { first_name: 'Ada', phone: '+4915112345678' });
    h.crm.sideDoor.userChange('grace@example.com');
    await h.engine.start({ push: false });

    await h.engine.pullNow('crm');
    const [first] = await endedRuns(h.store, 'pull', 1);
    expect(first).toMatchObject({ trigger: 'manual', status: 'succeeded', errors: [], errorCount: 0, failure: null });
    expect(first?.counts).toEqual({ read: 2, changed: 2, written: 2, skipped: 0, failed: 0 });
    expect(first?.endedAt).not.toBeNull();

    // The lookback reads both again: nothing new.
    await h.engine.pullNow('crm');
    const [second] = await endedRuns(h.store, 'pull', 2);
    expect(second?.counts).toEqual({ read: 2, changed: 0, written: 0, skipped: 2, failed: 0 });

    // A change made in the CRM: one record changed and written, the other skipped.
    h.crm.sideDoor.crmUserEdit(ada.id, { last_name: 'Lovelace' });
    await h.engine.pullNow('crm');
    const [third] = await endedRuns(h.store, 'pull', 3);
    expect(third?.counts).toEqual({ read: 2, changed: 1, written: 1, skipped: 1, failed: 0 });

    // One info line per run, with its counts, duration and request id.
    for (const run of [first, second, third]) {
      if (!run) throw new Error('missing run');
      const info = runLines(h, run.id, 'sync run finished');
      expect(info).toHaveLength(1);
      expect(info[0]).toMatchObject({
        level: 30,
        connector: 'crm',
        kind: 'pull',
        counts: run.counts,
        reqId: run.requestId,
        status: 'succeeded',
      });
      expect(typeof info[0]?.ms).toBe('number');
    }
    // One debug line per change: the profile and the field paths (an identity by its kind only).
    const changes = [first, second, third].flatMap((run) => runLines(h, run?.id ?? '', 'sync run change'));
    expect(changes).toHaveLength(3);
    const adaProfile = (await h.store.findProfile({ kind: 'email', value: 'ada@example.com' }))?.id;
    const adaChanges = changes.filter((l) => l.profileId === adaProfile);
    expect(adaChanges).toHaveLength(2);
    expect(adaChanges[0]).toMatchObject({ level: 20, reqId: first?.requestId, ref: ada.id });
    expect(adaChanges[0]?.fields).toEqual(expect.arrayContaining(['identity:email', 'identity:phone', 'firstName']));
    expect(adaChanges[1]?.fields).toEqual(['lastName']);
    expectNoContacts(h);
  });

  it('records a push batch with one record the system refuses (422) as partial, with that row error', async () => {
    hub = await startHub();
    const h = hub;
    h.crm.sideDoor.poison('bad@example.com');
    const apply = async (email: string, phone: string): Promise<string> => {
      const result = await h.store.applyPatch(
        ProfilePatch.parse({
          id: `patch-${email}`,
          source: 'api',
          at: new Date().toISOString(),
          receivedAt: new Date().toISOString(),
          identities: [
            { kind: 'email', value: email },
            { kind: 'phone', value: phone },
          ],
          attributes: { firstName: 'Ada' },
        }),
      );
      if (result.status !== 'applied') throw new Error(`not applied: ${result.status}`);
      return result.profileId;
    };
    await apply('good@example.com', '+4915112345678');
    const bad = await apply('bad@example.com', '+4915112345679');
    await h.engine.start({ pull: false });

    const [run] = await endedRuns(h.store, 'push', 1);
    expect(run).toMatchObject({ kind: 'push', trigger: 'schedule', status: 'partial', errorCount: 1, failure: null });
    expect(run?.counts).toEqual({ read: 2, changed: 2, written: 1, skipped: 0, failed: 1 });
    expect(run?.errors).toEqual([{ ref: null, profileId: bad, code: 'invalid', message: expect.stringContaining('422') as string }]);
    expect(h.crm.sideDoor.crmContacts('good@example.com')).toHaveLength(1);

    const info = runLines(h, run?.id ?? '', 'sync run finished');
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({ kind: 'push', status: 'partial', errors: 1, counts: run?.counts, reqId: run?.requestId });
    const changes = runLines(h, run?.id ?? '', 'sync run change');
    expect(changes).toHaveLength(1);
    expect(changes[0]?.profileId).not.toBe(bad);
    expect(changes[0]?.fields).toEqual(expect.arrayContaining(['email', 'first_name']));
    expectNoContacts(h);
  });

  it('gives a pull asked for inside an HTTP request that request id, and fails runs a dead process left running', async () => {
    hub = await startHub();
    const h = hub;
    h.crm.sideDoor.userChange('ada@example.com');
    await h.engine.start({ push: false });
    const scope = requestLogScope('req-from-http');
    await scope.run(() => h.engine.pullNow('crm'));
    scope.close();
    const [run] = await endedRuns(h.store, 'pull', 1);
    expect(run).toMatchObject({ trigger: 'api', requestId: 'req-from-http', status: 'succeeded' });
    expect(runLines(h, run?.id ?? '', 'sync run finished')[0]).toMatchObject({ reqId: 'req-from-http' });

    // A run whose process died: its lease passes without renewal, and the sweep fails it.
    const now = Date.now();
    await h.store.startRun({
      id: 'dead-run',
      connector: 'crm',
      kind: 'push',
      trigger: 'schedule',
      requestId: 'r',
      startedAt: new Date(now - 120_000).toISOString(),
      leasedUntil: new Date(now - 60_000).toISOString(),
    });
    await sweepRuns(h.store, createLogger({ level: 'silent' }), { runsMs: 30 * 86_400_000, historyMs: 400 * 86_400_000 }, now);
    expect(await h.store.getRun('dead-run')).toMatchObject({ status: 'failed', failure: { code: 'run_abandoned' } });
    const ada = (await h.store.findProfile({ kind: 'email', value: 'ada@example.com' }))?.id ?? '';
    expect(await h.store.profileHistory(ada)).not.toEqual([]);
    // The retentions: finished runs, and history entries, older than theirs are deleted (the history's kept here).
    await sweepRuns(h.store, createLogger({ level: 'silent' }), { runsMs: 1, historyMs: 400 * 86_400_000 }, now + 10_000);
    expect(await h.store.getRun('dead-run')).toBeNull();
    expect(await h.store.getRun(run?.id ?? '')).toBeNull();
    expect(await h.store.profileHistory(ada)).not.toEqual([]);
    await sweepRuns(h.store, createLogger({ level: 'silent' }), { runsMs: 1, historyMs: 1 }, now + 10_000);
    expect(await h.store.profileHistory(ada)).toEqual([]);
  });
});

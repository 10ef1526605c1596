/**
 * A connector's sync runs on the admin API (`GET /api/v1/connectors/{id}/runs`: newest first, a
 * page at a time, filtered, scope `admin`, in the OpenAPI document) and on the CLI (`concord runs
 * <connector>`: a table on a terminal, tab-separated lines otherwise, the API's JSON with `--json`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printRuns } from '../../../src/cli/commands/runs.js';
import { MergePolicy, ProfilePatch } from '../../../src/profile/schema.js';
import { runList } from '../../../src/server/index.js';
import { openStore } from '../../../src/store/index.js';
import type { NewSyncRun, RunOutcome, Store } from '../../../src/store/index.js';
import { hubYaml, hubspotYaml } from '../../../harness/hub-config.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { captureIo, runConcord } from '../../helpers/cli.js';
import { startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Three runs of `connector`: a pull, a partial push (one row error, naming a profile it makes), a
 * pull still running; one of `other`. Gives the profile's id.
 */
async function seedRuns(store: Store, connector: string, other: string): Promise<string> {
  const made = await store.applyPatch(
    ProfilePatch.parse({
      id: 'seed-1',
      source: connector,
      at: iso(T0),
      receivedAt: iso(T0),
      identities: [{ kind: 'email', value: 'runs@example.com' }],
    }),
  );
  if (made.status !== 'applied') throw new Error(made.status);
  const run = (n: number, over: Partial<NewSyncRun>): NewSyncRun => ({
    id: `run-${n}`,
    connector,
    kind: 'pull',
    trigger: 'schedule',
    requestId: `req-${n}`,
    startedAt: iso(T0 + n * 60_000),
    leasedUntil: iso(T0 + n * 60_000 + 60_000),
    ...over,
  });
  const ended = (n: number, outcome: Omit<RunOutcome, 'endedAt'>): RunOutcome => ({ ...outcome, endedAt: iso(T0 + n * 60_000 + 1_500) });
  await store.startRun(run(1, {}));
  await store.finishRun(
    'run-1',
    ended(1, { status: 'succeeded', counts: { read: 5, changed: 2, written: 2, skipped: 3, failed: 0 }, errors: [] }),
  );
  await store.startRun(run(2, { kind: 'push', trigger: 'api' }));
  await store.finishRun(
    'run-2',
    ended(2, {
      status: 'partial',
      counts: { read: 2, changed: 2, written: 1, skipped: 0, failed: 1 },
      errors: [{ ref: null, profileId: made.profileId, code: 'invalid', message: 'rejected (HTTP 422)' }],
    }),
  );
  await store.startRun(run(3, {}));
  await store.startRun(run(4, { connector: other }));
  return made.profileId;
}

describe('GET /api/v1/connectors/{id}/runs', () => {
  let s: ServerHub;
  beforeEach(async () => {
    s = await startServerHub({ roles: { ingest: false, relay: false, push: false, pull: false } });
  });
  afterEach(async () => {
    await s.close();
  });

  const get = async (path: string, key: 'admin' | 'reader' = 'admin') => {
    const response = await s.app.inject({ method: 'GET', url: `/api/v1/connectors/${path}`, headers: s.bearer(key) });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };

  it('lists newest first with counts and row errors, a page at a time, filtered; 404, 403 and 400 where due', async () => {
    const profileId = await seedRuns(s.hub.store, 'crm', 'shop');
    const first = await get('crm/runs?limit=2');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      runs: [
        { id: 'run-3', status: 'running', endedAt: null, durationMs: null },
        {
          id: 'run-2',
          connector: 'crm',
          kind: 'push',
          trigger: 'api',
          status: 'partial',
          durationMs: 1_500,
          counts: { read: 2, changed: 2, written: 1, skipped: 0, failed: 1 },
          errors: [{ ref: null, profileId, code: 'invalid', message: 'rejected (HTTP 422)' }],
          errorCount: 1,
          failure: null,
          requestId: 'req-2',
        },
      ],
    });
    expect(first.body['runs']).not.toContainEqual(expect.objectContaining({ leasedUntil: expect.anything() as unknown }));
    const next = first.body['next'];
    expect(typeof next).toBe('string');
    const second = await get(`crm/runs?limit=2&cursor=${encodeURIComponent(String(next))}`);
    expect(second.body).toMatchObject({ runs: [{ id: 'run-1' }], next: null });

    expect((await get('crm/runs?kind=push')).body).toMatchObject({ runs: [{ id: 'run-2' }], next: null });
    expect((await get('crm/runs?status=running')).body).toMatchObject({ runs: [{ id: 'run-3' }] });
    expect((await get('shop/runs')).body).toMatchObject({ runs: [{ id: 'run-4' }] });

    expect((await get('nosuch/runs')).status).toBe(404);
    expect((await get('crm/runs', 'reader')).status).toBe(403);
    expect(await get('crm/runs?cursor=garbage')).toMatchObject({ status: 400, body: { code: 'invalid_cursor' } });
    expect((await get('crm/runs?limit=0')).status).toBe(400);
    expect((await get('crm/runs?kind=sideways')).status).toBe(400);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await s.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const paths = doc.json<{ paths: Record<string, { get?: { operationId?: string } }> }>().paths;
    expect(paths['/api/v1/connectors/{id}/runs']?.get?.operationId).toBe('listConnectorRuns');
  });
});

describe('concord runs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'concord-runs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const env = { T_SIGNING: 's'.repeat(40), T_HASH: 'h'.repeat(40), T_HS_TOKEN: 'token', T_HS_SECRET: 'secret-0123456789abcdef' };

  it('prints the runs as tab-separated lines, as JSON with --json, and refuses an unknown connector', async () => {
    const file = join(dir, 'concord.yaml');
    const databaseUrl = `sqlite:${join(dir, 'c.db')}`;
    writeFileSync(
      file,
      hubYaml({ redisUrl: REDIS_URL, databaseUrl, prefix: '{runs-cli}' }) +
        'connectors:\n' +
        hubspotYaml({ baseUrl: 'http://127.0.0.1:1', appId: 1 }),
    );
    const store = await openStore({ url: databaseUrl, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'h'.repeat(40) });
    await seedRuns(store, 'hubspot', 'other');
    await store.close();

    const plain = await runConcord(['runs', 'hubspot', '--config', file, '--limit', '2'], env);
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      'STARTED\tKIND\tTRIGGER\tSTATUS\tDURATION\tREAD\tCHANGED\tWRITTEN\tSKIPPED\tFAILED\tERROR\tREQUEST',
      `${iso(T0 + 180_000)}\tpull\tschedule\trunning\t-\t0\t0\t0\t0\t0\t-\treq-3`,
      `${iso(T0 + 120_000)}\tpush\tapi\tpartial\t1.5s\t2\t2\t1\t0\t1\tinvalid\treq-2`,
    ]);

    const json = await runConcord(['runs', 'hubspot', '--config', file, '--json'], env);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { runs: { id: string }[]; next: string | null };
    expect(parsed.runs.map((r) => r.id)).toEqual(['run-3', 'run-2', 'run-1']);
    expect(parsed.next).toBeNull();

    const unknown = await runConcord(['runs', 'nosuch', '--config', file], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no enabled connector "nosuch"');
    expect((await runConcord(['runs', 'hubspot', '--config', file, '--limit', 'x'], env)).code).not.toBe(0);
  });

  it('prints an aligned table on a terminal', async () => {
    const databaseUrl = `sqlite:${join(dir, 't.db')}`;
    const store = await openStore({ url: databaseUrl, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'h'.repeat(40) });
    await seedRuns(store, 'hubspot', 'other');
    const list = runList(await store.listRuns({ connector: 'hubspot' }));
    await store.close();
    const { io, out } = captureIo({ isTTY: true });
    printRuns(io, 'hubspot', list, false);
    expect(out()).toBe(
      [
        'STARTED                   KIND  TRIGGER   STATUS     DURATION  READ  CHANGED  WRITTEN  SKIPPED  FAILED  ERROR    REQUEST',
        '2026-03-01T10:03:00.000Z  pull  schedule  running           -     0        0        0        0       0  -        req-3',
        '2026-03-01T10:02:00.000Z  push  api       partial        1.5s     2        2        1        0       1  invalid  req-2',
        '2026-03-01T10:01:00.000Z  pull  schedule  succeeded      1.5s     5        2        2        3       0  -        req-1',
        '',
      ].join('\n'),
    );
  });
});

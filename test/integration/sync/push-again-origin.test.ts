/**
 * A profile pushed again on an operator's request (`engine.pushAgain`: `concord push`, `POST
 * /api/v1/profiles/{id}/push`) is a push run of that operator's, not the schedule's: `manual`
 * from the CLI, `api` with the HTTP request's id from the admin API. Against memory systems.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, waitFor } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';
import { requestLogScope } from '../../../src/log/logger.js';
import type { SyncRun } from '../../../src/store/index.js';
import { engineKeys } from '../../../src/queue/keys.js';

async function pushRuns(hub: Hub, count: number): Promise<SyncRun[]> {
  let runs: SyncRun[] = [];
  await waitFor(
    async () => {
      runs = (await hub.store.listRuns({ connector: 'b', kind: 'push' })).runs.filter((r) => r.status !== 'running');
      return runs.length >= count;
    },
    15_000,
    `${count} ended push runs`,
  );
  return runs;
}

describe('push again: the run records who asked', () => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('manual from the CLI, api with the request id inside an HTTP request; the mark and its origin go after the push', async () => {
    hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'a' }, { id: 'b' }] });
    const h = hub;
    hub.systems['a']?.change({ email: 'ada@example.com', first_name: 'Ada' });
    await hub.settle();
    const [profile] = await hub.profiles();
    const id = profile?.id ?? '';
    const before = (await pushRuns(hub, 1)).length;
    expect((await pushRuns(hub, 1)).every((r) => r.trigger === 'schedule')).toBe(true);

    await hub.engine.pushAgain(id);
    await hub.settle();
    const [manual] = await pushRuns(hub, before + 1);
    expect(manual).toMatchObject({ trigger: 'manual' });

    const scope = requestLogScope('req-push-again');
    await scope.run(() => h.engine.pushAgain(id));
    scope.close();
    await hub.settle();
    const [api] = await pushRuns(hub, before + 2);
    expect(api).toMatchObject({ trigger: 'api', requestId: 'req-push-again' });

    const redis = hub.engine.connection;
    expect(await redis.exists(engineKeys(hub.prefix).repush('b'), engineKeys(hub.prefix).repushOrigin('b'))).toBe(0);
  });
});

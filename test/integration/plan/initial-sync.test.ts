/**
 * `initialSync` per connector, against the HubSpot and Salesforce emulators and a SQLite hub:
 * pull-only holds pushes to the system (its outbox rows stay) until its first full pull finished,
 * then delivers them; push-only takes none of the system's values on the first pull, links the
 * records of people the hub knows (so the push updates them, no duplicate) and pulls
 * incrementally afterwards; `both` (the default) and push-only create nobody in a system whose
 * first pull is under way (a person it holds unlinked would be created again), but update the
 * records already linked at once; `concord plan` honours all three. (`both` is also the first
 * sync of plan.test.ts.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ProfilePatch } from '../../../src/profile/schema.js';
import { engineKeys } from '../../../src/queue/keys.js';
import type { Store } from '../../../src/store/index.js';
import { PlanReport } from '../../../src/sync/index.js';
import type { Engine } from '../../../src/sync/index.js';
import { startPlanHub } from './setup.js';
import type { PlanHub } from './setup.js';

let hub: PlanHub | undefined;
const open: { engine?: Engine; store?: Store } = {};

afterEach(async () => {
  await open.engine?.close();
  await open.store?.close();
  delete open.engine;
  delete open.store;
  await hub?.close();
  hub = undefined;
});

/** A person the hub knows, from its own admin source, stamped `at`. */
function adminPatch(email: string, lastName: string, at = new Date().toISOString()): ProfilePatch {
  return ProfilePatch.parse({
    id: `admin:${email}:${at}`,
    source: 'admin',
    at,
    receivedAt: at,
    identities: [{ kind: 'email', value: email }],
    attributes: { lastName },
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

async function firstPullDone(store: Store, instance: string): Promise<boolean> {
  const marker = (await store.getCursor(`${instance}:initial-pull`)) as { phase?: string } | null;
  return marker?.phase === 'done';
}

describe('initialSync', () => {
  it('pull-only: nothing is pushed to the system until its first pull finished; what waited is then delivered', async () => {
    const h = (hub = await startPlanHub({ salesforce: '\n    initialSync: pull-only' }));
    h.salesforce.sideDoor.create('Contact', { Email: 'sam@example.com', FirstName: 'Sam', LastName: 'Force' });
    const store = (open.store = await h.store());
    await store.applyPatch(adminPatch('eve@example.com', 'Hub'));

    const planned = PlanReport.parse(JSON.parse((await h.cli(['plan', '--json'])).stdout));
    expect(planned.targets.find((t) => t.connector === 'salesforce')).toMatchObject({ waitsForFirstPull: true });
    expect(planned.targets.find((t) => t.connector === 'hubspot')).toMatchObject({ waitsForFirstPull: false, create: 1 });

    const engine = (open.engine = await h.engine(store));
    // HubSpot gets Eve at once; Salesforce does not, and its outbox row stays.
    await waitFor(() => h.hubspot.sideDoor.findByEmail('eve@example.com') !== undefined);
    await sleep(1_000);
    expect(h.salesforce.sideDoor.findByEmail('eve@example.com')).toBeUndefined();
    expect(await h.db.count(`outbox where connector = 'salesforce'`)).toBe(1);

    await engine.pullNow('salesforce');
    await waitFor(() => firstPullDone(store, 'salesforce'));
    // The pull was ingested (Sam reaches HubSpot), and what waited goes to Salesforce now.
    await waitFor(() => h.salesforce.sideDoor.findByEmail('eve@example.com') !== undefined);
    await waitFor(() => h.hubspot.sideDoor.findByEmail('sam@example.com') !== undefined);
  });

  it('push-only: the first pull takes no value of the system, links known people, and later pulls are incremental', async () => {
    const h = (hub = await startPlanHub({ hubspot: '\n    initialSync: push-only' }));
    const store = (open.store = await h.store());
    await store.applyPatch(adminPatch('eve@example.com', 'Hub'));
    await sleep(20);
    // HubSpot holds Eve with a newer last name (with `both` it would win) and Zed, unknown to the hub.
    h.hubspot.sideDoor.createContact({ email: 'eve@example.com', firstname: 'Eve', lastname: 'Spot' });
    const zed = h.hubspot.sideDoor.createContact({ email: 'zed@example.com', firstname: 'Zed', lastname: 'Zulu' });

    const planned = PlanReport.parse(JSON.parse((await h.cli(['plan', 'hubspot', '--json'])).stdout));
    expect(planned.sources[0]).toMatchObject({ connector: 'hubspot', firstPull: true, linked: 1, notLinked: 1, created: 0, updated: 0 });
    expect(planned.targets.find((t) => t.connector === 'hubspot')).toMatchObject({ create: 0, update: 1, fields: { lastname: 1 } });

    // The first pull, without pushes: nothing ingested, Eve linked.
    let engine = (open.engine = await h.engine(store, { ingest: true, relay: true, pull: true, push: false }));
    await engine.pullNow('hubspot');
    await waitFor(() => firstPullDone(store, 'hubspot'));
    expect(await store.findProfile({ kind: 'email', value: 'zed@example.com' })).toBeNull();
    const eve = await store.findProfile({ kind: 'email', value: 'eve@example.com' });
    expect(eve?.attributes['lastName']?.value).toBe('Hub');
    expect((await store.getShadow(eve?.id ?? '', 'hubspot'))?.externalId).toBe(h.hubspot.sideDoor.findByEmail('eve@example.com')?.id);
    await engine.close();

    // Pushes: Eve's record in HubSpot is updated with the hub's value, not duplicated.
    engine = open.engine = await h.engine(store);
    await waitFor(() => h.hubspot.sideDoor.findByEmail('eve@example.com')?.properties['lastname'] === 'Hub');
    expect(h.hubspot.sideDoor.contacts()).toHaveLength(2);

    // A change made in HubSpot after the first pull is taken by the next (incremental) pull.
    await sleep(20);
    h.hubspot.sideDoor.editContact(zed.id, { lastname: 'Zebra' });
    await engine.pullNow('hubspot');
    await waitFor(
      async () => (await store.findProfile({ kind: 'email', value: 'zed@example.com' }))?.attributes['lastName']?.value === 'Zebra',
    );
  });

  it.each(['both', 'push-only'] as const)(
    '%s: while the first pull of Salesforce is under way no push creates anyone there (no second Ada); linked records are updated at once',
    async (mode) => {
      const h = (hub = await startPlanHub({ salesforce: `\n    schedule: { every: 1h }\n    initialSync: ${mode}` }));
      h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' });
      await sleep(20);
      // A rep created Ada in Salesforce (newer first name); Sam is there too.
      const adaSf = h.salesforce.sideDoor.create('Contact', { Email: 'ada@example.com', FirstName: 'Augusta', LastName: 'Lovelace' });
      const samSf = h.salesforce.sideDoor.create('Contact', { Email: 'sam@example.com', FirstName: 'Sam', LastName: 'Force' });
      const adas = () => h.salesforce.sideDoor.list('Contact').filter((c) => c['Email'] === 'ada@example.com');
      const store = (open.store = await h.store());
      // The hub knows Sam and his Salesforce record already (as a webhook of it would have linked him).
      await store.applyPatch(adminPatch('sam@example.com', 'Hub'));
      const sam = await store.findProfile({ kind: 'email', value: 'sam@example.com' });
      await store.recordPushes([
        {
          profileId: sam?.id ?? '',
          connector: 'salesforce',
          externalId: String(samSf['Id']),
          values: { Email: 'sam@example.com', LastName: 'Force' },
          pushedAt: new Date().toISOString(),
        },
      ]);
      const planned = PlanReport.parse(JSON.parse((await h.cli(['plan', '--json'])).stdout));
      expect(planned.targets.find((t) => t.connector === 'salesforce')).toMatchObject({
        createsWaitForFirstPull: true,
        waitsForFirstPull: false,
      });
      // HubSpot pulls on no schedule here: nothing waits for a pull that may never come.
      expect(planned.targets.find((t) => t.connector === 'hubspot')).toMatchObject({ createsWaitForFirstPull: false });
      // Salesforce's first pull runs elsewhere (another hub process holds its pull lock, a long read):
      // the pull its schedule starts here is skipped, and pushes start at once.
      const lock = engineKeys(h.prefix).pullLock('salesforce');
      await h.redis.set(lock, 'another-process');

      const engine = (open.engine = await h.engine(store));
      await engine.pullNow('hubspot');
      // Sam's record is linked: his change goes at once.
      await waitFor(() => h.salesforce.sideDoor.get('Contact', String(samSf['Id']))?.['LastName'] === 'Hub');
      await waitFor(async () => (await store.findProfile({ kind: 'email', value: 'ada@example.com' })) !== null);
      // Idle: no flush is queued again and again for what is held.
      await waitFor(() => engine.idle());
      // Ada, known from HubSpot and not linked to Salesforce's record yet, is not created there: she waits.
      expect(adas()).toHaveLength(1);
      const ada = await store.findProfile({ kind: 'email', value: 'ada@example.com' });
      expect(await h.db.count(`outbox where connector = 'salesforce' and profile_id = '${ada?.id ?? ''}'`)).toBeGreaterThan(0);
      expect((await engine.status()).connectors.find((c) => c.connector === 'salesforce')).toMatchObject({ held: 1, dirty: 0 });
      // `concord push` of Ada would be held there too; Sam's would not.
      expect(await engine.pushHeld(ada?.id ?? '')).toEqual(['salesforce']);
      expect(await engine.pushHeld(sam?.id ?? '')).toEqual([]);

      // The first pull ends: it links Ada to the record Salesforce holds, and what waited goes.
      await h.redis.del(lock);
      await engine.pullNow('salesforce');
      await waitFor(() => firstPullDone(store, 'salesforce'));
      if (mode === 'both') {
        // Ingested: Salesforce's newer first name reaches HubSpot.
        await waitFor(() => h.hubspot.sideDoor.findByEmail('ada@example.com')?.properties['firstname'] === 'Augusta');
      } else {
        // Linked only: the hub's value is pushed to the record Salesforce holds.
        await waitFor(() => h.salesforce.sideDoor.get('Contact', String(adaSf['Id']))?.['FirstName'] === 'Ada');
        expect(h.hubspot.sideDoor.findByEmail('ada@example.com')?.properties['firstname']).toBe('Ada');
      }
      await waitFor(async () => (await h.db.count(`outbox where connector = 'salesforce'`)) === 0);
      await waitFor(() => engine.idle());
      expect(adas()).toHaveLength(1);
      expect((await store.getShadow(ada?.id ?? '', 'salesforce'))?.externalId).toBe(adaSf['Id']);
      expect((await engine.status()).connectors.find((c) => c.connector === 'salesforce')).toMatchObject({ held: 0 });
      expect(await engine.pushHeld(ada?.id ?? '')).toEqual([]);
      expect(h.salesforce.sideDoor.list('Contact')).toHaveLength(2);
    },
  );
  it('creates held under both go once the first pull finished, the hub restarted as pull-only meanwhile', async () => {
    const h = (hub = await startPlanHub({ salesforce: `\n    schedule: { every: 1h }` }));
    h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' });
    const adaSf = h.salesforce.sideDoor.create('Contact', { Email: 'ada@example.com', FirstName: 'Augusta', LastName: 'Lovelace' });
    const store = (open.store = await h.store());
    const lock = engineKeys(h.prefix).pullLock('salesforce');
    await h.redis.set(lock, 'another-process');
    let engine = (open.engine = await h.engine(store));
    await engine.pullNow('hubspot');
    await waitFor(async () => (await engine.status()).connectors.find((c) => c.connector === 'salesforce')?.held === 1);
    await engine.close();

    // The operator switches Salesforce to pull-only and restarts: pull-only holds everything until that pull.
    engine = open.engine = await h.engine(store, undefined, (c) => (c.id === 'salesforce' ? { ...c, initialSync: 'pull-only' } : c));
    await h.redis.del(lock);
    await engine.pullNow('salesforce');
    await waitFor(() => firstPullDone(store, 'salesforce'));
    // What the both-era hold left is released with the rest: nothing stays held, the outbox empties.
    await waitFor(async () => (await h.db.count(`outbox where connector = 'salesforce'`)) === 0);
    await waitFor(() => engine.idle());
    expect((await engine.status()).connectors.find((c) => c.connector === 'salesforce')).toMatchObject({ held: 0, dirty: 0 });
    const ada = await store.findProfile({ kind: 'email', value: 'ada@example.com' });
    expect((await store.getShadow(ada?.id ?? '', 'salesforce'))?.externalId).toBe(adaSf['Id']);
    expect(h.salesforce.sideDoor.list('Contact')).toHaveLength(1);
  });
});

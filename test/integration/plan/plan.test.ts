/**
 * `concord plan` against the HubSpot and Salesforce emulators and a SQLite hub: the counts of a
 * small seeded first sync (create, update, left alone), agreeing with what the real sync then
 * does; and proof that the plan writes nothing anywhere (no write call in either emulator's
 * counters, the database's rows and cursors unchanged, no Redis key under the hub's prefix).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProfilePatch } from '../../../src/profile/schema.js';
import { PlanReport } from '../../../src/sync/index.js';
import { startPlanHub, writeCalls } from './setup.js';
import type { PlanHub } from './setup.js';

let hub: PlanHub;

/** Both systems pull on a schedule, as a hub in production does: the first pulls run when the engine starts. */
const SCHEDULE = '\n    schedule: { every: 1h }';

beforeEach(async () => {
  hub = await startPlanHub({ hubspot: SCHEDULE, salesforce: SCHEDULE });
});
afterEach(async () => {
  await hub.close();
});

/** Ada in both systems (Salesforce edited her first name later), Bob and Cy only in HubSpot, Dan only in Salesforce. */
async function seed(h: PlanHub): Promise<void> {
  h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' });
  h.hubspot.sideDoor.createContact({ email: 'bob@example.com', firstname: 'Bob', lastname: 'Byron' });
  h.hubspot.sideDoor.createContact({ email: 'cy@example.com', firstname: 'Cy', lastname: 'Young', phone: '+15550100123' });
  await sleep(20);
  h.salesforce.sideDoor.create('Contact', { Email: 'ada@example.com', FirstName: 'Augusta', LastName: 'Lovelace' });
  h.salesforce.sideDoor.create('Contact', { Email: 'dan@example.com', FirstName: 'Dan', LastName: 'Brown' });
}

async function tableCounts(h: PlanHub): Promise<Record<string, number>> {
  const tables = await h.db.query<{ name: string }>(`select name from sqlite_master where type = 'table' order by name`);
  const out: Record<string, number> = {};
  for (const { name } of tables) out[name] = await h.db.count(name);
  return out;
}

describe('concord plan', () => {
  it('counts what the first sync would create, update and leave alone in each system, as the sync then does', async () => {
    await seed(hub);
    const run = await hub.cli(['plan', '--json']);
    expect(run.stderr).toContain('empty hub');
    expect(run.code).toBe(0);
    const report = PlanReport.parse(JSON.parse(run.stdout));
    const source = (id: string) => report.sources.find((s) => s.connector === id);
    const target = (id: string) => report.targets.find((t) => t.connector === id);
    expect(source('hubspot')).toMatchObject({ firstPull: true, records: 3, created: 3, updated: 0 });
    expect(source('salesforce')).toMatchObject({ firstPull: true, records: 2, created: 1, updated: 1 });
    // HubSpot: Dan is new there, Ada's first name changes (Salesforce's edit is newer), Bob and Cy stay.
    expect(target('hubspot')).toMatchObject({ considered: 4, create: 1, update: 1, unchanged: 2 });
    expect(target('hubspot')?.fields).toEqual({ firstname: 2, email: 1, lastname: 1 });
    // Salesforce: Bob and Cy are new there; Ada and Dan hold the hub's values already.
    expect(target('salesforce')).toMatchObject({ considered: 4, create: 2, update: 0, unchanged: 2 });
    expect(target('salesforce')?.fields).toMatchObject({ Email: 2, LastName: 2, FirstName: 2, Phone: 1 });
    // Examples are redacted: no e-mail address or phone number in the whole output.
    expect(run.stdout).not.toMatch(/@example\.com|\+1555/);
    expect(JSON.stringify(target('salesforce')?.examples)).toContain('<email>');

    // The real sync does what the plan said, in the default order (`initialSync: both`): the
    // engine starts, both first pulls start and pushes start at once. A push creates nobody in a
    // system until its first pull finished (that pull links Ada, whom Salesforce holds unlinked
    // and would otherwise get twice); the plan reads every system first, as that comes to.
    expect(target('salesforce')).toMatchObject({ createsWaitForFirstPull: true, waitsForFirstPull: false });
    const store = await hub.store();
    const engine = await hub.engine(store);
    try {
      await waitFor(() => hub.salesforce.sideDoor.list('Contact').length === 4 && hub.hubspot.sideDoor.contacts().length === 4);
      await waitFor(() => hub.hubspot.sideDoor.findByEmail('ada@example.com')?.properties['firstname'] === 'Augusta');
      await waitFor(async () => (await engine.idle()) && (await hub.db.count('outbox')) === 0);
      expect(hub.salesforce.sideDoor.list('Contact')).toHaveLength(4);
      expect(hub.hubspot.sideDoor.contacts()).toHaveLength(4);
    } finally {
      await engine.close();
      await store.close();
    }

    // The next sync, from the saved cursors: one edit in HubSpot is one update in Salesforce.
    const bob = hub.hubspot.sideDoor.findByEmail('bob@example.com');
    hub.hubspot.sideDoor.editContact(bob?.id ?? '', { lastname: 'Marley' });
    const next = PlanReport.parse(JSON.parse((await hub.cli(['plan', '--json'])).stdout));
    expect(next.sources.find((s) => s.connector === 'hubspot')).toMatchObject({ firstPull: false, created: 0, updated: 1 });
    expect(next.targets.find((t) => t.connector === 'salesforce')).toMatchObject({ create: 0, update: 1, fields: { LastName: 1 } });
    expect(next.targets.find((t) => t.connector === 'hubspot')).toMatchObject({ create: 0, update: 0 });
  });

  it('writes nothing, a 429 met on the way: no write call to any system, the database and cursors unchanged, no Redis key', async () => {
    await seed(hub);
    // A hub that ran before: a profile in the store (and the database migrated).
    const store = await hub.store();
    await store.applyPatch(
      ProfilePatch.parse({
        id: 'admin:eve',
        source: 'admin',
        at: new Date().toISOString(),
        receivedAt: new Date().toISOString(),
        identities: [{ kind: 'email', value: 'eve@example.com' }],
        attributes: { lastName: 'Existing' },
      }),
    );
    await store.close();
    const before = await tableCounts(hub);
    const cursorsBefore = await hub.db.query('select * from cursors');
    hub.hubspot.sideDoor.resetCalls();
    hub.salesforce.sideDoor.resetCalls();

    // A 429 on the way: the plan waits for its Retry-After and reads the page again.
    hub.hubspot.sideDoor.rateLimitNextCall(1);
    const text = await hub.cli(['plan']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/writes hubspot: create 1, update 1, leave alone 2/);
    expect(text.stdout).toContain('nothing was written');
    const one = await hub.cli(['plan', 'salesforce', '--json']);
    expect(one.code).toBe(0);
    expect(PlanReport.parse(JSON.parse(one.stdout)).sources.map((s) => s.connector)).toEqual(['salesforce']);

    const hs = hub.hubspot.sideDoor.calls();
    const sf = hub.salesforce.sideDoor.calls();
    expect(hs.total).toBeGreaterThan(0);
    expect(sf.total).toBeGreaterThan(0);
    expect(hs.rateLimited).toBe(1);
    expect(writeCalls(hs)).toEqual({});
    expect(writeCalls(sf)).toEqual({});
    expect(await tableCounts(hub)).toEqual(before);
    expect(await hub.db.query('select * from cursors')).toEqual(cursorsBefore);
    expect(await hub.redisKeys()).toEqual([]);
  });

  it('fails with exit 1 on a connector the config does not have', async () => {
    const run = await hub.cli(['plan', 'nosuch']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no enabled connector "nosuch"');
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

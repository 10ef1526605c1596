/**
 * An operator lifts a rate-limit park: a system's allowance is spent, its queues park for a
 * long time (Salesforce `REQUEST_LIMIT_EXCEEDED`: 15 minutes by default; HubSpot `DAILY`:
 * until midnight), the allowance comes back early, and `POST /api/v1/connectors/{id}/unpark`
 * or `concord unpark <id>` (another process) lets the waiting change through at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { queuePrefix } from '../../src/queue/keys.js';
import { queueParkedFor } from '../../src/queue/park.js';
import { waitFor } from '../../harness/sync-hub.js';
import { KEYS, startOperatorHub } from './operator-hub.js';
import type { OperatorHub } from './operator-hub.js';

interface ConnectorStatus {
  id: string;
  budget: { blockedForMs: number };
  queues: { queue: string }[];
}

async function blockedFor(op: OperatorHub, id: string): Promise<number> {
  const res = await op.api('GET', '/api/v1/connectors');
  const list = (res.body as { connectors: ConnectorStatus[] }).connectors;
  return list.find((c) => c.id === id)?.budget.blockedForMs ?? 0;
}

/** What the park of a queue has left (ms; 0 when not parked). */
async function parkedFor(op: OperatorHub, queueName: string): Promise<number> {
  const queue = new Queue(queueName, { connection: op.hub.engine.connection, prefix: queuePrefix(op.hub.engine.prefix, queueName) });
  try {
    return await queueParkedFor(queue);
  } finally {
    await queue.close();
  }
}

describe('lifting a rate-limit park', () => {
  let op: OperatorHub | undefined;
  afterEach(async () => {
    await op?.close();
    op = undefined;
  });

  it('through the admin API: a Salesforce REQUEST_LIMIT_EXCEEDED park (15 minutes) ends at once and the waiting change is delivered', async () => {
    op = await startOperatorHub();
    const { salesforce } = op;
    // The org's rolling 24-hour allowance is spent.
    salesforce.sideDoor.setDailyLimit(50, 50);
    await op.createPerson('grace@example.com', 'Hopper');
    await waitFor(async () => (await blockedFor(op as OperatorHub, 'salesforce')) > 60_000, 20_000, 'Salesforce parked');
    expect(await parkedFor(op, 'push.salesforce')).toBeGreaterThan(60_000);

    // An erasure run waiting for the same allowance parks the erase queue too.
    const erase = new Queue('dsr-erase.salesforce', {
      connection: op.hub.engine.connection,
      prefix: queuePrefix(op.hub.engine.prefix, 'dsr-erase.salesforce'),
    });
    await erase.rateLimit(15 * 60_000);
    await erase.close();
    expect(await parkedFor(op, 'dsr-erase.salesforce')).toBeGreaterThan(60_000);

    // The allowance comes back long before the park ends; the hub does not know.
    salesforce.sideDoor.setDailyLimit(100_000, 0);
    await sleep(500);
    expect(salesforce.sideDoor.findByEmail('grace@example.com')).toBeUndefined();

    const liftedAt = Date.now();
    const res = await op.api('POST', '/api/v1/connectors/salesforce/unpark');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ connector: 'salesforce' });
    expect((res.body as { parkedForMs: number }).parkedForMs).toBeGreaterThan(60_000);
    await waitFor(() => salesforce.sideDoor.findByEmail('grace@example.com') !== undefined, 10_000, 'Grace in Salesforce');
    // Delivered within seconds, where the park would have lasted about 15 minutes.
    expect(Date.now() - liftedAt).toBeLessThan(10_000);
    expect(salesforce.sideDoor.findByEmail('grace@example.com')).toMatchObject({ LastName: 'Hopper' });
    expect(await blockedFor(op, 'salesforce')).toBe(0);
    expect(await parkedFor(op, 'push.salesforce')).toBe(0);
    expect(await parkedFor(op, 'dsr-erase.salesforce')).toBe(0);
  }, 60_000);

  it('answers problems for an unknown connector and a key without the admin scope', async () => {
    op = await startOperatorHub();
    const unknown = await op.api('POST', '/api/v1/connectors/nosuch/unpark');
    expect(unknown.status).toBe(404);
    expect(unknown.type).toContain('application/problem+json');
    expect(unknown.body).toMatchObject({ status: 404, code: 'not_found' });
    const reader = await op.api('POST', '/api/v1/connectors/salesforce/unpark', KEYS.reader);
    expect(reader.status).toBe(403);
    // Unparking a connector that is not parked is harmless.
    const idle = await op.api('POST', '/api/v1/connectors/hubspot/unpark');
    expect(idle.status).toBe(200);
    expect(idle.body).toMatchObject({ connector: 'hubspot', parkedForMs: 0 });
    // The operation is in the OpenAPI document.
    const doc = await op.api('GET', '/api/v1/openapi.json');
    expect(JSON.stringify(doc.body)).toContain('/connectors/{id}/unpark');
  }, 60_000);

  it('through the CLI, from another process: a HubSpot DAILY park (until midnight) ends at once and the waiting change is delivered', async () => {
    op = await startOperatorHub({ hubspot: { rateLimit: { daily: 1 } } });
    const { hubspot } = op;
    // The first contact takes the day's only call; the second hits DAILY.
    await op.createPerson('ada@example.com', 'Lovelace');
    await waitFor(() => hubspot.sideDoor.findByEmail('ada@example.com') !== undefined, 20_000, 'Ada in HubSpot');
    await op.createPerson('alan@example.com', 'Turing');
    await waitFor(async () => (await blockedFor(op as OperatorHub, 'hubspot')) > 60_000, 20_000, 'HubSpot parked');

    hubspot.sideDoor.resetDailyLimit();
    await sleep(500);
    expect(hubspot.sideDoor.findByEmail('alan@example.com')).toBeUndefined();

    const run = await op.cli(['unpark', 'hubspot']);
    // From the CLI's answer (starting a CLI process alone takes seconds on a loaded machine).
    const liftedAt = Date.now();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^hubspot: park lifted/);
    await waitFor(() => hubspot.sideDoor.findByEmail('alan@example.com') !== undefined, 15_000, 'Alan in HubSpot');
    expect(Date.now() - liftedAt).toBeLessThan(15_000);

    const unknown = await op.cli(['unpark', 'nosuch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('nosuch');
  }, 90_000);
});

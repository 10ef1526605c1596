/** The per-minute change counts the operations page charts (`queue/change-counts.ts`), on a real Redis. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ChangeCounts } from '../../../src/queue/change-counts.js';
import { engineKeys } from '../../../src/queue/keys.js';
import { deletePrefix, REDIS_URL } from '../../../harness/sync-hub.js';

const prefix = `{changes-${randomBytes(4).toString('hex')}}`;
const redis = new Redis(REDIS_URL);
const keys = engineKeys(prefix);
const counts = new ChangeCounts(redis, keys);
const T = Date.parse('2026-12-05T12:00:30Z');

afterAll(async () => {
  await deletePrefix(prefix);
  await redis.quit();
});

describe('changes per minute', () => {
  it('adds each batch to its minute and direction, and reads the last minutes oldest first, empty ones as zero', async () => {
    await counts.add('in', new Map([['crm', 2]]), T);
    await counts.add(
      'in',
      new Map([
        ['crm', 3],
        ['cdp', 1],
      ]),
      T + 20_000,
    );
    await counts.add(
      'out',
      new Map([
        ['crm', 4],
        ['cdp', 0],
      ]),
      T - 120_000,
    );
    const minutes = await counts.lastMinutes(4, T + 25_000);
    expect(minutes.map((m) => new Date(m.at).toISOString())).toEqual([
      '2026-12-05T11:57:00.000Z',
      '2026-12-05T11:58:00.000Z',
      '2026-12-05T11:59:00.000Z',
      '2026-12-05T12:00:00.000Z',
    ]);
    expect(minutes.map((m) => [m.in, m.out])).toEqual([
      [{}, {}],
      [{}, { crm: 4 }],
      [{}, {}],
      [{ crm: 5, cdp: 1 }, {}],
    ]);
  });

  it('keeps a minute for two hours only', async () => {
    const ttl = await redis.pttl(keys.changesOfMinute(Math.floor(T / 60_000)));
    expect(ttl).toBeGreaterThan(7_000_000);
    expect(ttl).toBeLessThanOrEqual(7_200_000);
  });
});

/**
 * Upgrading from the layout where every connector's engine keys shared the deployment's hash
 * tag (`{p}:sync:dead:b`) to one tag per connector (`{p.sync.b}:sync:dead:b`): at start the old
 * keys' entries are merged into the new ones (entries already there win) and the old keys go;
 * profiles an earlier process had in flight become dirty. Real Redis.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { connectorPrefix, engineKeys } from '../../../src/queue/keys.js';
import { moveLegacyConnectorKeys } from '../../../src/queue/legacy-keys.js';
import { deletePrefix, REDIS_URL, startHub } from '../../../harness/sync-hub.js';

const redis = new Redis(REDIS_URL);
const silent = pino({ level: 'silent' });

afterAll(async () => {
  await redis.quit();
});

describe("an earlier version's engine keys", () => {
  it("are merged into each connector's tag, newer entries winning, and deleted; a second start finds nothing", async () => {
    const prefix = `{lk-${randomBytes(5).toString('hex')}}`;
    const keys = engineKeys(prefix);
    try {
      expect(keys.dead('b').startsWith(`${connectorPrefix(prefix, 'b')}:`)).toBe(true);
      const old = (name: string, instance = 'b'): string => `${prefix}:sync:${name}:${instance}`;
      await redis.zadd(old('dirty'), 100, 'p1', 200, 'p2');
      await redis.zadd(old('inflight'), Date.now() + 60_000, 'p3');
      await redis.zadd(old('retry'), 5_000, 'p4');
      await redis.zadd(old('since'), 50, 'p1', 900, 'p2');
      await redis.hset(old('dead'), 'p5', '{"reason":"old"}', 'p6', '{"reason":"old"}');
      await redis.hset(old('attempts'), 'p4', '3');
      await redis.sadd(old('repush'), 'p7');
      await redis.set(old('last-pull'), '{"at":1}');
      await redis.zadd(old('dirty', 'c'), 300, 'q1');
      // A process of the new version already wrote some entries: they win.
      await redis.zadd(keys.dirty('b'), 150, 'p2');
      await redis.zadd(keys.since('b'), 500, 'p2');
      await redis.hset(keys.dead('b'), 'p6', '{"reason":"new"}');
      await redis.set(keys.lastPull('b'), '{"at":2}');

      const before = Date.now();
      expect(await moveLegacyConnectorKeys(redis, prefix, keys, ['b', 'c'], silent)).toBe(9);

      const dirty = await redis.zrange(keys.dirty('b'), 0, -1, 'WITHSCORES');
      expect(dirty.slice(0, 4)).toEqual(['p1', '100', 'p2', '150']);
      expect(dirty[4]).toBe('p3');
      expect(Number(dirty[5])).toBeGreaterThanOrEqual(before);
      expect(await redis.zrange(keys.retry('b'), 0, -1, 'WITHSCORES')).toEqual(['p4', '5000']);
      expect(await redis.zrange(keys.since('b'), 0, -1, 'WITHSCORES')).toEqual(['p1', '50', 'p2', '500']);
      expect(await redis.hgetall(keys.dead('b'))).toEqual({ p5: '{"reason":"old"}', p6: '{"reason":"new"}' });
      expect(await redis.hgetall(keys.attempts('b'))).toEqual({ p4: '3' });
      expect(await redis.smembers(keys.repush('b'))).toEqual(['p7']);
      expect(await redis.get(keys.lastPull('b'))).toBe('{"at":2}');
      expect(await redis.zrange(keys.dirty('c'), 0, -1, 'WITHSCORES')).toEqual(['q1', '300']);
      const leftover = ['dirty', 'inflight', 'retry', 'since', 'dead', 'attempts', 'repush', 'last-pull'].map((n) => old(n));
      expect(await redis.exists(...leftover, old('dirty', 'c'))).toBe(0);

      expect(await moveLegacyConnectorKeys(redis, prefix, keys, ['b', 'c'], silent)).toBe(0);
    } finally {
      await deletePrefix(prefix);
    }
  });

  it('keeps when taken changed records were received, the rest of a 429 wait and lifted parks; two processes starting at once move once', async () => {
    const prefix = `{lk-${randomBytes(5).toString('hex')}}`;
    const keys = engineKeys(prefix);
    try {
      const old = (name: string): string => `${prefix}:sync:${name}:b`;
      await redis.zadd(old('changed-taken'), Date.now() + 60_000, 'x1', Date.now() + 60_000, 'x2');
      await redis.hset(old('changed-taken-at'), 'x1', '1000');
      await redis.zadd(old('changed'), 3000, 'x3');
      await redis.set(old('blocked'), '1', 'PX', 30_000);
      await redis.set(old('lifts'), '2');
      await redis.set(keys.lifts('b'), '1');
      for (let i = 0; i < 2_500; i++) await redis.hset(old('dead'), `p${i}`, '{}');

      const before = Date.now();
      const both = await Promise.all([1, 2].map(() => moveLegacyConnectorKeys(redis, prefix, keys, ['b'], silent)));
      expect(both.sort()).toEqual([0, 6]);

      const changed = await redis.zrange(keys.changed('b'), 0, -1, 'WITHSCORES');
      expect(changed.slice(0, 4)).toEqual(['x1', '1000', 'x3', '3000']);
      expect(changed[4]).toBe('x2');
      expect(Number(changed[5])).toBeGreaterThanOrEqual(before);
      const ttl = await redis.pttl(keys.blocked('b'));
      expect(ttl).toBeGreaterThan(20_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
      expect(await redis.get(keys.lifts('b'))).toBe('3');
      expect(await redis.hlen(keys.dead('b'))).toBe(2_500);
      const leftover = ['changed-taken', 'changed-taken-at', 'changed', 'blocked', 'lifts', 'dead'].map(old);
      expect(await redis.exists(...leftover, `${prefix}:sync:upgrade-lock`)).toBe(0);
    } finally {
      await deletePrefix(prefix);
    }
  });

  it('a dead letter left by the earlier version is in the dead-letter view once the engine started', async () => {
    const prefix = `{lk-${randomBytes(5).toString('hex')}}`;
    const hub = await startHub({ dialect: 'sqlite', systems: [{ id: 'a' }, { id: 'b' }], roles: false, prefix });
    try {
      const letter = {
        connector: 'b',
        profileId: 'p9',
        kind: 'rejected',
        reason: 'bad e-mail',
        at: new Date(0).toISOString(),
        attempts: 0,
      };
      await redis.hset(`${prefix}:sync:dead:b`, 'p9', JSON.stringify(letter));
      expect(await hub.engine.deadLetters.list('b')).toEqual([]);
      await hub.engine.start();
      expect((await hub.engine.deadLetters.list('b')).map((l) => l.profileId)).toEqual(['p9']);
    } finally {
      await hub.close();
    }
  });
});

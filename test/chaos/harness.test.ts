/**
 * The chaos harness itself: the private Redis loses everything when killed and comes back
 * empty on the same port; every topology runs every role exactly once, and the process flags
 * (`api`, `push`) say what its roles do.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseRoles, toRoleSet } from '../../src/app/roles.js';
import { killableRedis } from '../helpers/private-redis.js';
import { TOPOLOGIES } from './harness/topologies.js';

describe('chaos harness', () => {
  it('a killed private Redis restarts empty on the same port', async () => {
    const redis = await killableRedis();
    try {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      await client.set('k', 'v');
      await redis.kill();
      expect(redis.running).toBe(false);
      await redis.start();
      expect(await client.get('k')).toBeNull();
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      client.disconnect();
    } finally {
      await redis.kill();
    }
  });

  it.each(Object.entries(TOPOLOGIES))('topology %s runs every role once', (_name, processes) => {
    const all = [...toRoleSet('all')].sort();
    const covered: string[] = [];
    for (const p of processes) {
      const parsed = parseRoles(p.roles);
      if (!parsed.ok) throw new Error(parsed.message);
      covered.push(...parsed.roles);
      expect(p.api, p.name).toBe(parsed.roles.has('api'));
      expect(p.push, p.name).toBe(parsed.roles.has('push'));
    }
    expect(covered.sort()).toEqual(all);
  });
});

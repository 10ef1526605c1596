/** Revoking a profile's links against real Redis and the real clock: the millisecond of the revocation belongs to no one. */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { PreferenceLinks } from '../../../src/server/preferences/links.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';

describe('revoking preference links', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = `{linkrev-${process.pid}-${Date.now()}}`;
  const links = new PreferenceLinks('s'.repeat(40), redis, prefix);
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('refuses every link issued before revokeAll and opens every link issued after it, even in the same millisecond', async () => {
    let oldOpened = 0;
    let newRefused = 0;
    for (let i = 0; i < 200; i++) {
      const old = links.issue('profile-1', 60_000).token;
      await links.revokeAll('profile-1');
      const fresh = links.issue('profile-1', 60_000).token;
      if ((await links.verify(old)).ok) oldOpened++;
      if (!(await links.verify(fresh)).ok) newRefused++;
    }
    expect({ oldOpened, newRefused }).toEqual({ oldOpened: 0, newRefused: 0 });
  });
});

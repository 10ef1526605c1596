import { describe, expect, it } from 'vitest';
import { ExpiringCache } from './expiring-cache.js';

describe('ExpiringCache', () => {
  it('reads once within the time to live, again after it, and never keeps a failed read', async () => {
    let clock = 0;
    let reads = 0;
    const cache = new ExpiringCache<string, number>(1_000, () => clock);
    const load = (): Promise<number> => Promise.resolve(++reads);
    expect(await Promise.all([cache.get('a', load), cache.get('a', load)])).toEqual([1, 1]);
    clock = 999;
    expect(await cache.get('a', load)).toBe(1);
    clock = 1_000;
    expect(await cache.get('a', load)).toBe(2);
    expect(await cache.get('b', load)).toBe(3);
    await expect(cache.get('c', () => Promise.reject(new Error('429')))).rejects.toThrow('429');
    expect(await cache.get('c', load)).toBe(4);
  });
});

import { describe, expect, it } from 'vitest';
import { RecentIds } from './recent-ids.js';

describe('RecentIds', () => {
  it('remembers ids, forgets the oldest past capacity, and a re-remembered id counts as new', () => {
    const ids = new RecentIds<number>(3);
    ids.remember([1, 2, 3]);
    ids.remember([1]);
    ids.remember([4]);
    expect([1, 2, 3, 4].map((id) => ids.has(id))).toEqual([true, false, true, true]);
  });
});

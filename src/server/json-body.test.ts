import { describe, expect, it } from 'vitest';
import { jsonNestsDeeperThan } from './json-body.js';

describe('jsonNestsDeeperThan', () => {
  it('counts objects and arrays, the body itself as level 1', () => {
    expect(jsonNestsDeeperThan('1', 0)).toBe(false);
    expect(jsonNestsDeeperThan('{}', 0)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(jsonNestsDeeperThan('{"a":[1,{"b":2}]}', 2)).toBe(true);
    // Siblings do not add up.
    expect(jsonNestsDeeperThan('[[1],[2],[3],[4]]', 2)).toBe(false);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(JSON.stringify({ a: '{{{[[["\\' }), 1)).toBe(false);
    expect(jsonNestsDeeperThan('{"a\\"{{{":"[[["}', 1)).toBe(false);
  });
});

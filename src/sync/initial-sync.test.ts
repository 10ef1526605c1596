import { describe, expect, it } from 'vitest';
import type { Json } from '../profile/schema.js';
import {
  firstPullPending,
  holdsCreates,
  initialPullKey,
  markFirstPullDone,
  markFirstPullStarted,
  waitsForFirstPull,
} from './initial-sync.js';

function cursors(initial: Record<string, Json> = {}) {
  const rows = new Map<string, Json>(Object.entries(initial));
  return {
    getCursor: (key: string) => Promise.resolve(rows.get(key) ?? null),
    setCursor: (key: string, value: Json) => Promise.resolve(void rows.set(key, value)),
  };
}

describe('the first pull', () => {
  it('is pending before any pull, and while a pull started without a cursor has not run to its end', async () => {
    const store = cursors();
    expect(await firstPullPending(store, 'crm')).toBe(true);
    await markFirstPullStarted(store, 'crm');
    await store.setCursor('crm', { page: 3 });
    expect(await firstPullPending(store, 'crm')).toBe(true);
    await markFirstPullDone(store, 'crm');
    expect(await firstPullPending(store, 'crm')).toBe(false);
  });

  it('counts as done for an instance that pulled before the setting existed (a cursor, no marker)', async () => {
    expect(await firstPullPending(cursors({ crm: { page: 9 } }), 'crm')).toBe(false);
    expect(initialPullKey('crm')).toBe('crm:initial-pull');
  });

  it('holds pushes only for pull-only instances that pull', () => {
    const can = { pull: true, push: true, webhooks: false, erase: false, export: false, find: false };
    expect(waitsForFirstPull({ initialSync: 'pull-only', capabilities: can })).toBe(true);
    expect(waitsForFirstPull({ initialSync: 'pull-only', capabilities: { ...can, pull: false } })).toBe(false);
    expect(waitsForFirstPull({ initialSync: 'both', capabilities: can })).toBe(false);
    expect(waitsForFirstPull({ capabilities: can })).toBe(false);
  });

  it('holds creates for both and push-only instances that pull on a schedule (else no pull may ever come)', () => {
    const can = { pull: true, push: true, webhooks: false, erase: false, export: false, find: false };
    const schedule = { every: 60_000 };
    expect(holdsCreates({ initialSync: 'both', capabilities: can, schedule })).toBe(true);
    expect(holdsCreates({ capabilities: can, schedule })).toBe(true);
    expect(holdsCreates({ initialSync: 'push-only', capabilities: can, schedule: { cron: '0 3 * * *' } })).toBe(true);
    expect(holdsCreates({ initialSync: 'both', capabilities: can })).toBe(false);
    expect(holdsCreates({ initialSync: 'both', capabilities: { ...can, pull: false }, schedule })).toBe(false);
    // pull-only holds everything instead (`waitsForFirstPull`).
    expect(holdsCreates({ initialSync: 'pull-only', capabilities: can, schedule })).toBe(false);
  });
});

import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisReady } from './redis-health.js';

/** What `redisReady` reads of an ioredis connection: its status, and the status events ioredis emits. */
class FakeConnection extends EventEmitter {
  status = 'wait';
  set(status: string): void {
    this.status = status;
    this.emit(status);
  }
}
const asRedis = (c: FakeConnection): Redis => c as unknown as Redis;

describe('redisReady', () => {
  it('counts a first connect as up, and a connection that lost Redis as down until it is ready again', () => {
    const c = new FakeConnection();
    c.set('connecting');
    expect(redisReady(asRedis(c))).toBe(true);
    c.set('connect');
    c.set('ready');
    expect(redisReady(asRedis(c))).toBe(true);

    c.set('close');
    c.set('reconnecting');
    expect(redisReady(asRedis(c))).toBe(false);
    // A reconnect attempt: a request let in now would wait for the deadline instead of a 503.
    c.set('connecting');
    expect(redisReady(asRedis(c))).toBe(false);
    c.set('connect');
    expect(redisReady(asRedis(c))).toBe(false);
    c.set('ready');
    expect(redisReady(asRedis(c))).toBe(true);
  });

  it('remembers a loss it only saw in the status (no event followed yet)', () => {
    const c = new FakeConnection();
    c.status = 'reconnecting';
    expect(redisReady(asRedis(c))).toBe(false);
    c.status = 'connecting';
    expect(redisReady(asRedis(c))).toBe(false);
    c.set('ready');
    expect(redisReady(asRedis(c))).toBe(true);
  });

  it('is down when any connection is', () => {
    const up = new FakeConnection();
    up.set('ready');
    const down = new FakeConnection();
    down.set('reconnecting');
    expect(redisReady(asRedis(up), asRedis(down))).toBe(false);
    expect(redisReady(asRedis(up))).toBe(true);
  });
});

import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { clusterTransient, redisReady, RedisUnavailableError } from './redis-health.js';

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

describe('clusterTransient', () => {
  const withPrevious = (message: string, previous: string[]): Error =>
    Object.assign(new Error(message), { previousErrors: previous.map((m) => new Error(m)) });

  it("takes a slot's 'not now' answers for unavailable, and nothing else", () => {
    for (const message of [
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'NOSCRIPT No matching script. Please use EVAL.',
      'ASK 15891 127.0.0.1:7001',
    ])
      expect(clusterTransient(new Error(message))).toBeInstanceOf(RedisUnavailableError);
    expect(clusterTransient(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBeUndefined();
    expect(clusterTransient('TRYAGAIN')).toBeUndefined();
  });

  it('takes a transaction discarded only for such answers for unavailable', () => {
    const execAbort = 'EXECABORT Transaction discarded because of previous errors.';
    expect(clusterTransient(withPrevious(execAbort, ['TRYAGAIN Multiple keys request during rehashing of slot']))).toBeInstanceOf(
      RedisUnavailableError,
    );
    expect(clusterTransient(withPrevious(execAbort, ['TRYAGAIN x', 'ERR wrong number of arguments for command']))).toBeUndefined();
    expect(clusterTransient(withPrevious(execAbort, []))).toBeUndefined();
  });
});

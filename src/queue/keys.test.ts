import { describe, expect, it } from 'vitest';
import { connectorPrefix, engineKeys, prefixPatterns, queueNames, queuePrefix } from './keys.js';

/** Redis's glob as SCAN MATCH reads these patterns: `*`, `?` and `\` escapes (no classes used here). */
function globMatches(pattern: string, key: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\') source += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's').test(key);
}

/** The hash tag Redis Cluster hashes: from the first `{` to the next `}`, when not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('queuePrefix', () => {
  it("adds the queue's name inside the deployment's hash tag", () => {
    expect(queuePrefix('{concord}', queueNames.push('hubspot'))).toBe('{concord.push.hubspot}');
    expect(queuePrefix('myapp:{concord}', queueNames.ingest)).toBe('myapp:{concord.ingest}');
    expect(queuePrefix('{concord}:eu', queueNames.relay)).toBe('{concord.relay}:eu');
    expect(queuePrefix('concord', queueNames.relay)).toBe('{concord.relay}');
  });

  it("puts each queue in a hash tag of its own, apart from the engine's keys", () => {
    const prefix = '{concord}';
    const names = [queueNames.ingest, queueNames.relay, queueNames.push('a'), queueNames.pull('a'), queueNames.read('a')];
    // BullMQ builds `<prefix>:<queueName>:<suffix>`.
    const tags = names.map((name) => hashTag(`${queuePrefix(prefix, name)}:${name}:wait`));
    expect(new Set(tags).size).toBe(names.length);
    expect(tags).not.toContain(hashTag(engineKeys(prefix).dirty('a')));
    expect(hashTag(engineKeys(prefix).epoch)).toBe('concord');
  });

  it("puts each connector's engine keys on a hash tag of its own, all of them on one", () => {
    for (const prefix of ['{concord}', 'myapp:{concord}:eu']) {
      const keys = engineKeys(prefix);
      const ofA = [
        keys.dirty('a'),
        keys.inflight('a'),
        keys.retry('a'),
        keys.held('a'),
        keys.attempts('a'),
        keys.dead('a'),
        keys.repush('a'),
        keys.repushOrigin('a'),
        keys.lastDirty('a'),
        keys.since('a'),
        keys.writes('a', 'p1'),
        keys.writeOf('a', 'x1'),
        keys.order('a', 'x1'),
        keys.pullLock('a'),
        keys.calls('a'),
        keys.blocked('a'),
        keys.lifts('a'),
        keys.lastPull('a'),
        keys.changed('a'),
        keys.changedTaken('a'),
        keys.changedTakenAt('a'),
        keys.changedSuspect('a'),
        keys.lastChanged('a'),
        keys.seenEvent('a', 'e1'),
      ];
      expect(new Set(ofA.map(hashTag))).toEqual(new Set(['concord.sync.a']));
      expect(ofA.every((key) => key.startsWith(connectorPrefix(prefix, 'a')))).toBe(true);
      expect(hashTag(keys.dirty('b'))).toBe('concord.sync.b');
      // The deployment-wide keys stay on the deployment's tag, apart from every queue's and connector's.
      expect([keys.epoch, keys.changesOfMinute(1)].map(hashTag)).toEqual(['concord', 'concord']);
      expect(hashTag(`${queuePrefix(prefix, queueNames.push('a'))}:push.a:wait`)).not.toBe(hashTag(keys.dirty('a')));
    }
  });
});

describe('prefixPatterns', () => {
  it("match the engine's keys and every queue's, of this deployment only", () => {
    for (const prefix of ['{ct-a}', 'myapp:{ct-a}', '{ct-a}:eu']) {
      const patterns = prefixPatterns(prefix);
      const mine = [
        engineKeys(prefix).epoch,
        engineKeys(prefix).dirty('b'),
        `${queuePrefix(prefix, 'push.b')}:push.b:wait`,
        `${queuePrefix(prefix, 'ingest')}:ingest:meta`,
      ];
      const other = prefix.replace('ct-a', 'ct-ab');
      const theirs = [
        engineKeys(other).epoch,
        engineKeys(other).dirty('b'),
        `${queuePrefix(other, 'ingest')}:ingest:meta`,
        `${queuePrefix(prefix.replace('ct-a', 'ct-a-b'), 'ingest')}:ingest:meta`,
      ];
      for (const key of mine)
        expect(
          patterns.some((p) => globMatches(p, key)),
          key,
        ).toBe(true);
      for (const key of theirs)
        expect(
          patterns.some((p) => globMatches(p, key)),
          key,
        ).toBe(false);
    }
  });

  it("escapes the glob's special characters of a prefix", () => {
    expect(prefixPatterns('{a*b}')).toEqual(['{a\\*b}*', '{a\\*b.*}*']);
  });
});

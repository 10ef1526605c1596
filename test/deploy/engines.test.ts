/**
 * Every installed package accepts the Node versions `package.json` promises (`engines`), so
 * `npm ci` prints no EBADENGINE warning on any of them: a dependency that moves to Node 22 only
 * shows up here, not as a warning nobody reads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Lock {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
}

/** The lowest major version each `||` alternative of a range admits (`^20.19.0 || >=22` -> 20, 22). */
function lowestMajors(range: string): number[] {
  return range.split('||').map((alternative) => Number(/(\d+)/.exec(alternative)?.[1] ?? '0'));
}

describe('engines', () => {
  it('no installed package requires a newer Node than the oldest one Concord supports', () => {
    const promised = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    const oldest = Math.min(...lowestMajors(promised));
    expect(oldest).toBe(20);
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lock;
    const tooNew = Object.entries(lock.packages).flatMap(([path, pkg]) => {
      const node = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
      // A range whose every alternative starts above the oldest supported major excludes it.
      return node !== undefined && Math.min(...lowestMajors(node)) > oldest ? [`${path}@${pkg.version ?? '?'}: node ${node}`] : [];
    });
    expect(tooNew).toEqual([]);
  });
});

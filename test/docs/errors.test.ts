/**
 * docs/ERRORS.md lists every stable error code, and only those: the codes are read from the
 * source (error classes' `code`, the `...ErrorCode` and `...Problem` unions, problem answers of
 * the HTTP surface, connectors' own record failures), not from a list kept by hand.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every .ts file under `dir`, without tests and emulators (an emulator's errors are the imitated
 * system's). The in-memory system (`connectors/memory/system.ts`) is the memory connector's
 * emulator: its `ECONNRESET` imitates Node's, like an external system's upper-case codes.
 */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => !path.split(/[\\/]/).includes('emulator'))
    .filter((path) => path.split(/[\\/]/).join('/') !== 'connectors/memory/system.ts');
}

const CODE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)?$/;

/** The stable codes a source file defines, with where each was found. */
function codesIn(text: string): string[] {
  const found: string[] = [];
  // An error class's code: `readonly code = 'sync.invalid_cursor'` (with or without `as const`).
  for (const m of text.matchAll(/readonly code(?:: '([^']+)'|\s*=\s*'([^']+)')/g)) found.push((m[1] ?? m[2]) as string);
  // A union of codes: `export type StoreErrorCode = | 'invalid_url' | ...;` (also `MappingValueProblem`).
  for (const m of text.matchAll(/export type \w+(?:ErrorCode|Problem)\s*=([^;]*);/g)) {
    const union = (m[1] ?? '').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const literal of union.matchAll(/'([^']+)'/g)) found.push(literal[1] as string);
  }
  // Problem answers: `new ApiProblem(404, 'not_found', ...)` and the webhook's `problem(reply, 401, 'bad_signature', ...)`.
  for (const m of text.matchAll(/(?:new ApiProblem|\bproblem)\(\s*(?:reply,\s*)?[^,()]+,\s*'([^']+)'/g)) found.push(m[1] as string);
  // A connector's own record failures (upper-case codes are the external system's, passed through).
  for (const m of text.matchAll(/failure = \{[^}]*\bcode: '([a-z][a-z0-9_]*)'/g)) found.push(m[1] as string);
  return found;
}

function codesInSource(): Set<string> {
  const codes = new Set<string>();
  for (const path of [...sources('src'), ...sources('connectors')]) for (const code of codesIn(readFileSync(path, 'utf8'))) codes.add(code);
  return codes;
}

/** The codes docs/ERRORS.md lists: the first cell of its table rows, in backticks. */
function codesInDoc(): Set<string> {
  const doc = readFileSync('docs/ERRORS.md', 'utf8');
  return new Set([...doc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string));
}

describe('docs/ERRORS.md', () => {
  it('reads codes of every kind from the source', () => {
    const codes = codesInSource();
    for (const sample of [
      'sync.redis_unavailable',
      'not_found',
      'bad_signature',
      'write_conflict',
      'subject_erased',
      'yaml_syntax',
      'rate_limited',
      'not_a_boolean',
      'missing_email',
    ]) {
      expect(codes, sample).toContain(sample);
    }
  });

  it('lists every stable error code of the source, and no other', () => {
    const source = codesInSource();
    const doc = codesInDoc();
    expect([...source].filter((c) => !doc.has(c)).sort(), 'codes in the source missing from docs/ERRORS.md').toEqual([]);
    expect([...doc].filter((c) => !source.has(c)).sort(), 'codes in docs/ERRORS.md that the source no longer has').toEqual([]);
  });

  it('spells every code the one way: snake_case, with an area prefix (area.snake_case) for codes that only the hub itself sees', () => {
    for (const code of codesInSource()) expect(code).toMatch(CODE);
  });
});

/**
 * Maps config paths (as zod reports them) to positions in the YAML source.
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Alias, Document, LineCounter, Node, Scalar } from 'yaml';
import type { SourcePosition } from './errors.js';

export type ConfigPath = readonly (string | number)[];

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return key.value === null ? undefined : String(key.value);
  return undefined;
}

function deref(node: unknown, doc: Document): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function startOf(node: unknown): number | undefined {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as Node).range;
    return range?.[0];
  }
  return undefined;
}

/**
 * The offset of the node at `path`: its key when `at` is `key`, else its value (an empty value
 * points at its key). When the path runs past what the file holds (a missing key), the nearest
 * existing ancestor's key is used, so "missing key" errors point at the map that lacks it.
 */
export function offsetOf(doc: Document, path: ConfigPath, at: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let keyNode: unknown = undefined;
  for (const [index, segment] of path.entries()) {
    node = deref(node, doc);
    let nextKey: unknown = undefined;
    let next: unknown = undefined;
    let found = false;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(segment));
      if (pair) {
        found = true;
        nextKey = pair.key;
        next = pair.value;
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      if (segment >= 0 && segment < node.items.length) {
        found = true;
        next = node.items[segment];
      }
    }
    if (!found) return startOf(keyNode) ?? startOf(node) ?? 0;
    const last = index === path.length - 1;
    if (last && at === 'key' && nextKey !== undefined) return startOf(nextKey) ?? 0;
    keyNode = nextKey ?? next;
    node = next;
  }
  // An alias is reported where it is written, not where its anchor is.
  const target = node;
  const isEmpty = target === null || target === undefined || (isScalar(target) && target.source === '' && target.value === null);
  if (isEmpty) return startOf(keyNode) ?? 0;
  return startOf(target) ?? startOf(keyNode) ?? 0;
}

/** The 1-based line and column of `path` in the file. */
export function positionOf(doc: Document, lines: LineCounter, path: ConfigPath, at: 'key' | 'value'): SourcePosition {
  const { line, col } = lines.linePos(offsetOf(doc, path, at));
  return { line, col };
}

/** A scalar (or, on request, an alias) at a value position, with its config path. */
export interface ScalarAt {
  path: ConfigPath;
  node: Scalar | Alias;
}

/**
 * Every scalar in value position (map values, sequence items), depth first. Aliases are not
 * followed; with `aliases: true` they are listed too (at the alias's own path).
 */
export function valueScalars(doc: Document, options: { aliases?: boolean } = {}): ScalarAt[] {
  const out: ScalarAt[] = [];
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (isScalar(node) || (options.aliases === true && isAlias(node))) out.push({ path, node });
    else if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key !== undefined) walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
  };
  walk(doc.contents, []);
  return out;
}

/**
 * Finds the zod schema that governs one place in the config, following the data where the
 * schema depends on it (a discriminated union picks its option by the `type` in the data).
 * The loader uses it to find secret fields and the expected type of an env-resolved value.
 */
import { z } from 'zod';
import type { ConfigPath } from './locate.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Unwraps optional/default/pipe/... layers, collecting each one; picks union options by data. */
function unwrap(schema: z.ZodType, value: unknown, layers: z.ZodType[]): z.ZodType {
  let current = schema;
  for (;;) {
    layers.push(current);
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNonOptional ||
      current instanceof z.ZodReadonly ||
      current instanceof z.ZodCatch
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else if (current instanceof z.ZodLazy) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodDiscriminatedUnion) {
      const discriminator = current.def.discriminator;
      const tag = isRecord(value) ? value[discriminator] : undefined;
      const option = (current.options as z.ZodType[]).find((o) => {
        if (!(o instanceof z.ZodObject)) return false;
        const field: unknown = o.shape[discriminator];
        return field instanceof z.ZodLiteral && field.values.has(tag as z.core.util.Literal);
      });
      if (option === undefined) return current;
      current = option;
    } else if (current instanceof z.ZodUnion) {
      const option = unionOptionFor(current.options as readonly z.ZodType[], value);
      if (option === undefined) return current;
      current = option;
    } else {
      return current;
    }
  }
}

/**
 * The option of a plain union that a value is of: a text for a string option, a map for the
 * object option that has each of its keys (e.g. `hub.redisUrl`: a URL, `{cluster}` or `{sentinel}`).
 */
function unionOptionFor(options: readonly z.ZodType[], value: unknown): z.ZodType | undefined {
  return options.find((option) => {
    const base = unwrap(option, value, []);
    if (typeof value === 'string') return base instanceof z.ZodString;
    return isRecord(value) && base instanceof z.ZodObject && Object.keys(value).every((key) => key in base.shape);
  });
}

function child(schema: z.ZodType, segment: string | number): z.ZodType | undefined {
  if (schema instanceof z.ZodObject) {
    const field: unknown = schema.shape[String(segment)];
    return field instanceof z.ZodType ? field : undefined;
  }
  if (schema instanceof z.ZodRecord) return schema.valueType as z.ZodType;
  if (schema instanceof z.ZodArray && typeof segment === 'number') return schema.element as z.ZodType;
  return undefined;
}

/**
 * Every schema layer that applies at `path` (outermost first), or `undefined` when the path
 * leaves the schema (an unknown key).
 */
export function layersAt(root: z.ZodType, data: unknown, path: ConfigPath): z.ZodType[] | undefined {
  let schema: z.ZodType = root;
  let value: unknown = data;
  for (const segment of path) {
    const inner = unwrap(schema, value, []);
    const next = child(inner, segment);
    if (next === undefined) return undefined;
    schema = next;
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string | number, unknown>)[segment] : undefined;
  }
  const layers: z.ZodType[] = [];
  unwrap(schema, value, layers);
  return layers;
}

/** The primitive the innermost layer expects, for typing env-resolved strings. */
export function leafKind(layers: readonly z.ZodType[]): 'number' | 'boolean' | 'other' {
  const leaf = layers[layers.length - 1];
  if (leaf instanceof z.ZodNumber) return 'number';
  if (leaf instanceof z.ZodBoolean) return 'boolean';
  return 'other';
}

/** The keys an object schema at `path` allows, for "did you mean" hints. */
export function keysAt(root: z.ZodType, data: unknown, path: ConfigPath): string[] {
  const layers = layersAt(root, data, path);
  const leaf = layers?.[layers.length - 1];
  return leaf instanceof z.ZodObject ? Object.keys(leaf.shape) : [];
}

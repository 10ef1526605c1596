/**
 * The JSON Schema of `concord.yaml`, generated from the zod schema (the single source of
 * truth). `config/concord.schema.json` is this output, written by `npm run schema`.
 */
import { z } from 'zod';
import type { ConnectorDefinition } from '../connector/define.js';
import { buildConfigSchema } from './schema.js';
import { ENV_REFERENCE_PATTERN, SECRET_META_KEY } from './secret.js';

type JsonSchema = Record<string, unknown>;

const ENV_REFERENCE: JsonSchema = {
  type: 'string',
  pattern: ENV_REFERENCE_PATTERN,
  description: 'An ${env:NAME} or ${env:NAME:-default} reference, resolved when the file is loaded.',
};

/** Lets editors accept `${env:...}` where a number, boolean or enum belongs (the loader resolves it). */
function allowEnvReference(schema: JsonSchema): void {
  const type = schema['type'];
  const typed = type === 'number' || type === 'integer' || type === 'boolean' || Array.isArray(schema['enum']);
  if (!typed) return;
  const { default: fallback, description, ...rest } = schema;
  for (const key of Object.keys(schema)) delete schema[key];
  if (description !== undefined) schema['description'] = description;
  if (fallback !== undefined) schema['default'] = fallback;
  schema['anyOf'] = [rest, ENV_REFERENCE];
}

/** The JSON Schema (draft-07, widely supported by editors) for a registry of connector types. */
export function configJsonSchema(connectors: readonly ConnectorDefinition[]): JsonSchema {
  return z.toJSONSchema(buildConfigSchema(connectors), {
    target: 'draft-07',
    io: 'input',
    override: (ctx) => {
      // Map keys (propertyNames) are ids written literally, never env references.
      if (ctx.path.includes('propertyNames')) return;
      const schema = ctx.jsonSchema as JsonSchema;
      if (schema[SECRET_META_KEY] === 'env') {
        // The file holds the reference, not the secret: length and format rules apply after loading.
        for (const key of ['minLength', 'maxLength', 'format']) delete schema[key];
        schema['pattern'] = ENV_REFERENCE_PATTERN;
        return;
      }
      allowEnvReference(schema);
    },
  }) as JsonSchema;
}

/** The file content of `config/concord.schema.json`: stable formatting, trailing newline. */
export function configJsonSchemaText(connectors: readonly ConnectorDefinition[]): string {
  return `${JSON.stringify(configJsonSchema(connectors), null, 2)}\n`;
}

/**
 * Marks config fields that hold secrets. The marks live in zod metadata, so they travel into
 * the JSON Schema (editors see them) and the loader finds them by walking the schema.
 *
 * - `secret()`: the whole value must be one `${env:NAME}` reference; a literal is an error.
 * - `credentialUrl()`: a URL whose literal form may not carry a password (e.g. a database URL);
 *   the password, if any, must be an `${env:NAME}` reference.
 */
import { z } from 'zod';

/** The metadata key the marks use (also visible in the generated JSON Schema). */
export const SECRET_META_KEY = 'x-concord-secret';

export type SecretKind = 'env' | 'url-credentials';

/** An `${env:NAME}` or `${env:NAME:-default}` reference and nothing else (for editors). */
export const ENV_REFERENCE_PATTERN = '^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*(:-.*)?\\}$';

/**
 * A field that holds a secret (API key, signing secret...). The YAML must give it as
 * `${env:NAME}`; `concord validate` refuses literal values. Pass a schema to constrain the
 * resolved value (default: a non-empty string).
 */
export function secret(description?: string): z.ZodString;
export function secret<T extends z.ZodType<string>>(schema: T, description?: string): T;
export function secret(first?: string | z.ZodType<string>, second?: string): z.ZodType<string> {
  const schema = typeof first === 'object' ? first : z.string().min(1);
  const description = typeof first === 'string' ? first : second;
  return schema.meta({
    [SECRET_META_KEY]: 'env' satisfies SecretKind,
    description: [description, 'Secret: give it as ${env:NAME}; literal values are refused.']
      .filter((part) => part !== undefined)
      .join(' '),
    pattern: ENV_REFERENCE_PATTERN,
  });
}

/** Marks an existing schema as a secret (used for a connector's `secretKeys`). */
export function markSecret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ [SECRET_META_KEY]: 'env' satisfies SecretKind });
}

/** A URL that may hold credentials: a password in it must come from `${env:NAME}`. */
export function credentialUrl<T extends z.ZodType<string>>(schema: T, description: string): T {
  return schema.meta({
    [SECRET_META_KEY]: 'url-credentials' satisfies SecretKind,
    description: `${description} A password in the URL must come from \${env:NAME}.`,
  });
}

/** The secret mark of one schema layer, if any. */
export function secretKindOf(schema: z.ZodType): SecretKind | undefined {
  const mark = z.globalRegistry.get(schema)?.[SECRET_META_KEY];
  return mark === 'env' || mark === 'url-credentials' ? mark : undefined;
}

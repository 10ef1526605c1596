/**
 * Marks config fields that hold secrets. The marks live in zod metadata, so they travel into
 * the JSON Schema (editors see them) and the loader finds them by walking the schema.
 *
 * - `secret()`: the whole value must be one `${env:NAME}` reference; a literal is an error.
 * - `credentialUrl()`: a URL whose literal form may not carry a password (e.g. a database URL);
 *   the password, if any, must be an `${env:NAME}` reference.
 * - `generatedSecret()`: a secret the operator makes rather than another system issues (the
 *   hub's signing secret, admin API keys, a token in a webhook URL); production mode holds it
 *   to 256 bits of strength (`secret-policy.ts`), and `concord secret` prints one.
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

/** The metadata key that marks a secret the operator generates (see `generatedSecret`). */
export const GENERATED_META_KEY = 'x-concord-generated';

const GENERATED_HINT = 'Generate it with `concord secret`; production mode refuses one weaker than 32 random bytes.';

/**
 * A secret the operator generates (not one another system issues): like `secret()`, and in
 * production mode it must have 256 bits of strength.
 */
export function generatedSecret<T extends z.ZodType<string>>(schema: T, description: string): T {
  return secret(schema, `${description} ${GENERATED_HINT}`).meta({ [GENERATED_META_KEY]: true });
}

/**
 * Marks an existing schema as a secret (used for a connector's `secretKeys`); `generated` for
 * one the operator makes (its `generatedSecretKeys`).
 */
export function markSecret<T extends z.ZodType>(schema: T, options: { generated?: boolean } = {}): T {
  return schema.meta({ [SECRET_META_KEY]: 'env' satisfies SecretKind, ...(options.generated ? { [GENERATED_META_KEY]: true } : {}) });
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

/** True when a schema layer marks a secret the operator generates. */
export function isGeneratedSecret(schema: z.ZodType): boolean {
  return z.globalRegistry.get(schema)?.[GENERATED_META_KEY] === true;
}

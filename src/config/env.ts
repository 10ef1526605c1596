/**
 * `${env:NAME}` and `${env:NAME:-default}` references inside YAML string values.
 *
 * - A reference may stand alone or sit inside a longer string (`https://${env:HOST}/hooks`).
 * - `:-default` is used when the variable is unset or empty (as in POSIX shells).
 * - `$${` writes a literal `${`. Any other `${` is an error, so a typo never passes silently.
 */

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'env'; name: string; fallback?: string };

export type ParsedTemplate = { ok: true; parts: TemplatePart[] } | { ok: false; message: string };

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when the string contains something `parseTemplate` would treat as a reference. */
export function hasReference(text: string): boolean {
  return text.includes('${');
}

/** Splits a string into literal text and env references. */
export function parseTemplate(text: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      literal += text[i];
      i += 1;
      continue;
    }
    // Find the closing brace, allowing balanced braces inside a default (e.g. `{concord}`).
    let depth = 1;
    let end = i + 2;
    while (end < text.length && depth > 0) {
      if (text[end] === '{') depth += 1;
      else if (text[end] === '}') depth -= 1;
      if (depth > 0) end += 1;
    }
    if (depth > 0) return { ok: false, message: 'unclosed "${" (write $${ for a literal ${)' };
    const body = text.slice(i + 2, end);
    if (!body.startsWith('env:')) {
      return {
        ok: false,
        message: 'unsupported reference: only ${env:NAME} and ${env:NAME:-default} are supported (write $${ for a literal ${)',
      };
    }
    const spec = body.slice('env:'.length);
    const sep = spec.indexOf(':-');
    const name = sep === -1 ? spec : spec.slice(0, sep);
    if (!NAME_PATTERN.test(name)) {
      return { ok: false, message: `invalid environment variable name ${JSON.stringify(name.slice(0, 64))} in \${env:...}` };
    }
    if (literal !== '') parts.push({ kind: 'text', text: literal });
    literal = '';
    parts.push(sep === -1 ? { kind: 'env', name } : { kind: 'env', name, fallback: spec.slice(sep + 2) });
    i = end + 1;
  }
  if (literal !== '') parts.push({ kind: 'text', text: literal });
  return { ok: true, parts };
}

/** Where one stretch of a resolved string came from. */
export interface ResolvedSegment {
  text: string;
  /** `literal`: written in the YAML; `env`: from a set variable; `default`: a `:-default` fallback. */
  origin: 'literal' | 'env' | 'default';
  /** The variable, for `env` and `default` segments. */
  name?: string;
}

export interface ResolvedTemplate {
  value: string;
  segments: ResolvedSegment[];
  /** Variables that are unset (or empty) and have no default. */
  missing: string[];
  /** True when the whole value is exactly one reference. */
  whole: boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Substitutes env references. Never throws; missing variables are listed, not guessed. */
export function resolveTemplate(parts: readonly TemplatePart[], env: Env): ResolvedTemplate {
  const segments: ResolvedSegment[] = [];
  const missing: string[] = [];
  for (const part of parts) {
    if (part.kind === 'text') {
      segments.push({ text: part.text, origin: 'literal' });
      continue;
    }
    const value = env[part.name];
    if (value !== undefined && value !== '') segments.push({ text: value, origin: 'env', name: part.name });
    else if (part.fallback !== undefined) segments.push({ text: part.fallback, origin: 'default', name: part.name });
    else missing.push(part.name);
  }
  return {
    value: segments.map((s) => s.text).join(''),
    segments,
    missing,
    whole: parts.length === 1 && parts[0]?.kind === 'env',
  };
}

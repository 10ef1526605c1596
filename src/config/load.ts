/**
 * Loads `concord.yaml`: parses the YAML, resolves `${env:...}` references, enforces the
 * secrets rules (`${env:NAME}` only; in production mode the policy of `secret-policy.ts`),
 * validates against the zod schema and the catalog references, merges the mapping entries each
 * connector derives from its own keys into the instance's `mappings` (`derived-mappings.ts`),
 * and reports every problem at once as `file:LINE:COL: message`. Bad input is returned, never
 * thrown.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isAlias, isScalar, parseDocument } from 'yaml';
import type { Scalar } from 'yaml';
import type { z } from 'zod';
import type { ConnectorDefinition } from '../connector/define.js';
import { MappingEntry } from '../connector/mapping-schema.js';
import { crossChecks } from './checks.js';
import { mergeDerivedMappings } from './derived-mappings.js';
import { hasReference, parseTemplate, resolveTemplate } from './env.js';
import type { Env, ResolvedTemplate } from './env.js';
import { ConfigError, ConfigWarning, formatPath } from './errors.js';
import type { ConfigErrorCode } from './errors.js';
import { positionOf, valueScalars } from './locate.js';
import type { ConfigPath } from './locate.js';
import { buildConfigSchema, ownConfig } from './schema.js';
import type { Config } from './schema.js';
import { keysAt, layersAt, leafKind } from './schema-walk.js';
import { isGeneratedSecret, secretKindOf } from './secret.js';
import type { SecretKind } from './secret.js';
import { isPublishedDigest, isPublishedSecret, productionSecretFindings } from './secret-policy.js';
import type { ResolvedSecret } from './secret-policy.js';
import { closest } from './suggest.js';

export interface LoadOptions {
  /** Connector types the file may use (the CLI and the app pass the registry's `builtinConnectors`). */
  connectors: readonly ConnectorDefinition[];
  /** Where `${env:NAME}` reads from. Default: `process.env`. */
  env?: Env;
}

/** Which environment variables the file read. Names only: values are never kept here. */
export interface EnvUsage {
  /** Variables that were set and used. */
  set: string[];
  /** Variables that were unset, so their `:-default` was used. */
  defaulted: string[];
}

export type LoadResult =
  { ok: true; file: string; config: Config; warnings: ConfigWarning[]; env: EnvUsage } | { ok: false; file: string; errors: ConfigError[] };

/** Reads and validates the config file at `file` (named in errors exactly as given). */
export async function loadConfig(file: string, options: LoadOptions): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    return { ok: false, file, errors: [new ConfigError('file_unreadable', file, undefined, `cannot read the config file (${reason})`)] };
  }
  return parseConfig(text, file, options);
}

interface Resolution {
  node: Scalar;
  resolved: ResolvedTemplate;
}

const pathKey = (path: ConfigPath): string => JSON.stringify(path);

function isUnder(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i]));
}

function asDict(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function getIn(data: unknown, path: ConfigPath): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function setIn(data: unknown, path: ConfigPath, next: unknown): void {
  const parent = getIn(data, path.slice(0, -1));
  const last = path[path.length - 1];
  if (typeof parent === 'object' && parent !== null && last !== undefined) {
    (parent as Record<string | number, unknown>)[last] = next;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `a ${typeof value}`;
}

function describeExpected(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a map';
  if (expected === 'array') return 'a list';
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function showValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Where the password of `scheme://user:password@host` sits in the string, if it has one. */
function passwordRange(url: string): [number, number] | undefined {
  const scheme = url.indexOf('://');
  if (scheme === -1) return undefined;
  const authStart = scheme + 3;
  let authEnd = url.length;
  for (let i = authStart; i < url.length; i += 1) {
    if (url[i] === '/' || url[i] === '?' || url[i] === '#') {
      authEnd = i;
      break;
    }
  }
  const at = url.lastIndexOf('@', authEnd - 1);
  if (at < authStart) return undefined;
  const colon = url.indexOf(':', authStart);
  if (colon === -1 || colon > at || colon + 1 === at) return undefined;
  return [colon + 1, at];
}

/** The origins of the characters in `[start, end)` of a resolved string. */
function originsIn(resolved: ResolvedTemplate | undefined, range: [number, number]): Set<string> {
  if (resolved === undefined) return new Set(['literal']);
  const origins = new Set<string>();
  let offset = 0;
  for (const segment of resolved.segments) {
    const end = offset + segment.text.length;
    if (end > range[0] && offset < range[1]) origins.add(segment.origin);
    offset = end;
  }
  return origins;
}

function coerce(text: string, kind: 'number' | 'boolean'): unknown {
  if (kind === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

/** Validates config text. `file` is only used to name the file in errors. */
export function parseConfig(text: string, file: string, options: LoadOptions): LoadResult {
  const env = options.env ?? process.env;
  const schema = buildConfigSchema(options.connectors);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });

  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return new ConfigError('yaml_syntax', file, { line, col }, `YAML syntax error: ${e.message}`);
    });
    return { ok: false, file, errors };
  }

  const errors: ConfigError[] = [];
  const warnings: ConfigWarning[] = [];
  const fail = (code: ConfigErrorCode, path: ConfigPath, at: 'key' | 'value', message: string): void => {
    errors.push(new ConfigError(code, file, positionOf(doc, lines, path, at), message, path));
  };

  // 1. Resolve env references in place, remembering where every resolved value came from.
  const resolutions = new Map<string, Resolution>();
  const failedPaths: ConfigPath[] = [];
  const usage = { set: new Set<string>(), defaulted: new Set<string>() };
  for (const { path, node } of valueScalars(doc)) {
    if (!isScalar(node) || typeof node.value !== 'string' || !hasReference(node.value)) continue;
    const parsed = parseTemplate(node.value);
    if (!parsed.ok) {
      fail('env_syntax', path, 'value', `${formatPath(path)}: ${parsed.message}`);
      failedPaths.push(path);
      continue;
    }
    const resolved = resolveTemplate(parsed.parts, env);
    for (const name of resolved.missing) {
      fail(
        'env_missing',
        path,
        'value',
        `${formatPath(path)}: environment variable ${name} is not set (and \${env:${name}} has no default)`,
      );
    }
    if (resolved.missing.length > 0) {
      failedPaths.push(path);
      continue;
    }
    for (const segment of resolved.segments) {
      if (segment.name === undefined) continue;
      (segment.origin === 'env' ? usage.set : usage.defaulted).add(segment.name);
    }
    node.value = resolved.value;
    resolutions.set(pathKey(path), { node, resolved });
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, file, errors: [...errors, new ConfigError('yaml_syntax', file, undefined, `YAML error: ${message}`)] };
  }

  // 2. Secrets and env-typed values, field by field, with the schema that governs each place.
  const mode = getIn(data, ['hub', 'mode']);
  const development = mode === 'development';
  // An invalid mode is reported by the schema; only a valid (or absent) production mode gets its policy.
  const production = mode === undefined || mode === 'production';
  const secretPaths: ConfigPath[] = [];
  const resolvedSecrets: ResolvedSecret[] = [];
  for (const { path, node } of valueScalars(doc, { aliases: true })) {
    if (failedPaths.some((failed) => isUnder(path, failed))) continue;
    const layers = layersAt(schema, data, path);
    if (layers === undefined) continue;
    const resolution = resolutions.get(pathKey(path));
    const kind = layers.map(secretKindOf).find((k): k is SecretKind => k !== undefined);
    const leaf = leafKind(layers);
    // `${env:...}` yields text; where the schema wants a number or boolean, type it (quoted or not,
    // since flow collections like `{ port: "${env:PORT}" }` need quotes).
    if (resolution?.resolved.whole && leaf !== 'other') {
      setIn(data, path, coerce(resolution.resolved.value, leaf));
    }
    if (kind === 'env') {
      secretPaths.push(path);
      checkSecret(path, node, resolution, layers.some(isGeneratedSecret));
    } else if (kind === 'url-credentials') {
      checkCredentialUrl(path, resolution, getIn(data, path));
    }
  }

  function checkSecret(path: ConfigPath, node: unknown, resolution: Resolution | undefined, generated: boolean): void {
    const where = formatPath(path);
    // An empty value is not a literal secret; the schema reports it as missing.
    if (isScalar(node) && node.value === null) return;
    if (isAlias(node)) {
      fail('secret_literal', path, 'value', `${where}: is a secret: write it as \${env:NAME}, not as an alias`);
      return;
    }
    if (resolution === undefined || !resolution.resolved.whole) {
      fail(
        'secret_literal',
        path,
        'value',
        `${where}: is a secret and must be exactly one \${env:NAME} reference; a literal value is refused (the value is not shown)`,
      );
      return;
    }
    const segment = resolution.resolved.segments[0];
    const name = segment?.name ?? '?';
    if (segment?.origin !== 'default') {
      resolvedSecrets.push({ path, value: resolution.resolved.value, variable: name, generated });
      return;
    }
    if (development) {
      resolvedSecrets.push({ path, value: resolution.resolved.value, variable: name, generated });
      warnings.push(
        new ConfigWarning(
          'secret_development_default',
          file,
          positionOf(doc, lines, path, 'value'),
          `${where}: ${name} is not set, using the development default from the file`,
        ),
      );
    } else {
      fail(
        'secret_default',
        path,
        'value',
        `${where}: environment variable ${name} is not set; a secret's default in the file is used only with hub.mode: development`,
      );
    }
  }

  function checkCredentialUrl(path: ConfigPath, resolution: Resolution | undefined, value: unknown): void {
    if (typeof value !== 'string') return;
    const range = passwordRange(value);
    if (range === undefined) return;
    const origins = originsIn(resolution?.resolved, range);
    const where = formatPath(path);
    if (origins.has('literal')) {
      fail(
        'credentials_literal',
        path,
        'value',
        `${where}: the URL carries a password written in the file; give the password (or the whole URL) as \${env:NAME}`,
      );
    } else if (origins.has('default') && !development) {
      fail(
        'secret_default',
        path,
        'value',
        `${where}: the URL's password comes from a default in the file; set the variable (defaults with passwords are used only with hub.mode: development)`,
      );
    }
  }

  // 3. The schema.
  const parsed = schema.safeParse(data);
  const issuePaths = new Set<string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s));
      issuePaths.add(pathKey(path));
      if (failedPaths.some((failed) => isUnder(path, failed))) continue;
      const secretField = secretPaths.some((p) => pathKey(p) === pathKey(path));
      reportIssue(issue, path, secretField);
    }
  }

  // 4. The production secrets policy, where the schema found nothing wrong already.
  const digests = apiKeyDigests(data);
  if (production) {
    for (const finding of productionSecretFindings(resolvedSecrets, digests)) {
      if (!issuePaths.has(pathKey(finding.path)))
        fail(finding.code, finding.path, 'value', `${formatPath(finding.path)}: ${finding.message}`);
    }
  }
  const publishedSecrets = [
    ...resolvedSecrets.filter((s) => isPublishedSecret(s.value)).map((s) => s.path),
    ...digests.filter((d) => isPublishedDigest(d.hex)).map((d) => d.path),
  ];

  function reportIssue(issue: z.core.$ZodIssue, path: (string | number)[], secretField: boolean): void {
    const where = formatPath(path);
    const isConnectorType = path.length === 3 && path[0] === 'connectors' && path[2] === 'type';
    if (isConnectorType && (issue.code === 'invalid_union' || (issue.code === 'invalid_type' && issue.expected === 'never'))) {
      const known = issue.code === 'invalid_union' && 'options' in issue ? (issue.options ?? []).map(String) : [];
      const value = getIn(data, path);
      const knownText = known.length > 0 ? `known types: ${known.join(', ')}` : 'no connector types are registered';
      if (value === undefined) {
        fail('missing_key', path, 'value', `${formatPath(path.slice(0, -1))}: missing required key "type" (${knownText})`);
      } else {
        fail('unknown_connector_type', path, 'value', `${where}: unknown connector type ${showValue(value)} (${knownText})`);
      }
      return;
    }
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = keysAt(schema, data, path);
        for (const key of issue.keys) {
          const suggestion = closest(key, allowed);
          const hint = suggestion ? `; did you mean "${suggestion}"?` : allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
          fail('unknown_key', [...path, key], 'key', `${formatPath([...path, key])}: unknown key "${key}"${hint}`);
        }
        return;
      }
      case 'invalid_type': {
        const value = getIn(data, path);
        if (path.length === 0 && (value === null || value === undefined)) {
          fail('invalid_type', path, 'value', 'the file is empty: expected a map with hub, catalog and connectors');
        } else if (value === undefined) {
          const key = path[path.length - 1];
          fail('missing_key', path, 'value', `${formatPath(path.slice(0, -1))}: missing required key "${String(key)}"`);
        } else {
          fail('invalid_type', path, 'value', `${where}: expected ${describeExpected(issue.expected)}, got ${describeValue(value)}`);
        }
        return;
      }
      case 'invalid_value': {
        const allowed = issue.values.map((v) => String(v)).join(', ');
        const shown = secretField ? 'value' : `value ${showValue(getIn(data, path))}`;
        fail('invalid_value', path, 'value', `${where}: invalid ${shown}; expected one of: ${allowed}`);
        return;
      }
      case 'invalid_union': {
        if (getIn(data, path) === undefined) {
          const key = path[path.length - 1];
          fail('missing_key', path, 'value', `${formatPath(path.slice(0, -1))}: missing required key "${String(key)}"`);
          return;
        }
        // A value of one option's type (a map where a text or a map of texts belongs) gets that
        // option's own problems; a value of none of the types, what the options expect.
        const options = issue.errors;
        const typed = options.filter((errors) => !errors.every((e) => e.code === 'invalid_type' && e.path.length === 0));
        const [only] = typed;
        if (typed.length === 1 && only !== undefined) {
          for (const nested of only) {
            const nestedPath = [...path, ...nested.path.map((s) => (typeof s === 'symbol' ? String(s) : s))];
            reportIssue(nested, nestedPath, secretField);
          }
          return;
        }
        const expected = options.flatMap((errors) =>
          errors.flatMap((e) => (e.code === 'invalid_type' && e.path.length === 0 ? [e.expected] : [])),
        );
        if (options.length > 0 && expected.length === options.length) {
          const value = getIn(data, path);
          fail(
            'invalid_type',
            path,
            'value',
            `${where}: expected ${expected.map(describeExpected).join(' or ')}, got ${describeValue(value)}`,
          );
          return;
        }
        fail('invalid', path, 'value', `${where}: ${issue.message}`);
        return;
      }
      case 'invalid_key': {
        const key = path[path.length - 1];
        const reason = issue.issues[0]?.message ?? issue.message;
        fail('invalid_key', path, 'key', `${where}: invalid id "${String(key)}": ${reason}`);
        return;
      }
      default:
        fail('invalid', path, 'value', `${where}: ${issue.message}`);
    }
  }

  // 5. References across the file, and the rules of each mode.
  for (const finding of crossChecks(data, { publishedSecrets })) {
    if (failedPaths.some((failed) => isUnder(finding.path, failed))) continue;
    fail(finding.code, finding.path, finding.at, `${formatPath(finding.path)}: ${finding.message}`);
  }

  // 6. The mapping entries each connector derives from its own keys, merged with the YAML's.
  const mergedMappings = new Map<string, MappingEntry[]>();
  for (const [instanceId, instance] of Object.entries(asDict(getIn(data, ['connectors'])))) {
    const definition = options.connectors.find((d) => d.type === asDict(instance)['type']);
    if (definition?.derivedMappings === undefined) continue;
    // Derived from the instance's own keys when they are valid, even if other parts of the file are not.
    const own = definition.configSchema.safeParse(ownConfig(asDict(instance)));
    if (!own.success) continue;
    const rawMappings = asDict(instance)['mappings'];
    const yaml = (Array.isArray(rawMappings) ? rawMappings : []).map((entry: unknown) => {
      const entryParsed = MappingEntry.safeParse(entry);
      return entryParsed.success ? entryParsed.data : undefined;
    });
    const merge = mergeDerivedMappings(definition, instanceId, own.data, yaml, getIn(data, ['catalog']));
    for (const finding of merge.findings) {
      if (failedPaths.some((failed) => isUnder(finding.path, failed))) continue;
      fail(finding.code, finding.path, finding.at, `${formatPath(finding.path)}: ${finding.message}`);
    }
    mergedMappings.set(instanceId, merge.mappings);
  }

  // 7. Each connector's own rules, on its valid config.
  if (parsed.success) {
    const definitions = options.connectors;
    for (const [instanceId, instance] of Object.entries(parsed.data.connectors)) {
      const definition = definitions.find((d) => d.type === instance.type);
      for (const finding of definition?.checkConfig?.(instance, { mode: parsed.data.hub.mode }) ?? []) {
        const path = ['connectors', instanceId, ...finding.path];
        fail('connector_rule', path, 'value', `${formatPath(path)}: ${finding.message}`);
      }
    }
  }

  if (errors.length > 0 || !parsed.success) {
    return { ok: false, file, errors: sortAndDedupe(errors) };
  }
  warnings.push(
    ...apiKeyWarnings(parsed.data, Date.now()).map(
      (w) => new ConfigWarning(w.code, file, positionOf(doc, lines, w.path, 'value'), w.message),
    ),
  );
  for (const [instanceId, mappings] of mergedMappings) {
    const instance = parsed.data.connectors[instanceId];
    if (instance !== undefined) instance.mappings = mappings;
  }
  return {
    ok: true,
    file,
    config: parsed.data,
    warnings,
    env: { set: [...usage.set].sort(), defaulted: [...usage.defaulted].sort() },
  };
}

/** The `sha256` digests of the admin API keys, where they are written. */
function apiKeyDigests(data: unknown): { path: ConfigPath; hex: string }[] {
  const keys = getIn(data, ['hub', 'apiKeys']);
  if (!Array.isArray(keys)) return [];
  return keys.flatMap((key: unknown, i) => {
    const record = typeof key === 'object' && key !== null ? (key as Record<string, unknown>) : {};
    const previous = record['previous'];
    const old = typeof previous === 'object' && previous !== null ? (previous as Record<string, unknown>)['sha256'] : undefined;
    return [
      ...(typeof record['sha256'] === 'string' ? [{ path: ['hub', 'apiKeys', i, 'sha256'], hex: record['sha256'] }] : []),
      ...(typeof old === 'string' ? [{ path: ['hub', 'apiKeys', i, 'previous', 'sha256'], hex: old }] : []),
    ];
  });
}

/**
 * What a valid config's admin keys deserve a warning for: a plain key in production mode (the
 * environment then holds the key; `sha256` keeps only its digest), and a previous key whose
 * `until` has passed (no longer accepted; remove it).
 */
export function apiKeyWarnings(config: Config, now: number): { code: ConfigWarning['code']; path: ConfigPath; message: string }[] {
  return config.hub.apiKeys.flatMap((key, i) => [
    ...(key.key !== undefined && config.hub.mode === 'production'
      ? [
          {
            code: 'api_key_plain' as const,
            path: ['hub', 'apiKeys', i, 'key'],
            message: `hub.apiKeys[${i}].key: key "${key.id}" is given in clear through the environment; in production give only its digest as sha256 (\`concord key hash\` reads the key on stdin and prints it)`,
          },
        ]
      : []),
    ...(key.previous !== undefined && Date.parse(key.previous.until) <= now
      ? [
          {
            code: 'api_key_previous_expired' as const,
            path: ['hub', 'apiKeys', i, 'previous', 'until'],
            message: `hub.apiKeys[${i}].previous: the previous key of "${key.id}" expired at ${key.previous.until} and is refused; remove previous`,
          },
        ]
      : []),
  ]);
}

function sortAndDedupe(errors: ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors
    .filter((e) => {
      const key = `${e.code}|${e.toString()}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (a.position?.line ?? 0) - (b.position?.line ?? 0) || (a.position?.col ?? 0) - (b.position?.col ?? 0));
}

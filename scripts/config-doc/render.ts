/**
 * Renders `docs/CONFIG.md`, the configuration reference, from the JSON Schema that
 * `configJsonSchema` builds out of the zod schema (the single source of truth): every key of
 * `hub`, `catalog`, the keys every connector instance has, each built-in connector type's own
 * keys, the mapping entry keys and the transforms (invertibility from `transforms.ts`).
 * Deterministic: keys appear in schema order, connector types in registry order.
 */
import { format, resolveConfig } from 'prettier';
import { builtinConnectors } from '../../connectors/index.js';
import type { ConnectorDefinition } from '../../src/connector/define.js';
import { Transform } from '../../src/connector/mapping-schema.js';
import { isInvertible } from '../../src/connector/transforms.js';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { CONNECTOR_COMMON_KEYS } from '../../src/config/schema.js';
import { ENV_REFERENCE_PATTERN, SECRET_META_KEY } from '../../src/config/secret.js';
import { WORKED_EXAMPLE_YAML, workedExampleSection } from './example.js';

/** The command that rewrites the file (named in the stale-file test's message). */
export const CONFIG_DOC_COMMAND = 'npm run docs:config';
/** Where the reference lives, from the repository root. */
export const CONFIG_DOC_PATH = 'docs/CONFIG.md';

type Schema = Record<string, unknown>;

interface Row {
  key: string;
  type: string;
  default: string;
  allowed: string;
  description: string;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function schemaList(value: unknown): Schema[] {
  return Array.isArray(value) ? value.filter(isSchema) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Follows `$ref` and drops the `${env:...}` alternative the JSON Schema adds for editors. */
function unwrap(schema: Schema, root: Schema): Schema {
  const ref = text(schema['$ref']);
  if (ref !== undefined) {
    const name = ref.replace('#/definitions/', '');
    const definitions = isSchema(root['definitions']) ? root['definitions'] : {};
    const target = definitions[name];
    return isSchema(target) ? { ...target, ...withoutKey(schema, '$ref'), recursive: name } : schema;
  }
  const anyOf = schemaList(schema['anyOf']);
  if (anyOf.length === 2) {
    const own = anyOf.filter((s) => s['pattern'] !== ENV_REFERENCE_PATTERN);
    const [only] = own;
    if (own.length === 1 && only !== undefined) return { ...withoutKey(schema, 'anyOf'), ...only, envReference: true };
  }
  return schema;
}

/** The JSON Schema pattern of a `Duration` (`src/config/duration.ts`). */
const DURATION_PATTERN = '^(\\d+)(ms|s|m|h|d)$';

function withoutKey(schema: Schema, key: string): Schema {
  return Object.fromEntries(Object.entries(schema).filter(([k]) => k !== key));
}

function code(value: string): string {
  return value.includes('`') ? `\`\` ${value} \`\`` : `\`${value}\``;
}

function typeOf(schema: Schema, root: Schema): string {
  const s = unwrap(schema, root);
  if (s['recursive'] !== undefined) return 'JSON';
  if (s[SECRET_META_KEY] !== undefined) return 'secret (`${env:NAME}`)';
  if (s['const'] !== undefined) return 'constant';
  if (Array.isArray(s['enum'])) return 'enum';
  const type = text(s['type']);
  if (type === 'array') {
    const items = isSchema(s['items']) ? s['items'] : {};
    return `list of ${typeOf(items, root)}`;
  }
  if (type === 'object') return isSchema(s['additionalProperties']) ? 'map' : 'object';
  if (type === 'string' && s['pattern'] === DURATION_PATTERN) return 'duration';
  if (type === 'string' && text(s['format']) !== undefined) return `string (${text(s['format'])})`;
  if (type !== undefined) return type;
  const alternatives = [...schemaList(s['anyOf']), ...schemaList(s['oneOf'])];
  if (alternatives.length > 0) return [...new Set(alternatives.map((a) => typeOf(a, root)))].join(' or ');
  return 'any';
}

function allowedOf(schema: Schema, root: Schema): string {
  const s = unwrap(schema, root);
  if (s[SECRET_META_KEY] !== undefined) return '';
  if (s['const'] !== undefined) return code(JSON.stringify(s['const']));
  if (Array.isArray(s['enum'])) return s['enum'].map((v) => code(String(v))).join(', ');
  if (text(s['type']) === 'array' && isSchema(s['items'])) {
    const items = allowedOf(s['items'], root);
    return items === '' ? '' : `each: ${items}`;
  }
  const parts: string[] = [];
  const min = s['minimum'] ?? s['exclusiveMinimum'];
  if (typeof min === 'number' || typeof s['maximum'] === 'number') {
    const low = typeof min === 'number' && min > Number.MIN_SAFE_INTEGER ? `${s['exclusiveMinimum'] !== undefined ? '>' : '≥'} ${min}` : '';
    const high = typeof s['maximum'] === 'number' && s['maximum'] < Number.MAX_SAFE_INTEGER ? `≤ ${s['maximum']}` : '';
    parts.push([low, high].filter((p) => p !== '').join(', '));
  }
  if (typeof s['minLength'] === 'number' && s['minLength'] > 1) parts.push(`at least ${s['minLength']} characters`);
  if (typeof s['maxLength'] === 'number') parts.push(`at most ${s['maxLength']} characters`);
  if (s['pattern'] === DURATION_PATTERN) parts.push('e.g. `30s`, `5m`, `1h`, `7d`');
  else if (typeof s['pattern'] === 'string') parts.push(`matches ${code(s['pattern'])}`);
  if (typeof s['minItems'] === 'number' && s['minItems'] > 0) parts.push(`at least ${s['minItems']} item(s)`);
  return parts.filter((p) => p !== '').join('; ');
}

const DEFAULT_IN_TEXT = /Default: (.+?)\.(?=\s|$)/;

function defaultOf(schema: Schema, root: Schema): string {
  const s = unwrap(schema, root);
  if (s['default'] !== undefined) {
    const value = s['default'];
    const isEmptyObject = isSchema(value) && Object.keys(value).length === 0;
    return isEmptyObject ? '(each key’s default)' : code(JSON.stringify(value));
  }
  const stated = DEFAULT_IN_TEXT.exec(text(s['description']) ?? text(schema['description']) ?? '');
  return stated?.[1] ?? '';
}

function cell(value: string): string {
  return value.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function rowOf(key: string, schema: Schema, root: Schema, required: boolean): Row {
  const s = unwrap(schema, root);
  const description = text(schema['description']) ?? text(s['description']) ?? '';
  const notes = [required ? 'Required.' : '', s['envReference'] === true ? 'May be an `${env:NAME}` reference.' : ''];
  return {
    key: code(key),
    type: typeOf(schema, root),
    default: defaultOf(schema, root),
    allowed: allowedOf(schema, root),
    description: [description, ...notes].filter((p) => p !== '').join(' '),
  };
}

interface WalkOptions {
  /** Keys not to descend into (rendered as one row). */
  stop?: (key: string) => boolean;
}

/** One row per key, depth first: an object's keys follow it, `<id>` stands for a map key, `[]` for list items. */
function walk(schema: Schema, prefix: string, root: Schema, options: WalkOptions = {}, rows: Row[] = []): Row[] {
  const s = unwrap(schema, root);
  const properties = isSchema(s['properties']) ? s['properties'] : undefined;
  if (properties !== undefined) {
    const required = Array.isArray(s['required']) ? s['required'] : [];
    for (const [key, child] of Object.entries(properties)) {
      if (!isSchema(child)) continue;
      const path = prefix === '' ? key : `${prefix}.${key}`;
      rows.push(rowOf(path, child, root, required.includes(key)));
      if (options.stop?.(path) !== true) walk(child, path, root, options, rows);
    }
    return rows;
  }
  if (s['recursive'] !== undefined) return rows;
  if (isSchema(s['additionalProperties'])) return walk(s['additionalProperties'], `${prefix}.<id>`, root, options, rows);
  if (text(s['type']) === 'array' && isSchema(s['items'])) return walk(s['items'], `${prefix}[]`, root, options, rows);
  // A union of objects (e.g. the http connector's auth): one row per key, the alternatives'
  // values together, and a key only some alternatives have says which (by their `type`).
  const alternatives = [...schemaList(s['anyOf']), ...schemaList(s['oneOf'])].filter((a) => text(unwrap(a, root)['type']) === 'object');
  const walked = alternatives.map((alternative) => ({ variant: variantOf(alternative), rows: walk(alternative, prefix, root, options) }));
  const merged = new Map<string, { row: Row; variants: string[] }>();
  for (const { variant, rows: own } of walked) {
    for (const row of own) {
      const seen = merged.get(row.key);
      merged.set(
        row.key,
        seen === undefined ? { row, variants: [variant] } : { row: mergeRows(seen.row, row), variants: [...seen.variants, variant] },
      );
    }
  }
  for (const { row, variants } of merged.values()) {
    const named = variants.filter((v) => v !== '');
    const partial = variants.length < walked.length && named.length === variants.length;
    rows.push(
      partial ? { ...row, description: `${row.description} Only with ${named.map((v) => code(`type: ${v}`)).join(' or ')}.`.trim() } : row,
    );
  }
  return rows;
}

/** The `type` constant that tells an alternative of a union apart, or `''`. */
function variantOf(alternative: Schema): string {
  const properties = isSchema(alternative['properties']) ? alternative['properties'] : {};
  const type = properties['type'];
  return isSchema(type) && typeof type['const'] === 'string' ? type['const'] : '';
}

function mergeRows(a: Row, b: Row): Row {
  const join = (x: string, y: string, separator: string): string => [...new Set([x, y].filter((v) => v !== ''))].join(separator);
  return {
    key: a.key,
    type: join(a.type, b.type, ' or '),
    default: join(a.default, b.default, ' or '),
    allowed: join(a.allowed, b.allowed, ', '),
    description: join(a.description, b.description, ' '),
  };
}

function table(rows: readonly Row[]): string {
  const lines = ['| Key | Type | Default | Allowed values | Description |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${[r.key, r.type, r.default, r.allowed, r.description].map(cell).join(' | ')} |`);
  return lines.join('\n');
}

function property(schema: Schema, key: string): Schema {
  const properties = isSchema(schema['properties']) ? schema['properties'] : {};
  const value = properties[key];
  if (!isSchema(value)) throw new Error(`the config JSON Schema has no "${key}"`);
  return value;
}

function connectorBranches(root: Schema): Map<string, Schema> {
  const connectors = property(root, 'connectors');
  const entry = isSchema(connectors['additionalProperties']) ? connectors['additionalProperties'] : {};
  const branches = new Map<string, Schema>();
  for (const branch of [...schemaList(entry['oneOf']), ...schemaList(entry['anyOf'])]) {
    const type = property(branch, 'type')['const'];
    if (typeof type === 'string') branches.set(type, branch);
  }
  return branches;
}

/** The transform variants whose invertibility differs: one per enum value, a one-to-one and a many-to-one map. */
function invertibility(schema: Schema, root: Schema): string {
  const type = property(schema, 'type')['const'];
  const properties = isSchema(schema['properties']) ? schema['properties'] : {};
  const variants: { label: string; input: Record<string, unknown> }[] = [{ label: '', input: { type } }];
  for (const [key, param] of Object.entries(properties)) {
    if (key === 'type' || !isSchema(param)) continue;
    const p = unwrap(param, root);
    if (Array.isArray(p['enum'])) {
      const base = variants.splice(0);
      for (const v of base)
        for (const value of p['enum']) variants.push({ label: `with ${key} ${code(String(value))}`, input: { ...v.input, [key]: value } });
    } else if (text(p['type']) === 'object') {
      const base = variants.splice(0);
      for (const v of base) {
        variants.push({ label: `when ${key} are one-to-one`, input: { ...v.input, [key]: { a: 'x', b: 'y' } } });
        variants.push({ label: `when two ${key} are equal`, input: { ...v.input, [key]: { a: 'x', b: 'x' } } });
      }
    }
  }
  const answers = variants.map((v) => ({ label: v.label, invertible: isInvertible(Transform.parse(v.input)) }));
  if (answers.every((a) => a.invertible === answers[0]?.invertible)) return answers[0]?.invertible === true ? 'yes' : 'no';
  return answers.map((a) => `${a.invertible ? 'yes' : 'no'} ${a.label}`).join('; ');
}

function transformsSection(mapping: Schema, root: Schema): string {
  const list = unwrap(property(mapping, 'transform'), root);
  const items = isSchema(list['items']) ? list['items'] : {};
  const parts: string[] = [];
  for (const variant of [...schemaList(items['oneOf']), ...schemaList(items['anyOf'])]) {
    const name = String(property(variant, 'type')['const']);
    const params = walk(withoutTypeKey(variant), '', root);
    parts.push(
      `### \`${name}\``,
      text(variant['description']) ?? '',
      `Invertible: ${invertibility(variant, root)}.`,
      params.length === 0 ? 'Parameters: none.' : `Parameters:\n\n${table(params)}`,
    );
  }
  return parts.filter((p) => p !== '').join('\n\n');
}

function withoutTypeKey(variant: Schema): Schema {
  const properties = isSchema(variant['properties']) ? variant['properties'] : {};
  return { ...variant, properties: withoutKey(properties, 'type') };
}

const INTRO = `# Configuration reference

<!-- Generated from the zod schema by \`${CONFIG_DOC_COMMAND}\` (scripts/config-doc.ts): do not edit by hand. -->

Every key of \`concord.yaml\`, generated from the zod schema (\`src/config/schema.ts\`, each connector type's
\`configSchema\`, \`src/connector/mapping-schema.ts\`), the same source as \`config/concord.schema.json\`
(\`npm run schema\`). A test fails when this file is stale; \`${CONFIG_DOC_COMMAND}\` rewrites it.

In the key paths, \`<id>\` stands for an id you choose (a purpose, a channel, a connector instance) and
\`[]\` for each item of a list. Durations are written like \`30s\`, \`5m\`, \`1h\`, \`7d\`. Every key except
map keys may be an \`\${env:NAME}\` reference; secrets must be one. \`concord validate\` checks a file.`;

/** The reference as markdown, not yet formatted. */
export function renderConfigDoc(connectors: readonly ConnectorDefinition[] = builtinConnectors): string {
  const root = configJsonSchema(connectors);
  const branches = connectorBranches(root);
  const first = branches.values().next().value;
  if (first === undefined) throw new Error('no connector types are registered');
  const common: readonly string[] = CONNECTOR_COMMON_KEYS;
  const commonOnly = (branch: Schema, keep: boolean): Schema => {
    const properties = isSchema(branch['properties']) ? branch['properties'] : {};
    const picked = Object.entries(properties).filter(([key]) => common.includes(key) === keep && key !== 'type');
    return { ...branch, properties: Object.fromEntries(picked) };
  };
  const mappingsList = unwrap(property(first, 'mappings'), root);
  const mapping = isSchema(mappingsList['items']) ? mappingsList['items'] : {};

  const sections: string[] = [INTRO, '## Contents'];
  const contents = ['- [`hub`](#hub)', '- [`catalog`](#catalog)', '- [Connector instances: common keys](#connector-instances-common-keys)'];
  for (const def of connectors) contents.push(`- [Connector type \`${def.type}\`](#connector-type-${def.type})`);
  contents.push(
    '- [Mapping entries](#mapping-entries)',
    '- [Transforms](#transforms)',
    '- [Worked example: map a custom HubSpot property / Salesforce field](#worked-example-map-a-custom-hubspot-property--salesforce-field)',
  );
  sections.push(contents.join('\n'));

  const hub = property(root, 'hub');
  sections.push('## `hub`', text(hub['description']) ?? '', table(walk(hub, 'hub', root)));
  const catalog = property(root, 'catalog');
  sections.push('## `catalog`', text(catalog['description']) ?? '', table(walk(catalog, 'catalog', root)));

  sections.push(
    '## Connector instances: common keys',
    'Every instance under `connectors.<id>` has `type` (one of the types below) and these keys, whatever its type.',
    table(walk(commonOnly(first, true), 'connectors.<id>', root, { stop: (path) => path === 'connectors.<id>.mappings' })),
  );
  for (const def of connectors) {
    const branch = branches.get(def.type);
    if (branch === undefined) throw new Error(`connector type "${def.type}" is missing from the JSON Schema`);
    const own = walk(commonOnly(branch, false), 'connectors.<id>', root);
    sections.push(
      `## Connector type \`${def.type}\``,
      `\`type: ${def.type}\`; its README is \`connectors/${def.type}/README.md\`.`,
      own.length === 0 ? 'No keys of its own.' : table(own),
    );
  }
  sections.push(
    '## Mapping entries',
    text(property(first, 'mappings')['description']) ?? '',
    'Each entry of `connectors.<id>.mappings` names exactly one canonical target (`field`, `consent`, `topic`, `identity` or `right`) and one `external` field. An entry replaces the connector’s default entry for the same canonical target.',
    table(walk(mapping, 'mappings[]', root, { stop: (path) => path === 'mappings[].transform' })),
    '## Transforms',
    'Push applies an entry’s `transform` list in order (canonical -> external); pull applies their inverses in reverse order. Invertible means a value pushed and pulled back comes back unchanged; a chain is invertible when each of its transforms is. `null` passes through every transform.',
    transformsSection(mapping, root),
    workedExampleSection(WORKED_EXAMPLE_YAML),
  );
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}

/** The reference as written to `docs/CONFIG.md`: rendered, then formatted by Prettier. */
export async function configDocText(connectors: readonly ConnectorDefinition[] = builtinConnectors): Promise<string> {
  const options = (await resolveConfig(CONFIG_DOC_PATH)) ?? {};
  return format(renderConfigDoc(connectors), { ...options, parser: 'markdown', filepath: CONFIG_DOC_PATH });
}

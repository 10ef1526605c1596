/**
 * Templates an operator writes in YAML, filled without executing anything:
 * - paths and query values are RFC 6570 URI templates (`/contacts/{id}`), expanded by `url-template`
 *   (which escapes each value), over a fixed set of variables;
 * - bodies are JSON in which a string that is exactly `{{name}}` is replaced by that value (or
 *   `{{field:<external field>}}` by that mapped field's value), and a key `"..."` whose value is
 *   `"{{record}}"` spreads the record's fields into its object.
 * A value that is `undefined` (an id not known yet) leaves its key out.
 */
import { parseTemplate } from 'url-template';
import { RejectedError } from '../../src/connector/errors.js';
import type { Json } from '../../src/profile/schema.js';

/** The names a template may use; which ones a given template may use is checked in config.ts. */
export const TEMPLATE_PLACEHOLDERS = ['record', 'id', 'email', 'ref', 'items'] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

const BODY_PLACEHOLDER = /^\{\{\s*([A-Za-z]+|field:[^\s{}]+)\s*\}\}$/;
/** The prefix of a placeholder that names one mapped field (`{{field:consents.email_marketing}}`). */
export const FIELD_PLACEHOLDER = 'field:';
const URI_EXPRESSION = /\{([^{}]*)\}/g;
const SPREAD_KEY = '...';

function isPlaceholder(name: string): name is TemplatePlaceholder {
  return TEMPLATE_PLACEHOLDERS.some((placeholder) => placeholder === name);
}

/** The variable names of one URI template (`{id}`, `{?email,limit}` → id, email, limit). */
function uriVariables(template: string): string[] {
  const names: string[] = [];
  for (const match of template.matchAll(URI_EXPRESSION)) {
    const inner = (match[1] ?? '').replace(/^[+#./;?&]/, '');
    for (const spec of inner.split(',')) names.push(spec.replace(/(:\d+|\*)$/, '').trim());
  }
  return names;
}

/**
 * Every placeholder a template names: the `{{name}}` strings of a body, the `{name}` variables
 * of a path or query value (a string holding `{{` is read as a body string).
 */
export function placeholdersOf(template: unknown): string[] {
  if (typeof template === 'string') {
    const body = BODY_PLACEHOLDER.exec(template);
    if (body?.[1] !== undefined) return [body[1]];
    return template.includes('{{') ? ['(malformed {{…}})'] : uriVariables(template);
  }
  if (Array.isArray(template)) return template.flatMap(placeholdersOf);
  if (typeof template === 'object' && template !== null) return Object.values(template).flatMap(placeholdersOf);
  return [];
}

/** The values a body template is filled with: the named values, and the record's mapped fields. */
export type TemplateValues = Partial<Record<TemplatePlaceholder, Json | undefined>> & { fields?: Readonly<Record<string, Json>> };

/** Fills a JSON body template; `undefined` values drop their key (or array item). */
export function renderBody(template: Json, values: TemplateValues): Json | undefined {
  if (typeof template === 'string') {
    const name = BODY_PLACEHOLDER.exec(template)?.[1];
    if (name?.startsWith(FIELD_PLACEHOLDER)) return values.fields?.[name.slice(FIELD_PLACEHOLDER.length)];
    return name !== undefined && isPlaceholder(name) ? values[name] : template;
  }
  if (Array.isArray(template)) {
    return template.map((item) => renderBody(item, values)).filter((item): item is Json => item !== undefined);
  }
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template)) {
    const rendered = renderBody(value, values);
    if (rendered === undefined) continue;
    if (key === SPREAD_KEY && typeof rendered === 'object' && rendered !== null && !Array.isArray(rendered)) Object.assign(out, rendered);
    else out[key] = rendered;
  }
  return out;
}

/** The variables a path or query template is expanded with. */
export type UriValues = Partial<Record<'id' | 'email' | 'phone', string>>;

/** Decodes percent-escapes as a server would (an unreadable escape stays as written). */
function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Whether a value may stand in a path: not a dot segment (`.`, `..`, RFC 3986 §5.2.4) and no
 * separator (`/`, `\`), also once decoded, since a server may decode before routing. Such a value
 * would address another resource than the record (`/contacts/..` is the collection).
 */
function safeInPath(value: string): boolean {
  const plain = decoded(value);
  return plain !== '.' && plain !== '..' && !/[/\\]/.test(plain);
}

/**
 * Expands an RFC 6570 path template (`/contacts/{id}`); values are percent-encoded. A value that
 * would address another path (`.`, `..`, one holding `/` or `\`, escaped or not) is refused with a
 * `RejectedError` (`invalid_id`): no retry makes it a record's address.
 */
export function expandPath(template: string, values: UriValues): string {
  const named = uriVariables(template);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && named.includes(name) && !safeInPath(value)) {
      throw new RejectedError(`the ${name} cannot stand in a path: ".", "..", "/" and "\\" would address another resource`, {
        reasonCode: 'invalid_id',
      });
    }
  }
  return parseTemplate(template).expand(values);
}

/** Expands each query value's template (unescaped: the URL's search params escape it once); a value that expands to nothing is left out. */
export function expandQuery(query: Readonly<Record<string, string>>, values: UriValues): [string, string][] {
  return Object.entries(query)
    .map(([key, template]): [string, string] => [key, decodeURIComponent(parseTemplate(template).expand(values))])
    .filter(([, value]) => value !== '');
}

/**
 * A small SOQL parser and evaluator for the subset the connector (and jsforce) send:
 *
 * ```
 * SELECT field, field... | COUNT()  FROM Object
 *   [WHERE term AND term ... | term OR term ...]
 *                                      term: cond | ( term AND term ... ) | ( term OR term ... )
 *                                      cond: field (= | != | > | < | >= | <=) literal  |  field IN (literal, ...)
 *                                            |  field IN (SELECT idField FROM OtherObject [WHERE ...])
 *   [ORDER BY field [ASC|DESC], ...]
 *   [LIMIT n]
 * ```
 *
 * AND and OR do not mix without parentheses, as in SOQL. A semi-join (`IN (SELECT ...)`) selects one field of another object, with no ORDER BY, LIMIT
 * or semi-join of its own, as Salesforce requires; `resolveSemiJoins` turns it into the list of
 * values before the query runs.
 *
 * Literals: 'strings' (with \' \\ \n escapes), numbers, true/false, null, date-times
 * (`2026-01-15T09:30:00Z`, with optional fraction and offset), dates (`2026-01-15`) and the
 * date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n. Keywords are case
 * insensitive; field names are matched case-insensitively against the object's fields, as
 * Salesforce does. https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
 */

export type SoqlValue = string | number | boolean | null;

/** A literal as written; date literals are resolved against a clock when evaluated. */
export type SoqlLiteral =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'datetime'; ms: number }
  | { kind: 'date'; day: string }
  | { kind: 'relative'; name: 'TODAY' | 'YESTERDAY' | 'TOMORROW' | 'LAST_N_DAYS' | 'NEXT_N_DAYS'; n: number };

export type SoqlOperator = '=' | '!=' | '>' | '<' | '>=' | '<=';

/** One comparison of a field. */
export type SoqlComparison =
  | { field: string; op: SoqlOperator; value: SoqlLiteral }
  | { field: string; op: 'IN'; values: SoqlLiteral[] }
  | { field: string; op: 'IN'; subquery: SoqlQuery };

/** A comparison, or a parenthesised group of terms joined by OR (`any`) or AND (`all`). */
export type SoqlCondition = SoqlComparison | { op: 'OR'; anyOf: SoqlCondition[] } | { op: 'AND'; allOf: SoqlCondition[] };

/** Every comparison of a WHERE clause, inside groups too. */
export function comparisons(where: readonly SoqlCondition[]): SoqlComparison[] {
  return where.flatMap((c) => (c.op === 'OR' ? comparisons(c.anyOf) : c.op === 'AND' ? comparisons(c.allOf) : [c]));
}

export interface SoqlQuery {
  /** Selected field names as written; empty for `COUNT()`. */
  fields: string[];
  count: boolean;
  object: string;
  where: SoqlCondition[];
  orderBy: { field: string; direction: 'ASC' | 'DESC' }[];
  limit?: number;
}

/** A query Salesforce would refuse (`MALFORMED_QUERY`); the message says where. */
export class SoqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'SoqlSyntaxError';
  }
}

type Token =
  | { type: 'word'; text: string; pos: number }
  | { type: 'string'; text: string; pos: number }
  | { type: 'number'; text: string; pos: number }
  | { type: 'datetime'; text: string; pos: number }
  | { type: 'date'; text: string; pos: number }
  | { type: 'symbol'; text: string; pos: number };

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![T\d])/;
const NUMBER = /^-?\d+(?:\.\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = text.slice(i);
    if (ch === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        const c = text[j];
        if (c === undefined) throw new SoqlSyntaxError('unterminated string literal', i);
        if (c === '\\') {
          const next = text[j + 1];
          if (next === undefined) throw new SoqlSyntaxError('unterminated string literal', i);
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          j += 2;
          continue;
        }
        if (c === "'") break;
        value += c;
        j++;
      }
      tokens.push({ type: 'string', text: value, pos: i });
      i = j + 1;
      continue;
    }
    const dt = DATETIME.exec(rest);
    if (dt) {
      tokens.push({ type: 'datetime', text: dt[0], pos: i });
      i += dt[0].length;
      continue;
    }
    const d = DATE.exec(rest);
    if (d) {
      tokens.push({ type: 'date', text: d[0], pos: i });
      i += d[0].length;
      continue;
    }
    const n = NUMBER.exec(rest);
    if (n && (ch !== '-' || /\d/.test(text[i + 1] ?? ''))) {
      tokens.push({ type: 'number', text: n[0], pos: i });
      i += n[0].length;
      continue;
    }
    const w = WORD.exec(rest);
    if (w) {
      tokens.push({ type: 'word', text: w[0], pos: i });
      i += w[0].length;
      continue;
    }
    const two = rest.slice(0, 2);
    if (two === '!=' || two === '>=' || two === '<=' || two === '<>') {
      tokens.push({ type: 'symbol', text: two === '<>' ? '!=' : two, pos: i });
      i += 2;
      continue;
    }
    if ('=<>(),'.includes(ch)) {
      tokens.push({ type: 'symbol', text: ch, pos: i });
      i++;
      continue;
    }
    throw new SoqlSyntaxError(`unexpected character '${ch}'`, i);
  }
  return tokens;
}

const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'ORDER', 'BY', 'LIMIT', 'IN', 'ASC', 'DESC']);

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly length: number,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private next(what: string): Token {
    const t = this.tokens[this.i];
    if (!t) throw new SoqlSyntaxError(`unexpected end of query, expecting ${what}`, this.length);
    this.i++;
    return t;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t?.type === 'word' && t.text.toUpperCase() === word;
  }

  private keyword(word: string): void {
    const t = this.next(word);
    if (t.type !== 'word' || t.text.toUpperCase() !== word) throw new SoqlSyntaxError(`expecting ${word}, found '${t.text}'`, t.pos);
  }

  private symbol(text: string): void {
    const t = this.next(`'${text}'`);
    if (t.type !== 'symbol' || t.text !== text) throw new SoqlSyntaxError(`expecting '${text}', found '${t.text}'`, t.pos);
  }

  private identifier(what: string): string {
    const t = this.next(what);
    if (t.type !== 'word' || RESERVED.has(t.text.toUpperCase())) throw new SoqlSyntaxError(`expecting ${what}, found '${t.text}'`, t.pos);
    return t.text;
  }

  parse(): SoqlQuery {
    const query = this.query(false);
    const extra = this.peek();
    if (extra) throw new SoqlSyntaxError(`unexpected token '${extra.text}'`, extra.pos);
    return query;
  }

  private query(nested: boolean): SoqlQuery {
    const start = this.peek()?.pos ?? this.length;
    this.keyword('SELECT');
    const fields: string[] = [];
    let count = false;
    if (this.isKeyword('COUNT')) {
      this.next('COUNT');
      this.symbol('(');
      this.symbol(')');
      count = true;
    } else {
      fields.push(this.identifier('a field name'));
      while (this.peek()?.type === 'symbol' && this.peek()?.text === ',') {
        this.next(',');
        fields.push(this.identifier('a field name'));
      }
    }
    this.keyword('FROM');
    const object = this.identifier('an object name');
    const where: SoqlCondition[] = [];
    if (this.isKeyword('WHERE')) {
      this.next('WHERE');
      where.push(...this.expression(nested, object));
    }
    const orderBy: SoqlQuery['orderBy'] = [];
    if (this.isKeyword('ORDER')) {
      this.next('ORDER');
      this.keyword('BY');
      do {
        if (orderBy.length > 0) this.next(',');
        const field = this.identifier('a field to order by');
        let direction: 'ASC' | 'DESC' = 'ASC';
        if (this.isKeyword('ASC') || this.isKeyword('DESC')) direction = this.next('ASC').text.toUpperCase() as 'ASC' | 'DESC';
        orderBy.push({ field, direction });
      } while (this.peek()?.type === 'symbol' && this.peek()?.text === ',');
    }
    let limit: number | undefined;
    if (this.isKeyword('LIMIT')) {
      this.next('LIMIT');
      const t = this.next('a number');
      if (t.type !== 'number' || !/^\d+$/.test(t.text)) throw new SoqlSyntaxError(`LIMIT expects a whole number, found '${t.text}'`, t.pos);
      limit = Number(t.text);
    }
    if (nested && (count || fields.length !== 1 || orderBy.length > 0 || limit !== undefined)) {
      throw new SoqlSyntaxError('a semi-join subquery selects exactly one field, without COUNT(), ORDER BY or LIMIT', start);
    }
    return { fields, count, object, where, orderBy, ...(limit === undefined ? {} : { limit }) };
  }

  /** `term AND term ...` (the terms) or `term OR term ...` (one OR group); SOQL wants parentheses to mix them. */
  private expression(nested: boolean, object: string): SoqlCondition[] {
    const terms = [this.term(nested, object)];
    const joiner = this.isKeyword('AND') ? 'AND' : this.isKeyword('OR') ? 'OR' : undefined;
    if (joiner === undefined) return terms;
    while (this.isKeyword(joiner)) {
      this.next(joiner);
      terms.push(this.term(nested, object));
    }
    const other = this.peek();
    if (this.isKeyword(joiner === 'AND' ? 'OR' : 'AND'))
      throw new SoqlSyntaxError(`unexpected token: '${other?.text ?? ''}' (use parentheses to mix AND and OR)`, other?.pos ?? 0);
    if (joiner === 'AND') return terms;
    if (comparisons(terms).some((c) => 'subquery' in c))
      throw new SoqlSyntaxError("Semi join sub-selects are not allowed with the 'OR' operator", other?.pos ?? this.length);
    return [{ op: 'OR', anyOf: terms }];
  }

  private term(nested: boolean, object: string): SoqlCondition {
    const t = this.peek();
    if (t?.type !== 'symbol' || t.text !== '(') return this.condition(nested, object);
    this.next('(');
    const inner = this.expression(nested, object);
    this.symbol(')');
    const [only] = inner;
    return inner.length === 1 && only !== undefined ? only : { op: 'AND', allOf: inner };
  }

  private condition(nested: boolean, object: string): SoqlComparison {
    const field = this.identifier('a field name');
    if (this.isKeyword('IN')) {
      this.next('IN');
      this.symbol('(');
      if (this.isKeyword('SELECT')) {
        const pos = this.peek()?.pos ?? 0;
        if (nested) throw new SoqlSyntaxError('semi-joins cannot be nested', pos);
        const subquery = this.query(true);
        if (subquery.object.toLowerCase() === object.toLowerCase())
          throw new SoqlSyntaxError('The inner and outer selects should not be on the same object type', pos);
        this.symbol(')');
        return { field, op: 'IN', subquery };
      }
      const values = [this.literal()];
      while (this.peek()?.type === 'symbol' && this.peek()?.text === ',') {
        this.next(',');
        values.push(this.literal());
      }
      this.symbol(')');
      return { field, op: 'IN', values };
    }
    const t = this.next('an operator');
    if (t.type !== 'symbol' || !['=', '!=', '>', '<', '>=', '<='].includes(t.text)) {
      throw new SoqlSyntaxError(`expecting an operator, found '${t.text}'`, t.pos);
    }
    return { field, op: t.text as SoqlOperator, value: this.literal() };
  }

  private literal(): SoqlLiteral {
    const t = this.next('a value');
    switch (t.type) {
      case 'string':
        return { kind: 'string', value: t.text };
      case 'number':
        return { kind: 'number', value: Number(t.text) };
      case 'datetime': {
        const ms = Date.parse(t.text);
        if (Number.isNaN(ms)) throw new SoqlSyntaxError(`invalid date-time '${t.text}'`, t.pos);
        return { kind: 'datetime', ms };
      }
      case 'date':
        if (Number.isNaN(Date.parse(`${t.text}T00:00:00Z`))) throw new SoqlSyntaxError(`invalid date '${t.text}'`, t.pos);
        return { kind: 'date', day: t.text };
      case 'word': {
        const upper = t.text.toUpperCase();
        if (upper === 'TRUE' || upper === 'FALSE') return { kind: 'boolean', value: upper === 'TRUE' };
        if (upper === 'NULL') return { kind: 'null' };
        if (upper === 'TODAY' || upper === 'YESTERDAY' || upper === 'TOMORROW') return { kind: 'relative', name: upper, n: 0 };
        const m = /^(LAST_N_DAYS|NEXT_N_DAYS):(\d+)$/.exec(upper);
        if (m) return { kind: 'relative', name: m[1] as 'LAST_N_DAYS' | 'NEXT_N_DAYS', n: Number(m[2]) };
        throw new SoqlSyntaxError(`unexpected word '${t.text}' where a value was expected`, t.pos);
      }
      case 'symbol':
        throw new SoqlSyntaxError(`unexpected '${t.text}' where a value was expected`, t.pos);
    }
  }
}

/** Parses a SOQL query of the supported subset; throws `SoqlSyntaxError`. */
export function parseSoql(text: string): SoqlQuery {
  return new Parser(tokenize(text), text.length).parse();
}

const DAY_MS = 86_400_000;

function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** A resolved comparison bound: a range of instants for date literals, a plain value otherwise. */
type Resolved = { kind: 'value'; value: SoqlValue } | { kind: 'range'; from: number; to: number };

function resolve(literal: SoqlLiteral, now: number): Resolved {
  switch (literal.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      return { kind: 'value', value: literal.value };
    case 'null':
      return { kind: 'value', value: null };
    case 'datetime':
      return { kind: 'range', from: literal.ms, to: literal.ms + 1 };
    case 'date': {
      const from = Date.parse(`${literal.day}T00:00:00Z`);
      return { kind: 'range', from, to: from + DAY_MS };
    }
    case 'relative': {
      const today = startOfUtcDay(now);
      switch (literal.name) {
        case 'TODAY':
          return { kind: 'range', from: today, to: today + DAY_MS };
        case 'YESTERDAY':
          return { kind: 'range', from: today - DAY_MS, to: today };
        case 'TOMORROW':
          return { kind: 'range', from: today + DAY_MS, to: today + 2 * DAY_MS };
        case 'LAST_N_DAYS':
          return { kind: 'range', from: today - literal.n * DAY_MS, to: today + DAY_MS };
        case 'NEXT_N_DAYS':
          return { kind: 'range', from: today + DAY_MS, to: today + (literal.n + 1) * DAY_MS };
      }
    }
  }
}

function instantOf(value: SoqlValue): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  return Number.isNaN(ms) ? undefined : ms;
}

function compareValues(a: SoqlValue, b: SoqlValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function matchesOne(raw: SoqlValue, op: SoqlOperator, bound: Resolved): boolean {
  if (bound.kind === 'range') {
    const at = instantOf(raw);
    if (at === undefined) return op === '!=';
    switch (op) {
      case '=':
        return at >= bound.from && at < bound.to;
      case '!=':
        return at < bound.from || at >= bound.to;
      case '>':
        return at >= bound.to;
      case '>=':
        return at >= bound.from;
      case '<':
        return at < bound.from;
      case '<=':
        return at < bound.to;
    }
  }
  const value = bound.value;
  if (value === null || raw === null) {
    if (op === '=') return raw === value;
    if (op === '!=') return raw !== value;
    return false;
  }
  // Text comparisons ignore case, as Salesforce's do for most fields.
  const a = typeof raw === 'string' ? raw.toLowerCase() : raw;
  const b = typeof value === 'string' ? value.toLowerCase() : value;
  const c = compareValues(a, b);
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '>':
      return c > 0;
    case '<':
      return c < 0;
    case '>=':
      return c >= 0;
    case '<=':
      return c <= 0;
  }
}

/** Finds a record's value for a field name, case-insensitively. */
export function fieldValue(record: Record<string, SoqlValue>, field: string): SoqlValue {
  if (field in record) return record[field] ?? null;
  const lower = field.toLowerCase();
  for (const key of Object.keys(record)) if (key.toLowerCase() === lower) return record[key] ?? null;
  return null;
}

function holds(cond: SoqlCondition, record: Record<string, SoqlValue>, now: number): boolean {
  if (cond.op === 'OR') return cond.anyOf.some((c) => holds(c, record, now));
  if (cond.op === 'AND') return cond.allOf.every((c) => holds(c, record, now));
  const raw = fieldValue(record, cond.field);
  if ('subquery' in cond) throw new Error('resolve semi-joins before matching (resolveSemiJoins)');
  if (cond.op === 'IN') return cond.values.some((v) => matchesOne(raw, '=', resolve(v, now)));
  return matchesOne(raw, cond.op, resolve(cond.value, now));
}

/** Whether a record satisfies every condition of the WHERE clause (semi-joins resolved first). */
export function matches(query: Pick<SoqlQuery, 'where'>, record: Record<string, SoqlValue>, now: number): boolean {
  return query.where.every((cond) => holds(cond, record, now));
}

/**
 * Replaces each semi-join with the values its subquery selects from `recordsOf(object)`, so
 * the query can run on its own object's records.
 */
export function resolveSemiJoins(
  query: SoqlQuery,
  recordsOf: (object: string) => Iterable<Record<string, SoqlValue>>,
  now: number,
): SoqlQuery {
  if (!comparisons(query.where).some((c) => 'subquery' in c)) return query;
  const resolveOne = (cond: SoqlCondition): SoqlCondition => {
    if (cond.op === 'OR') return { op: 'OR', anyOf: cond.anyOf.map(resolveOne) };
    if (cond.op === 'AND') return { op: 'AND', allOf: cond.allOf.map(resolveOne) };
    if (!('subquery' in cond)) return cond;
    const field = cond.subquery.fields[0] ?? '';
    const values = runQuery(cond.subquery, recordsOf(cond.subquery.object), now)
      .map((r) => fieldValue(r, field))
      .filter((v): v is string => typeof v === 'string')
      .map((value): SoqlLiteral => ({ kind: 'string', value }));
    return { field: cond.field, op: 'IN', values };
  };
  return { ...query, where: query.where.map(resolveOne) };
}

/** Sorts records by the ORDER BY clause (nulls first, as Salesforce's default for ASC). */
export function sortRecords<T extends Record<string, SoqlValue>>(query: Pick<SoqlQuery, 'orderBy'>, records: T[]): T[] {
  if (query.orderBy.length === 0) return records;
  return [...records].sort((x, y) => {
    for (const { field, direction } of query.orderBy) {
      const a = fieldValue(x, field);
      const b = fieldValue(y, field);
      let c: number;
      if (a === b) c = 0;
      else if (a === null) c = -1;
      else if (b === null) c = 1;
      else {
        const ta = instantOf(a);
        const tb = instantOf(b);
        c = ta !== undefined && tb !== undefined && typeof a === 'string' && a.length > 10 ? ta - tb : compareValues(a, b);
      }
      if (c !== 0) return direction === 'ASC' ? c : -c;
    }
    return 0;
  });
}

/** Runs a parsed query over records: filter, sort, limit (projection is the caller's). */
export function runQuery<T extends Record<string, SoqlValue>>(query: SoqlQuery, records: Iterable<T>, now: number): T[] {
  const hits: T[] = [];
  for (const r of records) if (matches(query, r, now)) hits.push(r);
  const sorted = sortRecords(query, hits);
  return query.limit === undefined ? sorted : sorted.slice(0, query.limit);
}

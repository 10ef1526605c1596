/**
 * CRM search over the emulator's contacts: `filterGroups` (OR of ANDs), one sort, `limit` up to
 * 200, `after` as an offset, and the 10,000-result paging cap.
 * https://developers.hubspot.com/docs/api/crm/search
 */
import { z } from 'zod';
import type { StoredContact } from './state.js';
import { validationError } from './errors.js';

const Operator = z.enum([
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
]);

export const Filter = z.object({
  propertyName: z.string().min(1),
  operator: Operator,
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
  highValue: z.union([z.string(), z.number()]).optional(),
  values: z.array(z.union([z.string(), z.number()])).optional(),
});
export type Filter = z.infer<typeof Filter>;

const Sort = z.union([
  z.string().min(1),
  z.object({ propertyName: z.string().min(1), direction: z.enum(['ASCENDING', 'DESCENDING']).default('ASCENDING') }),
]);

export const SearchRequest = z.object({
  query: z.string().optional(),
  limit: z.number().int().min(0).optional(),
  after: z.union([z.string(), z.number()]).optional(),
  sorts: z.array(Sort).optional(),
  properties: z.array(z.string()).optional(),
  filterGroups: z.array(z.object({ filters: z.array(Filter) })).optional(),
});
export type SearchRequest = z.infer<typeof SearchRequest>;

const MAX_LIMIT = 200;
const MAX_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const DATE_PROPERTIES = new Set(['createdate', 'lastmodifieddate', 'date_of_birth']);

/** A comparable form of a value: dates and numbers as numbers, other text lower-cased. */
function comparable(property: string, value: string | number | boolean): number | string {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return String(value);
  if (DATE_PROPERTIES.has(property)) {
    const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    return Number.isNaN(n) ? value.toLowerCase() : n;
  }
  if (property === 'hs_object_id' && /^\d+$/.test(value)) return Number(value);
  return value.toLowerCase();
}

function matches(contact: StoredContact, f: Filter): boolean {
  const raw = contact.properties[f.propertyName];
  if (f.operator === 'HAS_PROPERTY') return raw !== undefined;
  if (f.operator === 'NOT_HAS_PROPERTY') return raw === undefined;
  if (raw === undefined) return f.operator === 'NEQ' || f.operator === 'NOT_IN' || f.operator === 'NOT_CONTAINS_TOKEN';
  const v = comparable(f.propertyName, raw);
  const target = f.value === undefined ? undefined : comparable(f.propertyName, f.value);
  switch (f.operator) {
    case 'EQ':
      return v === target;
    case 'NEQ':
      return v !== target;
    case 'LT':
      return target !== undefined && v < target;
    case 'LTE':
      return target !== undefined && v <= target;
    case 'GT':
      return target !== undefined && v > target;
    case 'GTE':
      return target !== undefined && v >= target;
    case 'BETWEEN': {
      const high = f.highValue === undefined ? undefined : comparable(f.propertyName, f.highValue);
      return target !== undefined && high !== undefined && v >= target && v <= high;
    }
    case 'IN':
      return (f.values ?? []).some((x) => comparable(f.propertyName, x) === v);
    case 'NOT_IN':
      return !(f.values ?? []).some((x) => comparable(f.propertyName, x) === v);
    case 'CONTAINS_TOKEN':
      return typeof target === 'string' && String(v).includes(target.replaceAll('*', ''));
    case 'NOT_CONTAINS_TOKEN':
      return !(typeof target === 'string' && String(v).includes(target.replaceAll('*', '')));
  }
}

function matchesQuery(contact: StoredContact, query: string): boolean {
  const q = query.toLowerCase();
  return ['email', 'firstname', 'lastname', 'phone', 'company'].some((p) => contact.properties[p]?.toLowerCase().includes(q));
}

export interface SearchPage {
  total: number;
  results: StoredContact[];
  nextAfter: string | undefined;
}

/** Runs a search; throws HubSpot's 400 for a malformed request or paging past the cap. */
export function runSearch(contacts: StoredContact[], req: SearchRequest, resultCap: number): SearchPage {
  const limit = req.limit ?? 10;
  if (limit > MAX_LIMIT) throw validationError(`Invalid input: limit must be less than or equal to ${MAX_LIMIT}`);
  const groups = req.filterGroups ?? [];
  const filterCount = groups.reduce((n, g) => n + g.filters.length, 0);
  if (groups.length > MAX_GROUPS || groups.some((g) => g.filters.length > MAX_FILTERS_PER_GROUP) || filterCount > MAX_FILTERS) {
    throw validationError(
      `Invalid input: at most ${MAX_GROUPS} filterGroups, ${MAX_FILTERS_PER_GROUP} filters per group and ${MAX_FILTERS} filters in total are allowed`,
    );
  }
  const offset = req.after === undefined || req.after === '' ? 0 : Number(req.after);
  if (!Number.isInteger(offset) || offset < 0) throw validationError('Invalid input: after must be a non-negative integer');
  if (offset >= resultCap) {
    throw validationError(`Invalid input: a search can page through at most ${resultCap} results`);
  }

  let hits = contacts.filter((c) => groups.length === 0 || groups.some((g) => g.filters.every((f) => matches(c, f))));
  if (req.query) hits = hits.filter((c) => matchesQuery(c, req.query ?? ''));

  const sort = req.sorts?.[0];
  const sortProperty = sort === undefined ? 'hs_object_id' : typeof sort === 'string' ? sort : sort.propertyName;
  const descending = sort !== undefined && typeof sort !== 'string' && sort.direction === 'DESCENDING';
  hits.sort((a, b) => {
    const av = a.properties[sortProperty];
    const bv = b.properties[sortProperty];
    let cmp: number;
    if (av === undefined || bv === undefined) cmp = av === bv ? 0 : av === undefined ? 1 : -1;
    else {
      const x = comparable(sortProperty, av);
      const y = comparable(sortProperty, bv);
      cmp = x < y ? -1 : x > y ? 1 : 0;
    }
    if (descending) cmp = -cmp;
    return cmp !== 0 ? cmp : Number(a.id) - Number(b.id);
  });

  const results = hits.slice(offset, offset + limit);
  const next = offset + results.length;
  return { total: hits.length, results, nextAfter: next < hits.length ? String(next) : undefined };
}

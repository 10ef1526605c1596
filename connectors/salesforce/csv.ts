/**
 * CSV as Bulk API 2.0 speaks it (RFC 4180: comma, LF line endings, double quotes doubled), written
 * and read by the csv project's `csv-stringify` and `csv-parse` (jsforce's own choice, so one copy).
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_csv_valid_record_rows.htm
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/**
 * Writes a header row and rows. `null` becomes an empty field; an empty string is written `""`
 * (Bulk API reads an unquoted empty field as "leave as is", a quoted one as the empty string).
 */
export function toCsv(columns: readonly string[], rows: readonly (readonly (string | null)[])[]): string {
  return stringify([columns, ...rows] as (string | null)[][], {
    record_delimiter: 'unix',
    quote_record_delimiter: true,
    quoted_match: /^$/,
  });
}

/** Parses CSV text into rows of fields (quoted fields may hold commas, quotes and newlines). */
export function parseCsvRows(text: string): string[][] {
  return parse(text, { relax_column_count: true, relax_quotes: true }) as string[][];
}

/** Parses CSV with a header row into objects keyed by column name. */
export function parseCsv(text: string): { columns: string[]; records: Record<string, string>[] } {
  const [header = [], ...body] = parseCsvRows(text);
  const records = body
    .filter((r) => !(r.length === 1 && r[0] === ''))
    .map((r) => Object.fromEntries(header.map((name, i) => [name, r[i] ?? ''])));
  return { columns: header, records };
}

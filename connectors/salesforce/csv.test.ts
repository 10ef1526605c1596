import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCsv, toCsv } from './csv.js';

describe('Bulk API CSV', () => {
  it('writes LF line ends, quotes what needs it, an empty string as "" and null as an empty field', () => {
    expect(
      toCsv(
        ['Id', 'Email', 'Note'],
        [
          ['001', '', null],
          ['002', 'a,b', 'say "hi"\nbye'],
        ],
      ),
    ).toBe('Id,Email,Note\n001,"",\n002,"a,b","say ""hi""\nbye"\n');
    expect(toCsv(['Id'], [])).toBe('Id\n');
    expect(toCsv(['Id'], [['\r']])).toBe('Id\n"\r"\n');
  });

  it('reads a header row into records, skipping blank lines and filling missing fields with ""', () => {
    expect(parseCsv('Id,Name\r\n001,"Lovelace, Ada"\r\n\r\n002\r\n')).toEqual({
      columns: ['Id', 'Name'],
      records: [
        { Id: '001', Name: 'Lovelace, Ada' },
        { Id: '002', Name: '' },
      ],
    });
    expect(parseCsv('')).toEqual({ columns: [], records: [] });
  });

  it('reads back what it writes (two columns or more: a lone empty field is a blank line)', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'é', ',', '"', '\n', '\r', ' ', '='), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[A-Za-z]\w{0,5}$/), { minLength: 2, maxLength: 4 }),
        fc.array(fc.array(fc.option(field, { nil: null }), { minLength: 4, maxLength: 4 }), { maxLength: 5 }),
        (columns, rows) => {
          const records = rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i] ?? ''])));
          const parsed = parseCsv(
            toCsv(
              columns,
              rows.map((r) => r.slice(0, columns.length)),
            ),
          );
          expect(parsed.columns).toEqual(columns);
          expect(parsed.records).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });
});

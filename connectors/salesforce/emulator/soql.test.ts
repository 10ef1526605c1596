import { describe, expect, it } from 'vitest';
import { matches, parseSoql, runQuery, SoqlSyntaxError, type SoqlValue } from './soql.js';

const NOW = Date.parse('2026-03-10T12:00:00.000Z');

const rows: Record<string, SoqlValue>[] = [
  {
    Id: '003A',
    Email: 'ada@example.com',
    LastName: 'Lovelace',
    HasOptedOutOfEmail: false,
    SystemModstamp: '2026-03-10T09:00:00.000Z',
    Age: 36,
  },
  {
    Id: '003B',
    Email: 'grace@example.com',
    LastName: 'Hopper',
    HasOptedOutOfEmail: true,
    SystemModstamp: '2026-03-09T23:59:59.000Z',
    Age: 85,
  },
  { Id: '003C', Email: null, LastName: "O'Brien", HasOptedOutOfEmail: false, SystemModstamp: '2026-03-01T00:00:00.000Z', Age: 40 },
  {
    Id: '003D',
    Email: 'alan@example.com',
    LastName: 'Turing',
    HasOptedOutOfEmail: true,
    SystemModstamp: '2026-03-10T09:00:00.000Z',
    Age: 41,
  },
];

const ids = (soql: string): SoqlValue[] => runQuery(parseSoql(soql), rows, NOW).map((r) => r.Id ?? null);

describe('parseSoql', () => {
  it('parses fields, object, conditions, ordering and limit', () => {
    expect(
      parseSoql(
        "SELECT Id, Email FROM Contact WHERE Email = 'a@b.c' AND SystemModstamp > 2026-01-01T00:00:00Z ORDER BY SystemModstamp, Id DESC LIMIT 5",
      ),
    ).toEqual({
      fields: ['Id', 'Email'],
      count: false,
      object: 'Contact',
      where: [
        { field: 'Email', op: '=', value: { kind: 'string', value: 'a@b.c' } },
        { field: 'SystemModstamp', op: '>', value: { kind: 'datetime', ms: Date.parse('2026-01-01T00:00:00Z') } },
      ],
      orderBy: [
        { field: 'SystemModstamp', direction: 'ASC' },
        { field: 'Id', direction: 'DESC' },
      ],
      limit: 5,
    });
  });

  it('accepts lower-case keywords, COUNT(), IN lists, booleans, null, numbers and date literals', () => {
    const q = parseSoql(
      "select count() from Lead where Id in ('00QA', '00QB') and IsDeleted = false and Email != null and Age >= 18 and CreatedDate = LAST_N_DAYS:30",
    );
    expect(q.count).toBe(true);
    expect(q.object).toBe('Lead');
    expect(q.where.map((c) => c.op)).toEqual(['IN', '=', '!=', '>=', '=']);
    expect(q.where[4]).toEqual({ field: 'CreatedDate', op: '=', value: { kind: 'relative', name: 'LAST_N_DAYS', n: 30 } });
  });

  it('reads escaped quotes in strings and date-times with fractions and offsets', () => {
    const q = parseSoql("SELECT Id FROM Contact WHERE LastName = 'O\\'Brien' AND SystemModstamp < 2026-03-10T10:00:00.500+01:00");
    expect(q.where[0]).toEqual({ field: 'LastName', op: '=', value: { kind: 'string', value: "O'Brien" } });
    expect(q.where[1]).toEqual({
      field: 'SystemModstamp',
      op: '<',
      value: { kind: 'datetime', ms: Date.parse('2026-03-10T09:00:00.500Z') },
    });
  });

  it.each([
    ['SELECT FROM Contact', /field name/],
    ['SELECT Id Contact', /FROM/],
    ["SELECT Id FROM Contact WHERE Email = 'open", /unterminated/],
    ['SELECT Id FROM Contact WHERE Email', /operator/],
    ['SELECT Id FROM Contact WHERE Email = ', /end of query/],
    ["SELECT Id FROM Contact WHERE Email = 'a' OR Email = 'b' AND Age = 1", /parentheses/],
    ["SELECT Id FROM Contact WHERE Email = 'a' AND (Age = 1 OR Age = 2", /'\)'/],
    ["SELECT Id FROM Contact WHERE Email = 'a' OR IndividualId IN (SELECT Id FROM Individual)", /Semi join/],
    ['SELECT Id FROM Contact LIMIT many', /LIMIT/],
    ['SELECT Id FROM Contact ORDER Id', /BY/],
    ['SELECT Id FROM Contact extra', /unexpected token/],
    ['SELECT Id FROM Contact WHERE Id IN (1, 2', /'\)'/],
    ['SELECT Id FROM Contact WHERE Id = ;', /unexpected character/],
  ])('refuses %s', (soql, message) => {
    expect(() => parseSoql(soql)).toThrow(SoqlSyntaxError);
    expect(() => parseSoql(soql)).toThrow(message);
  });
});

describe('runQuery', () => {
  it('filters with =, !=, IN, null and booleans (text compares ignore case)', () => {
    expect(ids("SELECT Id FROM Contact WHERE Email = 'ADA@example.com'")).toEqual(['003A']);
    expect(ids('SELECT Id FROM Contact WHERE Email = null')).toEqual(['003C']);
    expect(ids('SELECT Id FROM Contact WHERE Email != null AND HasOptedOutOfEmail = true')).toEqual(['003B', '003D']);
    expect(ids("SELECT Id FROM Contact WHERE Id IN ('003D', '003A', '003Z')")).toEqual(['003A', '003D']);
  });

  it('compares numbers and date-times, and orders by several keys', () => {
    expect(ids('SELECT Id FROM Contact WHERE Age > 40 AND Age < 85')).toEqual(['003D']);
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp >= 2026-03-10T09:00:00Z ORDER BY SystemModstamp, Id DESC')).toEqual([
      '003D',
      '003A',
    ]);
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp > 2026-03-09T23:59:59Z ORDER BY Id')).toEqual(['003A', '003D']);
    expect(ids('SELECT Id FROM Contact ORDER BY SystemModstamp DESC, Id LIMIT 3')).toEqual(['003A', '003D', '003B']);
  });

  it('resolves date literals against the clock (whole UTC days)', () => {
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp = TODAY ORDER BY Id')).toEqual(['003A', '003D']);
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp = YESTERDAY')).toEqual(['003B']);
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp < 2026-03-09 ORDER BY Id')).toEqual(['003C']);
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp = LAST_N_DAYS:2 ORDER BY Id')).toEqual(['003A', '003B', '003D']);
    expect(ids('SELECT Id FROM Contact WHERE SystemModstamp = TOMORROW')).toEqual([]);
  });

  it('filters with OR between terms, and parenthesised groups (SOQL needs them to mix AND and OR)', () => {
    expect(
      ids(
        "SELECT Id FROM Contact WHERE Id IN ('003C') OR Email IN ('GRACE@example.com', 'nobody@x.org') OR LastName = 'Turing' ORDER BY Id",
      ),
    ).toEqual(['003B', '003C', '003D']);
    expect(ids("SELECT Id FROM Contact WHERE HasOptedOutOfEmail = true AND (Age < 50 OR Email = 'grace@example.com') ORDER BY Id")).toEqual(
      ['003B', '003D'],
    );
    expect(ids('SELECT Id FROM Contact WHERE (Age > 80 AND HasOptedOutOfEmail = true) OR (Age < 40) ORDER BY Id')).toEqual([
      '003A',
      '003B',
    ]);
  });

  it('matches field names case-insensitively', () => {
    const q = parseSoql("SELECT id FROM contact WHERE lastname = 'turing'");
    expect(matches(q, rows[3] ?? {}, NOW)).toBe(true);
    expect(matches(q, rows[0] ?? {}, NOW)).toBe(false);
  });
});

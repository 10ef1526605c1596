import { describe, expect, it } from 'vitest';
import type { ExternalRecord } from '../connector/define.js';
import {
  freshEvidence,
  isEmptyQuery,
  matching,
  noteCall,
  queryFor,
  searchableQuery,
  searchKinds,
  searchMethod,
  searchSubject,
  unsearchableReason,
  withFound,
} from './search.js';

const caps = (find: boolean, exportable: boolean) => ({
  capabilities: { pull: false, push: false, webhooks: false, erase: true, export: exportable, find },
});

describe('search', () => {
  it('searches by find where declared, else by export, else not at all; an instance without the method cannot', () => {
    expect(searchMethod(caps(true, true))).toBe('find');
    expect(searchMethod(caps(false, true))).toBe('export');
    expect(searchMethod(caps(false, false))).toBeNull();
    expect(searchMethod(caps(true, true), { export: () => Promise.resolve([]) })).toBe('export');
    expect(searchMethod(caps(true, false), {})).toBeNull();
  });

  it('searches each system by every address and phone number, and by that system’s own ids only', () => {
    const subject = searchSubject([
      { kind: 'email', value: ' Ada@Example.com ' },
      { kind: 'email', value: 'ada@example.com' },
      { kind: 'phone', value: '+442071234567' },
      { kind: 'external', system: 'hubspot', value: '101' },
      { kind: 'external', system: 'salesforce', value: '003A' },
    ]);
    expect(subject).toEqual({
      emails: ['ada@example.com'],
      phones: ['+442071234567'],
      externalIds: { hubspot: ['101'], salesforce: ['003A'] },
    });
    expect(queryFor(subject, 'hubspot', ['101', '102'])).toEqual({
      emails: ['ada@example.com'],
      phones: ['+442071234567'],
      externalIds: ['101', '102'],
    });
    expect(queryFor(subject, 'mailer')).toMatchObject({ externalIds: [] });
    expect(queryFor(undefined, 'mailer')).toEqual({ emails: [], phones: [], externalIds: [] });
  });

  it('gives a record read by export to the people it matches: by id, or by an address in any field, once', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const records: ExternalRecord[] = [
      { externalId: '1', at, fields: { email: 'ADA@example.com' } },
      { externalId: '2', at, fields: { work: 'ada@example.com', email: 'other@example.com' } },
      { externalId: '3', at, fields: { email: 'grace@example.com' } },
      { externalId: '1', at, fields: { email: 'ada@example.com' } },
    ];
    const ada = matching(records, { emails: ['ada@example.com'], phones: [], externalIds: [] });
    expect(ada.map((r) => r.externalId)).toEqual(['1', '2']);
    expect(matching(records, { emails: [], phones: ['+1'], externalIds: ['3'] }).map((r) => r.externalId)).toEqual(['3']);
    expect(matching(records, { emails: [], phones: [], externalIds: [] })).toEqual([]);
  });

  it('counts the calls that carried a request per operation, with the first and the last', () => {
    const evidence = freshEvidence();
    noteCall(evidence, 'find', '2026-01-01T00:00:00.000Z');
    noteCall(evidence, 'erase', '2026-01-01T00:00:01.000Z');
    noteCall(evidence, 'find', '2026-01-01T00:00:02.000Z');
    expect(evidence.calls).toEqual({
      find: { count: 2, first: '2026-01-01T00:00:00.000Z', last: '2026-01-01T00:00:02.000Z' },
      erase: { count: 1, first: '2026-01-01T00:00:01.000Z', last: '2026-01-01T00:00:01.000Z' },
    });
  });

  it('searches a system only by the kinds it can: find by those it declares (all when undeclared), export never by phone', () => {
    expect(searchKinds('find')).toEqual(['email', 'phone', 'externalId']);
    expect(searchKinds('find', { findsBy: ['email'] })).toEqual(['email']);
    expect(searchKinds('export', { findsBy: ['phone'] })).toEqual(['email', 'externalId']);
    const query = { emails: ['ada@example.com'], phones: ['+442071234567'], externalIds: ['101'] };
    expect(searchableQuery(query, ['email', 'externalId'])).toEqual({ emails: ['ada@example.com'], phones: [], externalIds: ['101'] });
    expect(isEmptyQuery(searchableQuery(query, ['phone']))).toBe(false);
    expect(isEmptyQuery(searchableQuery({ ...query, phones: [] }, ['phone']))).toBe(true);
    expect(
      unsearchableReason([
        { kind: 'phone', hash: 'a' },
        { kind: 'phone', hash: 'b' },
        { kind: 'email', hash: 'c' },
      ]),
    ).toBe("cannot be searched by the person's identities (phone, email): check by hand");
  });

  it('acts on the records the hub knows and those found, each once, for an erasure and an export alike', () => {
    const known = [{ externalId: '101' }, { email: 'ada@example.com' }];
    expect(withFound(known, ['102', '101', '102'])).toEqual({
      refs: [{ externalId: '101' }, { email: 'ada@example.com' }, { externalId: '102' }],
      added: ['102'],
    });
    expect(withFound([], ['7'], 'ada@example.com').refs).toEqual([{ externalId: '7', email: 'ada@example.com' }]);
    // A search that misses a record the hub knows keeps it.
    expect(withFound(known, []).refs).toEqual(known);
  });
});

import { describe, expect, it } from 'vitest';
import { findParts, findSoql } from './find.js';
import { parseSoql } from './emulator/soql.js';

describe('find SOQL', () => {
  it('ORs the kinds of identity, escapes literals and asks phones in Phone and MobilePhone', () => {
    const soql = findSoql('Contact', { ids: ['003000000000001AAA'], emails: ["o'brien@example.com"], phones: ['+15550100'] });
    expect(soql).toBe(
      "SELECT Id, Email, Phone, MobilePhone FROM Contact WHERE Id IN ('003000000000001AAA') OR Email IN ('o\\'brien@example.com') OR Phone IN ('+15550100') OR MobilePhone IN ('+15550100')",
    );
    expect(parseSoql(soql).where).toHaveLength(1);
  });

  it('splits the identities so that each query stays within the encoded length, losing none', () => {
    const emails = Array.from({ length: 400 }, (_, i) => `person-${i}@example.com`);
    const phones = Array.from({ length: 100 }, (_, i) => `+1555010${String(i).padStart(4, '0')}`);
    const parts = findParts('Lead', { ids: [], emails, phones }, 4_000);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(encodeURIComponent(findSoql('Lead', p)).length).toBeLessThanOrEqual(4_000);
    expect(parts.flatMap((p) => p.emails)).toEqual(emails);
    expect(parts.flatMap((p) => p.phones)).toEqual(phones);
    expect(findParts('Lead', { ids: [], emails: [], phones: [] })).toEqual([]);
  });
});

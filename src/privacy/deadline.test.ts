import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addMonths, checkExtension, dueDate, isOverdue, latestExtension } from './deadline.js';

describe('deadlines (GDPR Art. 12(3), months counted as Regulation 1182/71 counts them)', () => {
  it('is due one month later, on the same day of the month and at the same time', () => {
    expect(dueDate('2026-03-14T09:30:00.000Z')).toBe('2026-04-14T09:30:00.000Z');
    expect(dueDate('2026-12-20T23:59:59.999Z')).toBe('2027-01-20T23:59:59.999Z');
  });

  it('ends on the last day of a shorter month', () => {
    expect(dueDate('2026-01-31T10:00:00.000Z')).toBe('2026-02-28T10:00:00.000Z');
    expect(dueDate('2028-01-31T10:00:00.000Z')).toBe('2028-02-29T10:00:00.000Z');
    expect(dueDate('2026-03-31T10:00:00.000Z')).toBe('2026-04-30T10:00:00.000Z');
    expect(latestExtension('2026-11-30T10:00:00.000Z')).toBe('2027-02-28T10:00:00.000Z');
  });

  it('always lands 28 to 31 days later and never moves the time of day', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }), (d) => {
        const start = d.toISOString();
        const due = dueDate(start);
        const days = (Date.parse(due) - Date.parse(start)) / 86_400_000;
        expect(days).toBeGreaterThanOrEqual(28);
        expect(days).toBeLessThanOrEqual(31);
        expect(due.slice(10)).toBe(start.slice(10));
        expect(addMonths(start, 0)).toBe(start);
      }),
    );
  });

  it('is overdue only while open and past the deadline in force', () => {
    const now = new Date('2026-05-01T00:00:00.000Z');
    const base = { dueAt: '2026-04-14T00:00:00.000Z', extendedTo: null };
    expect(isOverdue({ ...base, status: 'in_progress' }, now)).toBe(true);
    expect(isOverdue({ ...base, status: 'received' }, now)).toBe(true);
    expect(isOverdue({ ...base, status: 'completed' }, now)).toBe(false);
    expect(isOverdue({ ...base, status: 'failed' }, now)).toBe(false);
    expect(isOverdue({ ...base, status: 'in_progress', extendedTo: '2026-06-14T00:00:00.000Z' }, now)).toBe(false);
  });

  it('allows an extension of at most two further months, the person told within the first month', () => {
    const request = { receivedAt: '2026-03-14T00:00:00.000Z', dueAt: '2026-04-14T00:00:00.000Z' };
    const now = new Date('2026-04-20T00:00:00.000Z');
    expect(checkExtension(request, { extendedTo: '2026-06-14T00:00:00.000Z', subjectToldAt: '2026-04-10T00:00:00.000Z' }, now)).toEqual({
      ok: true,
    });
    const refused = [
      { extendedTo: '2026-06-15T00:00:00.000Z', subjectToldAt: '2026-04-10T00:00:00.000Z' },
      { extendedTo: '2026-04-14T00:00:00.000Z', subjectToldAt: '2026-04-10T00:00:00.000Z' },
      { extendedTo: '2026-05-14T00:00:00.000Z', subjectToldAt: '2026-04-15T00:00:00.000Z' },
      { extendedTo: '2026-05-14T00:00:00.000Z', subjectToldAt: '2026-04-21T00:00:00.000Z' },
      { extendedTo: '2026-05-14T00:00:00.000Z', subjectToldAt: '2026-03-13T00:00:00.000Z' },
    ];
    for (const extension of refused) expect(checkExtension(request, extension, now).ok, JSON.stringify(extension)).toBe(false);
  });
});

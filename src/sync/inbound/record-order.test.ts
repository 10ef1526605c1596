import { describe, expect, it } from 'vitest';
import { dropStale } from './record-order.js';
import type { FieldMarks } from './record-order.js';

describe('dropStale', () => {
  it('drops the fields a newer version carried, keeps the others, and advances the marks', () => {
    const marks: FieldMarks = { first_name: 3, email_opt_out: 3 };
    const out = dropStale({ first_name: 'P1', email_opt_out: true, newsletter: true }, marks, 2);
    expect(out).toEqual({ fresh: { newsletter: true }, stale: ['first_name', 'email_opt_out'] });
    expect(marks).toEqual({ first_name: 3, email_opt_out: 3, newsletter: 2 });
  });

  it('keeps the same version read again and newer ones', () => {
    const marks: FieldMarks = { first_name: 3 };
    expect(dropStale({ first_name: 'P2' }, marks, 3).stale).toEqual([]);
    expect(dropStale({ first_name: 'P3' }, marks, 4).fresh).toEqual({ first_name: 'P3' });
    expect(marks).toEqual({ first_name: 4 });
  });

  it('never drops a field of a record without a version, nor marks it', () => {
    const marks: FieldMarks = { a: 3 };
    expect(dropStale({ a: 1 }, marks, undefined)).toEqual({ fresh: { a: 1 }, stale: [] });
    expect(marks).toEqual({ a: 3 });
  });
});

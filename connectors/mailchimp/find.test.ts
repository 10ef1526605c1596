import { describe, expect, it } from 'vitest';
import { phoneMergeTag } from './find.js';

describe('phoneMergeTag', () => {
  it('is the merge field the mapping sends the phone identity to, PHONE when the engine does not say, none when unmapped', () => {
    expect(phoneMergeTag({ 'merge:MOBILE': 'identity:phone', 'merge:FNAME': 'field:firstName' })).toBe('MOBILE');
    expect(phoneMergeTag(undefined)).toBe('PHONE');
    expect(phoneMergeTag({ email_address: 'identity:email' })).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { lastPullError } from './pull.js';

describe('lastPullError', () => {
  it('keeps no e-mail address or phone number a system quoted in its message', () => {
    const err = Object.assign(new Error('INVALID_EMAIL_ADDRESS: (ada@example.com) Phone IN (+15550100123)'), { code: 'E_BAD' });
    expect(lastPullError(err)).toEqual({ name: 'Error', code: 'E_BAD', message: 'INVALID_EMAIL_ADDRESS: (<email>) Phone IN (<phone>)' });
    expect(lastPullError(new Error('x'.repeat(400))).message).toHaveLength(300);
  });
});

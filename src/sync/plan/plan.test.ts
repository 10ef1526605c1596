import { describe, expect, it } from 'vitest';
import { planExample } from './plan.js';

describe('planExample', () => {
  it('redacts e-mail addresses and phone numbers in the record id as in the values', () => {
    const e = planExample('update', 'ada@example.com', { email: 'ada@example.com', phone: '+15550100123' }, { phone: '+15550100999' });
    expect(JSON.stringify(e)).not.toMatch(/@example\.com|\+1555/);
    expect(e).toEqual({
      action: 'update',
      externalId: '<email>',
      fields: { email: { to: '"<email>"' }, phone: { from: '"<phone>"', to: '"<phone>"' } },
    });
    expect(planExample('update', '0031x00000AbCdE', {}, undefined).externalId).toBe('0031x00000AbCdE');
  });
});

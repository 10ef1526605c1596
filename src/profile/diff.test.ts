import { describe, expect, it } from 'vitest';
import { diff } from './diff.js';
import { emptyProfile } from './merge.js';
import type { Profile } from './schema.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

const before: Profile = {
  ...emptyProfile('p1'),
  identities: [
    { kind: 'email', value: 'old@example.com', at: T(0), source: 'hubspot' },
    { kind: 'phone', value: '+4930111', at: T(0), source: 'hubspot' },
  ],
  attributes: {
    firstName: { value: 'Ann', at: T(1), source: 'hubspot' },
    address: { value: { city: 'Berlin', zip: '10115' }, at: T(1), source: 'hubspot' },
    gone: { value: 1, at: T(1), source: 'hubspot' },
  },
  consents: {
    marketing: {
      email: { value: 'granted', at: T(1), source: 'hubspot', legalBasis: 'consent', evidence: { method: 'form' } },
    },
  },
  subscriptions: { newsletter: { value: true, at: T(1), source: 'mailchimp' } },
};

describe('diff', () => {
  it('is empty for equal profiles, whatever the key order', () => {
    const reordered: Profile = {
      ...before,
      attributes: { ...before.attributes, address: { value: { zip: '10115', city: 'Berlin' }, at: T(1), source: 'hubspot' } },
    };
    expect(diff(before, before)).toEqual([]);
    expect(diff(before, reordered)).toEqual([]);
  });

  it('lists every field that differs, in a fixed order, with the new stamp', () => {
    const after: Profile = {
      ...before,
      identities: [
        { kind: 'email', value: 'new@example.com', at: T(6), source: 'salesforce' },
        { kind: 'phone', value: '+4930111', at: T(0), source: 'hubspot' },
      ],
      attributes: {
        firstName: { value: 'Anna', at: T(2), source: 'salesforce' },
        address: before.attributes.address!,
        gone: { value: 1, at: T(1), source: 'hubspot' },
        locale: { value: 'de', at: T(3), source: 'hubspot' },
      },
      consents: {
        marketing: {
          email: { value: 'denied', at: T(4), source: 'preference_center', legalBasis: 'consent', evidence: { method: 'click' } },
        },
      },
      subscriptions: {},
      rights: { restricted: { value: true, at: T(5), source: 'admin' }, objections: {} },
    };
    expect(diff(before, after)).toEqual([
      { kind: 'identity', path: 'email:new@example.com', to: after.identities[0], at: T(6), source: 'salesforce' },
      { kind: 'identity', path: 'email:old@example.com', from: before.identities[0], at: T(0), source: 'hubspot' },
      { kind: 'attribute', path: 'firstName', from: 'Ann', to: 'Anna', at: T(2), source: 'salesforce' },
      { kind: 'attribute', path: 'locale', to: 'de', at: T(3), source: 'hubspot' },
      {
        kind: 'consent',
        path: 'marketing.email',
        from: before.consents.marketing?.email,
        to: after.consents.marketing?.email,
        at: T(4),
        source: 'preference_center',
      },
      { kind: 'subscription', path: 'newsletter', from: true, at: T(1), source: 'mailchimp' },
      { kind: 'right', path: 'restricted', to: true, at: T(5), source: 'admin' },
    ]);
  });

  it('uses the given stamp for every change', () => {
    const after: Profile = { ...before, attributes: { ...before.attributes, firstName: { value: 'Anna', at: T(2), source: 'x' } } };
    expect(diff(before, after, { at: T(9), source: 'patch-source' })).toEqual([
      { kind: 'attribute', path: 'firstName', from: 'Ann', to: 'Anna', at: T(9), source: 'patch-source' },
    ]);
  });

  it('sees an identity set again later (a change of its stamp alone)', () => {
    const phone = { kind: 'phone', value: '+4930111', at: T(3), source: 'salesforce' } as const;
    const after: Profile = { ...before, identities: [before.identities[0]!, phone] };
    expect(diff(before, after)).toEqual([
      { kind: 'identity', path: 'phone:+4930111', from: before.identities[1], to: phone, at: T(3), source: 'salesforce' },
    ]);
  });

  it('sees a change of stamp alone', () => {
    const after: Profile = { ...before, subscriptions: { newsletter: { value: true, at: T(2), source: 'mailchimp' } } };
    expect(diff(before, after)).toEqual([
      { kind: 'subscription', path: 'newsletter', from: true, to: true, at: T(2), source: 'mailchimp' },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import type { CanonicalTarget } from '../../connector/mapping.js';
import { recipientsByPurpose } from './transparency.js';

const consent = (purpose: string, channel: string): { target: CanonicalTarget } => ({ target: { kind: 'consent', purpose, channel } });

describe('recipientsByPurpose', () => {
  it('lists, per purpose, the systems its consents are sent to, with their display names', () => {
    const recipients = recipientsByPurpose(
      [
        { id: 'hubspot', type: 'hubspot', mapping: { outbound: [consent('marketing', 'email'), consent('marketing', 'sms')] } },
        { id: 'crm', type: 'http', mapping: { outbound: [{ target: { kind: 'field', path: 'firstName' } }, consent('profiling', 'web')] } },
        { id: 'shop', type: 'memory', mapping: { outbound: [consent('marketing', 'email')] } },
      ],
      { hubspot: { en: 'HubSpot', ja: 'HubSpot（顧客管理）' } },
    );
    expect(recipients).toEqual({
      marketing: [
        { id: 'hubspot', type: 'hubspot', displayName: { en: 'HubSpot', ja: 'HubSpot（顧客管理）' } },
        { id: 'shop', type: 'memory' },
      ],
      profiling: [{ id: 'crm', type: 'http' }],
    });
  });

  it('does not count a system that only reports a consent (pull entries are not in the outbound mapping)', () => {
    expect(recipientsByPurpose([{ id: 'forms', type: 'http', mapping: { outbound: [] } }])).toEqual({});
  });
});

/** A person with something of everything, for the export tests. */
import { retentionOf } from '../recipients.js';
import { MergePolicy } from '../../../profile/schema.js';
import type { Profile } from '../../../profile/schema.js';
import type { AuditEntry, HistoryEntry, LedgerEntry, PushLogEntry, Shadow } from '../../../store/types.js';
import type { ExportInput, RecipientSource } from '../document.js';

export function samplePerson(): Profile {
  return {
    id: '0190a1b2-0000-7000-8000-000000000001',
    identities: [
      { kind: 'email', value: 'ada@example.com', at: '2026-01-02T10:00:00.000Z', source: 'hubspot' },
      { kind: 'phone', value: '+442071234567', at: '2026-01-02T10:00:00.000Z', source: 'salesforce' },
      { kind: 'external', system: 'hubspot', value: '101', at: '2026-01-02T10:00:00.000Z', source: 'hubspot' },
      { kind: 'external', system: 'salesforce', value: '0035e000000AdaAAA', at: '2026-01-02T10:00:00.000Z', source: 'salesforce' },
    ],
    attributes: {
      firstName: { value: 'Ada', at: '2026-01-02T10:00:00.000Z', source: 'hubspot' },
      lastName: { value: 'Lovelace, "Countess"', at: '2026-01-02T10:00:00.000Z', source: 'salesforce' },
      address: { value: { city: 'London', lines: ['12 St James’s Square'] }, at: '2026-01-03T10:00:00.000Z', source: 'admin' },
      formula: { value: '=HYPERLINK("x")', at: '2026-01-03T10:00:00.000Z', source: 'admin' },
    },
    consents: {
      marketing: {
        email: {
          value: 'granted',
          at: '2026-01-05T09:00:00.000Z',
          source: 'preference_center',
          legalBasis: 'consent',
          evidence: { method: 'preference_center', noticeVersion: '2026-01', ip: '203.0.113.9', userAgent: 'Firefox' },
        },
      },
      service: {
        email: {
          value: 'granted',
          at: '2026-01-01T00:00:00.000Z',
          source: 'salesforce',
          legalBasis: 'contract',
          evidence: { method: 'salesforce' },
          expiresAt: '2027-01-01T00:00:00.000Z',
        },
      },
    },
    subscriptions: { newsletter: { value: true, at: '2026-01-05T09:00:00.000Z', source: 'preference_center' } },
    rights: {
      restricted: { value: false, at: '2026-01-06T00:00:00.000Z', source: 'admin' },
      objections: { profiling: { value: true, at: '2026-01-07T00:00:00.000Z', source: 'salesforce' } },
    },
    version: 7,
  };
}

export function sampleLedger(profile: Profile): LedgerEntry[] {
  const granted = profile.consents['marketing']?.['email'];
  if (!granted) throw new Error('fixture without marketing consent');
  return [
    {
      id: 'l-2',
      profileId: profile.id,
      purpose: 'marketing',
      channel: 'email',
      state: granted,
      previous: 'denied',
      patchId: 'preference_center:1',
      recordedAt: '2026-01-05T09:00:01.000Z',
      accepted: true,
    },
    {
      id: 'l-1',
      profileId: profile.id,
      purpose: 'marketing',
      channel: 'email',
      state: { value: 'denied', at: '2026-01-02T10:00:00.000Z', source: 'hubspot', legalBasis: 'consent', evidence: { method: 'hubspot' } },
      previous: null,
      patchId: 'hubspot:101:1',
      recordedAt: '2026-01-02T10:00:01.000Z',
      accepted: true,
    },
  ];
}

export function sampleShadows(profile: Profile): Shadow[] {
  return [
    {
      profileId: profile.id,
      connector: 'salesforce',
      externalId: '0035e000000AdaAAA',
      values: { Email: 'ada@example.com', HasOptedOutOfEmail: false },
      valuesAt: { Email: '2026-01-05T09:00:03.000Z', HasOptedOutOfEmail: '2026-01-05T09:00:03.000Z' },
      lastPushedAt: '2026-01-05T09:00:03.000Z',
      updatedAt: '2026-01-05T09:00:03.000Z',
    },
    {
      profileId: profile.id,
      connector: 'hubspot',
      externalId: '101',
      values: { email: 'ada@example.com', 'subscription:101': 'SUBSCRIBED' },
      valuesAt: { email: '2026-01-02T10:00:01.000Z', 'subscription:101': '2026-01-02T10:00:01.000Z' },
      lastPushedAt: null,
      updatedAt: '2026-01-02T10:00:01.000Z',
    },
  ];
}

/** Three deliveries, given out of order: Salesforce twice, HubSpot once in between. */
export function samplePushes(profile: Profile): PushLogEntry[] {
  return [
    {
      profileId: profile.id,
      connector: 'salesforce',
      externalId: '0035e000000AdaAAA',
      values: { HasOptedOutOfEmail: false },
      pushedAt: '2026-01-05T09:00:03.000Z',
    },
    {
      profileId: profile.id,
      connector: 'salesforce',
      externalId: '0035e000000AdaAAA',
      values: { Email: 'ada@example.com', LastName: 'Lovelace, "Countess"' },
      pushedAt: '2026-01-02T10:00:02.000Z',
    },
    {
      profileId: profile.id,
      connector: 'hubspot',
      externalId: '101',
      values: { 'subscription:101': 'SUBSCRIBED' },
      pushedAt: '2026-01-05T09:00:02.500Z',
    },
  ];
}

export function sampleAudit(profile: Profile): AuditEntry[] {
  return [
    {
      id: 'a2',
      at: '2026-01-05T09:00:01.000Z',
      actor: 'preference_center',
      action: 'profile.updated',
      profileId: profile.id,
      detail: { source: 'preference_center', changes: ['consent:marketing.email', 'subscription:newsletter'], identityHashes: ['ab'] },
    },
    {
      id: 'a1',
      at: '2026-01-02T10:00:01.000Z',
      actor: 'hubspot',
      action: 'profile.created',
      profileId: profile.id,
      detail: { source: 'hubspot', changes: ['attribute:firstName'], reason: 'import' },
    },
  ];
}

/** An older first name that lost to the one in force, then the one in force. */
export function sampleValueHistory(profile: Profile): HistoryEntry[] {
  const entry = (id: string, at: string, source: string, value: string, won: boolean): HistoryEntry => ({
    id,
    profileId: profile.id,
    patchId: `${source}:${id}`,
    actor: source,
    kind: 'attribute',
    path: 'firstName',
    outcome: won ? 'won' : 'lost',
    reason: won ? 'new' : 'older_than_current',
    offered: { value, at, source },
    previous: won ? null : { value: 'Ada', at: '2026-01-02T10:00:00.000Z', source: 'hubspot' },
    recordedAt: at.replace('T10', 'T11'),
  });
  return [
    entry('h2', '2026-01-01T10:00:00.000Z', 'salesforce', 'Adele', false),
    entry('h1', '2026-01-02T10:00:00.000Z', 'hubspot', 'Ada', true),
  ];
}

export function sampleInput(): ExportInput {
  const profile = samplePerson();
  return {
    requestId: '0190a1b2-0000-7000-8000-0000000000ff',
    generatedAt: '2026-02-01T00:00:00.000Z',
    controller: { name: 'Acme Ltd', email: 'privacy@acme.example', policyUrl: 'https://acme.example/privacy', jurisdiction: 'EU' },
    profile,
    ledger: sampleLedger(profile),
    shadows: sampleShadows(profile),
    pushes: samplePushes(profile),
    audit: sampleAudit(profile),
    valueHistory: sampleValueHistory(profile),
    connectorTypes: new Map([
      ['hubspot', 'hubspot'],
      ['salesforce', 'salesforce'],
    ]),
    policy: MergePolicy.parse({}),
    purposeTitles: { marketing: 'Marketing communications' },
    recipientSources: new Map<string, RecipientSource>([
      [
        'hubspot',
        {
          type: 'hubspot',
          purposes: { marketing: ['email'] },
          authorityFor: ['marketing'],
          data: ['consent:marketing.email', 'identity:email'],
        },
      ],
      ['salesforce', { type: 'salesforce', purposes: {}, authorityFor: [], data: ['field:lastName', 'identity:email'] }],
      ['mailchimp', { type: 'mailchimp', purposes: { marketing: ['email'] }, authorityFor: [], data: ['consent:marketing.email'] }],
    ]),
    retention: retentionOf({ exportTtlMs: 604_800_000, verifyErasure: true, alwaysErase: [] }, '2026-02-08T00:00:00.000Z'),
    live: [
      {
        connector: 'hubspot',
        status: 'read',
        error: null,
        records: [
          {
            externalId: '101',
            at: '2026-01-05T09:00:02.000Z',
            fields: { email: 'ada@example.com', firstname: 'Ada', favourite_colour: '=HYPERLINK("x")' },
            labels: { email: 'Email', firstname: 'First <Name>' },
            related: { subscriptionStatuses: [{ subscriptionId: 101, status: 'SUBSCRIBED', legalBasis: 'CONSENT_WITH_NOTICE' }] },
          },
        ],
      },
      { connector: 'salesforce', status: 'failed', error: 'TransientError: 503', records: [] },
    ],
  };
}

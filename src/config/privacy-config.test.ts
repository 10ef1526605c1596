/**
 * The hub's data-subject request settings (`hub.privacy`): defaults, durations, and
 * `alwaysErase` naming only configured connector instances.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';
import { toMergePolicy } from './policy.js';
import type { LoadResult } from './load.js';
import { fakeConnectors, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';

const HUB = MINIMAL_HUB_YAML;
const REST = `catalog:
  channels: {}
  purposes: {}
connectors:
  crm:
    type: fakecrm
    baseUrl: https://crm.example.com
    apiKey: \${env:TEST_CRM_KEY}
`;

function parse(hubExtra: string): LoadResult {
  return parseConfig(HUB + hubExtra + REST, 'inline.yaml', { connectors: fakeConnectors, env: testEnv });
}

describe('hub.privacy', () => {
  it('has defaults: no always-erase systems, verification on, 7-day exports, 15-minute download links', () => {
    const result = parse('');
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.privacy).toEqual({
      alwaysErase: [],
      verifyErasure: true,
      exportTtl: 7 * 86_400_000,
      downloadLinkTtl: 15 * 60_000,
      controller: { jurisdiction: 'EU' },
      retention: { every: 86_400_000, maxErasuresPerRun: 1000, rules: [] },
    });
  });

  it('reads always-erase systems, durations and the controller', () => {
    const result = parse(`  privacy:
    alwaysErase: [crm]
    verifyErasure: false
    exportTtl: 2d
    downloadLinkTtl: 5m
    controller: { name: Acme Ltd, email: privacy@acme.example, policyUrl: https://acme.example/privacy, jurisdiction: UK }
`);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.privacy).toEqual({
      alwaysErase: ['crm'],
      verifyErasure: false,
      exportTtl: 2 * 86_400_000,
      downloadLinkTtl: 5 * 60_000,
      controller: { name: 'Acme Ltd', email: 'privacy@acme.example', policyUrl: 'https://acme.example/privacy', jurisdiction: 'UK' },
      retention: { every: 86_400_000, maxErasuresPerRun: 1000, rules: [] },
    });
  });

  it('reads retention rules: a dry-run report by default, without consent by default', () => {
    const result = parse(`  privacy:
    retention:
      every: 12h
      rules:
        - { id: dormant, inactiveFor: 540d }
        - { id: leads, inactiveFor: 90d, withoutConsent: false, action: erase, description: Unconverted leads }
`);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config.hub.privacy.retention).toEqual({
      every: 12 * 3_600_000,
      maxErasuresPerRun: 1000,
      rules: [
        { id: 'dormant', inactiveFor: 540 * 86_400_000, withoutConsent: true, action: 'report' },
        { id: 'leads', inactiveFor: 90 * 86_400_000, withoutConsent: false, action: 'erase', description: 'Unconverted leads' },
      ],
    });
  });

  it('refuses a retention rule shorter than a day, a rule id used twice, and an unknown action, at their lines', () => {
    const result = parse(`  privacy:
    retention:
      rules:
        - { id: dormant, inactiveFor: 6h }
        - { id: dormant, inactiveFor: 30d, action: delete }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.errors.map(String).join('\n');
    expect(text).toContain('inline.yaml:11:39: hub.privacy.retention.rules[0].inactiveFor: at least 1d');
    expect(text).toContain('inline.yaml:12:52: hub.privacy.retention.rules[1].action: invalid value "delete"');
    const twice = parse(`  privacy:
    retention:
      rules:
        - { id: dormant, inactiveFor: 6d }
        - { id: dormant, inactiveFor: 30d }
`);
    expect(twice.ok ? [] : twice.errors.map(String)).toEqual([
      'inline.yaml:12:17: hub.privacy.retention.rules[1].id: rule id "dormant" is used twice',
    ]);
  });

  it('refuses an always-erase system that is not a configured connector, and unknown keys', () => {
    const result = parse(`  privacy:
    alwaysErase: [crm, mailer]
    retention: 3y
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.errors.map(String).join('\n');
    expect(text).toContain('connector "mailer" is not in connectors (defined: crm)');
    expect(text).toMatch(/retention/);
  });
});

describe('the merge policy from the config', () => {
  it('lets only the hub’s own sources lift a restriction or an objection', () => {
    const result = parse('');
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(toMergePolicy(result.config).rightsAuthorities).toEqual(['preference_center', 'admin']);
  });
});

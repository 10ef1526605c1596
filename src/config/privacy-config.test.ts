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
    });
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

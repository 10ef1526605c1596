import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../connectors/index.js';
import { WORKED_EXAMPLE_YAML } from '../../scripts/config-doc/example.js';
import { CONFIG_DOC_COMMAND, CONFIG_DOC_PATH, configDocText } from '../../scripts/config-doc/render.js';
import { MappingEntry, Transform } from '../../src/connector/mapping-schema.js';
import { parseConfig } from '../../src/config/load.js';
import { MINIMAL_HUB_YAML, testEnv } from '../../src/config/testing/support.js';

const committed = await readFile(new URL(`../../${CONFIG_DOC_PATH}`, import.meta.url), 'utf8');

describe('docs/CONFIG.md', () => {
  it('is what the generator writes from the current schema', async () => {
    const fresh = await configDocText(builtinConnectors);
    if (fresh !== committed) expect.fail(`${CONFIG_DOC_PATH} is stale: run \`${CONFIG_DOC_COMMAND}\` and commit the result`);
  });

  it('names every mapping key and every transform', () => {
    const keys = Object.keys(MappingEntry.shape);
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect(committed, `mapping key ${key}`).toContain(`\`mappings[].${key}\``);
    const transforms = Transform.options.map((option) => option.shape.type.value);
    expect(transforms.length).toBeGreaterThan(5);
    for (const name of transforms) expect(committed, `transform ${name}`).toContain(`### \`${name}\``);
  });

  it('has a section for every built-in connector type', () => {
    for (const def of builtinConnectors) expect(committed).toContain(`## Connector type \`${def.type}\``);
  });
});

describe('the worked example', () => {
  const catalog = `catalog:
  channels: {}
  purposes: {}
`;
  const env = {
    ...testEnv,
    HUBSPOT_ACCESS_TOKEN: 'pat-eu1-example-token',
    HUBSPOT_CLIENT_SECRET: 'example-hubspot-client-secret',
    SALESFORCE_CLIENT_ID: 'example-connected-app',
    SALESFORCE_CLIENT_SECRET: 'example-salesforce-client-secret',
    SALESFORCE_OM_TOKEN: randomBytes(32).toString('base64url'),
  };

  it('is in docs/CONFIG.md', () => {
    expect(committed).toContain(WORKED_EXAMPLE_YAML.trimEnd());
  });

  it('loads through the config loader with the built-in connectors, the custom fields mapped as written', () => {
    const result = parseConfig(`${MINIMAL_HUB_YAML}${catalog}${WORKED_EXAMPLE_YAML}`, 'example.yaml', {
      connectors: builtinConnectors,
      env,
    });
    if (!result.ok) expect.fail(result.errors.map(String).join('\n'));
    const hubspot = result.config.connectors['hubspot']?.mappings ?? [];
    expect(hubspot).toContainEqual(
      expect.objectContaining({
        field: 'loyaltyTier',
        external: 'loyalty_tier',
        direction: 'both',
        transform: [{ type: 'map', values: { gold: 'GOLD', silver: 'SILVER', bronze: 'BRONZE' } }],
      }),
    );
    const salesforce = result.config.connectors['salesforce']?.mappings ?? [];
    expect(salesforce).toContainEqual(expect.objectContaining({ field: 'loyaltyTier', external: 'Loyalty_Tier__c', direction: 'pull' }));
    expect(salesforce).toContainEqual(
      expect.objectContaining({ field: 'memberSince', external: 'Member_Since__c', transform: [{ type: 'date', format: 'date' }] }),
    );
  });

  it('lists every custom field it maps among the fields the connector reads', () => {
    const result = parseConfig(`${MINIMAL_HUB_YAML}${catalog}${WORKED_EXAMPLE_YAML}`, 'example.yaml', {
      connectors: builtinConnectors,
      env,
    });
    if (!result.ok) expect.fail(result.errors.map(String).join('\n'));
    const read = {
      hubspot: result.config.connectors['hubspot']?.['properties'],
      salesforce: result.config.connectors['salesforce']?.['fields'],
    };
    for (const [id, listed] of Object.entries(read)) {
      const custom = (result.config.connectors[id]?.mappings ?? []).map((m) => m.external).filter((e) => /loyalty|member/i.test(e));
      expect(custom.length).toBeGreaterThan(0);
      expect(listed, id).toEqual(expect.arrayContaining(custom));
    }
  });

  it('would fail to load with a mistake in it (the check is real)', () => {
    const broken = WORKED_EXAMPLE_YAML.replace('type: map', 'type: mapp');
    const result = parseConfig(`${MINIMAL_HUB_YAML}${catalog}${broken}`, 'example.yaml', { connectors: builtinConnectors, env });
    expect(result.ok).toBe(false);
  });
});

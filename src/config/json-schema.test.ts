import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../connectors/index.js';
import { configJsonSchema, configJsonSchemaText } from './json-schema.js';
import { fakeConnectors } from './testing/support.js';

type Json = Record<string, unknown>;
function at(schema: Json, ...path: string[]): Json {
  let node: unknown = schema;
  for (const key of path) node = (node as Json)[key];
  return node as Json;
}

describe('the JSON Schema', () => {
  it('config/concord.schema.json is up to date (if not, run `npm run schema` and commit the file)', async () => {
    const checkedIn = await readFile('config/concord.schema.json', 'utf8');
    expect(
      checkedIn === configJsonSchemaText(builtinConnectors),
      'config/concord.schema.json is stale: run `npm run schema` and commit the result',
    ).toBe(true);
  });

  it('marks secrets and expects ${env:...} for them, without length rules on the reference', () => {
    const signing = at(configJsonSchema([]), 'properties', 'hub', 'properties', 'secrets', 'properties', 'signing');
    expect(signing['x-concord-secret']).toBe('env');
    expect(signing['pattern']).toBe('^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*(:-.*)?\\}$');
    expect(signing).not.toHaveProperty('minLength');
  });

  it('lets numbers, booleans and enums be env references too', () => {
    const port = at(configJsonSchema([]), 'properties', 'hub', 'properties', 'listen', 'properties', 'port');
    expect(port['anyOf']).toEqual([
      { type: 'integer', minimum: 0, maximum: 65535 },
      expect.objectContaining({ type: 'string', pattern: expect.stringContaining('env:') }),
    ]);
  });

  it("includes each connector type's own keys, discriminated by type", () => {
    const entry = at(configJsonSchema(fakeConnectors), 'properties', 'connectors', 'additionalProperties');
    const options = entry['oneOf'] as Json[];
    expect(options.map((o) => at(o, 'properties', 'type')['const'])).toEqual(['fakecrm', 'fakeshop']);
    const crm = options[0] as Json;
    expect(Object.keys(at(crm, 'properties'))).toEqual(
      expect.arrayContaining(['type', 'apiKey', 'baseUrl', 'region', 'priority', 'mappings', 'schedule']),
    );
    expect(at(crm, 'properties', 'apiKey')['x-concord-secret']).toBe('env');
    expect(crm['additionalProperties']).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { defineBuiltin } from '../src/connector/builtin.js';
import { defineEmulator, portOf } from '../src/connector/emulator-definition.js';
import { loadConfig } from '../src/config/load.js';
import hubspot from './hubspot/index.js';
import { builtinConnectors, builtinEmulators } from './index.js';
import salesforce from './salesforce/index.js';

describe('the connector registry', () => {
  it('has one emulator per connector type, each on a port of its own', () => {
    const types = builtinConnectors.map((c) => c.type);
    expect(new Set(types).size).toBe(types.length);
    for (const emulator of builtinEmulators) expect(types).toContain(emulator.id);
    const ports = builtinEmulators.map((e) => e.defaultPort);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("points config/concord.yaml's connectors at their emulators' default ports", async () => {
    const loaded = await loadConfig('config/concord.yaml', { connectors: builtinConnectors, env: {} });
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    for (const instance of Object.values(loaded.config.connectors)) {
      const emulator = builtinEmulators.find((e) => e.id === instance.type);
      if (!emulator) continue;
      expect(portOf(instance[emulator.demo.urlKey], -1)).toBe(emulator.defaultPort);
    }
  });

  it('defineEmulator refuses a malformed declaration', () => {
    const valid = builtinEmulators[0];
    expect(() => defineEmulator({ ...valid, id: 'Not An Id' })).toThrow(ZodError);
    expect(() => defineEmulator({ ...valid, defaultPort: 70_000 })).toThrow(ZodError);
    expect(() => defineEmulator({ ...valid, secretEnv: 'lower-case' })).toThrow(ZodError);
  });

  it('defineBuiltin refuses an emulator of another connector type', () => {
    expect(() => defineBuiltin({ connector: hubspot.connector, emulator: salesforce.emulator })).toThrow(/does not emulate/);
  });
});

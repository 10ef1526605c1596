/**
 * The bundle a built-in connector's folder default-exports from `connectors/<id>/index.ts`: its
 * connector definition and its emulator, so the registry (`connectors/index.ts`) takes one line
 * per connector and derives `builtinConnectors` and `builtinEmulators` from the bundles.
 */
import type { ConnectorDefinition } from './define.js';
import type { EmulatorDefinition, RunningEmulator } from './emulator-definition.js';

/** A built-in connector: what `connectors/<id>/index.ts` default-exports. */
export interface BuiltinConnector<
  Connector extends ConnectorDefinition = ConnectorDefinition,
  Emulator extends EmulatorDefinition<string, RunningEmulator> = EmulatorDefinition,
> {
  /** `defineConnector({...})` of `connector.ts`. */
  connector: Connector;
  /** `defineEmulator({...})` of `emulator/index.ts`; its `id` is the connector's `type`. */
  emulator: Emulator;
}

/**
 * Declares a built-in connector's bundle. Throws when the emulator's `id` is not the connector's
 * `type` (the demo and `concord emulate` match them by it).
 *
 * ```ts
 * // connectors/acme/index.ts
 * import connector from './connector.js';
 * import emulator from './emulator/index.js';
 *
 * export default defineBuiltin({ connector, emulator });
 * ```
 */
export function defineBuiltin<Connector extends ConnectorDefinition, Emulator extends EmulatorDefinition<string, RunningEmulator>>(
  bundle: BuiltinConnector<Connector, Emulator>,
): BuiltinConnector<Connector, Emulator> {
  if (bundle.emulator.id !== bundle.connector.type) {
    throw new Error(`the emulator "${bundle.emulator.id}" does not emulate the connector type "${bundle.connector.type}"`);
  }
  return bundle;
}

/** The emulators of a tuple of imported bundle modules, as a tuple (each keeps its own `Running` type). */
export type EmulatorsOf<Modules extends readonly { default: BuiltinConnector }[]> = {
  readonly [K in keyof Modules]: Modules[K]['default']['emulator'];
};

/** The connector definitions of the imported bundle modules, in order. */
export function connectorsOf(modules: readonly { default: BuiltinConnector }[]): readonly ConnectorDefinition[] {
  return modules.map((m) => m.default.connector);
}

/** The emulators of the imported bundle modules, in order, as a tuple of their own types. */
export function emulatorsOf<const Modules extends readonly { default: BuiltinConnector }[]>(modules: Modules): EmulatorsOf<Modules> {
  return modules.map((m) => m.default.emulator) as unknown as EmulatorsOf<Modules>;
}

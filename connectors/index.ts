/**
 * The registry of built-in connectors and their emulators: the CLI, the demo and the config
 * loader loop over these lists and name no connector themselves. Adding a connector means adding
 * its folder under `connectors/` and its line here.
 */
import type { ConnectorDefinition } from '../src/connector/define.js';
import hubspot from './hubspot/connector.js';
import hubspotEmulator from './hubspot/emulator/index.js';
import salesforce from './salesforce/connector.js';
import salesforceEmulator from './salesforce/emulator/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions differ in their Config/Cursor types
export const builtinConnectors: readonly ConnectorDefinition<any, any>[] = [hubspot, salesforce];

/** The emulators `concord emulate` runs and the demo starts, one per built-in connector type (its `id`). */
export const builtinEmulators = [hubspotEmulator, salesforceEmulator] as const;

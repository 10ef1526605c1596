/**
 * The explicit list of built-in connectors. Adding a connector means adding its folder
 * under `connectors/` and one line here.
 */
import type { ConnectorDefinition } from '../src/connector/define.js';
import hubspot from './hubspot/connector.js';
import salesforce from './salesforce/connector.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions differ in their Config/Cursor types
export const builtinConnectors: readonly ConnectorDefinition<any, any>[] = [hubspot, salesforce];

/** The generic HTTP connector as the registry (`connectors/index.ts`) takes it: its definition and its emulator. */
import { defineBuiltin } from '../../src/connector/builtin.js';
import connector from './connector.js';
import emulator from './emulator/index.js';

export default defineBuiltin({ connector, emulator });

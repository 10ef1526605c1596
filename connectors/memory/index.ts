/** The in-memory external system (tests, reliability tests, the benchmark) and its `memory` connector: the smallest complete connector (README.md). */
export * from './system.js';
export * from './registry.js';
export * from './signature.js';
export * from './remote.js';
export { default as memoryConnector, MemoryConfig, MemoryCursor, memoryDefaultMappings } from './connector.js';

/** The in-memory external system for tests and the benchmark, and its `memory` connector. */
export * from './system.js';
export * from './registry.js';
export * from './signature.js';
export * from './remote.js';
export { default as memoryConnector, MemoryConfig, MemoryCursor, memoryDefaultMappings } from './connector.js';

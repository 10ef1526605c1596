/**
 * Named in-memory systems, so a connector instance configured with `system: <name>` finds
 * the system a test created. One registry per process.
 */
import { MemorySystem } from './system.js';
import type { MemorySystemApi, MemorySystemOptions } from './system.js';

const systems = new Map<string, MemorySystemApi>();

/** Registers a system under `name` (replacing any previous one). */
export function registerMemorySystem(name: string, system: MemorySystemApi): void {
  systems.set(name, system);
}

/** The system registered under `name`, if any. */
export function getMemorySystem(name: string): MemorySystemApi | undefined {
  return systems.get(name);
}

export function unregisterMemorySystem(name: string): void {
  systems.delete(name);
}

/** Creates a `MemorySystem` and registers it under `name` (also its `name`). */
export function createMemorySystem(name: string, options: MemorySystemOptions = {}): MemorySystem {
  const system = new MemorySystem({ ...options, name });
  registerMemorySystem(name, system);
  return system;
}

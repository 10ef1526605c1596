/**
 * Queue names, Redis keys and job ids of the privacy module. Its keys are on the deployment's
 * hash tag (the prefix), so they stay in one Redis Cluster slot; each queue has a hash tag of
 * its own (`queuePrefix`).
 */
import { engineKeys } from '../queue/keys.js';
import type { EngineKeys } from '../queue/keys.js';

export const privacyQueues = {
  /** Request-level jobs: exports, delivery tracking, the sweep. */
  requests: 'dsr',
  /** One per connector: batched erasures, each queue paced by its system's limits. */
  erase: (connector: string): string => `dsr-erase.${connector}`,
} as const;

export function privacyKeys(prefix: string) {
  return {
    /** STRING (JSON) with a TTL: a prepared export. */
    export: (dsrId: string): string => `${prefix}:dsr:export:${dsrId}`,
    /** STRING lock around read-modify-write of one request's detail. */
    lock: (dsrId: string): string => `${prefix}:dsr:lock:${dsrId}`,
  };
}

/**
 * Keys of the erase work sets (waiting, taken, backing off), in the shape the engine's
 * `WorkSets` takes: the members are request ids instead of profile ids. Every key `WorkSets`
 * touches is here, on the prefix's hash tag beside the module's other keys (one of its MULTIs
 * spans several of them); the engine's own are on each connector's tag.
 */
export function eraseWorkKeys(prefix: string): EngineKeys {
  return {
    ...engineKeys(prefix),
    dirty: (connector) => `${prefix}:dsr:erase:waiting:${connector}`,
    inflight: (connector) => `${prefix}:dsr:erase:taken:${connector}`,
    retry: (connector) => `${prefix}:dsr:erase:retry:${connector}`,
    held: (connector) => `${prefix}:dsr:erase:held:${connector}`,
    attempts: (connector) => `${prefix}:dsr:erase:attempts:${connector}`,
    since: (connector) => `${prefix}:dsr:erase:since:${connector}`,
    dead: (connector) => `${prefix}:dsr:erase:dead:${connector}`,
    repush: (connector) => `${prefix}:dsr:erase:repush:${connector}`,
    repushOrigin: (connector) => `${prefix}:dsr:erase:repush-origin:${connector}`,
    lastDirty: (connector) => `${prefix}:dsr:erase:last-dirty:${connector}`,
  };
}

/**
 * Queue names, Redis keys and job ids of the privacy module. The keys share the engine's prefix
 * (with its hash tag), so they stay in the engine keys' Redis Cluster slot; each queue has a
 * hash tag of its own (`queuePrefix`).
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
 * `WorkSets` takes: the members are request ids instead of profile ids.
 */
export function eraseWorkKeys(prefix: string): EngineKeys {
  return {
    ...engineKeys(prefix),
    dirty: (connector) => `${prefix}:dsr:erase:waiting:${connector}`,
    inflight: (connector) => `${prefix}:dsr:erase:taken:${connector}`,
    retry: (connector) => `${prefix}:dsr:erase:retry:${connector}`,
    attempts: (connector) => `${prefix}:dsr:erase:attempts:${connector}`,
    since: (connector) => `${prefix}:dsr:erase:since:${connector}`,
    dead: (connector) => `${prefix}:dsr:erase:dead:${connector}`,
  };
}

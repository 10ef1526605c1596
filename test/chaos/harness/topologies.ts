/**
 * The documented process topologies (see `concord start --help`): which hub processes run,
 * with which roles. Every topology covers every role exactly once.
 */
import type { HubProcessSpec } from './hub-process.js';

export type TopologyName = 'all' | 'api+worker' | 'api,push+ingest,relay,pull,privacy';

export const TOPOLOGIES: Record<TopologyName, readonly HubProcessSpec[]> = {
  all: [{ name: 'all', roles: 'all', api: true, push: true }],
  'api+worker': [
    { name: 'api', roles: 'api', api: true, push: false },
    { name: 'worker', roles: 'worker', api: false, push: true },
  ],
  'api,push+ingest,relay,pull,privacy': [
    { name: 'api,push', roles: 'api,push', api: true, push: true },
    { name: 'ingest,relay,pull,privacy', roles: 'ingest,relay,pull,privacy', api: false, push: false },
  ],
};

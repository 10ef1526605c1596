/** Shared by the config tests: a fake connector type and an environment with test secrets. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineConnector } from '../../connector/define.js';
import type { ConnectorDefinition } from '../../connector/define.js';

/** A connector type with its own keys (one of them a secret), to show the schema seam. */
export const fakeCrm = defineConnector({
  type: 'fakecrm',
  configSchema: z.object({
    baseUrl: z.string().min(1),
    apiKey: z.string().min(8),
    region: z.enum(['eu', 'us']).default('eu'),
  }),
  cursorSchema: z.string(),
  capabilities: { pull: true, push: true, webhooks: false, erase: false, export: false, find: false },
  limits: { requestsPerWindow: 10, windowMs: 1_000, maxBatch: 100, concurrency: 1 },
  secretKeys: ['apiKey'],
  create: () => ({}),
});

/** A second type, so "known types" lists more than one. */
export const fakeShop = defineConnector({
  type: 'fakeshop',
  configSchema: z.object({ storeUrl: z.string().min(1) }),
  cursorSchema: z.number(),
  capabilities: { pull: true, push: false, webhooks: false, erase: false, export: false, find: false },
  limits: { requestsPerWindow: 5, windowMs: 1_000, maxBatch: 50, concurrency: 1 },
  create: () => ({}),
});

export const fakeConnectors: readonly ConnectorDefinition[] = [fakeCrm, fakeShop];

/**
 * Secret values the tests look for in error output (they must never appear there). The hub's
 * own are fresh random ones, strong enough for production mode; the CRM's key is the vendor's
 * (any format).
 */
export const testEnv = {
  TEST_SIGNING_SECRET: randomBytes(32).toString('base64url'),
  TEST_HASH_KEY: randomBytes(32).toString('base64url'),
  TEST_CRM_KEY: 'test-crm-key-0003',
};

/** A `hub:` block with only the required keys (secrets from `testEnv`); tests append their own keys to it. */
export const MINIMAL_HUB_YAML = `hub:
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: sqlite:./data/test.db
  publicUrl: https://hub.example.com
  secrets:
    signing: \${env:TEST_SIGNING_SECRET}
    hashKey: \${env:TEST_HASH_KEY}
`;

/** An empty catalog, the smallest valid rest of a file. */
export const EMPTY_CATALOG_YAML = `catalog:
  channels: {}
  purposes: {}
`;

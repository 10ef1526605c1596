/**
 * The production secrets policy, applied by the loader (so by `concord validate` and
 * `concord start` alike). In production mode:
 *
 * - a value published with Concord for development (the defaults of `config/concord.yaml`, the
 *   README's examples, the demo's fallbacks, the fixed values of the test helpers that start a
 *   hub) is refused in every secret field, and an admin key's `sha256` may not be the digest of
 *   one (`secret_published`);
 * - a secret the operator generates (`generatedSecret()`: the signing secret, the hash key,
 *   admin API keys, a connector's `generatedSecretKeys`) needs 256 bits of strength
 *   (`secret-strength.ts`, `secret_weak`). A secret another system issues (a HubSpot client
 *   secret, a Salesforce consumer secret, a private-app token) keeps the format its vendor
 *   chose: only the published values are refused there.
 *
 * In any mode, a configured published value keeps the hub on loopback (see `checks.ts`).
 * Messages name the setting and the environment variable, never the value.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ConfigErrorCode } from './errors.js';
import type { ConfigPath } from './locate.js';
import { REQUIRED_SECRET_BITS, secretStrength } from './secret-strength.js';
import type { SecretWeakness } from './secret-strength.js';

/** Values published in this repository for development, the demo and the tests that start a hub. */
const PUBLISHED_SECRETS: readonly string[] = [
  // config/concord.yaml's defaults (the README's quick start uses the admin key).
  'dev-only-signing-secret-do-not-use-in-production',
  'dev-only-hash-key-do-not-use-in-production-0000',
  'dev-only-admin-api-key-do-not-use',
  'dev-only-hubspot-token',
  'dev-only-hubspot-client-secret',
  'concord-connected-app',
  'dev-only-salesforce-client-secret',
  // connectors/*/emulator/index.ts (the demo): the emulators' secrets when the config names none.
  'dev-only',
  // test/integration/server/harness.ts, test/chaos/harness/world.ts, test/integration/operator-hub.ts.
  'test-signing-secret-0123456789abcdef0123456789',
  'admin-key-0123456789abcdef0123456789',
  'chaos-signing-secret-0123456789abcdef0123456789',
  'chaos-admin-api-key-0123456789abcdef',
  'chaos-hubspot-client-secret',
  'chaos-salesforce-secret',
  'chaos-connected-app',
  'pat-chaos',
  'operator-signing-secret-0123456789abcdef0123',
  'operator-hubspot-client-secret',
  'operator-salesforce-secret',
  'operator-connected-app',
  'operator-admin-key-0123456789abcdef',
  'pat-operator',
  // harness/hub-config.ts: the Salesforce Outbound Message URL token of the test hubs.
  'test-outbound-token-0123456789abcdefghijklmnop',
];

/** The marks this repository puts in its development values; no generated secret carries them. */
const DEVELOPMENT_MARKS = /dev-only|do-not-use/i;

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const PUBLISHED_DIGESTS = new Set(PUBLISHED_SECRETS.map(sha256Hex));

/** A Standard Webhooks secret (`whsec_` and base64) carries its marks in its bytes. */
const STANDARD_WEBHOOKS_SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** True for a value published with Concord for development (exactly, or carrying its marks). */
export function isPublishedSecret(value: string): boolean {
  const encoded = STANDARD_WEBHOOKS_SECRET.exec(value)?.[1];
  const decoded = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('latin1');
  return PUBLISHED_SECRETS.includes(value) || DEVELOPMENT_MARKS.test(value) || DEVELOPMENT_MARKS.test(decoded);
}

/** True for the hex SHA-256 digest of a published value (an admin key given as `sha256`). */
export function isPublishedDigest(hex: string): boolean {
  return PUBLISHED_DIGESTS.has(hex.toLowerCase());
}

/** One secret as the loader resolved it. */
export interface ResolvedSecret {
  path: ConfigPath;
  value: string;
  /** The environment variable it came from. */
  variable: string;
  /** Made by the operator (`generatedSecret`), not issued by another system. */
  generated: boolean;
}

export interface PolicyFinding {
  code: Extract<ConfigErrorCode, 'secret_published' | 'secret_weak'>;
  path: ConfigPath;
  message: string;
}

const WEAKNESS_TEXT: Record<SecretWeakness, string> = {
  short: 'too short',
  variety: 'too few different characters',
  patterns: 'repeats or sequences',
};

/** What production mode refuses among the resolved secrets and admin key digests. */
export function productionSecretFindings(
  secrets: readonly ResolvedSecret[],
  digests: readonly { path: ConfigPath; hex: string }[],
): PolicyFinding[] {
  const findings: PolicyFinding[] = [];
  for (const s of secrets) {
    if (isPublishedSecret(s.value)) {
      const remedy = s.generated ? 'to a new secret (`concord secret` prints one)' : 'to the one the system issued';
      findings.push({
        code: 'secret_published',
        path: s.path,
        message: `is a development value published with Concord, refused in production mode; set ${s.variable} ${remedy}`,
      });
      continue;
    }
    if (!s.generated) continue;
    const strength = secretStrength(s.value);
    if (strength.weakness === undefined) continue;
    findings.push({
      code: 'secret_weak',
      path: s.path,
      message: `is too weak for production mode (${WEAKNESS_TEXT[strength.weakness]}: about ${strength.bits} bits, ${REQUIRED_SECRET_BITS} needed); set ${s.variable} to 32 random bytes (\`concord secret\` prints one)`,
    });
  }
  for (const d of digests) {
    if (!isPublishedDigest(d.hex)) continue;
    findings.push({
      code: 'secret_published',
      path: d.path,
      message:
        'is the digest of a development key published with Concord, refused in production mode; make a new key (`concord secret` prints one) and give its digest',
    });
  }
  return findings;
}

/**
 * A fresh secret for any setting the operator generates: 32 random bytes, base64url (43
 * characters). Drawn again in the (about one in a million) case the estimate takes it for a
 * pattern, so what `concord secret` prints always passes the production policy.
 */
export function generateSecret(): string {
  for (;;) {
    const value = randomBytes(32).toString('base64url');
    if (secretStrength(value).weakness === undefined && !isPublishedSecret(value)) return value;
  }
}

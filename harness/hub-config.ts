/**
 * The parts of a test `concord.yaml` that the process-level tests share: the `hub:` block with
 * its secrets from the environment (`T_SIGNING`, `T_HASH`), the marketing/newsletter catalog,
 * and the head of the two built-in connectors on their emulators (credentials from
 * `T_HS_TOKEN`, `T_HS_SECRET`, `T_SF_ID`, `T_SF_SECRET`, and the Outbound Message URL token
 * from `T_SF_OM_TOKEN`). Each test appends its own keys.
 */
import { outboundEndpointUrl } from '../connectors/salesforce/webhook.js';

/** The Salesforce connector's `outboundMessageToken` in tests (give it as `T_SF_OM_TOKEN`). */
export const TEST_SF_OUTBOUND_TOKEN = 'test-outbound-token-0123456789abcdefghijklmnop';

/** Where the Salesforce emulator sends Outbound Messages for connector `salesforce` of a hub at `hubUrl` (the token as last path segment). */
export function salesforceOutboundUrl(hubUrl: string, token: string = TEST_SF_OUTBOUND_TOKEN): string {
  return outboundEndpointUrl(hubUrl, 'salesforce', token);
}

export interface HubYamlOptions {
  redisUrl: string;
  databaseUrl: string;
  /** The key prefix, with its hash tag. */
  prefix: string;
  /** The port the server listens on (and the public URL's); 0 lets the OS pick. @defaultValue 0 */
  port?: number;
  /** Admin API keys, each read from an environment variable. */
  apiKeys?: readonly { id: string; env: string; scopes: readonly string[] }[];
  /** More keys of the `hub:` block, each line indented by two spaces and ending in a newline. */
  extra?: string;
}

/** `hub:` and `catalog:`, ending where `connectors:` begins. */
export function hubYaml(o: HubYamlOptions): string {
  const port = o.port ?? 0;
  const keys = (o.apiKeys ?? [])
    .map((k) => `    - { id: ${k.id}, key: "\${env:${k.env}}", scopes: ${JSON.stringify(k.scopes)} }\n`)
    .join('');
  return `hub:
  mode: development
  redisUrl: ${o.redisUrl}
  databaseUrl: ${o.databaseUrl}
  publicUrl: http://127.0.0.1:${port === 0 ? 8080 : port}
  listen: { host: 127.0.0.1, port: ${port} }
  keyPrefix: "${o.prefix}"
  secrets:
    signing: \${env:T_SIGNING}
    hashKey: \${env:T_HASH}
${keys.length > 0 ? `  apiKeys:\n${keys}` : ''}${o.extra ?? ''}catalog:
  channels: { email: { title: E-mail } }
  purposes:
    marketing: { title: Marketing communications, notice: { text: Offers, version: "2026-01" }, objection: directMarketing, channels: [email] }
  topics: { newsletter: { title: Newsletter } }
`;
}

/** `  hubspot:` on the emulator, a consent authority for marketing; the caller adds subscriptions. */
export function hubspotYaml(o: { baseUrl: string; appId: number }): string {
  return `  hubspot:
    type: hubspot
    accessToken: \${env:T_HS_TOKEN}
    webhookSecret: \${env:T_HS_SECRET}
    baseUrl: ${o.baseUrl}
    appId: ${o.appId}
    priority: 2
    consentAuthority: [marketing]
`;
}

/** `  salesforce:` on the emulator, a consent authority for marketing, taking Outbound Messages with a URL token; the caller adds its flags. */
export function salesforceYaml(o: { loginUrl: string; organizationId: string }): string {
  return `  salesforce:
    type: salesforce
    loginUrl: ${o.loginUrl}
    clientId: \${env:T_SF_ID}
    clientSecret: \${env:T_SF_SECRET}
    organizationId: ${o.organizationId}
    outboundMessageToken: \${env:T_SF_OM_TOKEN}
    priority: 1
    consentAuthority: [marketing]
`;
}

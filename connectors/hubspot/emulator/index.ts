/** The HubSpot emulator: start it in-process with `startHubSpotEmulator`, or run `concord emulate hubspot`. */
import { defineEmulator } from '../../../src/connector/emulator-definition.js';
import { startHubSpotEmulator } from './server.js';

export { startHubSpotEmulator, type RunningHubSpotEmulator, type EmulatorRuntime } from './server.js';
export { HubSpotEmulatorOptions, type HubSpotEmulatorOptionsInput, type RateLimitOptions } from './options.js';
export { SideDoor, UI_ORIGIN, type ContactView } from './side-door.js';
export { SideDoorError, type CallCounts } from '../../../src/connector/emulator-kit/index.js';
export type { Delivery, WebhookPayloadEvent } from './webhook-sender.js';

/** `concord emulate hubspot` and the demo's HubSpot (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'hubspot',
  description: 'HubSpot CRM contacts v3, communication preferences v4, signed v3 webhooks; side door under /_emulator/',
  secretEnv: 'HUBSPOT_CLIENT_SECRET',
  defaultPort: 4010,
  cli: { webhookUrl: 'where signed v3 webhooks go, <hub>/webhooks/<id>', rateLimit: true },
  start: (o) =>
    startHubSpotEmulator({
      port: o.port,
      host: o.host,
      clientSecret: o.secret,
      ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}),
      ...(o.rateLimit ? { rateLimit: { max: o.rateLimit.max, intervalMs: o.rateLimit.intervalMs } } : {}),
    }),
  demo: {
    urlKey: 'baseUrl',
    start: ({ instanceId, config, port, publicUrl }) =>
      startHubSpotEmulator({
        port,
        clientSecret: typeof config['webhookSecret'] === 'string' ? config['webhookSecret'] : 'dev-only',
        webhookUrl: `${publicUrl}/webhooks/${instanceId}`,
        ...(typeof config['appId'] === 'number' ? { appId: config['appId'] } : {}),
      }),
    afterWithdrawal: 'HubSpot shows subscription 101 UNSUBSCRIBED',
    links: (id, emulator) => [
      { label: `HubSpot emulator (${id}): contacts`, url: `${emulator.url}/_emulator/contacts` },
      { label: `HubSpot emulator (${id}): Ada's subscriptions`, url: `${emulator.url}/_emulator/statuses?email=ada@example.com` },
    ],
  },
});

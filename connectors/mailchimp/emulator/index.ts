/** The Mailchimp emulator: start it in process with `startMailchimpEmulator`, or run `concord emulate mailchimp`. */
import { defineEmulator } from '../../../src/connector/emulator-definition.js';
import { startMailchimpEmulator } from './server.js';

export { startMailchimpEmulator, MailchimpEmulatorOptions, MailchimpSideDoor, type RunningMailchimpEmulator } from './server.js';

/** `concord emulate mailchimp` and the demo's Mailchimp (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'mailchimp',
  // TODO what the emulator speaks (the vendor's APIs and webhooks).
  description: 'Mailchimp API; side door under /_emulator/',
  secretEnv: 'MAILCHIMP_WEBHOOK_SECRET',
  defaultPort: 4030,
  cli: { webhookUrl: 'where webhooks go, <hub>/webhooks/<id>' },
  start: (o) =>
    startMailchimpEmulator({ port: o.port, host: o.host, secret: o.secret, ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}) }),
  demo: {
    urlKey: 'baseUrl',
    start: ({ instanceId, config, port, publicUrl }) =>
      startMailchimpEmulator({
        port,
        secret: typeof config['webhookSecret'] === 'string' ? config['webhookSecret'] : 'dev-only',
        webhookUrl: `${publicUrl}/webhooks/${instanceId}`,
      }),
    links: (id, running) => [{ label: `Mailchimp emulator (${id}): API calls`, url: `${running.url}/_emulator/calls` }],
  },
});

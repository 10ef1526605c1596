/** The Mailchimp emulator: start it in process with `startMailchimpEmulator`, or run `concord emulate mailchimp`. */
import { defineEmulator } from '../../../src/connector/emulator-definition.js';
import { DEFAULT_LIST_ID, DEV_API_KEY } from './options.js';
import { startMailchimpEmulator } from './server.js';

export { startMailchimpEmulator, type RunningMailchimpEmulator, type EmulatorRuntime } from './server.js';
export {
  MailchimpEmulatorOptions,
  ListSeed,
  DEFAULT_LISTS,
  DEFAULT_LIST_ID,
  DEFAULT_INTEREST_CATEGORY_ID,
  DEFAULT_INTEREST_IDS,
  DEFAULT_PERMISSION_IDS,
  DEV_API_KEY,
  type MailchimpEmulatorOptionsInput,
  type ListSeedInput,
} from './options.js';
export { MailchimpSideDoor, type OnList } from './side-door.js';
export { mailchimpSignature, firedAt, type WebhookDelivery, type WebhookItem } from './webhook-sender.js';
export { emailHash, type MemberStatus, type ChangeSource, type MergeValue } from './state.js';
export { SideDoorError, type CallCounts } from '../../../src/connector/emulator-kit/index.js';

/** `concord emulate mailchimp` and the demo's Mailchimp (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'mailchimp',
  description:
    'Mailchimp Marketing API 3.0 (members, tags, batch subscribe, /batches with .tar.gz results, webhooks with sources and signing), Basic auth, 10 connections per key; side door under /_emulator/',
  secretEnv: 'MAILCHIMP_WEBHOOK_SIGNING_SECRET',
  defaultPort: 4030,
  cli: { webhookUrl: 'the webhook pre-registered on every list (sources user and admin), <hub>/webhooks/<id>/<token>' },
  // `--secret` signs the pre-registered webhook; any API key is accepted.
  start: (o) =>
    startMailchimpEmulator({
      port: o.port,
      host: o.host,
      webhookSigningSecret: o.secret,
      ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}),
    }),
  demo: {
    urlKey: 'baseUrl',
    start: ({ instanceId, config, port, publicUrl }) => {
      const token = typeof config['webhookSecret'] === 'string' ? config['webhookSecret'] : 'dev-only';
      const signing = config['webhookSigningSecret'];
      return startMailchimpEmulator({
        port,
        ...(typeof config['apiKey'] === 'string' ? { apiKey: config['apiKey'] } : {}),
        webhookUrl: `${publicUrl}/webhooks/${instanceId}/${token}`,
        ...(typeof signing === 'string' ? { webhookSigningSecret: signing } : {}),
      });
    },
    afterWithdrawal: `Mailchimp shows ada@example.com unsubscribed in list ${DEFAULT_LIST_ID}`,
    links: (id, running) => [
      { label: `Mailchimp emulator (${id}): API calls`, url: `${running.url}/_emulator/calls` },
      {
        label: `Mailchimp emulator (${id}): Ada`,
        url: `${running.url}/_emulator/member?email=ada@example.com`,
        note: `API key: accepted whatever it is, e.g. ${DEV_API_KEY}`,
      },
    ],
  },
});

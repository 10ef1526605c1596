/** The Segment emulator: start it in process with `startSegmentEmulator`, or run `concord emulate segment`. */
import { defineEmulator } from '../../../src/connector/emulator-definition.js';
import { DEFAULT_SPACE_ID, DEV_PROFILE_TOKEN, DEV_PUBLIC_API_TOKEN, DEV_WRITE_KEY } from './options.js';
import { startSegmentEmulator } from './server.js';

export { startSegmentEmulator, type RunningSegmentEmulator, type EmulatorRuntime } from './server.js';
export {
  SegmentEmulatorOptions,
  DEFAULT_SPACE_ID,
  DEFAULT_WORKSPACE_ID,
  DEV_WRITE_KEY,
  DEV_PROFILE_TOKEN,
  DEV_PUBLIC_API_TOKEN,
  type SegmentEmulatorOptionsInput,
} from './options.js';
export { SegmentSideDoor, DOWNSTREAM_WRITE_KEY, type ProfileView } from './side-door.js';
export { segmentSignature, type WebhookDelivery } from './webhook-sender.js';
export { MAX_BATCH_BYTES } from './tracking-routes.js';
export { MAX_SUBJECT_IDS } from './regulation-routes.js';
export {
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  MAX_PROFILE_TRAITS,
  REGULATION_TYPES,
  DESTINATION_REGULATION_TYPES,
  type SegmentMessage,
  type AcceptedEvent,
  type DroppedEvent,
  type DropReason,
  type ExternalId,
  type RegulationType,
  type RegulationStatus,
  type RegulationOutcome,
} from './state.js';
export { SideDoorError, type CallCounts } from '../../../src/connector/emulator-kit/index.js';

const str = (config: Readonly<Record<string, unknown>>, key: string): string | undefined =>
  typeof config[key] === 'string' ? config[key] : undefined;

/** `concord emulate segment` and the demo's Segment (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'segment',
  description:
    'Segment on one port: HTTP Tracking API (/v1/batch, /v1/identify; 32 KB / 500 KB / 2,500-event limits, 24 h messageId dedupe), Profile API (traits, external_ids, metadata; 100 req/s per space), Public API regulations (status on a clock, 600 creates/min), Webhooks (Actions) destination signed X-Signature HMAC-SHA1; side door under /_emulator/',
  secretEnv: 'SEGMENT_WEBHOOK_SECRET',
  defaultPort: 4040,
  cli: { webhookUrl: 'the Webhooks (Actions) destination every identify is sent to, <hub>/webhooks/<id>' },
  start: (o) =>
    startSegmentEmulator({ port: o.port, host: o.host, secret: o.secret, ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}) }),
  demo: {
    urlKey: 'baseUrl',
    start: ({ instanceId, config, port, publicUrl }) => {
      const writeKey = str(config, 'writeKey');
      const spaceId = str(config, 'spaceId');
      const profileToken = str(config, 'profileToken');
      const publicApiToken = str(config, 'publicApiToken');
      return startSegmentEmulator({
        port,
        secret: str(config, 'webhookSecret') ?? 'dev-only',
        webhookUrl: `${publicUrl}/webhooks/${instanceId}`,
        ...(writeKey ? { writeKey } : {}),
        ...(spaceId ? { spaceId } : {}),
        ...(profileToken ? { profileToken } : {}),
        ...(publicApiToken ? { publicApiToken } : {}),
      });
    },
    afterWithdrawal: 'Segment received an identify for Ada with the trait email_marketing_consent false',
    links: (id, running) => [
      { label: `Segment emulator (${id}): API calls`, url: `${running.url}/_emulator/calls` },
      {
        label: `Segment emulator (${id}): Ada's profile`,
        url: `${running.url}/_emulator/profile?email=ada@example.com`,
        note: `write key, Profile API token (space ${DEFAULT_SPACE_ID} by default) and Public API token: accepted whatever they are unless configured, e.g. ${DEV_WRITE_KEY}, ${DEV_PROFILE_TOKEN}, ${DEV_PUBLIC_API_TOKEN}`,
      },
      { label: `Segment emulator (${id}): dropped events`, url: `${running.url}/_emulator/dropped` },
    ],
  },
});

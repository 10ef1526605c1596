/** The Segment emulator: start it in process with `startSegmentEmulator`, or run `concord emulate segment`. */
import { defineEmulator } from '../../../src/connector/emulator-definition.js';
import { startSegmentEmulator } from './server.js';

export { startSegmentEmulator, SegmentEmulatorOptions, SegmentSideDoor, type RunningSegmentEmulator } from './server.js';

/** `concord emulate segment` and the demo's Segment (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'segment',
  // TODO what the emulator speaks (the vendor's APIs and webhooks).
  description: 'Segment API; side door under /_emulator/',
  secretEnv: 'SEGMENT_WEBHOOK_SECRET',
  defaultPort: 4040,
  cli: { webhookUrl: 'where webhooks go, <hub>/webhooks/<id>' },
  start: (o) =>
    startSegmentEmulator({ port: o.port, host: o.host, secret: o.secret, ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}) }),
  demo: {
    urlKey: 'baseUrl',
    start: ({ instanceId, config, port, publicUrl }) =>
      startSegmentEmulator({
        port,
        secret: typeof config['webhookSecret'] === 'string' ? config['webhookSecret'] : 'dev-only',
        webhookUrl: `${publicUrl}/webhooks/${instanceId}`,
      }),
    links: (id, running) => [{ label: `Segment emulator (${id}): API calls`, url: `${running.url}/_emulator/calls` }],
  },
});

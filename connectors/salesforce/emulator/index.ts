/** The Salesforce emulator: start it in-process with `startSalesforceEmulator`, or run `concord emulate salesforce`. */
import { defineEmulator } from '../../../src/connector/emulator-definition.js';
import { outboundEndpointUrl } from '../webhook.js';
import { startSalesforceEmulator } from './server.js';

export { startSalesforceEmulator, callOptionsClient, type RunningSalesforceEmulator, type EmulatorRuntime } from './server.js';
export { SalesforceEmulatorOptions, type SalesforceEmulatorOptionsInput } from './options.js';
export { SideDoor, type ConsentStatus } from './side-door.js';
export { SideDoorError, type CallCounts } from '../../../src/connector/emulator-kit/index.js';
export { notificationsEnvelope, isAck, type OutboundDelivery, type QueuedNotification } from './outbound.js';
export type { ChangeEntry, StoredRecord } from './state.js';
export { parseSoql, runQuery, SoqlSyntaxError, type SoqlQuery } from './soql.js';

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** `concord emulate salesforce` and the demo's Salesforce (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'salesforce',
  description:
    'Salesforce OAuth client credentials, REST sObjects and Collections, SOQL, Bulk API 2.0, Outbound Messages (to --webhook-url); side door under /_emulator/',
  secretEnv: 'SALESFORCE_CLIENT_SECRET',
  defaultPort: 4020,
  cli: { webhookUrl: 'the Outbound Message endpoint URL, <hub>/webhooks/<id>/<outboundMessageToken>' },
  start: (o) =>
    startSalesforceEmulator({
      port: o.port,
      host: o.host,
      clientSecret: o.secret,
      ...(o.webhookUrl ? { outboundMessageUrl: o.webhookUrl } : {}),
    }),
  demo: {
    urlKey: 'loginUrl',
    start: ({ instanceId, config, port, publicUrl }) => {
      const organizationId = text(config['organizationId']);
      return startSalesforceEmulator({
        port,
        clientId: text(config['clientId']) ?? 'concord-connected-app',
        clientSecret: text(config['clientSecret']) ?? 'dev-only',
        ...(organizationId ? { organizationId } : {}),
        // Where Salesforce is told to send them: the endpoint URL with the connector's token.
        outboundMessageUrl: outboundEndpointUrl(publicUrl, instanceId, text(config['outboundMessageToken'])),
      });
    },
    afterWithdrawal: 'Salesforce HasOptedOutOfEmail true',
    links: (id, emulator) => [{ label: `Salesforce emulator (${id}): contacts`, url: `${emulator.url}/_emulator/records/Contact` }],
  },
});

/**
 * Test helpers for the Salesforce connector: an emulator with a listener for its Outbound
 * Messages (which records each raw request and answers with an Ack, or with what a test asks),
 * and a connector instance configured against it.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { ConnectorInstance, ExternalRecord, RawWebhook } from '../../../src/connector/define.js';
import salesforce, { createSalesforceInstance, type SalesforceRuntime } from '../../../connectors/salesforce/connector.js';
import { SalesforceConfig, type SalesforceConfigInput, type SalesforceCursor } from '../../../connectors/salesforce/config.js';
import {
  startSalesforceEmulator,
  type EmulatorRuntime,
  type RunningSalesforceEmulator,
  type SalesforceEmulatorOptionsInput,
} from '../../../connectors/salesforce/emulator/index.js';
import { ackReply } from '../../../connectors/salesforce/webhook.js';
import { createLogger } from '../../../src/log/logger.js';

export const CLIENT_ID = 'concord-test-app';
export const CLIENT_SECRET = 'salesforce-test-secret';
export const ORG_ID = '00D5e000000TestEAA';

export interface ReceivedMessage {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OutboundListener {
  url: string;
  received: ReceivedMessage[];
  /** Answer with this instead of an Ack (e.g. a 500), until reset with `undefined`. */
  answerWith(reply: { status: number; body: string } | undefined): void;
  close(): Promise<void>;
}

export async function startOutboundListener(): Promise<OutboundListener> {
  const received: ReceivedMessage[] = [];
  let override: { status: number; body: string } | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      const reply = override ?? { status: 200, body: ackReply().body ?? '' };
      res.writeHead(reply.status, { 'Content-Type': 'text/xml; charset=utf-8' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks/salesforce`,
    received,
    answerWith(reply) {
      override = reply;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SalesforceTestOrg {
  emulator: RunningSalesforceEmulator;
  listener: OutboundListener;
  /** Connector config (YAML-like input) pointing at the emulator. */
  config: SalesforceConfigInput;
  instance(overrides?: Partial<SalesforceConfigInput>, runtime?: SalesforceRuntime): ConnectorInstance<SalesforceCursor>;
  /** The raw webhook of a received message, as the HTTP surface would hand it to the connector. */
  rawWebhook(message: ReceivedMessage): RawWebhook;
  close(): Promise<void>;
}

export const silentLogger = createLogger({ level: process.env.CONCORD_TEST_LOG ?? 'silent' });

export async function startTestOrg(
  options: {
    emulator?: Partial<SalesforceEmulatorOptionsInput>;
    config?: Partial<SalesforceConfigInput>;
    outbound?: boolean;
    runtime?: EmulatorRuntime;
  } = {},
): Promise<SalesforceTestOrg> {
  const listener = await startOutboundListener();
  const emulator = await startSalesforceEmulator(
    {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      organizationId: ORG_ID,
      outboundBatchMs: 5,
      ...(options.outbound === false ? {} : { outboundMessageUrl: listener.url }),
      ...options.emulator,
    },
    options.runtime,
  );
  const config: SalesforceConfigInput = {
    loginUrl: emulator.url,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    organizationId: ORG_ID,
    bulkPollIntervalMs: 20,
    ...options.config,
  };
  const opened: ConnectorInstance<SalesforceCursor>[] = [];
  return {
    emulator,
    listener,
    config,
    instance(overrides = {}, runtime = {}) {
      const parsed = SalesforceConfig.parse({ ...config, ...overrides });
      const instance = createSalesforceInstance({ instanceId: 'salesforce', config: parsed, logger: silentLogger }, runtime);
      opened.push(instance);
      return instance;
    },
    rawWebhook(message) {
      return { method: 'POST', url: listener.url, headers: message.headers, body: message.body, receivedAt: new Date().toISOString() };
    },
    async close() {
      for (const i of opened) await i.close?.();
      await emulator.close();
      await listener.close();
    },
  };
}

export { salesforce };

/** Drains a pull into its records and cursors. */
export async function pullAll(
  instance: ConnectorInstance<SalesforceCursor>,
  cursor?: SalesforceCursor,
): Promise<{ records: ExternalRecord[]; cursors: SalesforceCursor[] }> {
  const records: ExternalRecord[] = [];
  const cursors: SalesforceCursor[] = [];
  if (!instance.pull) throw new Error('no pull');
  for await (const page of instance.pull(cursor, new AbortController().signal)) {
    records.push(...page.records);
    cursors.push(page.cursor);
  }
  return { records, cursors };
}

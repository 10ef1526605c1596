/**
 * The Salesforce emulator: a Fastify server with an in-memory org that speaks what jsforce
 * calls (OAuth 2.0 client credentials, REST sObjects, sObject Collections, SOQL query, Bulk API
 * 2.0), counts every call against a daily allowance (`Sforce-Limit-Info`,
 * `REQUEST_LIMIT_EXCEEDED`), sends Outbound Messages for every change (Concord's own writes
 * included, as Salesforce does) and opens a side door for tests and the demo. Built on the
 * emulator kit (`src/connector/emulator-kit/`): the server, call counting and Outbound Message
 * delivery are the kit's; what is Salesforce's is passed in as hooks.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { CallLedger, startEmulatorServer, type EmulatorRuntime } from '../../../src/connector/emulator-kit/index.js';
import { registerBulkRoutes } from './bulk-routes.js';
import { SalesforceHttpError } from './errors.js';
import { SalesforceEmulatorOptions, type SalesforceEmulatorOptionsInput } from './options.js';
import { OutboundSender } from './outbound.js';
import { registerRestRoutes } from './rest-routes.js';
import { registerSideDoorRoutes, SideDoor, type OrgControls } from './side-door.js';
import { OrgState, type Actor } from './state.js';

export interface RunningSalesforceEmulator {
  /** Base URL: the login URL and the instance URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  sideDoor: SideDoor;
  options: SalesforceEmulatorOptions;
  close(): Promise<void>;
}

export type { EmulatorRuntime };

const DATA_PREFIX = '/services/data/';
const API_VERSION = '62.0';

/** The `client` named by `Sforce-Call-Options: client=...`. */
export function callOptionsClient(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /(?:^|[,;]\s*)client=([^,;]+)/.exec(value);
  return m?.[1]?.trim();
}

/** Starts the emulator; `port: 0` picks a free port. */
export async function startSalesforceEmulator(
  input: SalesforceEmulatorOptionsInput,
  runtime: EmulatorRuntime = {},
): Promise<RunningSalesforceEmulator> {
  const options = SalesforceEmulatorOptions.parse(input);
  const now = runtime.now ?? Date.now;
  let baseUrl = '';
  const state = new OrgState(options, now);
  const outbound = new OutboundSender(state, {
    url: options.outboundMessageUrl,
    organizationId: options.organizationId,
    baseUrl: () => baseUrl,
    apiVersion: API_VERSION,
    objects: options.outboundObjects,
    batchMs: options.outboundBatchMs,
    maxAttempts: options.outboundMaxAttempts,
    retryBaseMs: options.outboundRetryBaseMs,
    retryMaxMs: options.outboundRetryMaxMs,
    now,
  });
  state.onChange((change) => outbound.notify(change));
  const ledger = new CallLedger();
  const controls: OrgControls = { apiUsage: { used: 0, max: options.dailyApiLimit }, tokens: new Map() };
  const sideDoor = new SideDoor(state, outbound.loop, ledger, controls, options.repUserId);
  const actorOf = (req: FastifyRequest): Actor => {
    const client = callOptionsClient(req.headers['sforce-call-options']);
    return { userId: options.integrationUserId, ...(client ? { client } : {}) };
  };

  const server = await startEmulatorServer({
    host: options.host,
    port: options.port,
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
    bodyLimit: 150 * 1024 * 1024,
    ledger,
    controls: sideDoor,
    // Token requests are listed per endpoint but are not API calls (Salesforce does not count them either).
    classify: (req) => (req.url.startsWith(DATA_PREFIX) ? 'call' : req.url.startsWith('/services/oauth2/') ? 'listed' : undefined),
    prepare: (app) => {
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      });
      app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));
      app.setErrorHandler((err, _req, reply) => {
        if (err instanceof SalesforceHttpError) return reply.code(err.statusCode).send(err.body);
        const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
        if (status === 500)
          return reply.code(500).send([
            {
              message: 'An unexpected error occurred. Please include this ErrorId if you contact support: emulator',
              errorCode: 'UNKNOWN_EXCEPTION',
            },
          ]);
        const message = err instanceof Error ? err.message : String(err);
        return reply.code(status).send([{ message, errorCode: status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'JSON_PARSER_ERROR' }]);
      });
    },
    authenticate: (req, reply) => {
      const auth = req.headers.authorization;
      const token = typeof auth === 'string' ? auth.replace(/^(Bearer|OAuth)\s+/i, '') : undefined;
      const expiry = token === undefined ? undefined : controls.tokens.get(token);
      if (expiry !== undefined && (expiry === 0 || expiry > now())) return undefined;
      return reply.code(401).send([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    },
    refuseInjected: (reply, forced) =>
      reply
        .code(429)
        .headers(forced.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(forced.retryAfterSeconds) })
        .send([{ message: 'Too many requests; retry later.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]),
    admit: (_req, reply) => {
      const usage = controls.apiUsage;
      if (usage.used >= usage.max) {
        return reply
          .code(403)
          .header('Sforce-Limit-Info', `api-usage=${usage.used}/${usage.max}`)
          .send([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
      }
      usage.used += 1;
      void reply.header('Sforce-Limit-Info', `api-usage=${usage.used}/${usage.max}`);
      return undefined;
    },
    routes: (app) => {
      // OAuth 2.0 client credentials flow.
      // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
      app.post('/services/oauth2/token', async (req, reply) => {
        const body = (req.body ?? {}) as Record<string, string | undefined>;
        if (body['grant_type'] !== 'client_credentials') {
          return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'grant type not supported' });
        }
        if (body['client_id'] !== options.clientId || body['client_secret'] !== options.clientSecret) {
          return reply.code(400).send({ error: 'invalid_client', error_description: 'invalid client credentials' });
        }
        const token = `${options.organizationId}!${randomBytes(24).toString('base64url')}`;
        controls.tokens.set(token, options.tokenTtlMs === 0 ? 0 : now() + options.tokenTtlMs);
        return {
          access_token: token,
          signature: randomBytes(32).toString('base64'),
          scope: 'api',
          instance_url: baseUrl,
          id: `${baseUrl}/id/${options.organizationId}/${options.integrationUserId}`,
          token_type: 'Bearer',
          issued_at: String(now()),
        };
      });

      registerRestRoutes(app, {
        state,
        now,
        queryBatchSize: options.queryBatchSize,
        actorOf,
        limitUsage: () => ({ ...controls.apiUsage }),
        fieldSecurity: options.fieldSecurity,
      });
      registerBulkRoutes(app, { state, now, jobDelayMs: options.bulkJobDelayMs, resultPageSize: options.bulkResultPageSize, actorOf });
    },
    sideDoorRoutes: (app) => registerSideDoorRoutes(app, sideDoor),
  });
  baseUrl = server.url;
  return {
    url: baseUrl,
    port: server.port,
    sideDoor,
    options,
    async close() {
      await outbound.loop.close();
      await server.close();
    },
  };
}

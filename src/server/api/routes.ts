/**
 * Registers the admin API under /api/v1: bearer API keys with scopes, zod validation of
 * params, query and body, problem-details errors, the OpenAPI document and its docs page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiScope } from '../../config/schema.js';
import { hasScope, matchApiKey, presentedKey } from '../api-keys.js';
import type { ApiKeyRecord, ApiPrincipal } from '../api-keys.js';
import { ApiProblem, RequestProblemError, sendProblem, zodIssues } from '../problem.js';
import { renderDocsPage } from './docs-page.js';
import { openApiDocument } from './openapi.js';
import { fastifyPath } from './operation.js';
import type { Operation } from './operation.js';

export const API_PREFIX = '/api/v1';

/** Authenticates a request against the hashed keys; a problem when it may not go on. */
export function authenticate(records: readonly ApiKeyRecord[], request: FastifyRequest, scope: ApiScope): ApiPrincipal | ApiProblem {
  const key = presentedKey(request.headers.authorization);
  if (key === undefined) return new ApiProblem(401, 'unauthenticated', 'Unauthenticated', 'send Authorization: Bearer <api key>');
  const match = matchApiKey(records, key);
  if (match === null) return new ApiProblem(401, 'unauthenticated', 'Unauthenticated', 'the API key is not valid');
  const { record } = match;
  if (match.previous) {
    // A client still on the rotated-out key: the operator switches it before `until`.
    request.log.info(
      { keyId: record.id, previousUntil: new Date(record.previous?.until ?? 0).toISOString() },
      'admin API key used through its previous key',
    );
  }
  if (!hasScope(record.scopes, scope)) {
    return new ApiProblem(403, 'forbidden', 'Forbidden', `this operation needs the ${scope} scope`);
  }
  return { keyId: record.id, scopes: record.scopes };
}

function challenge(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  if (problem.status === 401) reply.header('www-authenticate', 'Bearer realm="concord"');
  return sendProblem(reply, problem);
}

export interface ApiRouteOptions {
  operations: readonly Operation[];
  apiKeys: readonly ApiKeyRecord[];
  publicUrl: string;
  rateLimit: number;
}

export async function registerApi(app: FastifyInstance, options: ApiRouteOptions): Promise<void> {
  const document = openApiDocument(options.operations, new URL(API_PREFIX, options.publicUrl).toString());
  const docsPage = renderDocsPage(document);
  const rateLimit = { max: options.rateLimit, timeWindow: '1 minute' };

  await app.register(
    async (api) => {
      api.setNotFoundHandler((_request, reply) => {
        void sendProblem(reply, new ApiProblem(404, 'not_found', 'Not found', 'no such API route'));
      });
      api.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, request, reply) => {
        if (error instanceof RequestProblemError) return sendProblem(reply, error.problem);
        const status = error.statusCode ?? 500;
        if (status >= 500) request.log.error({ err: error }, 'admin API error');
        const problem =
          status === 429
            ? new ApiProblem(status, 'rate_limited', 'Too many requests', error.message)
            : status === 413
              ? new ApiProblem(status, 'body_too_large', 'Bad request', error.message)
              : status >= 500
                ? new ApiProblem(status, 'internal', 'Internal error')
                : new ApiProblem(status, 'bad_request', 'Bad request', error.message);
        void sendProblem(reply, problem);
      });

      api.get('/openapi.json', { config: { rateLimit } }, async (_request, reply) => reply.send(document));
      api.get('/docs', { config: { rateLimit } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsPage));

      for (const op of options.operations) {
        api.route({
          method: op.method,
          url: fastifyPath(op.path),
          config: { rateLimit },
          handler: async (request, reply) => {
            const principal = authenticate(options.apiKeys, request, op.scope);
            if (principal instanceof ApiProblem) return challenge(reply, principal);
            const params = op.params ? op.params.safeParse(request.params) : { success: true as const, data: undefined };
            if (!params.success)
              return sendProblem(
                reply,
                new ApiProblem(400, 'invalid_params', 'Invalid path parameters', undefined, zodIssues(params.error, 'params')),
              );
            const query = op.query ? op.query.safeParse(request.query) : { success: true as const, data: undefined };
            if (!query.success)
              return sendProblem(reply, new ApiProblem(400, 'invalid_query', 'Invalid query', undefined, zodIssues(query.error, 'query')));
            const body = op.body ? op.body.safeParse(request.body ?? undefined) : { success: true as const, data: undefined };
            if (!body.success)
              return sendProblem(
                reply,
                new ApiProblem(400, 'invalid_body', 'Invalid request body', undefined, zodIssues(body.error, 'body')),
              );
            const result = await op.handle({ params: params.data, query: query.data, body: body.data, principal, request });
            if (result instanceof ApiProblem) return sendProblem(reply, result);
            // The response schema is the contract: a handler that breaks it is a bug (500), never a silent drift.
            return reply.code(op.status ?? 200).send(op.response.parse(result));
          },
        });
      }
    },
    { prefix: API_PREFIX },
  );
}

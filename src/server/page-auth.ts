/**
 * Operator pages a browser opens (the queue board, the operations page) behind an admin API
 * key, as the admin API is: the key as the password of HTTP Basic (the user name is ignored;
 * a refusal answers a Basic challenge, so the browser asks for it), or as a Bearer token.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiScope } from '../config/schema.js';
import type { ApiKeyRecord, ApiPrincipal } from './api-keys.js';
import { authenticate } from './api/routes.js';
import { ApiProblem, sendProblem } from './problem.js';

/**
 * The principal of a key with `scope`; otherwise answers the problem (401 with a Basic challenge,
 * or 403) and returns null: the caller's hook then returns the reply.
 */
export async function authenticatePage(
  apiKeys: readonly ApiKeyRecord[],
  request: FastifyRequest,
  reply: FastifyReply,
  scope: ApiScope,
  realm: string,
): Promise<ApiPrincipal | null> {
  const principal = authenticate(apiKeys, request, scope);
  if (!(principal instanceof ApiProblem)) return principal;
  if (principal.status === 401) reply.header('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`);
  await sendProblem(reply, principal);
  return null;
}

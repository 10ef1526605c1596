/**
 * Private-app access-token introspection, as HubSpot documents it at the end of its private apps
 * guide: `POST /oauth/v2/private-apps/get/access-token-info` with `{tokenKey}` in the body answers
 * the token's `userId`, `hubId`, `appId` and granted `scopes`. The token travels in the body, so
 * the call needs no Authorization header; a token the account does not know answers 401.
 * https://developers.hubspot.com/docs/api/private-apps
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody, validationError } from './errors.js';

export const ACCESS_TOKEN_INFO_PATH = '/oauth/v2/private-apps/get/access-token-info';

const TokenInfoBody = z.object({ tokenKey: z.string().min(1) });

/** The emulator's id of the user who created the private app. */
const USER_ID = 8_675_309;

export interface TokenRouteDeps {
  /** The token the account accepts; any bearer token when absent. */
  accessToken: string | undefined;
  appId: number;
  portalId: number;
  scopes: () => readonly string[];
}

export function registerTokenRoutes(app: FastifyInstance, deps: TokenRouteDeps): void {
  app.post(ACCESS_TOKEN_INFO_PATH, async (req, reply) => {
    const parsed = TokenInfoBody.safeParse(req.body);
    if (!parsed.success) throw validationError('Invalid input JSON: tokenKey: expected a private app access token');
    const { tokenKey } = parsed.data;
    if (deps.accessToken !== undefined && tokenKey !== deps.accessToken) {
      return reply.code(401).send(errorBody('INVALID_AUTHENTICATION', 'The access token provided is invalid or expired.'));
    }
    return { userId: USER_ID, hubId: deps.portalId, appId: deps.appId, scopes: [...deps.scopes()] };
  });
}

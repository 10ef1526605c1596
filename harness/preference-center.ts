/**
 * The person's side of the preference center in tests: a signed link for a profile, the page
 * opened (its session cookie and CSRF token) and the form saved, as a browser would.
 */
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { PreferenceLinks } from '../src/server/preferences/links.js';
import { REDIS_URL } from './sync-hub.js';

/**
 * Saves the preference form of `profileId` with exactly these consents ticked (`purpose.channel`,
 * e.g. `marketing.email`); the others are unticked. Throws unless the page opens (200) and the
 * save is answered with its redirect (303).
 */
export async function savePreferences(
  hub: { app: FastifyInstance; engine: { prefix: string } },
  signingSecret: string,
  profileId: string,
  consents: readonly string[],
): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const link = `/preferences/${new PreferenceLinks(signingSecret, redis, hub.engine.prefix).issue(profileId, 600_000).token}`;
  redis.disconnect();
  const page = await hub.app.inject({ method: 'GET', url: link });
  if (page.statusCode !== 200) throw new Error(`the preference page answered ${page.statusCode}`);
  const setCookie = page.headers['set-cookie'];
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0] ?? '';
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  const form = new URLSearchParams({ _csrf: csrf });
  for (const consent of consents) form.append('consent', consent);
  const saved = await hub.app.inject({
    method: 'POST',
    url: link,
    payload: form.toString(),
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (saved.statusCode !== 303) throw new Error(`saving the preferences answered ${saved.statusCode}`);
}

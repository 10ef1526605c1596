/**
 * The HTTP routes of data-subject requests besides the admin API's operation table: the CSV and
 * HTML forms of an export (`GET /api/v1/dsr/:dsrId/export.csv|.html`, scope `dsr`; the HTML page
 * with its own strict Content-Security-Policy) and the preference
 * center's working rights (`preferences/rights.ts`).
 */
import type { PageLanguages } from './preferences/i18n.js';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { exportCsv } from '../privacy/index.js';
import { EXPORT_HTML_CSP, exportHtml } from './export-html.js';
import type { Store } from '../store/types.js';
import { API_PREFIX, authenticate } from './api/routes.js';
import { problemOf } from './api/dsr-operations.js';
import type { ApiKeyRecord } from './api-keys.js';
import type { ServerPrivacy } from './deps.js';
import { ApiProblem, sendProblem } from './problem.js';
import type { DownloadLinks } from './preferences/downloads.js';
import type { PreferenceLinks } from './preferences/links.js';
import { registerRights } from './preferences/rights.js';
import type { Brand } from './preferences/view.js';

export interface DsrRouteOptions {
  privacy: ServerPrivacy;
  store: Store;
  apiKeys: readonly ApiKeyRecord[];
  apiRateLimit: number;
  links: PreferenceLinks;
  downloads: DownloadLinks;
  brand: Brand;
  signingSecret: string;
  secureCookies: boolean;
  preferencesRateLimit: number;
  /** The catalog's languages (the rights pages follow the visitor's). */
  languages: PageLanguages;
}

export async function registerDsrRoutes(app: FastifyInstance, options: DsrRouteOptions): Promise<void> {
  const formats = {
    csv: { type: 'text/csv; charset=utf-8', render: exportCsv },
    html: { type: 'text/html; charset=utf-8', render: exportHtml },
  } as const;
  await app.register(async (scope) => {
    for (const [format, { type, render }] of Object.entries(formats)) {
      scope.get<{ Params: { dsrId: string } }>(
        `${API_PREFIX}/dsr/:dsrId/export.${format}`,
        { config: { rateLimit: { max: options.apiRateLimit, timeWindow: '1 minute' } } },
        async (request, reply): Promise<FastifyReply> => {
          const principal = authenticate(options.apiKeys, request, 'dsr');
          if (principal instanceof ApiProblem) {
            if (principal.status === 401) reply.header('www-authenticate', 'Bearer realm="concord"');
            return sendProblem(reply, principal);
          }
          const result = await options.privacy.exportDocument(request.params.dsrId);
          if (!result.ok) return sendProblem(reply, problemOf(result.error));
          await options.privacy.recordDownload(request.params.dsrId, `api-key:${principal.keyId}`, format === 'csv' ? 'csv' : 'html');
          if (format === 'html') reply.header('content-security-policy', EXPORT_HTML_CSP);
          return reply
            .header('cache-control', 'no-store')
            .header('content-disposition', `attachment; filename="export-${request.params.dsrId}.${format}"`)
            .type(type)
            .send(render(result.value));
        },
      );
    }
  });
  await registerRights(app, {
    privacy: options.privacy,
    store: options.store,
    links: options.links,
    downloads: options.downloads,
    brand: options.brand,
    signingSecret: options.signingSecret,
    secureCookies: options.secureCookies,
    rateLimit: options.preferencesRateLimit,
    languages: options.languages,
  });
}

/** The hub's HTTP surface. */
export { boundUrls, build, listen, redactUrl } from './build.js';
export { buildMetricsServer } from './ops.js';
export { ServerOptions } from './deps.js';
export type { ServerDeps, ServerEngine, ServerOptionsInput } from './deps.js';
export { apiKeyRecords } from './api-keys.js';
export type { ApiKeyRecord } from './api-keys.js';
export { PreferenceLinks } from './preferences/links.js';
export { preferenceUrl } from './api/operations.js';
export { runList } from './api/runs-operations.js';
export type { RunList } from './api/runs-operations.js';
export { DownloadLinks } from './preferences/downloads.js';
export { RequesterVerifications, REQUESTS_PATH } from './requests/service.js';

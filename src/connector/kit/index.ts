/**
 * The connector kit: what every connector needs and none should write again. Connectors import
 * from here (`src/connector/kit/index.js`); see connectors/README.md, "Adding a connector".
 */
export { chunks } from './chunks.js';
export { ExpiringCache, SCHEMA_TTL_MS } from './expiring-cache.js';
export { Pacer, type PacerOptions } from './pacer.js';
export { RecentIds } from './recent-ids.js';
export { splitRefs, uniqueBy } from './refs.js';
export { emailKey, FindHits, findIdentities, phoneKey } from './find.js';
export { nonEmpty, nonEmptyFields } from './exported.js';
export { WebhookAcks, type WebhookAcksOptions } from './webhook-acks.js';
export { secretsEqual } from './secrets.js';
export { redactContacts } from '../../log/logger.js';
export { classifyHttpError, classifyHttpStatus, parseRetryAfter, headerValue } from '../errors.js';
export { sleep } from '../sleep.js';
export { safeFetch, type SafeFetchOptions, type SafeRequest, type SafeResponse } from './safe-fetch.js';
export { BlockedTargetError, RequestTooLargeError, ResponseTooLargeError } from '../errors.js';
export { STANDARD_RETRY_SCHEDULE_MS, isWebhookMessageId } from './outbound-webhooks.js';
export { allPassed, cannotCheck, checkFailure, failedAt, passed, writtenExternals, type CheckContext } from './check.js';

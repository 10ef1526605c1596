/**
 * Data-subject rights across every system (GDPR Art. 15-22): erasure that stays erased,
 * access and portability, rectification, restriction and objection. See `service.ts`.
 */
export { PrivacyService, overdueNow } from './service.js';
export type { PrivacyServiceDeps, RequestMeta, SettledRequest, SourceRequestOutcome, PrivacyEngine } from './service.js';
export { PrivacyOptions, PrivacyTuning, privacyOptionsFromConfig } from './options.js';
export type { PrivacyOptionsInput, PrivacyTuningInput } from './options.js';
export { DsrInput, DsrView, DsrExtension, DsrKind, Subject } from './schema.js';
export type { DsrInputData, DsrDetail, SystemOutcome } from './schema.js';
export { PrivacyError } from './errors.js';
export type { PrivacyErrorCode, Result } from './errors.js';
export { addMonths, dueDate, isOverdue, checkExtension, latestExtension } from './deadline.js';
export { ExportDocument, EXPORT_FORMAT, buildExport } from './export/document.js';
export { exportCsv } from './export/csv.js';
export { exportJsonSchema, exportJsonSchemaText, EXPORT_SCHEMA_PATH } from './export/json-schema.js';
export { privacyQueues } from './keys.js';
export type { RetentionReport, RetentionRuleReport, RetentionSelection } from './retention.js';

/**
 * The admin API's data-subject request operations (`/api/v1/dsr`, scope `dsr`): create a
 * request, read its status per system, list (overdue) requests, record an extension, retry the
 * failed systems, and fetch an export. The CSV form of an export is served by `dsr-routes.ts`.
 */
import { z } from 'zod';
import { DsrExtension, DsrInput, DsrKind, DsrView, ExportDocument } from '../../privacy/index.js';
import type { PrivacyError, PrivacyErrorCode } from '../../privacy/index.js';
import type { ServerPrivacy } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';

export const DsrIdParams = z.object({ dsrId: z.string().min(1).max(100).meta({ description: 'The request id.' }) });

export const DsrListQuery = z
  .object({
    overdue: z.enum(['true', 'false']).optional().meta({ description: 'true: only open requests past their deadline.' }),
    status: z.enum(['received', 'in_progress', 'completed', 'failed']).optional(),
    kind: DsrKind.optional(),
  })
  .strict();

export const DsrList = z.object({ requests: z.array(DsrView) });

const STATUS: Record<PrivacyErrorCode, number> = {
  invalid_request: 400,
  subject_not_found: 404,
  request_not_found: 404,
  subject_erased: 409,
  request_closed: 409,
  wrong_kind: 409,
  export_unavailable: 409,
  invalid_extension: 422,
};

export function problemOf(error: PrivacyError): ApiProblem {
  const status = STATUS[error.code];
  const title = status === 404 ? 'Not found' : status === 409 ? 'Conflict' : status === 422 ? 'Cannot be applied' : 'Bad request';
  return new ApiProblem(status, error.code, title, error.message);
}

export function dsrOperations(privacy: ServerPrivacy): Operation<unknown, unknown, unknown, unknown>[] {
  const createDsr = defineOperation({
    id: 'createDsr',
    method: 'POST',
    path: '/dsr',
    summary: 'Make a data-subject request',
    description:
      'Erase (Art. 17), export (Art. 15, 20), rectify (Art. 16), restrict or lift a restriction (Art. 18), object or withdraw an objection (Art. 21, 22). ' +
      'The request is carried out in every connected system; its status per system is at GET /dsr/{dsrId}. An answer is due one month after receipt.',
    tag: 'Data-subject requests',
    scope: 'dsr',
    body: DsrInput,
    status: 202,
    response: DsrView,
    errors: [404, 409],
    async handle({ body, principal }) {
      const result = await privacy.submit(body, { origin: 'api', actor: `api-key:${principal.keyId}` });
      return result.ok ? result.value : problemOf(result.error);
    },
  });

  const getDsr = defineOperation({
    id: 'getDsr',
    method: 'GET',
    path: '/dsr/{dsrId}',
    summary: 'A data-subject request and its status per system',
    description:
      'Status, deadline (and extension), and per connected system: status, attempts, the last error, and the outcome kept as proof.',
    tag: 'Data-subject requests',
    scope: 'dsr',
    params: DsrIdParams,
    response: DsrView,
    errors: [404],
    async handle({ params }) {
      const result = await privacy.get(params.dsrId);
      return result.ok ? result.value : problemOf(result.error);
    },
  });

  const listDsr = defineOperation({
    id: 'listDsr',
    method: 'GET',
    path: '/dsr',
    summary: 'List data-subject requests',
    description: 'Oldest first; `overdue=true` lists the open requests past their deadline.',
    tag: 'Data-subject requests',
    scope: 'dsr',
    query: DsrListQuery,
    response: DsrList,
    async handle({ query }) {
      return {
        requests: await privacy.list({
          ...(query.overdue === 'true' ? { overdue: true } : {}),
          ...(query.status ? { status: query.status } : {}),
          ...(query.kind ? { kind: query.kind } : {}),
        }),
      };
    },
  });

  const extendDsr = defineOperation({
    id: 'extendDsr',
    method: 'POST',
    path: '/dsr/{dsrId}/extend',
    summary: 'Extend the deadline of a request',
    description:
      'By two further months at most (Art. 12(3)), recording when the person was told, which must be within the first month, and why.',
    tag: 'Data-subject requests',
    scope: 'dsr',
    params: DsrIdParams,
    body: DsrExtension,
    response: DsrView,
    errors: [404, 409, 422],
    async handle({ params, body, principal }) {
      const result = await privacy.extend(params.dsrId, body, `api-key:${principal.keyId}`);
      return result.ok ? result.value : problemOf(result.error);
    },
  });

  const retryDsr = defineOperation({
    id: 'retryDsr',
    method: 'POST',
    path: '/dsr/{dsrId}/retry',
    summary: 'Retry the failed systems of a request',
    tag: 'Data-subject requests',
    scope: 'dsr',
    params: DsrIdParams,
    status: 202,
    response: DsrView,
    errors: [404, 409],
    async handle({ params, principal }) {
      const result = await privacy.retry(params.dsrId, `api-key:${principal.keyId}`);
      return result.ok ? result.value : problemOf(result.error);
    },
  });

  const getExport = defineOperation({
    id: 'getDsrExport',
    method: 'GET',
    path: '/dsr/{dsrId}/export',
    summary: 'The export of an export request (JSON)',
    description:
      'Structured and documented (its JSON Schema is docs/schemas/export.schema.json): the profile with each field’s source and time, consent receipts, the systems holding data, the recipients, the retention that applies, the history, and, when asked for, the whole records each system holds (every non-empty field with the system’s labels, and its related records). ' +
      'The flat CSV form is at /dsr/{dsrId}/export.csv, a readable HTML page at /dsr/{dsrId}/export.html.',
    tag: 'Data-subject requests',
    scope: 'dsr',
    params: DsrIdParams,
    response: ExportDocument,
    errors: [404, 409],
    renditions: [
      {
        id: 'getDsrExportCsv',
        suffix: '.csv',
        mediaType: 'text/csv',
        summary: 'The export of an export request (flat CSV, one row per fact)',
      },
      {
        id: 'getDsrExportHtml',
        suffix: '.html',
        mediaType: 'text/html',
        summary: 'The export of an export request (one readable, self-contained HTML page)',
      },
    ],
    async handle({ params, principal }) {
      const result = await privacy.exportDocument(params.dsrId);
      if (!result.ok) return problemOf(result.error);
      await privacy.recordDownload(params.dsrId, `api-key:${principal.keyId}`, 'json');
      return result.value;
    },
  });

  return [createDsr, getDsr, listDsr, extendDsr, retryDsr, getExport] as Operation<unknown, unknown, unknown, unknown>[];
}

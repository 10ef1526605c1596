/**
 * Batch operations: `POST /batches` with up to thousands of operations, polled until
 * `finished`, then the `.tar.gz` result file (`response_body_url`, a short-lived signed link)
 * is read: JSON files, each an array of `{status_code, operation_id, response}` where
 * `response` is itself JSON text. A pending-batch slot of the API key is held meanwhile, so
 * the process never has more batches pending than Mailchimp's ceiling.
 * https://mailchimp.com/developer/marketing/api/batch-operations/
 * https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/
 */
import { gunzipSync } from 'node:zlib';
import { MalformedPayloadError, TransientError } from '../../src/connector/errors.js';
import { sleep } from '../../src/connector/kit/index.js';
import type { MailchimpApi } from './api.js';

export interface BatchOperation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the API root, e.g. `/lists/{id}/members/{hash}`. */
  path: string;
  body?: unknown;
  operation_id: string;
}

/** One operation's answer. */
export interface BatchResult {
  status_code: number;
  operation_id: string;
  /** The answer body, parsed (`undefined` when it was empty). */
  response: unknown;
}

interface BatchStatus {
  id: string;
  status: string;
  response_body_url?: string;
  errored_operations?: number;
}

/** Largest result archive read, unpacked. */
const MAX_UNPACKED_BYTES = 512 * 1024 * 1024;

/** One tar entry. */
export interface TarEntry {
  name: string;
  data: Buffer;
}

function text(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

/** The regular files of a (ustar, GNU or pax) tar archive. */
export function untar(archive: Buffer): TarEntry[] {
  const files: TarEntry[] = [];
  let longName: string | undefined;
  let off = 0;
  while (off + 512 <= archive.length) {
    const header = archive.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
    const stated = parseInt(text(header.subarray(148, 156)).trim(), 8);
    if (stated !== sum) throw new MalformedPayloadError('batch result archive: bad tar header checksum');
    const size = parseInt(text(header.subarray(124, 136)).trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0 || off + 512 + size > archive.length) {
      throw new MalformedPayloadError('batch result archive: truncated tar entry');
    }
    const type = header[156] ?? 0;
    const data = archive.subarray(off + 512, off + 512 + size);
    const prefix = text(header.subarray(345, 500));
    const name = longName ?? (prefix ? `${prefix}/${text(header.subarray(0, 100))}` : text(header.subarray(0, 100)));
    longName = undefined;
    if (type === 0x4c /* 'L': GNU long name of the next entry */) longName = text(data);
    else if (type === 0x78 /* 'x': pax header of the next entry */)
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1];
    else if (type === 0x30 /* '0' */ || type === 0) files.push({ name, data });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** The operation results of a `.tar.gz` result file. */
export function readResults(gz: Buffer): BatchResult[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch {
    throw new MalformedPayloadError('batch result file is not gzip');
  }
  const out: BatchResult[] = [];
  for (const file of untar(tar)) {
    if (!file.name.endsWith('.json')) continue;
    let items: unknown;
    try {
      items = JSON.parse(file.data.toString('utf8'));
    } catch {
      throw new MalformedPayloadError('batch result file holds a JSON file that does not parse');
    }
    if (!Array.isArray(items)) throw new MalformedPayloadError('batch result file holds a JSON file that is not an array');
    for (const item of items as unknown[]) {
      if (item === null || typeof item !== 'object') continue;
      const r = item as Record<string, unknown>;
      if (typeof r.operation_id !== 'string' || typeof r.status_code !== 'number') continue;
      let response: unknown = r.response;
      if (typeof response === 'string') {
        try {
          response = response === '' ? undefined : JSON.parse(response);
        } catch {
          // Kept as text: a problem body that is not JSON.
        }
      }
      out.push({ status_code: r.status_code, operation_id: r.operation_id, response });
    }
  }
  return out;
}

/**
 * Runs one batch of operations to the end and returns each operation's result by
 * `operation_id` (an operation without a result is absent). Throws a `TransientError` when it
 * does not finish within `batchTimeoutMs`.
 */
export async function runBatch(
  api: MailchimpApi,
  operations: readonly BatchOperation[],
  signal: AbortSignal,
): Promise<Map<string, BatchResult>> {
  const { batchPollMs, batchTimeoutMs } = api.config;
  return api.withBatchSlot(signal, async () => {
    // https://mailchimp.com/developer/marketing/api/batch-operations/start-batch-operation/
    const started = await api.request<BatchStatus>('POST', '/batches', {
      data: {
        operations: operations.map((o) => ({
          method: o.method,
          path: o.path,
          operation_id: o.operation_id,
          ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
        })),
      },
      signal,
    });
    if (typeof started.data?.id !== 'string') throw new MalformedPayloadError('POST /batches answered without an id');
    const id = encodeURIComponent(started.data.id);
    const deadline = Date.now() + batchTimeoutMs;
    let status = started.data;
    try {
      while (status.status !== 'finished') {
        if (Date.now() > deadline) throw new TransientError(`batch operation did not finish within ${batchTimeoutMs} ms`);
        await sleep(batchPollMs, signal);
        // https://mailchimp.com/developer/marketing/api/batch-operations/get-batch-operation-status/
        status = (await api.request<BatchStatus>('GET', `/batches/${id}`, { signal })).data;
      }
    } catch (err) {
      // Its records are answered retryable and written again later: a batch left running could
      // land after that newer write and undo it. Stop it (best effort, past the caller's abort).
      // https://mailchimp.com/developer/marketing/api/batch-operations/delete-batch-request/
      await api.request('DELETE', `/batches/${id}`, { signal: AbortSignal.timeout(30_000), accept: [404] }).catch(() => undefined);
      throw err;
    }
    if (!status.response_body_url) throw new MalformedPayloadError('a finished batch operation has no response_body_url');
    const url = new URL(status.response_body_url, `${api.baseUrl}/`).toString();
    const results = readResults(await api.download(url, signal));
    return new Map(results.map((r) => [r.operation_id, r]));
  });
}

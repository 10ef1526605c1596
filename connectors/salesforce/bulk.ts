/**
 * Bulk API 2.0: query jobs for large backfills, their results paged here with the
 * `Sforce-Locator` header (jsforce's own `bulk2.query` streams every page into one stream and
 * breaks across pages), and ingest jobs for large initial loads (jsforce's `bulk2` ingest).
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm
 */
import { sleep } from '../../src/connector/sleep.js';
import type { Connection, HttpResponse } from 'jsforce';
import { MalformedPayloadError, TransientError } from '../../src/connector/errors.js';
import { RESPONSE_SINK, type SalesforceApi } from './api.js';
import type { SalesforceConfig } from './config.js';
import { parseCsv, toCsv } from './csv.js';
import type { RawRecord } from './read.js';

interface QueryJobInfo {
  id: string;
  state: 'UploadComplete' | 'InProgress' | 'Aborted' | 'JobComplete' | 'Failed';
  errorMessage?: string;
}

export class SalesforceBulk {
  constructor(
    private readonly api: SalesforceApi,
    private readonly config: SalesforceConfig,
    private readonly now: () => number = Date.now,
  ) {}

  private base(conn: Connection): string {
    return `/services/data/v${conn.version}/jobs/query`;
  }

  /**
   * Creates a query job and waits until its results can be read; returns its id.
   * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm
   */
  async startQuery(soql: string, signal?: AbortSignal): Promise<string> {
    const job = await this.api.call(signal, (conn) =>
      conn.request<QueryJobInfo>({
        method: 'POST',
        url: this.base(conn),
        body: JSON.stringify({ operation: 'query', query: soql }),
        headers: { 'Content-Type': 'application/json' },
      }),
    );
    if (!job || typeof job.id !== 'string') throw new MalformedPayloadError('Bulk API 2.0 answered a query job without an id');
    await this.waitForQuery(job.id, signal);
    return job.id;
  }

  /** https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_one_job.htm */
  async waitForQuery(jobId: string, signal?: AbortSignal): Promise<void> {
    const deadline = this.now() + this.config.bulkTimeoutMs;
    for (;;) {
      const info = await this.api.call(signal, (conn) => conn.request<QueryJobInfo>({ method: 'GET', url: `${this.base(conn)}/${jobId}` }));
      if (info.state === 'JobComplete') return;
      if (info.state === 'Failed' || info.state === 'Aborted')
        throw new TransientError(`Bulk API 2.0 query job ${jobId} ended ${info.state}: ${info.errorMessage ?? ''}`.trim());
      if (this.now() > deadline)
        throw new TransientError(`Bulk API 2.0 query job ${jobId} did not complete in ${this.config.bulkTimeoutMs} ms`);
      await sleep(this.config.bulkPollIntervalMs, signal);
    }
  }

  /**
   * One page of a query job's results, and the locator of the next (`undefined` after the last:
   * Salesforce sends `Sforce-Locator: null`).
   * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm
   */
  async resultPage(
    jobId: string,
    locator: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ records: RawRecord[]; next: string | undefined }> {
    let response: HttpResponse | undefined;
    const csv = await this.api.call(signal, (conn) => {
      const params = new URLSearchParams({ maxRecords: String(this.config.bulkQueryPageSize), ...(locator ? { locator } : {}) });
      return conn.request<string>(
        { method: 'GET', url: `${this.base(conn)}/${jobId}/results?${params.toString()}`, headers: { Accept: 'text/csv' } },
        // Read the body as text (parsed below) and keep the response for its headers.
        { responseType: 'text/plain', [RESPONSE_SINK]: (res: HttpResponse) => (response = res) },
      );
    });
    const header = response?.headers['sforce-locator'];
    if (header === undefined) throw new MalformedPayloadError('Bulk API 2.0 results came without Sforce-Locator');
    const { records } = parseCsv(typeof csv === 'string' ? csv : '');
    return { records, next: header === 'null' || header === '' ? undefined : header };
  }

  /**
   * Upserts (or updates by Id) rows through an ingest job; returns per-row outcomes by the
   * value of `keyColumn`.
   * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/upsert_job.htm
   */
  async ingest(
    operation: 'upsert' | 'update',
    columns: readonly string[],
    rows: readonly (readonly (string | null)[])[],
    keyColumn: string,
    signal?: AbortSignal,
  ): Promise<Map<string, { ok: true; id: string; created: boolean } | { ok: false; error: string }>> {
    const out = new Map<string, { ok: true; id: string; created: boolean } | { ok: false; error: string }>();
    if (rows.length === 0) return out;
    // #N/A clears a field in Bulk API CSV; an empty field leaves it as it is.
    const csv = toCsv(
      columns,
      rows.map((r) => r.map((v) => (v === null ? '#N/A' : v))),
    );
    await this.api.call(signal, async (conn) => {
      const job = conn.bulk2.createJob({
        object: this.config.object,
        operation,
        ...(operation === 'upsert' ? { externalIdFieldName: this.config.externalIdField } : {}),
        contentType: 'CSV',
        lineEnding: 'LF',
      });
      await job.open();
      await job.uploadData(csv);
      await job.close();
      await job.poll(this.config.bulkPollIntervalMs, this.config.bulkTimeoutMs);
      const ok = await job.getSuccessfulResults(true);
      const failed = await job.getFailedResults(true);
      for (const r of parseCsv(ok).records)
        out.set(r[keyColumn] ?? '', { ok: true, id: r['sf__Id'] ?? '', created: r['sf__Created'] === 'true' });
      for (const r of parseCsv(failed).records) out.set(r[keyColumn] ?? '', { ok: false, error: r['sf__Error'] ?? 'failed' });
    });
    return out;
  }
}

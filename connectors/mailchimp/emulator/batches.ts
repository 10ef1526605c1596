/**
 * Batch operations, `POST /batches`: the operations run in the background through the same
 * route handlers (Fastify `inject`, not counted as API calls nor held to the connection ceiling,
 * as Mailchimp runs them on its side), the status moves pending -> preprocessing -> started ->
 * finalizing -> finished on a timer, and `response_body_url` is a short-lived signed link to a
 * `.tar.gz` of JSON files, each an array of `{status_code, operation_id, response}`.
 * https://mailchimp.com/developer/marketing/api/batch-operations/
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, parseInput, tooManyRequests } from './errors.js';
import { apiKeyOf, keyId } from './limits.js';
import { mailchimpTime } from './serialize.js';
import { tarGz } from './tar.js';

/** The header that marks a batch's own operations (a per-emulator secret, so no caller can forge it). */
export const BATCH_OPERATION_HEADER = 'x-emulator-batch-operation';
/** Where result archives are served (outside `/3.0`, as Mailchimp serves them from S3). */
export const BATCH_RESULTS_PREFIX = '/_batch-results';
const RESULTS_PER_FILE = 500;

const Operation = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
  path: z.string().startsWith('/'),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  body: z.string().optional(),
  operation_id: z.string().optional(),
});
type Operation = z.infer<typeof Operation>;
const StartBody = z.object({ operations: z.array(Operation).min(1) });
const ListQuery = z.object({
  count: z.coerce.number().int().min(1).max(1000).default(10),
  offset: z.coerce.number().int().min(0).default(0),
});

export type BatchStatus = 'pending' | 'preprocessing' | 'started' | 'finalizing' | 'finished';

interface OperationResult {
  status_code: number;
  operation_id: string | null;
  response: string;
}

interface StoredBatch {
  id: string;
  owner: string;
  authorization: string;
  status: BatchStatus;
  operations: Operation[];
  finished: number;
  errored: number;
  submittedAt: number;
  completedAt: number | null;
  results: OperationResult[];
  archive: Buffer | undefined;
}

export interface BatchOptions {
  stepMs: number;
  resultTtlMs: number;
  maxPending: number;
  now: () => number;
  /** The emulator's base URL (known once it listens). */
  baseUrl: () => string;
}

/** Runs batches in the background; `close` stops them. */
export class BatchRunner {
  readonly token = randomBytes(16).toString('hex');
  private readonly signingKey = randomBytes(32);
  private readonly batches = new Map<string, StoredBatch>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly app: FastifyInstance,
    private readonly opts: BatchOptions,
  ) {}

  register(api: FastifyInstance): void {
    // https://mailchimp.com/developer/marketing/api/batch-operations/start-batch-operation/
    api.post('/batches', async (req) => {
      const body = parseInput(StartBody, req.body);
      const owner = keyId(apiKeyOf(req) ?? '');
      const pending = [...this.batches.values()].filter((b) => b.owner === owner && b.status !== 'finished').length;
      if (pending >= this.opts.maxPending) {
        throw tooManyRequests(`You have more than ${this.opts.maxPending} pending batches. Please wait for them to finish.`);
      }
      const batch: StoredBatch = {
        id: randomUUID().replace(/-/g, '').slice(0, 10),
        owner,
        authorization: req.headers.authorization ?? '',
        status: 'pending',
        operations: body.operations,
        finished: 0,
        errored: 0,
        submittedAt: this.opts.now(),
        completedAt: null,
        results: [],
        archive: undefined,
      };
      this.batches.set(batch.id, batch);
      this.later(() => this.advance(batch));
      return this.json(batch);
    });

    // https://mailchimp.com/developer/marketing/api/batch-operations/list-batch-requests/
    api.get('/batches', async (req) => {
      const q = parseInput(ListQuery, req.query);
      const owner = keyId(apiKeyOf(req) ?? '');
      const mine = [...this.batches.values()].filter((b) => b.owner === owner);
      return { batches: mine.slice(q.offset, q.offset + q.count).map((b) => this.json(b)), total_items: mine.length };
    });

    // https://mailchimp.com/developer/marketing/api/batch-operations/get-batch-operation-status/
    api.get<{ Params: { batch_id: string } }>('/batches/:batch_id', async (req) => this.json(this.get(req.params.batch_id)));

    // https://mailchimp.com/developer/marketing/api/batch-operations/delete-batch-request/
    api.delete<{ Params: { batch_id: string } }>('/batches/:batch_id', async (req, reply) => {
      this.batches.delete(this.get(req.params.batch_id).id);
      return reply.code(204).send();
    });
  }

  /** The signed result archives (outside `/3.0`; an expired or forged link is answered 403, as S3 does). */
  registerResults(app: FastifyInstance): void {
    app.get<{ Params: { file: string }; Querystring: { Expires?: string; Signature?: string } }>(
      `${BATCH_RESULTS_PREFIX}/:file`,
      async (req, reply) => {
        const id = req.params.file.replace(/-response\.tar\.gz$/, '');
        const expires = Number(req.query.Expires);
        const given = Buffer.from(req.query.Signature ?? '', 'hex');
        const wanted = this.signature(id, expires);
        const valid = given.length === wanted.length && timingSafeEqual(given, wanted);
        const archive = this.batches.get(id)?.archive;
        if (!valid || !Number.isFinite(expires) || this.opts.now() > expires * 1000) {
          return reply
            .code(403)
            .type('application/xml')
            .send('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        }
        if (!archive) return reply.code(404).type('application/xml').send('<Error><Code>NoSuchKey</Code></Error>');
        return reply.type('application/x-gzip').send(archive);
      },
    );
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private get(id: string): StoredBatch {
    const batch = this.batches.get(id);
    if (!batch) throw notFound();
    return batch;
  }

  private later(fn: () => void | Promise<void>): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, this.opts.stepMs);
    this.timers.add(t);
  }

  private async advance(batch: StoredBatch): Promise<void> {
    if (this.closed || !this.batches.has(batch.id)) return;
    if (batch.status === 'pending') batch.status = 'preprocessing';
    else if (batch.status === 'preprocessing') {
      batch.status = 'started';
      for (const op of batch.operations) {
        if (this.closed) return;
        const result = await this.execute(batch, op);
        batch.results.push(result);
        batch.finished += 1;
        if (result.status_code >= 400) batch.errored += 1;
      }
    } else if (batch.status === 'started') {
      batch.status = 'finalizing';
      const files = [];
      for (let i = 0; i < batch.results.length; i += RESULTS_PER_FILE) {
        const name = `${batch.id}-${i / RESULTS_PER_FILE}.json`;
        files.push({ name, content: JSON.stringify(batch.results.slice(i, i + RESULTS_PER_FILE)) });
      }
      batch.archive = tarGz(files, this.opts.now());
    } else if (batch.status === 'finalizing') {
      batch.status = 'finished';
      batch.completedAt = this.opts.now();
      return;
    }
    this.later(() => this.advance(batch));
  }

  /** One operation through the API's own routes; a failure to run it is a 500 result, as Mailchimp records one. */
  private async execute(batch: StoredBatch, op: Operation): Promise<OperationResult> {
    try {
      return await this.inject(batch, op);
    } catch {
      const body = JSON.stringify({ title: 'Internal Server Error', status: 500, detail: 'The operation could not be run.' });
      return { status_code: 500, operation_id: op.operation_id ?? null, response: body };
    }
  }

  private async inject(batch: StoredBatch, op: Operation): Promise<OperationResult> {
    const path = op.path.replace(/^\/3\.0(?=\/)/, '');
    const query = new URLSearchParams(Object.entries(op.params ?? {}).map(([k, v]): [string, string] => [k, String(v)])).toString();
    const res = await this.app.inject({
      method: op.method,
      url: `/3.0${path}${query ? `?${query}` : ''}`,
      headers: {
        authorization: batch.authorization,
        [BATCH_OPERATION_HEADER]: this.token,
        ...(op.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(op.body === undefined ? {} : { payload: op.body }),
    });
    return { status_code: res.statusCode, operation_id: op.operation_id ?? null, response: res.body };
  }

  private signature(id: string, expires: number): Buffer {
    return createHmac('sha256', this.signingKey).update(`${id}:${expires}`).digest();
  }

  private json(b: StoredBatch): Record<string, unknown> {
    let url = '';
    if (b.status === 'finished') {
      const expires = Math.floor((this.opts.now() + this.opts.resultTtlMs) / 1000);
      const signature = this.signature(b.id, expires).toString('hex');
      url = `${this.opts.baseUrl()}${BATCH_RESULTS_PREFIX}/${b.id}-response.tar.gz?Expires=${expires}&Signature=${signature}`;
    }
    return {
      id: b.id,
      status: b.status,
      total_operations: b.operations.length,
      finished_operations: b.finished,
      errored_operations: b.errored,
      submitted_at: mailchimpTime(b.submittedAt),
      completed_at: mailchimpTime(b.completedAt),
      response_body_url: url,
      _links: [{ rel: 'self', href: `/3.0/batches/${b.id}`, method: 'GET' }],
    };
  }
}

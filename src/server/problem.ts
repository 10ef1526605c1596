/**
 * Error answers of the JSON endpoints, as RFC 9457 problem details with a stable `code`.
 * Expected failures are returned as values by handlers and turned into these.
 */
import { z } from 'zod';
import type { FastifyReply } from 'fastify';

export const Problem = z
  .object({
    type: z.string().meta({ description: 'A URI naming the kind of problem (about:blank for plain HTTP errors).' }),
    title: z.string(),
    status: z.number().int(),
    code: z.string().meta({ description: 'A stable, machine-readable error code.' }),
    detail: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ description: 'An error (RFC 9457 problem details).' });
export type Problem = z.infer<typeof Problem>;

/** An expected failure a handler returns instead of a body. */
export class ApiProblem {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly issues?: { path: string; message: string }[],
    /** Response headers to send with it (e.g. `Retry-After` on a 429). */
    readonly headers?: Record<string, string>,
  ) {}

  toJSON(): Problem {
    return {
      type: 'about:blank',
      title: this.title,
      status: this.status,
      code: this.code,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.issues === undefined ? {} : { issues: this.issues }),
    };
  }
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  if (problem.headers) void reply.headers(problem.headers);
  return reply.code(problem.status).type('application/problem+json').send(problem.toJSON());
}

/** zod issues as problem issues (paths joined with dots). */
export function zodIssues(error: z.ZodError, prefix: string): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].join('.'), message: i.message }));
}

/**
 * A request the server refuses before any route sees it (e.g. a body nested too deeply): thrown
 * from a body parser, answered as its problem by the error handlers.
 */
export class RequestProblemError extends Error {
  readonly statusCode: number;
  readonly code: string;

  constructor(readonly problem: ApiProblem) {
    super(problem.detail ?? problem.title);
    this.name = 'RequestProblemError';
    this.statusCode = problem.status;
    this.code = problem.code;
  }
}

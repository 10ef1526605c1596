/**
 * Mailchimp's error bodies: `application/problem+json` `{type, title, status, detail, instance}`,
 * validation errors adding `errors: [{field, message}]`.
 * https://mailchimp.com/developer/marketing/docs/errors/
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: FieldError[];
}

const DOCS = 'https://mailchimp.com/developer/marketing/docs/errors/';
export const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/** An error the emulator answers with; routes and state throw it, the error handler renders it. */
export class MailchimpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }

  body(): ProblemBody {
    return problem(this.status, this.title, this.detail, this.errors);
  }
}

export function problem(status: number, title: string, detail: string, errors?: FieldError[]): ProblemBody {
  const type = `${DOCS}#${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return { type, title, status, detail, instance: randomUUID(), ...(errors ? { errors } : {}) };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type(PROBLEM_JSON).send(body);
}

export const VALIDATION_DETAIL = "The resource submitted could not be validated. For field-specific details, see the 'errors' array.";

export const invalidResource = (detail: string, errors?: FieldError[]): MailchimpError =>
  new MailchimpError(400, 'Invalid Resource', detail, errors);

export const fieldErrors = (errors: FieldError[]): MailchimpError => invalidResource(VALIDATION_DETAIL, errors);

export const notFound = (): MailchimpError => new MailchimpError(404, 'Resource Not Found', 'The requested resource could not be found.');

export const memberExists = (email: string): MailchimpError =>
  new MailchimpError(400, 'Member Exists', `${email} is already a list member. Use PUT to insert or update list members.`);

export const complianceState = (email: string): MailchimpError =>
  new MailchimpError(
    400,
    'Member In Compliance State',
    `${email} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`,
  );

export const forgottenEmail = (email: string): MailchimpError =>
  new MailchimpError(
    400,
    'Forgotten Email Not Subscribed',
    `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
  );

export const tooManySignups = (email: string): MailchimpError =>
  invalidResource(`${email} has signed up to a lot of lists very recently; we're not allowing more signups for now`);

export const methodNotAllowed = (detail: string): MailchimpError => new MailchimpError(405, 'Method Not Allowed', detail);

export const tooManyRequests = (detail: string): MailchimpError => new MailchimpError(429, 'Too Many Requests', detail);

/** Zod issues as Mailchimp's `errors` array. */
export function zodFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
}

/** Parses a body or query with `schema`, answering Mailchimp's validation error when it does not fit. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw fieldErrors(zodFieldErrors(r.error));
  return r.data;
}

/** Every error of the API routes as problem+json (Fastify's own 4xx too: a malformed JSON body, an unknown route). */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req, reply) => {
    if (req.url.startsWith('/_emulator/')) {
      const status = typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : 400;
      return reply.code(status).send({ message: err instanceof Error ? err.message : 'side door error' });
    }
    if (err instanceof MailchimpError) return sendProblem(reply, err.body());
    if (err instanceof z.ZodError) return sendProblem(reply, fieldErrors(zodFieldErrors(err)).body());
    const statusCode = typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : 500;
    if (statusCode >= 400 && statusCode < 500) {
      const message = err instanceof Error ? err.message : 'Invalid input';
      return sendProblem(reply, problem(statusCode, 'JSON Schema Validation Failed', message));
    }
    return sendProblem(reply, problem(500, 'Internal Server Error', 'An unexpected internal error has occurred.'));
  });
  app.setNotFoundHandler((_req, reply) => sendProblem(reply, notFound().body()));
}

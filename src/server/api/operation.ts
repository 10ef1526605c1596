/**
 * One admin API operation: its route, scope, zod schemas and handler. The same table
 * registers the Fastify routes and generates the OpenAPI document, so they cannot drift.
 */
import type { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { ApiScope } from '../../config/schema.js';
import type { ApiPrincipal } from '../api-keys.js';
import type { ApiProblem } from '../problem.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface OperationInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: ApiPrincipal;
  request: FastifyRequest;
}

export interface Operation<P = unknown, Q = unknown, B = unknown, R = unknown> {
  /** OpenAPI operationId. */
  id: string;
  method: HttpMethod;
  /** OpenAPI-style path under /api/v1, e.g. `/profiles/{profileId}`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  scope: ApiScope;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Success status (200 unless given). */
  status?: 200 | 201 | 202;
  response: z.ZodType<R>;
  /** Error statuses this operation may answer besides 400, 401, 403 and 429. */
  errors?: readonly number[];
  /**
   * The same resource in other media types, served by routes of their own at the path plus a
   * suffix (e.g. an export's `.csv` and `.html`); the OpenAPI document lists each as a GET.
   */
  renditions?: readonly Rendition[];
  handle(input: OperationInput<P, Q, B>): Promise<R | ApiProblem>;
}

/** Another media type of an operation's resource, at `<path><suffix>` (see `Operation.renditions`). */
export interface Rendition {
  /** OpenAPI operationId. */
  id: string;
  suffix: string;
  mediaType: string;
  summary: string;
}

/** Fixes an operation's types from its schemas. */
export function defineOperation<P, Q, B, R>(op: Operation<P, Q, B, R>): Operation<P, Q, B, R> {
  return op;
}

/** `/profiles/{profileId}` -> `/profiles/:profileId` for Fastify. */
export function fastifyPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

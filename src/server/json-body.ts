/**
 * JSON request bodies, for every route that takes one: the nesting depth is checked on the
 * raw text before anything parses it, so a deeply nested body (thousands of `{` or `[`) is
 * refused with a 400 problem (`body_too_deep`) instead of overflowing the stack of a recursive
 * schema (the profile's `Json`) with a 500. Then Fastify's own JSON parser runs, with its
 * prototype-poisoning protection.
 */
import type { FastifyInstance } from 'fastify';
import { ApiProblem, RequestProblemError } from './problem.js';

/**
 * The deepest nesting of objects and arrays a JSON body may have; the body itself is level 1.
 * @defaultValue 32
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x7b, 0x5b]); // { [
const CLOSERS = new Set([0x7d, 0x5d]); // } ]

/** True when the JSON text nests objects and arrays deeper than `max` (brackets in strings do not count). */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (OPENERS.has(c)) {
      if (++depth > max) return true;
    } else if (CLOSERS.has(c)) depth--;
  }
  return false;
}

export function bodyTooDeep(max: number): ApiProblem {
  return new ApiProblem(400, 'body_too_deep', 'Request body nested too deeply', `JSON bodies may nest at most ${max} levels`);
}

/**
 * Replaces the app's `application/json` parser with one that checks the depth first. Register
 * it on the root instance before any route, so every scope inherits it.
 */
export function registerJsonBodyParser(app: FastifyInstance, options: { bodyLimit: number; maxDepth?: number }): void {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: options.bodyLimit }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonNestsDeeperThan(text, maxDepth)) {
      done(new RequestProblemError(bodyTooDeep(maxDepth)), undefined);
      return;
    }
    void parseJson(request, text, done);
  });
}

/**
 * The hub's one way to log: `createLogger({ level, component })` on pino. Every logger made
 * here censors secrets, tokens and personal data at the paths in `REDACT_PATHS` and writes
 * errors through one `err` serializer, so a log line never carries an e-mail address, a phone
 * number, an authorization header, a cookie, a token or a secret that a call site passed by
 * mistake. Children (`logger.child({...})`) keep both.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/** What a censored value becomes in the log line. */
export const REDACTED = '[redacted]';

/** Keys whose value is a secret, a token or personal data, wherever they appear (top level or one object deep). */
const SENSITIVE_KEYS = [
  'email',
  'emails',
  'phone',
  'phoneNumber',
  'mobile',
  'password',
  'passphrase',
  'secret',
  'secrets',
  'clientSecret',
  'signingSecret',
  'token',
  'tokens',
  'accessToken',
  'refreshToken',
  'sessionId',
  'apiKey',
  'authorization',
  'cookie',
  'set-cookie',
] as const;

/** One key at the top level and one object deep (`{ contact: { email } }`), in fast-redact's path syntax. */
function everywhere(key: string): string[] {
  const step = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  return [step.slice(step.startsWith('.') ? 1 : 0), `*${step}`];
}

/**
 * The paths pino censors (fast-redact syntax), with `extraKeys` (a connector's signature
 * headers, from its definition's `sensitiveKeys`) censored like the hub's own.
 */
export function redactPaths(extraKeys: readonly string[] = []): string[] {
  return [...new Set([...REDACT_PATHS, ...extraKeys.flatMap(everywhere)])];
}

/** The paths pino censors whatever the connectors (fast-redact syntax). Exported for the tests and for a reader of the docs. */
export const REDACT_PATHS: readonly string[] = [
  ...SENSITIVE_KEYS.flatMap(everywhere),
  // Headers of requests and responses, however a call site nests them.
  ...['req', 'request', 'res', 'response', 'config'].flatMap((outer) =>
    ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'].map((h) => `${outer}.headers["${h}"]`),
  ),
  // Identities of a profile: `{ kind, value }`, the value is an e-mail address or a phone number.
  'identities[*].value',
  '*.identities[*].value',
];

/**
 * Replaces e-mail addresses and international phone numbers (`+` and 7 to 15 digits, as the hub
 * keeps them) in free text that may reach logs, audit rows or the dead-letter view: error
 * messages quote what a system refused (`INVALID_EMAIL_ADDRESS: (ada@example.com)`) or the query
 * it could not run (a SOQL `Phone IN ('+15550100')`).
 */
export function redactContacts(text: string): string {
  return text.replace(/[^\s"'<>,;:[\]()]*@[^\s"'<>,;:[\]()]*/g, '<email>').replace(/\+\d[\d ]{5,17}\d/g, '<phone>');
}

/** Query parameters of a URL that hold a credential (`password`, `sslpassword`, `auth_token`, `client_secret`...). */
const SECRET_PARAM = /password|secret|token/i;

/**
 * A database or Redis URL fit to print: the password of `user:password@` and every query
 * parameter whose name holds `password`, `secret` or `token` (PostgreSQL takes
 * `?password=` and `?sslpassword=`) become `***`. An unparsable URL is returned as it is.
 */
export function redactUrlSecrets(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const params = [...parsed.searchParams.keys()].filter((k) => SECRET_PARAM.test(k));
  if (parsed.password === '' && params.length === 0) return url;
  if (parsed.password !== '') parsed.password = '***';
  for (const k of params) parsed.searchParams.set(k, '***');
  return parsed.toString();
}

/** What an error becomes in a log line: kind, stable code, message (e-mail addresses removed), status, cause; never its other properties (an HTTP client's error carries the request's headers). */
export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err, message: redactContacts(String(err)) };
  const e = err as Error & { code?: unknown; status?: unknown; statusCode?: unknown; cause?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  return {
    type: e.name,
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: e.code } : {}),
    message: redactContacts(e.message),
    ...(status === undefined ? {} : { status }),
    ...(e.stack === undefined ? {} : { stack: redactContacts(e.stack) }),
    ...(e.cause !== undefined && depth < 3 ? { cause: serializeError(e.cause, depth + 1) } : {}),
  };
}

/** A request being served, while it is: lines written inside it carry its id. */
interface RequestScope {
  readonly reqId: string;
  open: boolean;
}

const requestScopes = new AsyncLocalStorage<RequestScope>();

/** The request a piece of work serves (`requestLogScope`), for the lines it writes. */
export interface RequestLogScope {
  /** Runs `fn`, and what it starts, inside the request: every line a logger of ours writes meanwhile carries the request's id. */
  run<T>(fn: () => T): T;
  /** The request is answered: what it started and outlives it (a timer, a connection) writes lines without its id. */
  close(): void;
}

/**
 * Gives the lines written while a request is served its id (`reqId`), whichever logger writes
 * them: the engine's, the privacy service's and a connector's as well as the request's own (the
 * HTTP server opens one per request, `src/server/build.ts`).
 */
export function requestLogScope(reqId: string): RequestLogScope {
  const scope: RequestScope = { reqId, open: true };
  return {
    run: (fn) => requestScopes.run(scope, fn),
    close: () => {
      scope.open = false;
    },
  };
}

/** The id of the request being served (`requestLogScope`) while it is open, else undefined. */
export function currentRequestId(): string | undefined {
  const scope = requestScopes.getStore();
  return scope?.open === true ? scope.reqId : undefined;
}

/** `reqId` of the request being served, unless the logger binds one itself (fastify's request logger). */
function requestIdMixin(_line: object, _level: number, logger: Logger): object {
  const scope = requestScopes.getStore();
  if (scope === undefined || !scope.open) return {};
  const bound = (logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  return typeof bound === 'string' && bound.includes('"reqId":') ? {} : { reqId: scope.reqId };
}

export interface LoggerOptions {
  /** A pino level name, or `silent`. @defaultValue `LOG_LEVEL` from the environment, else `info` */
  level?: string;
  /** The part of the hub that logs (`http`, `store`, `privacy`...), bound to every line. */
  component?: string;
  /** Where lines go. @defaultValue standard output */
  destination?: DestinationStream;
  /**
   * Further keys whose values are secrets, censored wherever they appear like the hub's own (the
   * connectors' `sensitiveKeys`: their signature headers; the composition root passes them).
   * @defaultValue none
   */
  sensitiveKeys?: readonly string[];
}

/** A logger with the hub's redaction and error serializer; inside a request (`requestLogScope`) its lines carry the request's id. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
      redact: { paths: redactPaths(options.sensitiveKeys), censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
      mixin: requestIdMixin,
    },
    options.destination,
  );
  return options.component === undefined ? logger : logger.child({ component: options.component });
}

/** A logger that writes nothing (defaults of libraries and tests that do not care). */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}

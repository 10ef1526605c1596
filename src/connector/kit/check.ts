/**
 * Helpers for `ConnectorInstance.check` (`concord check`, `POST /api/v1/connectors/{id}/check`):
 * one line per check, each failure naming the config key to fix and what to do. A call that fails
 * is turned into a ✘ line by what went wrong (refused credentials, unreachable system, rate
 * limited, rejected), never thrown: one failed check must not hide the others.
 */
import type { ConnectionCheck } from '../define.js';
import { AuthError, BlockedTargetError, ConnectorError, RateLimitedError, RejectedError } from '../errors.js';

/** Where a failure points: the config keys of the credentials and of the address, and what to do about each. */
export interface CheckContext {
  /** The system's name as an operator knows it, e.g. `HubSpot`. */
  system: string;
  /** The config key holding the credentials (e.g. `['accessToken']`). */
  credentials: readonly (string | number)[];
  /** What to do when the credentials are refused. */
  credentialsFix: string;
  /** The config key holding the system's address (e.g. `['baseUrl']`). */
  address: readonly (string | number)[];
  /** What to do when a call was rejected as invalid (a 4xx other than 401/403/429); default: nothing named. */
  rejectedFix?: string;
  /** What to do when the SSRF guard refused the address (default: use a public address). */
  blockedFix?: string;
  /** The config key a rejected call points at (default: `address`). */
  rejectedPath?: readonly (string | number)[];
}

/** A ✔ line. */
export function passed(detail: string): ConnectionCheck {
  return { ok: true, detail };
}

/** A ✘ line naming the config key to fix and what to do. */
export function failedAt(path: readonly (string | number)[], detail: string, fix: string): ConnectionCheck {
  return { ok: false, detail, path, fix };
}

/** A neutral line: what the system offers no way to ask from here, and how to check it by hand. */
export function cannotCheck(detail: string): ConnectionCheck {
  return { ok: true, neutral: true, detail };
}

/** The ✘ (or, for a rate limit, ✔: the system is there and answers) line of a call that failed. */
export function checkFailure(error: unknown, what: string, ctx: CheckContext): ConnectionCheck {
  if (error instanceof AuthError) {
    return failedAt(ctx.credentials, `${ctx.system} refused the credentials (${what}: ${error.message})`, ctx.credentialsFix);
  }
  if (error instanceof RateLimitedError) return passed(`${ctx.system} is reachable and rate-limits us now (${what}: HTTP 429)`);
  if (error instanceof BlockedTargetError) {
    return failedAt(ctx.address, error.message, ctx.blockedFix ?? 'use the system’s public address');
  }
  if (error instanceof RejectedError) {
    return {
      ok: false,
      detail: `${ctx.system} rejected ${what}: ${error.message}`,
      path: ctx.rejectedPath ?? ctx.address,
      ...(ctx.rejectedFix === undefined ? {} : { fix: ctx.rejectedFix }),
    };
  }
  const reason = error instanceof Error ? error.message : String(error);
  return {
    ok: false,
    detail: `cannot reach ${ctx.system} (${what}): ${reason}`,
    path: ctx.address,
    ...(error instanceof ConnectorError
      ? { fix: `check ${ctx.address.join('.')} and that the system is up and reachable from the hub` }
      : {}),
  };
}

/** True when no line is a ✘. */
export function allPassed(lines: readonly ConnectionCheck[]): boolean {
  return lines.every((l) => l.ok);
}

/**
 * The external fields an instance writes: its compiled mapping's (`ConnectorContext.fieldTargets`),
 * else (a connector used on its own) the external fields of its default mappings.
 */
export function writtenExternals(
  fieldTargets: Readonly<Record<string, string>> | undefined,
  defaults: readonly { external?: unknown }[],
): string[] {
  if (fieldTargets !== undefined) return Object.keys(fieldTargets);
  return defaults.flatMap((e) => (typeof e.external === 'string' ? [e.external] : []));
}

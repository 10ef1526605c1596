/**
 * `concord check` for an `http` instance: read-only calls that show whether the system is
 * reachable at `baseUrl` and accepts the credentials (the list endpoint's first page, else a read
 * of an id that cannot exist). Each failure names the key to fix.
 */
import { AuthError, BlockedTargetError, ConnectorError, RateLimitedError, RejectedError } from '../../src/connector/errors.js';
import type { ConnectionCheck } from '../../src/connector/define.js';
import type { HttpApi } from './api.js';
import type { HttpConfig } from './config.js';
import { expandPath, expandQuery } from './template.js';

/** An id no system holds: its read answers 404 when the system is there and lets us in. */
const PROBE_ID = 'concord-connection-check';

function failed(error: unknown, origin: string): ConnectionCheck {
  if (error instanceof BlockedTargetError) {
    return {
      ok: false,
      detail: error.message,
      path: ['baseUrl'],
      fix: 'use the system’s public address, or set allowPrivateNetwork: true for an intranet system',
    };
  }
  if (error instanceof AuthError) {
    return {
      ok: false,
      detail: `${origin} refused the credentials (${error.message})`,
      path: ['auth'],
      fix: 'check the token, key or client credentials in the environment',
    };
  }
  if (error instanceof RateLimitedError) return { ok: true, detail: `${origin} is reachable and rate-limits us now (HTTP 429)` };
  if (error instanceof RejectedError) {
    return {
      ok: false,
      detail: `${origin} answered ${error.message}`,
      path: ['read'],
      fix: 'check the endpoint paths and query parameters',
    };
  }
  const reason = error instanceof Error ? error.message : String(error);
  return {
    ok: false,
    detail: `cannot reach ${origin}: ${reason}`,
    path: ['baseUrl'],
    fix: error instanceof ConnectorError ? 'check baseUrl and that the system is up and reachable from the hub' : undefined,
  };
}

export async function checkConnection(api: HttpApi, config: HttpConfig, signal: AbortSignal): Promise<ConnectionCheck[]> {
  const origin = new URL(config.baseUrl).origin;
  const { list, get } = config.read;
  try {
    if (list !== undefined) {
      const answer = await api.call({ method: 'GET', path: expandPath(list.path, {}), query: expandQuery(list.query, {}) }, signal);
      return [{ ok: true, detail: `${origin} answered the list endpoint (HTTP ${answer.status}) with the credentials` }];
    }
    if (get !== undefined) {
      const vars = { id: PROBE_ID };
      const answer = await api.call(
        { method: 'GET', path: expandPath(get.path, vars), query: expandQuery(get.query, vars), accept: [404, 410] },
        signal,
      );
      return [{ ok: true, detail: `${origin} answered a read (HTTP ${answer.status}) with the credentials` }];
    }
    return [{ ok: true, detail: 'no read endpoint declared: nothing to check without writing' }];
  } catch (error) {
    return [failed(error, origin)];
  }
}

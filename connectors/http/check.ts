/**
 * `concord check` for an `http` instance: read-only calls that show whether the system is
 * reachable at `baseUrl` and accepts the credentials (the list endpoint's first page, else a read
 * of an id that cannot exist). Each failure names the key to fix.
 */
import { cannotCheck, checkFailure, passed, type CheckContext } from '../../src/connector/kit/index.js';
import type { ConnectionCheck } from '../../src/connector/define.js';
import type { HttpApi } from './api.js';
import type { HttpConfig } from './config.js';
import { expandPath, expandQuery } from './template.js';

/** An id no system holds: its read answers 404 when the system is there and lets us in. */
const PROBE_ID = 'concord-connection-check';

/** The list endpoint's first page, else a read of an id no system holds. */
async function reachSystem(api: HttpApi, config: HttpConfig, signal: AbortSignal): Promise<ConnectionCheck[]> {
  const origin = new URL(config.baseUrl).origin;
  const ctx: CheckContext = {
    system: origin,
    credentials: ['auth'],
    credentialsFix: 'check the token, key or client credentials in the environment',
    address: ['baseUrl'],
    blockedFix: 'use the system’s public address, or set allowPrivateNetwork: true for an intranet system',
    rejectedPath: ['read'],
    rejectedFix: 'check the endpoint paths and query parameters',
  };
  const { list, get } = config.read;
  try {
    if (list !== undefined) {
      const answer = await api.call({ method: 'GET', path: expandPath(list.path, {}), query: expandQuery(list.query, {}) }, signal);
      return [passed(`${origin} answered the list endpoint (HTTP ${answer.status}) with the credentials`)];
    }
    if (get !== undefined) {
      const vars = { id: PROBE_ID };
      const answer = await api.call(
        { method: 'GET', path: expandPath(get.path, vars), query: expandQuery(get.query, vars), accept: [404, 410] },
        signal,
      );
      return [passed(`${origin} answered a read (HTTP ${answer.status}) with the credentials`)];
    }
    return [cannotCheck('no read endpoint declared: the credentials cannot be checked without writing')];
  } catch (error) {
    return [checkFailure(error, list !== undefined ? 'the list endpoint' : 'a read', ctx)];
  }
}

export async function checkConnection(api: HttpApi, config: HttpConfig, signal: AbortSignal): Promise<ConnectionCheck[]> {
  const lines = await reachSystem(api, config, signal);
  // A generic system offers no way to ask where it sends its webhooks.
  if (config.webhooks !== undefined) {
    lines.push(cannotCheck('where the system sends its webhooks cannot be checked from here: it must call the hub’s /webhooks/<id>'));
  }
  return lines;
}

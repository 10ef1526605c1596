/**
 * `concord check` for a Segment instance, with calls that change nothing: the Tracking API takes
 * the write key (an empty batch: no event is sent), the Profile API its token, the Public API its
 * token (the first regulation of the list). Where the Webhooks (Actions) destination sends cannot be
 * asked from here: a neutral line.
 */
import axios from 'axios';
import { cannotCheck, checkFailure, passed, type CheckContext } from '../../src/connector/kit/index.js';
import type { ConnectionCheck } from '../../src/connector/define.js';
import { classifyHttpError, classifyHttpStatus } from '../../src/connector/errors.js';
import type { SegmentApi } from './api.js';
import { segmentHosts, type SegmentConfig } from './config.js';

const TIMEOUT_MS = 30_000;

/**
 * An empty batch with the write key: Segment authenticates it and stores nothing.
 * https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#batch
 */
async function probeTracking(config: SegmentConfig, signal: AbortSignal): Promise<void> {
  let status: number;
  let data: unknown;
  try {
    const answer = await axios.post(
      `${segmentHosts(config).events}/v1/batch`,
      { batch: [] },
      { auth: { username: config.writeKey, password: '' }, timeout: TIMEOUT_MS, signal, validateStatus: () => true },
    );
    status = answer.status;
    data = answer.data;
  } catch (error) {
    throw classifyHttpError(error);
  }
  const refused = classifyHttpStatus(status, { body: data });
  if (refused) throw refused;
}

export async function checkSegment(api: SegmentApi, config: SegmentConfig, signal: AbortSignal): Promise<ConnectionCheck[]> {
  const base: Omit<CheckContext, 'credentials' | 'credentialsFix'> = { system: 'Segment', address: ['baseUrl'] };
  const lines: ConnectionCheck[] = [];
  const steps: [string, CheckContext, () => Promise<void>, string][] = [
    [
      'the Tracking API (an empty batch)',
      {
        ...base,
        credentials: ['writeKey'],
        credentialsFix: 'set writeKey to the source’s write key (Connections › Sources › the source › Settings › API Keys)',
      },
      () => probeTracking(config, signal),
      'the Tracking API accepts the write key (an empty batch: nothing sent)',
    ],
  ];
  if (api.hasProfiles) {
    steps.push([
      'the Profile API',
      {
        ...base,
        credentials: ['profileToken'],
        credentialsFix:
          'set profileToken to an access token of the space (Unify › the space › Settings › API access), and spaceId to that space',
      },
      () => api.probeProfiles(signal),
      `the Profile API of space ${config.spaceId ?? ''} accepts the token`,
    ]);
  }
  if (api.hasPublicApi) {
    steps.push([
      'the Public API (regulations)',
      {
        ...base,
        credentials: ['publicApiToken'],
        credentialsFix:
          'set publicApiToken to a Public API token with the Workspace Owner role (Settings › Workspace settings › Access management › Tokens)',
      },
      () => api.probePublicApi(signal),
      'the Public API accepts the token and lists regulations',
    ]);
  }
  for (const [what, ctx, call, ok] of steps) {
    try {
      await call();
      lines.push(passed(ok));
    } catch (error) {
      lines.push(checkFailure(error, what, ctx));
    }
  }
  if (!api.hasProfiles)
    lines.push(cannotCheck('the Profile API is not configured (spaceId, profileToken): no pulls, read-backs or exports'));
  if (!api.hasPublicApi) lines.push(cannotCheck('the Public API is not configured (publicApiToken): erasures cannot be requested'));
  if (config.webhookSecret !== undefined) {
    lines.push(
      cannotCheck(
        'the Webhooks (Actions) destination cannot be checked from here: in Segment, its mapping must POST to the hub’s /webhooks/<id> with the shared secret',
      ),
    );
  }
  return lines;
}

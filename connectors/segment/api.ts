/**
 * The Segment calls other than tracking (which go through `@segment/analytics-node`, push.ts):
 * Unify's Profile API and the Public API's regulations, with axios.
 *
 * - Profile API: Basic auth with the access token as user and an empty password, at most
 *   `profileRequestsPerSecond` (Segment: 100 per space) paced here; a 429 answers with
 *   `{error:{code:'rate_limit_error', message}}`. https://segment.com/docs/unify/profile-api/
 * - Public API: Bearer token, media type `application/vnd.segment.v1+json`; creating
 *   regulations is limited to 600 a minute, reported in `X-RateLimit-Remaining` and
 *   `X-RateLimit-Reset`. https://docs.segmentapis.com/tag/Deletion-and-Suppression
 *
 * A 429 blocks the API for its `Retry-After` and surfaces as `RateLimitedError`, so the engine
 * parks; an idempotent read is tried again after a 5xx or a network failure, twice.
 */
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { ConnectorContext } from '../../src/connector/define.js';
import { classifyHttpError, classifyHttpStatus, headerValue, RateLimitedError, TransientError } from '../../src/connector/errors.js';
import { Pacer, redactContacts, sleep } from '../../src/connector/kit/index.js';
import { segmentHosts, type SegmentConfig } from './config.js';

const TIMEOUT_MS = 30_000;
/** Retries of a read after a 5xx or a network failure. */
const RETRIES = 2;
/** The longest wait for a pacing slot slept inside a call before it is left to the engine. */
const MAX_INLINE_WAIT_MS = 5_000;
/** Segment's limit on creating regulations, per minute. */
export const REGULATIONS_PER_MINUTE = 600;
/** Subjects one regulation may name. */
export const MAX_SUBJECTS_PER_REGULATION = 5_000;
const PUBLIC_API_MEDIA_TYPE = 'application/vnd.segment.v1+json';
/** Added to each pacing wait, for the time between sending a request and Segment counting it. */
const PACING_MARGIN_MS = 25;

/** A regulation's overall status (Public API). */
export type RegulationStatus = 'INITIALIZED' | 'RUNNING' | 'FINISHED' | 'PARTIAL_SUCCESS' | 'FAILED' | 'INVALID' | 'NOT_SUPPORTED';

export interface Regulation {
  id: string;
  overallStatus: RegulationStatus | string;
  createdAt?: string;
  finishedAt?: string | null;
}

/** One external id of a profile (Profile API `/external_ids`). */
export interface ExternalId {
  id: string;
  type: string;
  created_at?: string;
}

/** A trait as a verbose read gives it: its value and when it was last set. */
export interface Trait {
  value: unknown;
  updatedAt?: string;
}

/** A verbose trait (`{value, source_id, updated_at}`); a plain value when the answer is not verbose. */
function toTrait(verbose: unknown): Trait {
  if (verbose !== null && typeof verbose === 'object' && !Array.isArray(verbose) && 'value' in verbose) {
    const v = verbose as { value: unknown; updated_at?: unknown };
    return {
      value: v.value,
      ...(typeof v.updated_at === 'string' && !Number.isNaN(Date.parse(v.updated_at))
        ? { updatedAt: new Date(v.updated_at).toISOString() }
        : {}),
    };
  }
  return { value: verbose };
}

/** A profile's identifier in a Profile API path: `user_id:<id>` or `email:<address>`, `+` written %2B. */
export function profileIdentifier(kind: string, value: string): string {
  return `${kind}:${encodeURIComponent(value)}`;
}

/** The message and code of a Segment error body, either API's shape, with e-mail addresses removed. */
function errorBody(data: unknown): { message?: string; code?: string } {
  if (data === null || typeof data !== 'object') return {};
  const d = data as { error?: { code?: unknown; message?: unknown }; errors?: { type?: unknown; message?: unknown }[] };
  const first = d.error ?? d.errors?.[0];
  if (!first) return {};
  const code = 'code' in first ? first.code : 'type' in first ? first.type : undefined;
  return {
    ...(typeof first.message === 'string' ? { message: redactContacts(first.message).slice(0, 200) } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/** The wait a Public API 429 names in its body (`data.msBeforeNext`). */
function msBeforeNext(data: unknown): number | undefined {
  const errors = (data as { errors?: { data?: { msBeforeNext?: unknown } }[] } | null)?.errors;
  const ms = errors?.[0]?.data?.msBeforeNext;
  return typeof ms === 'number' && ms >= 0 ? ms : undefined;
}

export class SegmentApi {
  private readonly profiles: AxiosInstance | undefined;
  private readonly publicApi: AxiosInstance | undefined;
  private readonly profilePacer: Pacer;
  private readonly regulationPacer: Pacer;
  private readonly regulationReadPacer: Pacer;
  private readonly spacePath: string | undefined;

  constructor(
    private readonly config: SegmentConfig,
    private readonly ctx: Pick<ConnectorContext<SegmentConfig>, 'reportBudget'>,
    private readonly now: () => number,
  ) {
    const hosts = segmentHosts(config);
    if (config.spaceId !== undefined && config.profileToken !== undefined) {
      this.profiles = axios.create({
        baseURL: hosts.profiles,
        timeout: TIMEOUT_MS,
        auth: { username: config.profileToken, password: '' },
        validateStatus: () => true,
      });
      this.spacePath = `/v1/spaces/${encodeURIComponent(config.spaceId)}/collections/users/profiles`;
    }
    if (config.publicApiToken !== undefined) {
      this.publicApi = axios.create({
        baseURL: hosts.publicApi,
        timeout: TIMEOUT_MS,
        headers: { authorization: `Bearer ${config.publicApiToken}`, accept: PUBLIC_API_MEDIA_TYPE, 'content-type': PUBLIC_API_MEDIA_TYPE },
        validateStatus: () => true,
      });
    }
    // Segment counts a request when it arrives, this process when it sends it: a margin, and each
    // slot held until the answer (`answered`), keep the two windows apart (the bench saw 101 a second
    // arrive without them, and a 429 about once a second of pulling).
    this.profilePacer = new Pacer({
      max: config.profileRequestsPerSecond,
      windowMs: 1_000,
      now,
      marginMs: PACING_MARGIN_MS,
      maxWaitMs: MAX_INLINE_WAIT_MS,
      policy: 'profile_api_per_second',
    });
    this.regulationPacer = new Pacer({
      max: REGULATIONS_PER_MINUTE,
      windowMs: 60_000,
      now,
      marginMs: PACING_MARGIN_MS,
      maxWaitMs: MAX_INLINE_WAIT_MS,
      policy: 'regulations_per_minute',
    });
    // Status reads count apart from creations; Segment publishes no figure for them, so this only
    // keeps their 429s from holding up creations (and paces them like creations).
    this.regulationReadPacer = new Pacer({
      max: REGULATIONS_PER_MINUTE,
      windowMs: 60_000,
      now,
      marginMs: PACING_MARGIN_MS,
      maxWaitMs: MAX_INLINE_WAIT_MS,
      policy: 'regulation_reads_per_minute',
    });
  }

  /** Whether the Profile API is configured (pulls, read-backs, exports). */
  get hasProfiles(): boolean {
    return this.profiles !== undefined;
  }

  /** Whether the Public API is configured (erasure). */
  get hasPublicApi(): boolean {
    return this.publicApi !== undefined;
  }

  /**
   * A profile's traits (all pages), each with the time it was last set (`verbose=true`), or
   * undefined when Segment holds no such profile. `include` names the traits to read (all when empty).
   * https://segment.com/docs/unify/profile-api/#get-profile-traits
   */
  async traits(identifier: string, include: readonly string[], signal: AbortSignal): Promise<Record<string, Trait> | undefined> {
    const traits: Record<string, Trait> = {};
    let next: string | undefined;
    do {
      const params: Record<string, string | number> = {
        limit: 200,
        verbose: 'true',
        ...(include.length > 0 ? { include: include.join(',') } : {}),
      };
      if (next !== undefined) params['next'] = next;
      const response = await this.profileGet(`${identifier}/traits`, params, signal);
      if (response === undefined) return undefined;
      const body = response.data as { traits?: Record<string, unknown>; cursor?: { has_more?: boolean; next?: string } };
      for (const [name, verbose] of Object.entries(body.traits ?? {})) traits[name] = toTrait(verbose);
      next =
        body.cursor?.has_more === true && typeof body.cursor.next === 'string' && body.cursor.next !== '' ? body.cursor.next : undefined;
    } while (next !== undefined);
    return traits;
  }

  /**
   * A profile's external ids (user_id, email, anonymous_id, ...), or undefined when Segment holds no such profile.
   * https://segment.com/docs/unify/profile-api/#get-profile-external-ids
   */
  async externalIds(identifier: string, signal: AbortSignal): Promise<ExternalId[] | undefined> {
    const ids: ExternalId[] = [];
    let next: string | undefined;
    do {
      const params: Record<string, string | number> = { limit: 100 };
      if (next !== undefined) params['next'] = next;
      const response = await this.profileGet(`${identifier}/external_ids`, params, signal);
      if (response === undefined) return undefined;
      const body = response.data as { data?: ExternalId[]; cursor?: { has_more?: boolean; next?: string } };
      ids.push(...(body.data ?? []).filter((e) => typeof e.id === 'string' && typeof e.type === 'string'));
      next =
        body.cursor?.has_more === true && typeof body.cursor.next === 'string' && body.cursor.next !== '' ? body.cursor.next : undefined;
    } while (next !== undefined);
    return ids;
  }

  /**
   * Creates one regulation for these user ids (at most 5,000).
   * https://docs.segmentapis.com/tag/Deletion-and-Suppression#operation/createWorkspaceRegulation
   */
  async createRegulation(userIds: readonly string[], signal: AbortSignal): Promise<string> {
    const api = this.requirePublicApi();
    const path =
      this.config.regulationSourceId === undefined
        ? '/regulations'
        : `/regulations/sources/${encodeURIComponent(this.config.regulationSourceId)}`;
    const takenAt = await this.regulationPacer.take(signal);
    let response: AxiosResponse;
    try {
      response = await api.post(
        path,
        { regulationType: this.config.regulationType, subjectType: 'USER_ID', subjectIds: userIds },
        { signal },
      );
    } catch (err) {
      throw classifyHttpError(err);
    }
    this.regulationPacer.answered(takenAt, this.now());
    this.observeRegulationBudget(response, takenAt);
    this.throwUnlessOk(response, this.regulationPacer);
    const id = (response.data as { data?: { regulateId?: unknown } } | null)?.data?.regulateId;
    if (typeof id !== 'string' || id === '') throw new TransientError('the regulation was created without a regulateId in the answer');
    return id;
  }

  /**
   * A regulation's status, or undefined when the workspace has no such regulation.
   * https://docs.segmentapis.com/tag/Deletion-and-Suppression#operation/getRegulation
   */
  async regulation(id: string, signal: AbortSignal): Promise<Regulation | undefined> {
    const api = this.requirePublicApi();
    const response = await this.withRetries(async () => {
      const takenAt = await this.regulationReadPacer.take(signal);
      const answer = await api.get(`/regulations/${encodeURIComponent(id)}`, { signal });
      this.regulationReadPacer.answered(takenAt, this.now());
      return answer;
    }, signal);
    if (response.status === 404) return undefined;
    this.throwUnlessOk(response, this.regulationReadPacer);
    const regulation = (response.data as { data?: { regulation?: Regulation } } | null)?.data?.regulation;
    if (!regulation || typeof regulation.overallStatus !== 'string') throw new TransientError('the regulation answer has no overallStatus');
    return regulation;
  }

  /**
   * For `check`: the Profile API accepts the token (a profile no one has answers 404, which is
   * fine); throws the refusal as a connector error.
   */
  async probeProfiles(signal: AbortSignal): Promise<void> {
    await this.profileGet(`${profileIdentifier('user_id', 'concord-connection-check')}/traits`, { limit: 1 }, signal);
  }

  /**
   * For `check`: the Public API accepts the token (the first regulation of the list is read);
   * throws the refusal as a connector error.
   * https://docs.segmentapis.com/tag/Deletion-and-Suppression#operation/listWorkspaceRegulations
   */
  async probePublicApi(signal: AbortSignal): Promise<void> {
    const api = this.requirePublicApi();
    const response = await this.withRetries(async () => {
      const takenAt = await this.regulationReadPacer.take(signal);
      const answer = await api.get('/regulations', { params: { 'pagination.count': 1 }, signal });
      this.regulationReadPacer.answered(takenAt, this.now());
      return answer;
    }, signal);
    this.throwUnlessOk(response, this.regulationReadPacer);
  }

  private async profileGet(path: string, params: Record<string, string | number>, signal: AbortSignal): Promise<AxiosResponse | undefined> {
    const api = this.profiles;
    if (api === undefined || this.spacePath === undefined) throw new Error('the Profile API is not configured');
    const response = await this.withRetries(async () => {
      const takenAt = await this.profilePacer.take(signal);
      const answer = await api.get(`${this.spacePath}/${path}`, { params, signal });
      this.profilePacer.answered(takenAt, this.now());
      return answer;
    }, signal);
    if (response.status === 404) return undefined;
    this.throwUnlessOk(response, this.profilePacer);
    return response;
  }

  /** A read, tried again after a 5xx or a network failure (not after a 429, which the engine parks). */
  private async withRetries(call: () => Promise<AxiosResponse>, signal: AbortSignal): Promise<AxiosResponse> {
    for (let attempt = 0; ; attempt++) {
      let response: AxiosResponse | undefined;
      let failure: unknown;
      try {
        response = await call();
      } catch (err) {
        if (err instanceof RateLimitedError) throw err;
        failure = classifyHttpError(err);
      }
      if (response !== undefined && response.status < 500) return response;
      if (attempt >= RETRIES) {
        if (response !== undefined) return response;
        throw failure;
      }
      await sleep(200 * 2 ** attempt, signal);
    }
  }

  /** Forgets a 429's block (an operator lifted the park). */
  unpark(): void {
    this.profilePacer.unblock();
    this.regulationPacer.unblock();
    this.regulationReadPacer.unblock();
  }

  private throwUnlessOk(response: AxiosResponse, pacer: Pacer): void {
    if (response.status < 400) return;
    const body = errorBody(response.data);
    const retryAfter = response.status === 429 ? msBeforeNext(response.data) : undefined;
    const headers =
      retryAfter !== undefined && headerValue(response.headers, 'retry-after') === undefined
        ? { 'retry-after': String(Math.ceil(retryAfter / 1000)) }
        : response.headers;
    const err = classifyHttpStatus(response.status, { headers, body: { message: body.message, code: body.code }, now: this.now() });
    if (err instanceof RateLimitedError) pacer.block(err.retryAfterMs);
    if (err) throw err;
  }

  private observeRegulationBudget(response: AxiosResponse, takenAt: number): void {
    const remaining = Number(headerValue(response.headers, 'x-ratelimit-remaining'));
    if (!Number.isFinite(remaining)) return;
    this.regulationPacer.observeRemaining(Math.max(0, remaining), takenAt);
    // An RFC 5322 date (https://docs.segmentapis.com/tag/Rate-Limits).
    const reset = Date.parse(headerValue(response.headers, 'x-ratelimit-reset') ?? '');
    this.ctx.reportBudget?.({
      remaining,
      max: REGULATIONS_PER_MINUTE,
      window: 'regulations_per_minute',
      ...(Number.isNaN(reset) ? {} : { resetAt: new Date(reset).toISOString() }),
    });
  }

  private requirePublicApi(): AxiosInstance {
    if (this.publicApi === undefined) throw new Error('the Public API is not configured');
    return this.publicApi;
  }
}

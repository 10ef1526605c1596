/**
 * The BullMQ options of every kind of job the hub adds, sync and privacy alike, in one place:
 * how often a job is tried, its backoff, and how long finished and failed jobs are kept.
 * Callers add only what names one job (`jobId`, `delay`).
 */
import type { JobsOptions } from 'bullmq';
import { BACKOFF_TYPE } from './backoff.js';

const DAY_S = 24 * 3600;
const WEEK_S = 7 * DAY_S;

/** Failed jobs kept for a week (at most 1000): the operator sees what failed and why. */
const keptFailed = (): JobsOptions['removeOnFail'] => ({ age: WEEK_S, count: 1000 });

/** The engine's retried jobs back off with jitter (queue/backoff.ts). */
const engineBackoff = (): JobsOptions['backoff'] => ({ type: BACKOFF_TYPE });

export const jobOptions = {
  /** `ingest` queue: records and changed-record jobs. Completed jobs stay `keepIngestedForSec` (their ids dedupe redeliveries). */
  ingest: (attempts: number, keepIngestedForSec: number): JobsOptions => ({
    attempts,
    backoff: engineBackoff(),
    removeOnComplete: { age: keepIngestedForSec, count: 10_000 },
    removeOnFail: { age: WEEK_S, count: 10_000 },
  }),

  /**
   * `read.<connector>` queue: the batch read of one window's changed records. Removed once done,
   * so a window's id can be used again; the ids it read stay in Redis until they are ingested.
   */
  read: (attempts: number): JobsOptions => ({
    attempts,
    backoff: engineBackoff(),
    removeOnComplete: true,
    removeOnFail: keptFailed(),
  }),

  /** `push.<connector>` queue: a flush of the connector's dirty profiles. */
  flush: (attempts: number): JobsOptions => ({
    attempts,
    backoff: engineBackoff(),
    removeOnComplete: true,
    removeOnFail: keptFailed(),
  }),

  /** `relay` queue: the debounced outbox relay. */
  relay: (): JobsOptions => ({
    attempts: 10,
    backoff: engineBackoff(),
    removeOnComplete: true,
    removeOnFail: { age: DAY_S, count: 100 },
  }),

  /** `pull.<connector>` queue: a scheduled pull. */
  pull: (): JobsOptions => ({
    attempts: 5,
    backoff: engineBackoff(),
    removeOnComplete: true,
    removeOnFail: { count: 100 },
  }),

  /** `pull.<connector>` queue: an operator's pull (`pullNow`), kept an hour after it ends so its outcome can be read. */
  pullNow: (): JobsOptions => ({
    attempts: 5,
    backoff: engineBackoff(),
    removeOnComplete: { age: 3_600, count: 100 },
    removeOnFail: { age: 3_600, count: 100 },
  }),

  /** Periodic sweeps (the relay's and the privacy requests'): tried once, the next one comes anyway. */
  sweep: (): JobsOptions => ({
    removeOnComplete: true,
    removeOnFail: { count: 100 },
  }),

  /** `dsr-erase.<connector>` queue: a run of the connector's erase queue (items retry themselves). */
  erase: (): JobsOptions => ({
    removeOnComplete: true,
    removeOnFail: keptFailed(),
    attempts: 1,
  }),

  /** DSR requests queue: a job tried `attempts` times with the privacy module's exponential backoff. */
  dsrRetried: (attempts: number, backoffBaseMs: number): JobsOptions => ({
    attempts,
    backoff: { type: 'exponential', delay: backoffBaseMs },
    removeOnComplete: true,
    removeOnFail: keptFailed(),
  }),

  /** DSR requests queue: the next check of a tracked request. */
  track: (): JobsOptions => ({
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: true,
    removeOnFail: keptFailed(),
  }),

  /** DSR requests queue: the sweep re-driving the tracking of a request in progress (tried once). */
  trackRedrive: (): JobsOptions => ({
    removeOnComplete: true,
    removeOnFail: { age: DAY_S, count: 100 },
  }),
};

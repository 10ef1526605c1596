/** The backfill bench's figures from its RSS samples (pure, so that they can be checked by hand). */
import type { BackfillJson } from '../results.js';

export interface RssSample {
  seconds: number;
  rssBytes: number;
  records: number;
  heapUsedBytes?: number;
}

type Figures = NonNullable<BackfillJson['figures']>;

const MB = 1024 * 1024;

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/**
 * Records stored by each sample's time, interpolated: the pull reports its progress once a page
 * (10,000 rows) is stored, so the reported count is a staircase; the records of a page are
 * spread evenly over the time it took, from the previous page's end (or the start) to its own.
 */
export function interpolated(samples: readonly RssSample[]): RssSample[] {
  const steps: { seconds: number; records: number }[] = [{ seconds: 0, records: 0 }];
  for (const s of samples) if (s.records > (steps.at(-1)?.records ?? 0)) steps.push({ seconds: s.seconds, records: s.records });
  return samples.map((s) => {
    const k = steps.findIndex((step) => step.seconds >= s.seconds);
    const to = steps[k];
    const from = steps[k - 1];
    if (!to || !from || to.seconds === from.seconds) return { ...s, records: to?.records ?? steps.at(-1)?.records ?? 0 };
    return { ...s, records: from.records + ((to.records - from.records) * (s.seconds - from.seconds)) / (to.seconds - from.seconds) };
  });
}

const orNull = (n: number | undefined): number | null => (n !== undefined && Number.isFinite(n) ? n : null);

/**
 * Peak RSS, RSS when 25/50/75/100 % of `profiles` were stored (the first sample at or past
 * each), and the slope of RSS over records stored in the second half (MB per 100,000), with the
 * records `interpolated` within a page.
 */
export function backfillFigures(
  samples: readonly RssSample[],
  end: { profiles: number; seconds: number; linked: number; finished: boolean },
): Figures {
  const spread = interpolated(samples);
  const at = (share: number): number | null =>
    orNull(spread.find((s) => s.records >= share * end.profiles)?.rssBytes ?? (share === 1 ? samples.at(-1)?.rssBytes : undefined));
  const secondHalf = spread.filter((s) => s.records >= end.profiles / 2).map((s) => ({ x: s.records, y: s.rssBytes / MB }));
  return {
    profiles: end.profiles,
    seconds: orNull(end.seconds),
    profilesPerSecond: orNull(end.linked / end.seconds),
    peakRssBytes: orNull(Math.max(...samples.map((s) => s.rssBytes))),
    rssAtBytes: [0.25, 0.5, 0.75, 1].map(at),
    slopeMbPer100k: orNull(slope(secondHalf) * 100_000),
    linked: end.linked,
    finished: end.finished,
  };
}

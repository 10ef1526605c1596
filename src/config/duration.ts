/**
 * Durations as the YAML writes them: an integer and a unit, e.g. `500ms`, `30s`, `5m`, `1h`, `7d`.
 */
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** Parses `5m` into milliseconds; `undefined` when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  if (amount === undefined || unit === undefined) return undefined;
  const ms = Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A duration string in the YAML; parses to a number of milliseconds. */
export const Duration = z
  .string()
  .regex(DURATION_PATTERN, 'expected a duration such as 500ms, 30s, 5m, 1h or 7d')
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'duration is too large' });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: 'A duration: an integer and a unit (ms, s, m, h, d), e.g. 30s, 5m, 1h.' });

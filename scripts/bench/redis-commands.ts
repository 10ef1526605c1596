/** Redis's commands by name over a bench phase, from `INFO commandstats` before and after. */
import { z } from 'zod';

/** One Redis command's calls and server time in a phase (a script's own calls count under their names too). */
export const RedisCommandStat = z.object({ command: z.string(), calls: z.number(), usec: z.number() });
export type RedisCommandStat = z.infer<typeof RedisCommandStat>;

/** `INFO commandstats` read at one moment: each command's calls and microseconds so far. */
export type CommandCounts = Map<string, Omit<RedisCommandStat, 'command'>>;

/** `INFO commandstats` as command → calls and microseconds. */
export function parseCommandStats(info: string): CommandCounts {
  const stats: CommandCounts = new Map();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** What each command did between two readings, busiest (server time) first; commands not called are left out. */
export function commandsBetween(base: CommandCounts, now: CommandCounts): RedisCommandStat[] {
  return [...now]
    .map(([command, s]) => ({ command, calls: s.calls - (base.get(command)?.calls ?? 0), usec: s.usec - (base.get(command)?.usec ?? 0) }))
    .filter((s) => s.calls > 0)
    .sort((a, b) => b.usec - a.usec);
}

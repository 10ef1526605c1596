/**
 * The dead-letter view: profiles a connector refused for good (a rejected outcome, or retries
 * exhausted), with the reason, kept per connector until they are replayed or later delivered.
 * Replaying puts them back in the connector's dirty set, so the next push sends whatever
 * still differs from the shadow, after the cause has been fixed.
 */
import { z } from 'zod';
import type { RedisClient } from '../../queue/redis-client.js';
import type { EngineKeys } from '../../queue/keys.js';
import { LuaScript } from '../../queue/lua.js';
import { groupBy } from '../../queue/group-by.js';

export const DeadLetter = z.object({
  connector: z.string(),
  profileId: z.string(),
  /** `rejected`: the system refused the record; `exhausted`: retryable outcomes ran out. */
  kind: z.enum(['rejected', 'exhausted']),
  /** The system's reason. Connectors keep personal data out of it. */
  reason: z.string(),
  code: z.string().optional(),
  /** When it was dead-lettered (ISO instant). */
  at: z.string(),
  /** Retryable outcomes before it was dead-lettered. */
  attempts: z.number().int().nonnegative(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

/**
 * KEYS dead, attempts, dirty; ARGV now, then profile ids. Moves each id still dead to the dirty
 * set (its retry count cleared) in one step: a replay refused half way (a Cluster slot moving)
 * never leaves a letter deleted and not dirty. Returns the ids moved.
 */
const MOVE = new LuaScript(`
local moved = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HDEL', KEYS[1], id) > 0 then
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZADD', KEYS[3], 'NX', ARGV[1], id)
    moved[#moved + 1] = id
  end
end
return moved`);

export class DeadLetterView {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: EngineKeys,
    private readonly connectors: () => readonly string[],
    /** Called after a replay so the connector's push runs soon. */
    private readonly onReplay: (connector: string) => Promise<void>,
  ) {}

  /** Records dead letters (one per profile and connector; a newer one replaces an older one). */
  async add(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    // One HSET per connector: each connector's keys are on a hash tag of their own.
    await Promise.all(
      [...groupBy(letters, (l) => l.connector)].map(([connector, list]) =>
        this.redis.hset(this.keys.dead(connector), ...list.flatMap((l) => [l.profileId, JSON.stringify(l)])),
      ),
    );
  }

  /** Removes dead letters of profiles that have since been delivered. */
  async clear(connector: string, profileIds: readonly string[]): Promise<void> {
    if (profileIds.length === 0) return;
    await this.redis.hdel(this.keys.dead(connector), ...profileIds);
  }

  /** Dead letters, oldest first, of one connector or of all. */
  async list(connector?: string): Promise<DeadLetter[]> {
    const ids = connector === undefined ? this.connectors() : [connector];
    const out: DeadLetter[] = [];
    for (const id of ids) {
      const all = await this.redis.hvals(this.keys.dead(id));
      for (const raw of all) {
        const parsed = DeadLetter.safeParse(JSON.parse(raw));
        if (parsed.success) out.push(parsed.data);
      }
    }
    return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  /** Replays one dead letter; false when there was none. */
  async replay(connector: string, profileId: string): Promise<boolean> {
    const replayed = await this.move(connector, [profileId]);
    return replayed > 0;
  }

  /** Replays every dead letter of one connector (or of all); returns how many. */
  async replayAll(connector?: string): Promise<number> {
    const ids = connector === undefined ? this.connectors() : [connector];
    let total = 0;
    for (const id of ids) {
      const profileIds = await this.redis.hkeys(this.keys.dead(id));
      total += await this.move(id, profileIds);
    }
    return total;
  }

  private async move(connector: string, profileIds: readonly string[]): Promise<number> {
    if (profileIds.length === 0) return 0;
    // Only ids that were still dead are replayed.
    const moved = (await MOVE.run(
      this.redis,
      [this.keys.dead(connector), this.keys.attempts(connector), this.keys.dirty(connector)],
      [Date.now(), ...profileIds],
    )) as string[];
    if (moved.length === 0) return 0;
    await this.onReplay(connector);
    return moved.length;
  }
}

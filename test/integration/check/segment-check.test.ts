/**
 * `check` of the Segment connector against the emulator: the write key (an empty batch, nothing
 * stored), the Profile API token and the Public API token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionCheck } from '../../../src/connector/define.js';
import { silentLogger } from '../../../src/log/logger.js';
import { createSegmentInstance } from '../../../connectors/segment/connector.js';
import { SegmentConfig, type SegmentConfigInput } from '../../../connectors/segment/config.js';
import { DEFAULT_SPACE_ID, startSegmentEmulator, type RunningSegmentEmulator } from '../../../connectors/segment/emulator/index.js';

const open: RunningSegmentEmulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function check(config: Partial<SegmentConfigInput> = {}): Promise<{ lines: ConnectionCheck[]; emu: RunningSegmentEmulator }> {
  const emu = await startSegmentEmulator({
    secret: 'check-secret',
    writeKey: 'write-key',
    profileToken: 'profile-token',
    publicApiToken: 'public-token',
  });
  open.push(emu);
  const parsed = SegmentConfig.parse({
    writeKey: 'write-key',
    baseUrl: emu.url,
    spaceId: DEFAULT_SPACE_ID,
    profileToken: 'profile-token',
    publicApiToken: 'public-token',
    ...config,
  });
  const instance = createSegmentInstance({ instanceId: 'segment', config: parsed, logger: silentLogger() });
  const lines = (await instance.check?.(AbortSignal.timeout(10_000))) ?? [];
  await instance.close?.();
  return { lines, emu };
}

const failures = (lines: ConnectionCheck[]) => lines.filter((l) => !l.ok);

describe('Segment check', () => {
  it('passes with the write key and both tokens, and stores nothing', async () => {
    const { lines, emu } = await check();
    expect(lines).toEqual([
      { ok: true, detail: 'the Tracking API accepts the write key (an empty batch: nothing sent)' },
      { ok: true, detail: `the Profile API of space ${DEFAULT_SPACE_ID} accepts the token` },
      { ok: true, detail: 'the Public API accepts the token and lists regulations' },
    ]);
    expect(emu.sideDoor.events()).toEqual([]);
  });

  it('each wrong credential is a ✘ at its key with the fix', async () => {
    const { lines } = await check({ writeKey: 'wrong', profileToken: 'wrong', publicApiToken: 'wrong' });
    expect(failures(lines).map((l) => l.path)).toEqual([['writeKey'], ['profileToken'], ['publicApiToken']]);
    for (const l of failures(lines)) {
      expect(l.detail).toMatch(/^Segment refused the credentials/);
      expect(l.fix).toMatch(/^set /);
    }
  });

  it('APIs left unconfigured are neutral lines', async () => {
    const { lines } = await check({ profileToken: undefined, spaceId: undefined, publicApiToken: undefined, webhookSecret: 'shared' });
    expect(failures(lines)).toEqual([]);
    expect(lines.filter((l) => l.neutral)).toHaveLength(3);
  });
});

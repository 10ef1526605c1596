/**
 * Phase 4 of the bench (`--isolated N`): single changes, one at a time, to people not changed
 * since phase 2. Each waits until the previous one reached all three targets and then
 * `--isolated-gap-ms` more (its echoes come back and the hub goes idle), so every change meets
 * an idle hub: its webhook-to-delivered time is what one change costs without any batching
 * to share (the flush-when-idle latency).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Phase } from './delivery.js';
import { ISOLATED, ISOLATED_GAP_MS, PHASE_TIMEOUT_MS, PROFILES } from './options.js';
import type { ChangeStream } from './workload.js';

/** Offers `ISOLATED` changes one after the other (people counted down from the last one). */
export async function offerIsolated(stream: ChangeStream, phase: Phase): Promise<void> {
  for (let i = 0; i < ISOLATED; i++) {
    await sleep(ISOLATED_GAP_MS);
    const before = phase.completed;
    stream.change(PROFILES - 1 - (i % PROFILES));
    const deadline = Date.now() + PHASE_TIMEOUT_MS;
    while (phase.completed === before && Date.now() < deadline) await sleep(1);
  }
}

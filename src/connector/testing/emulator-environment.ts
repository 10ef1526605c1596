/**
 * The conformance adapter (connector test kit: tests import it, production code never does):
 * builds the conformance environment of `runConformance` from any emulator's
 * `EmulatorControls`, so a connector's conformance test only says how to start its emulator.
 *
 * ```ts
 * runConformance({
 *   definition: acme,
 *   start: async () => {
 *     const receiver = await startWebhookReceiver();
 *     const emulator = await startAcmeEmulator({ secret: SECRET, webhookUrl: receiver.url });
 *     return emulatorEnvironment({
 *       config: { baseUrl: emulator.url, webhookSecret: SECRET },
 *       controls: emulator.sideDoor,
 *       webhooks: () => receiver.received.map((r) => ({ ...r, url: receiver.url, receivedAt: new Date().toISOString() })),
 *       stop: async () => { await emulator.close(); await receiver.close(); },
 *     });
 *   },
 *   ...emulatorCapabilities,
 * });
 * ```
 */
import type { RawWebhook } from '../define.js';
import type { EmulatorControls } from '../emulator-kit/controls.js';
import type { ConformanceEnvironment, ConformanceOptions } from './conformance.js';

export interface EmulatorEnvironmentOptions<Config> {
  /** Instance config pointing at the emulator (YAML-like input). */
  config: ConformanceEnvironment<Config>['config'];
  /** The emulator's side door. */
  controls: EmulatorControls;
  /**
   * The webhook requests received so far, oldest first, as the hub would hand them to the
   * connector. Absent when the connector declares no webhooks.
   */
  webhooks?(): readonly RawWebhook[];
  /** Stops the emulator and whatever received its webhooks. */
  stop(): Promise<void>;
}

/** The options an emulator built on the kit always satisfies: it can poison a record and counts requests. */
export const emulatorCapabilities = { canPoison: true, countsRequests: true } as const satisfies Partial<
  ConformanceOptions<unknown, unknown>
>;

/** The conformance environment of an emulator, from its `EmulatorControls`. */
export function emulatorEnvironment<Config>(options: EmulatorEnvironmentOptions<Config>): ConformanceEnvironment<Config> {
  const { controls, webhooks } = options;
  let n = 0;
  return {
    config: options.config,
    rateLimitNextCall: (seconds) => controls.rateLimitNextCall(seconds),
    poison: (email) => controls.poison(email),
    requestCount: () => controls.calls().total,
    ...(webhooks
      ? {
          async captureWebhook(): Promise<RawWebhook> {
            await controls.flushWebhooks();
            const before = webhooks().length;
            controls.userChange(`webhook-${n++}@example.com`);
            await controls.flushWebhooks();
            const raw = webhooks()[before];
            if (!raw) throw new Error('the emulator sent no webhook');
            return raw;
          },
        }
      : {}),
    stop: () => options.stop(),
  };
}

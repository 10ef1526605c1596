/**
 * The emulator kit: what every `connectors/<id>/emulator/` is built on. One Fastify bootstrap
 * with the `/_emulator` side door (`startEmulatorServer`), call counting and injected rate
 * limits (`CallLedger`), one webhook delivery loop (`WebhookDeliveryLoop`) and one vocabulary
 * for the side door (`EmulatorControls`, `WebhookControls`). The conformance adapter that turns
 * `EmulatorControls` into a conformance environment is test code:
 * `src/connector/testing/emulator-environment.ts`.
 */
export { CallCounts, CallLedger, endpointOf, type EmulatorControls, type InjectedRateLimit, type WebhookControls } from './controls.js';
export { WebhookDeliveryLoop, type DeliveryAttempt, type DeliveryRequest, type WebhookDeliveryOptions } from './delivery.js';
export {
  startEmulatorServer,
  SIDE_DOOR_PREFIX,
  type EmulatorRuntime,
  type EmulatorServer,
  type EmulatorServerOptions,
  type RequestGate,
  type RequestKind,
} from './server.js';
export { EmulatorSideDoor, SideDoorError, sideDoorAction } from './side-door.js';

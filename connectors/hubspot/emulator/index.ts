/** The HubSpot emulator: start it in-process with `startHubSpotEmulator`, or run `concord emulate hubspot`. */
export { startHubSpotEmulator, type RunningHubSpotEmulator, type EmulatorRuntime } from './server.js';
export { HubSpotEmulatorOptions, type HubSpotEmulatorOptionsInput, type RateLimitOptions } from './options.js';
export { SideDoor, SideDoorError, UI_ORIGIN, type CallCounts, type ContactView } from './side-door.js';
export type { Delivery, WebhookPayloadEvent } from './webhook-sender.js';

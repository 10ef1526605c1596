/** The Salesforce emulator: start it in-process with `startSalesforceEmulator`, or run `concord emulate salesforce`. */
export { startSalesforceEmulator, callOptionsClient, type RunningSalesforceEmulator, type EmulatorRuntime } from './server.js';
export { SalesforceEmulatorOptions, type SalesforceEmulatorOptionsInput } from './options.js';
export { SideDoor, SideDoorError, type CallCounts, type ConsentStatus } from './side-door.js';
export { notificationsEnvelope, isAck, type OutboundDelivery, type QueuedNotification } from './outbound.js';
export type { ChangeEntry, StoredRecord } from './state.js';
export { parseSoql, runQuery, SoqlSyntaxError, type SoqlQuery } from './soql.js';

/**
 * The sync engine's public surface: the rest of `src/` (privacy, server, app, cli) imports the
 * engine from here and nowhere else inside `src/sync/` (`npm run lint` checks it). The engine's
 * stages are internal: inbound/ (webhooks, ingest), outbound/ (relay, push), pull/.
 */
export { createEngine, engineHashTags, engineQueueNames } from './engine.js';
/** The BullMQ prefix of one of the engine's queues (its own hash tag), for those that open them (the queue board). */
export { queuePrefix } from '../queue/keys.js';
export type {
  ConnectorReport,
  ConnectorStatus,
  Engine,
  EngineStatus,
  LastPull,
  MinuteCounts,
  PullJobView,
  PullProgressData,
  PullResult,
  QueueStatus,
  UnparkResult,
} from './engine.js';
export { bindConnector, InvalidCursorError } from './bind.js';
export type { BindOptions, InitialSyncMode, PullSchedule, SyncConnector, SyncInstance } from './bind.js';
export { EngineRoles, EngineTuning } from './options.js';
export type { EngineOptions, EngineTuningInput } from './options.js';
export {
  connectorsFromConfig,
  engineTuningFromConfig,
  engineFromConfig,
  outboxTargets,
  syncSetupFromConfig,
  UnknownConnectorTypeError,
} from './from-config.js';
export type { SyncSetup } from './from-config.js';
export type { RecordScreen } from './context.js';
export type { UnhandledEventListener, WebhookResult } from './inbound/webhooks.js';
export { HubPatchIngest } from './inbound/hub-patch.js';
export { DeadLetter } from './outbound/dead-letter.js';
export type { DeadLetterView } from './outbound/dead-letter.js';
export { gateProfile } from './gate.js';
export { asRun, changePaths, runOrigin, RunRecorder, startRun, sweepRuns } from './runs.js';
export type { RunDeps, RunStart } from './runs.js';
export type { GatedProfile } from './gate.js';
export type { SyncMetrics } from './metrics.js';
export { WebhooksOutAdmin } from './webhooks-out/admin.js';
export type { WebhooksOutReport } from './webhooks-out/admin.js';
export { OutboundWebhookMessageError, storeOutboundWebhooks } from './webhooks-out/messages.js';
export { createWebhooksOutMetrics } from './webhooks-out/metrics.js';
export type { WebhooksOutMetrics } from './webhooks-out/metrics.js';
export { WebhookDeliveryWorker, WebhooksOutTuning } from './webhooks-out/worker.js';
export type { DeliveryWorkerOptions, WebhookEndpointBinding, WebhooksOutTuningInput } from './webhooks-out/worker.js';
export { planSync } from './plan/plan.js';
export type { PlanOptions } from './plan/plan.js';
export type { PlanStore } from './plan/state.js';
export { PlanExample, PlanReport, PlanSource, PlanTarget } from './plan/report.js';

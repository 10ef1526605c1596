/**
 * Binds a connector definition to one configured instance, erasing its Config and Cursor
 * types so the engine can hold instances of every connector type in one list. The engine
 * knows connectors only through this: it never names a connector type.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { budgetMetrics } from './metrics.js';
import type {
  AdmitResult,
  ConnectionCheck,
  ConnectorCapabilities,
  ConnectorDefinition,
  ConnectorInstance,
  ConnectorLimits,
  KnownRecord,
  EraseOutcome,
  OutboundWebhookEndpoint,
  OutboundWebhooks,
  ErasureFlag,
  ErasureProgress,
  EraseRef,
  ExportedRecord,
  ExternalRecord,
  FindQuery,
  FindKind,
  FoundRecord,
  PushOutcome,
  PushRecord,
  RawWebhook,
  VerifyResult,
  WebhookEvent,
  WebhookHead,
  WebhookReply,
} from '../connector/define.js';
import type { CompiledMapping } from '../connector/mapping.js';
import { Json } from '../profile/schema.js';
import { assertInstanceId } from '../queue/keys.js';

/**
 * Which way the first sync with the system goes (YAML `initialSync`), until the instance's first
 * full pull has finished (`initial-sync.ts`): `pull-only` pushes nothing to it, `push-only` takes
 * none of its values, `both` does both at once.
 */
export type InitialSyncMode = 'pull-only' | 'push-only' | 'both';

/** When to pull: every N ms, or on a cron pattern. */
export type PullSchedule = { every: number } | { cron: string };

/** A live instance with its cursor type erased to JSON. */
export interface SyncInstance {
  pull?(cursor: Json | undefined, signal: AbortSignal): AsyncIterable<{ records: ExternalRecord[]; cursor: Json }>;
  push?(batch: PushRecord[], signal: AbortSignal): Promise<PushOutcome[]>;
  read?(externalIds: string[], signal: AbortSignal): Promise<ExternalRecord[]>;
  /** Data-subject requests (privacy/): erasure and access, when the connector declares them. */
  erase?(refs: EraseRef[], signal: AbortSignal): Promise<EraseOutcome[]>;
  /** How erasures the system carries out later are going (`ConnectorInstance.eraseProgress`). */
  eraseProgress?(tickets: string[], signal: AbortSignal): Promise<ErasureProgress[]>;
  export?(refs: EraseRef[], signal: AbortSignal): Promise<ExportedRecord[]>;
  /** Searches the system for people by e-mail, phone and its own ids (`ConnectorInstance.find`). */
  find?(queries: FindQuery[], signal: AbortSignal): Promise<FoundRecord[][]>;
  /** The kinds of identity `find` searches by (`ConnectorInstance.findsBy`; absent: all). */
  findsBy?: readonly FindKind[];
  admit?(head: WebhookHead): AdmitResult;
  verify?(raw: RawWebhook): VerifyResult | Promise<VerifyResult>;
  parse?(raw: RawWebhook): WebhookEvent[] | Promise<WebhookEvent[]>;
  reply?(events: WebhookEvent[]): WebhookReply;
  refuse?(failure: { status: number; reason: string }): WebhookReply;
  validation?(head: WebhookHead): WebhookReply;
  setup?(hub: { webhookUrl: string }, signal: AbortSignal): Promise<string[]>;
  check?(signal: AbortSignal, hub?: { webhookUrl: string }): Promise<ConnectionCheck[]>;
  unpark?(): void;
  close?(): Promise<void>;
}

/** One configured connector instance as the engine sees it. */
export interface SyncConnector {
  /** The instance id (YAML key), also the source id of what it reports. */
  id: string;
  /** The connector type, for logs only. */
  type: string;
  capabilities: ConnectorCapabilities;
  /** The declared limits with the instance's overrides applied. */
  limits: ConnectorLimits;
  mapping: CompiledMapping;
  schedule?: PullSchedule;
  /**
   * Which way the first sync goes (see `InitialSyncMode`).
   * @defaultValue both
   */
  initialSync?: InitialSyncMode;
  /** The definition's erasure flag (`ConnectorDefinition.erasureFlag`), if it has one. */
  erasureFlag?: ErasureFlag;
  /** External fields sent with every write that changes anything (`ConnectorDefinition.contextFields`). */
  contextFields?: readonly string[];
  /** The Standard Webhooks endpoint the instance sends to (`ConnectorDefinition.outboundWebhooks`), if any. */
  outboundWebhooks?: OutboundWebhookEndpoint;
  /** Builds a live instance; its metrics go to `metrics` (the hub's registry). */
  create(ctx: {
    logger: Logger;
    metrics?: Registry;
    knownRecords?: (page: { after?: string; limit: number }) => Promise<KnownRecord[]>;
    /** Given to instances with an outbound endpoint. */
    outboundWebhooks?: OutboundWebhooks;
  }): Promise<SyncInstance>;
}

export interface BindOptions<Config, Cursor> {
  id: string;
  definition: ConnectorDefinition<Config, Cursor>;
  /** The instance's parsed config (the definition's `configSchema` output). */
  config: Config;
  mapping: CompiledMapping;
  limits?: Partial<ConnectorLimits>;
  schedule?: PullSchedule;
  /** @defaultValue both */
  initialSync?: InitialSyncMode;
}

/** Thrown when a stored cursor no longer matches the connector's cursor schema. */
export class InvalidCursorError extends Error {
  readonly code = 'sync.invalid_cursor';
  constructor(instance: string, detail: string) {
    super(`stored cursor of ${instance} is invalid: ${detail}`);
    this.name = 'InvalidCursorError';
  }
}

export function bindConnector<Config, Cursor>(options: BindOptions<Config, Cursor>): SyncConnector {
  assertInstanceId(options.id);
  const { definition, id } = options;
  const limits: ConnectorLimits = { ...definition.limits, ...stripUndefined(options.limits ?? {}) };
  const outboundWebhooks = definition.outboundWebhooks?.(options.config);
  return {
    id,
    type: definition.type,
    capabilities: definition.capabilities,
    limits,
    mapping: options.mapping,
    initialSync: options.initialSync ?? 'both',
    ...(options.schedule ? { schedule: options.schedule } : {}),
    ...(definition.erasureFlag ? { erasureFlag: definition.erasureFlag } : {}),
    ...(definition.contextFields ? { contextFields: definition.contextFields(options.config) } : {}),
    ...(outboundWebhooks ? { outboundWebhooks } : {}),
    async create({ logger, metrics, knownRecords, outboundWebhooks: outbound }) {
      const budgets = metrics ? budgetMetrics(metrics) : null;
      const instance: ConnectorInstance<Cursor> = await definition.create({
        instanceId: id,
        config: options.config,
        logger,
        ...(metrics ? { metrics } : {}),
        ...(knownRecords ? { knownRecords } : {}),
        fieldTargets: Object.fromEntries(options.mapping.outbound.map((entry) => [entry.external, entry.key])),
        ...(outbound ? { outboundWebhooks: outbound } : {}),
        reportBudget: (budget) => {
          logger.debug({ budget }, 'rate-limit budget');
          if (!budgets) return;
          budgets.remaining.set({ connector: id, window: budget.window }, budget.remaining);
          if (budget.max !== undefined) budgets.limit.set({ connector: id, window: budget.window }, budget.max);
        },
      });
      const pull = instance.pull?.bind(instance);
      const bound: SyncInstance = {
        ...(instance.push ? { push: instance.push.bind(instance) } : {}),
        ...(instance.read ? { read: instance.read.bind(instance) } : {}),
        ...(instance.erase ? { erase: instance.erase.bind(instance) } : {}),
        ...(instance.eraseProgress ? { eraseProgress: instance.eraseProgress.bind(instance) } : {}),
        ...(instance.export ? { export: instance.export.bind(instance) } : {}),
        ...(instance.find ? { find: instance.find.bind(instance) } : {}),
        ...(instance.findsBy ? { findsBy: instance.findsBy } : {}),
        ...(instance.admit ? { admit: instance.admit.bind(instance) } : {}),
        ...(instance.verify ? { verify: instance.verify.bind(instance) } : {}),
        ...(instance.parse ? { parse: instance.parse.bind(instance) } : {}),
        ...(instance.reply ? { reply: instance.reply.bind(instance) } : {}),
        ...(instance.refuse ? { refuse: instance.refuse.bind(instance) } : {}),
        ...(instance.validation ? { validation: instance.validation.bind(instance) } : {}),
        ...(instance.setup ? { setup: instance.setup.bind(instance) } : {}),
        ...(instance.check ? { check: instance.check.bind(instance) } : {}),
        ...(instance.unpark ? { unpark: instance.unpark.bind(instance) } : {}),
        ...(instance.close ? { close: instance.close.bind(instance) } : {}),
      };
      if (pull) {
        bound.pull = async function* (cursor, signal) {
          let typed: Cursor | undefined;
          if (cursor !== undefined) {
            const parsed = definition.cursorSchema.safeParse(cursor);
            if (!parsed.success) throw new InvalidCursorError(id, parsed.error.message);
            typed = parsed.data;
          }
          for await (const page of pull(typed, signal)) {
            yield { records: page.records, cursor: Json.parse(page.cursor) };
          }
        };
      }
      return bound;
    },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

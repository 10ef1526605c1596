/**
 * Erasures that source systems ask for: HubSpot `contact.privacyDeletion` webhooks (an `erase`
 * event; a record the hub does not know is confirmed with the system first, `source-check.ts`)
 * and records carrying the connector's erasure flag (Salesforce `Individual.ShouldForget`), which
 * start an erasure instead of being ingested.
 */
import type { ExternalRecord, WebhookEvent } from '../connector/define.js';
import { jsonEqual } from '../connector/mapping.js';
import type { Identity } from '../profile/schema.js';
import type { Engine, SyncConnector } from '../sync/index.js';
import type { PrivacyContext } from './context.js';
import { openErasureOf } from './intake.js';
import type { Intake } from './intake.js';
import type { Subject } from './schema.js';
import { scheduleSourceCheck } from './source-check.js';

/**
 * What happened to an erasure request a source system sent. `checking`: the hub does not know
 * the record, so the system is asked first whether it has it (`source-check.ts`).
 */
export type SourceRequestOutcome = 'started' | 'in_progress' | 'already_erased' | 'checking';

/** Turns source systems' erasure requests into requests of the intake. */
export class SourceRequests {
  constructor(
    private readonly ctx: PrivacyContext,
    private readonly intake: Pick<Intake, 'submit'>,
  ) {}

  /**
   * An erasure asked for by a source system (HubSpot `contact.privacyDeletion`, Salesforce
   * `ShouldForget`), for its record `externalId`. A record of an already erased person (our own
   * erasure echoed back) or of a person being erased starts nothing. With `checkUnknown` (a
   * webhook that only names the record), a record the hub does not know starts nothing yet: a
   * job asks the system whether it has it, and starts the erasure only then.
   */
  async requestFromSource(
    connector: string,
    ref: { externalId: string; email?: string },
    options: { checkUnknown?: { eventId: string } } = {},
  ): Promise<SourceRequestOutcome> {
    const { store } = this.ctx;
    const own: Identity = { kind: 'external', system: connector, value: ref.externalId };
    const hashes = [store.hashIdentity(own), ...(ref.email ? [store.hashIdentity({ kind: 'email', value: ref.email })] : [])];
    if (await store.isSuppressed(hashes)) return 'already_erased';
    let profileId = await store.findProfileIdByExternalId(connector, ref.externalId);
    if (!profileId && ref.email) profileId = (await store.findProfile({ kind: 'email', value: ref.email }))?.id ?? null;
    if (profileId && (await openErasureOf(this.ctx, profileId))) return 'in_progress';
    if (!profileId && options.checkUnknown) {
      await scheduleSourceCheck(this.ctx, { connector, externalId: ref.externalId, eventId: options.checkUnknown.eventId });
      return 'checking';
    }
    const subject: Subject = profileId ? { profileId } : { system: connector, externalId: ref.externalId };
    const result = await this.intake.submit({ kind: 'erase', subject }, { origin: connector, actor: connector });
    if (!result.ok) this.ctx.logger.warn({ connector, code: result.error.code }, 'erasure request from a source system not started');
    return 'started';
  }

  /**
   * Listens to the engine for erasure requests from source systems: webhook `erase` events
   * (HubSpot privacy deletions; a record the hub does not know is confirmed with the system
   * first) and records carrying an erasure flag (Salesforce `ShouldForget`, read from the
   * system), which start an erasure instead of being ingested.
   */
  attachSources(engine: Pick<Engine, 'setEventListener' | 'addRecordScreen'>): void {
    engine.setEventListener(async (connector: string, event: WebhookEvent) => {
      if (event.kind === 'erase') {
        for (const externalId of event.externalIds) {
          const outcome = await this.requestFromSource(connector, { externalId }, { checkUnknown: { eventId: event.eventId } });
          this.ctx.logger.info({ connector, eventId: event.eventId, outcome }, 'erasure request from a source system');
        }
        return;
      }
      this.ctx.logger.info({ connector, kind: event.kind, eventId: event.eventId }, 'webhook event not handled');
    });
    engine.addRecordScreen(async (connector: SyncConnector, records: readonly ExternalRecord[]) => {
      // The connector definition's flag (`ConnectorDefinition.erasureFlag`), carried by its binding.
      const flag = connector.erasureFlag;
      if (!flag) return [...records];
      const emailField = connector.mapping.inbound.find((e) => e.target.kind === 'identity' && e.target.identity === 'email')?.external;
      const kept: ExternalRecord[] = [];
      for (const record of records) {
        if (!jsonEqual(record.fields[flag.field], flag.value)) {
          kept.push(record);
          continue;
        }
        const email = emailField === undefined ? undefined : record.fields[emailField];
        const outcome = await this.requestFromSource(connector.id, {
          externalId: record.externalId,
          ...(typeof email === 'string' ? { email } : {}),
        });
        this.ctx.logger.info({ connector: connector.id, outcome }, 'erasure flag in a source record');
      }
      return kept;
    });
  }
}

/**
 * Storage limitation (GDPR Art. 5(1)(e)): the retention rules of `hub.privacy.retention`
 * select profiles kept longer than needed, and a run either reports them (a dry run, or a rule
 * whose action is `report`) or erases them in every system through the ordinary erasure
 * request (origin `retention`, actor `retention:<rule>`), so each deletion carries the same
 * proof and audit trail as one a person asked for.
 *
 * A rule selects a profile that no source changed for `inactiveFor` (the store's time of its
 * last change) and, with `withoutConsent`, that holds no consent (no grant in force) and no
 * subscription. A restricted profile is never selected: the person asked to keep the data
 * while processing is restricted (Art. 18); nor is one with a request open (its erasure is under
 * way, or an export or a change is answered first) or whose erasure failed (an operator retries
 * it). One run starts at most `maxErasuresPerRun` erasures; the rest are selected again by the
 * next run.
 */
import type { Profile } from '../profile/schema.js';
import { isRestricted } from '../profile/effective.js';
import type { IdleProfile } from '../store/types.js';
import type { PrivacyContext } from './context.js';
import type { Intake } from './intake.js';
import type { PrivacyOptions } from './options.js';

type Rule = PrivacyOptions['retention']['rules'][number];

/** A profile a rule selected, as the report lists it (no personal data: ids and times). */
export interface RetentionSelection {
  profileId: string;
  /** The profile's last change, from any source. */
  lastChangeAt: string;
}

/** What one rule selected in one run, and what was done. */
export interface RetentionRuleReport {
  rule: string;
  description: string | null;
  action: Rule['action'];
  /** Profiles last changed before this are inactive for the rule. */
  inactiveBefore: string;
  /** How many profiles the rule selects. */
  selectedCount: number;
  /** The profiles selected: all of them in a dry run; in a real run those it erased or tried (at most the run's budget) or, for a `report` rule, the first `REPORT_LIST_LIMIT`. */
  selected: RetentionSelection[];
  /**
   * Inactive profiles the rule leaves: they hold consent (or a subscription), are restricted,
   * have a request open (an erasure under way is not started twice; an export or a change is
   * answered first), or an erasure of theirs failed (`concord dsr retry` drives it again).
   */
  kept: { consent: number; restricted: number; openRequest: number; failedErasure: number };
  /** Erasures started by this run (0 in a dry run and for `report` rules). */
  erasuresStarted: number;
  /** Selected profiles left for the next run by `maxErasuresPerRun`. */
  deferred: number;
}

export interface RetentionReport {
  at: string;
  dryRun: boolean;
  rules: RetentionRuleReport[];
}

const PAGE = 500;
/** How many selected profiles a real run of a `report` rule lists (the count is always whole). */
export const REPORT_LIST_LIMIT = 1000;

/** Whether the profile holds a consent grant in force at `now`, or any subscription. Pure. */
export function holdsConsent(profile: Profile, now: Date): boolean {
  for (const channels of Object.values(profile.consents)) {
    for (const slot of Object.values(channels)) {
      if (slot.value !== 'granted') continue;
      if (slot.expiresAt === undefined || Date.parse(slot.expiresAt) > now.getTime()) return true;
    }
  }
  return Object.values(profile.subscriptions).some((s) => s.value);
}

/** Why a rule keeps an inactive profile (`null`: the rule selects it). Pure. */
export function keptBy(rule: Pick<Rule, 'withoutConsent'>, profile: Profile, now: Date): 'restricted' | 'consent' | null {
  if (isRestricted(profile)) return 'restricted';
  if (rule.withoutConsent && holdsConsent(profile, now)) return 'consent';
  return null;
}

/** Runs the retention rules: reports what they select, and erases it unless it is a dry run. */
export class Retention {
  constructor(
    private readonly ctx: PrivacyContext,
    private readonly intake: Pick<Intake, 'submit'>,
  ) {}

  get rules(): readonly Rule[] {
    return this.ctx.options.retention.rules;
  }

  /** Runs every rule (or the ones named): a dry run only reports. Audited as `retention.report` / `retention.run`. */
  async run(options: { dryRun: boolean; rules?: readonly string[] }): Promise<RetentionReport> {
    const { ctx } = this;
    const now = ctx.now();
    const rules = this.rules.filter((r) => options.rules === undefined || options.rules.includes(r.id));
    let budget = ctx.options.retention.maxErasuresPerRun;
    const held = await this.heldProfiles();
    const reports: RetentionRuleReport[] = [];
    for (const rule of rules) {
      const erasing = !options.dryRun && rule.action === 'erase';
      // Only what is listed is kept in memory: a rule may select millions.
      const limit = options.dryRun ? Infinity : erasing ? budget : REPORT_LIST_LIMIT;
      const report = await this.select(rule, now, limit, held);
      if (erasing) {
        report.deferred = report.selectedCount - report.selected.length;
        for (const selection of report.selected) {
          if (await this.erase(rule, selection)) {
            report.erasuresStarted++;
            budget--;
          }
        }
      }
      reports.push(report);
      ctx.metrics.retentionSelected.set({ rule: rule.id }, report.selectedCount);
    }
    const action = options.dryRun || rules.every((r) => r.action === 'report') ? 'retention.report' : 'retention.run';
    await ctx.store.appendAudit({
      actor: options.dryRun ? 'retention:dry-run' : 'retention',
      action,
      profileId: null,
      detail: {
        dryRun: options.dryRun,
        rules: reports.map((r) => ({
          rule: r.rule,
          action: r.action,
          inactiveBefore: r.inactiveBefore,
          selected: r.selectedCount,
          keptForConsent: r.kept.consent,
          keptRestricted: r.kept.restricted,
          keptOpenRequest: r.kept.openRequest,
          keptFailedErasure: r.kept.failedErasure,
          erasuresStarted: r.erasuresStarted,
          deferred: r.deferred,
        })),
      },
    });
    ctx.logger.info(
      { dryRun: options.dryRun, rules: reports.map((r) => `${r.rule}:${r.selectedCount}/${r.erasuresStarted}`) },
      'retention rules ran',
    );
    return { at: now.toISOString(), dryRun: options.dryRun, rules: reports };
  }

  /** Profiles a run leaves alone whatever the rules say: a request is open for them, or their erasure failed. */
  private async heldProfiles(): Promise<Map<string, 'openRequest' | 'failedErasure'>> {
    const { store } = this.ctx;
    const held = new Map<string, 'openRequest' | 'failedErasure'>();
    for (const r of await store.listDsr({ kind: 'erase', status: 'failed' })) if (r.profileId) held.set(r.profileId, 'failedErasure');
    for (const status of ['received', 'in_progress'] as const)
      for (const r of await store.listDsr({ status })) if (r.profileId) held.set(r.profileId, 'openRequest');
    return held;
  }

  private async select(
    rule: Rule,
    now: Date,
    limit: number,
    held: ReadonlyMap<string, 'openRequest' | 'failedErasure'>,
  ): Promise<RetentionRuleReport> {
    const inactiveBefore = new Date(now.getTime() - rule.inactiveForMs).toISOString();
    const report: RetentionRuleReport = {
      rule: rule.id,
      description: rule.description ?? null,
      action: rule.action,
      inactiveBefore,
      selectedCount: 0,
      selected: [],
      kept: { consent: 0, restricted: 0, openRequest: 0, failedErasure: 0 },
      erasuresStarted: 0,
      deferred: 0,
    };
    let after: string | undefined;
    for (;;) {
      const page: IdleProfile[] = await this.ctx.store.idleProfiles({
        before: inactiveBefore,
        limit: PAGE,
        ...(after === undefined ? {} : { after }),
      });
      for (const { profile, updatedAt } of page) {
        const kept = held.get(profile.id) ?? keptBy(rule, profile, now);
        if (kept) report.kept[kept]++;
        else if (report.selectedCount++ < limit) report.selected.push({ profileId: profile.id, lastChangeAt: updatedAt });
      }
      if (page.length < PAGE) return report;
      after = page[page.length - 1]?.profile.id;
    }
  }

  /** Starts the erasure of a selected profile; false when it could not be started (logged). */
  private async erase(rule: Rule, selection: RetentionSelection): Promise<boolean> {
    const result = await this.intake.submit(
      { kind: 'erase', subject: { profileId: selection.profileId } },
      { origin: 'retention', actor: `retention:${rule.id}` },
    );
    if (!result.ok) {
      this.ctx.logger.warn({ rule: rule.id, profileId: selection.profileId, code: result.error.code }, 'retention erasure not started');
      return false;
    }
    return true;
  }
}

/** A run in a few numbers per rule (what a scheduled job keeps as its result). */
export function retentionSummary(report: RetentionReport): Record<string, { selected: number; erasuresStarted: number; deferred: number }> {
  return Object.fromEntries(
    report.rules.map((r) => [r.rule, { selected: r.selectedCount, erasuresStarted: r.erasuresStarted, deferred: r.deferred }]),
  );
}

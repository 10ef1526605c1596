/**
 * `concord retention [--dry-run] [--rule ID ...] [--json]`: runs the retention rules of
 * `hub.privacy.retention` now. `--dry-run` lists exactly the profiles each rule selects and
 * changes nothing; without it, `erase` rules start an erasure per selected profile (the
 * workers of a running hub carry them out), `report` rules only report. Every run is audited.
 */
import type { Command } from 'commander';
import type { RetentionReport, RetentionRuleReport } from '../../privacy/index.js';
import { withPrivacySession, withSessionOptions } from '../privacy-session.js';
import type { SessionOptions } from '../privacy-session.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

type Options = SessionOptions & { dryRun?: boolean; rule?: string[]; json?: boolean };

function describeRule(r: RetentionRuleReport, dryRun: boolean): string[] {
  const kept = `kept: ${r.kept.consent} with consent, ${r.kept.restricted} restricted, ${r.kept.openRequest} with a request open, ${r.kept.failedErasure} whose erasure failed`;
  const lines = [
    `${r.rule} (${r.action}; inactive since before ${r.inactiveBefore})${r.description ? `: ${r.description}` : ''}`,
    `  ${r.selectedCount} selected; ${kept}`,
  ];
  if (!dryRun && r.action === 'erase') lines.push(`  erasures started ${r.erasuresStarted}, left for the next run ${r.deferred}`);
  if (dryRun || r.action === 'report') {
    for (const s of r.selected) lines.push(`  ${s.profileId}  last change ${s.lastChangeAt}`);
    if (r.selected.length < r.selectedCount) lines.push(`  … and ${r.selectedCount - r.selected.length} more (--dry-run --json lists all)`);
  }
  return lines;
}

function describeReport(report: RetentionReport): string {
  const head = report.dryRun ? `dry run at ${report.at}: nothing was changed` : `run at ${report.at}`;
  return [head, ...report.rules.flatMap((r) => describeRule(r, report.dryRun))].join('\n');
}

export function register(program: Command, io: CliIo = processIo): void {
  withSessionOptions(program.command('retention'))
    .description('run the retention rules (hub.privacy.retention) now; --dry-run lists what they select and changes nothing')
    .option('--dry-run', 'list the profiles each rule selects; erase nothing')
    .option('--rule <id...>', 'only these rules')
    .option('--json', 'print the report as JSON')
    .action(async (options: Options) => {
      await withPrivacySession(io, 'retention', options, async (session) => {
        const known = session.privacy.retentionRules();
        if (known.length === 0) {
          io.error('no retention rules: add them under hub.privacy.retention.rules');
          return 0;
        }
        const unknown = (options.rule ?? []).filter((id) => !known.includes(id));
        if (unknown.length > 0) {
          io.error(`no such rule: ${unknown.join(', ')} (the rules: ${known.join(', ')})`);
          return 1;
        }
        const report = await session.privacy.runRetention({
          dryRun: options.dryRun === true,
          ...(options.rule ? { rules: options.rule } : {}),
        });
        io.log(options.json ? JSON.stringify(report, null, 2) : describeReport(report));
        const started = report.rules.reduce((n, r) => n + r.erasuresStarted, 0);
        if (started > 0) io.error(`${started} erasures queued: the workers of a running hub carry them out (concord dsr list shows them)`);
        return 0;
      });
    });
}

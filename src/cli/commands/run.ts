// proxsave run: the scheduled job.
import { EXIT, exitCodeForError } from '../exit-codes.ts';
import type { Output } from '../output.ts';
import type { RunReport } from '../../app/run.ts';
import { formatBytes } from '../../util/size.ts';
import { type Command, contextOf } from '../command.ts';
import { lowMemoryForManyFiles } from '../memory.ts';

export function runExitCode(r: RunReport): number {
  if (r.fatal) return exitCodeForError(r.fatal);
  return r.partial ? EXIT.PARTIAL : EXIT.OK;
}

function renderRun(out: Output, r: RunReport, code: number): void {
  const p = out.paint;
  const s = r.snapshot;
  const what = s
    ? s.commit
      ? `committed ${p.yellow(s.commit.slice(0, 12))}`
      : s.refused
        ? p.red(`refused, ${s.deleted} tracked file(s) would be deleted`)
        : s.failed_tasks.length && code === 9
          ? p.red('nothing committed')
          : s.would_commit
            ? `would commit ${s.changes} changed path(s)${s.deleted ? `, ${s.deleted} deleted` : ''}`
            : r.dry_run && s.changes > 0
              ? `${s.changes} changed path(s), not committed`
              : 'no changes'
    : '';
  if (s) out.out(`snapshot: ${what}; ok=${s.recap.ok} changed=${s.recap.changed} skipped=${s.recap.skipped} failed=${s.recap.failed}${s.failed_tasks.length ? p.red(` (failed: ${s.failed_tasks.join(', ')})`) : ''}`);
  if (r.export) out.out(`export:   ${r.export.reused ? 'reused' : 'wrote'} ${r.export.archive} (${formatBytes(r.export.bytes_out)}${r.export.ratio !== null ? `, ${(r.export.ratio * 100).toFixed(1)}%` : ''})`);
  else {
    const skipped = r.phases.find((x) => x.name === 'export' && x.status === 'skipped');
    if (skipped) out.out(`export:   skipped, ${skipped.detail}`);
  }
  for (const t of r.targets)
    out.out(`target:   ${t.target.padEnd(9)} ${t.status === 'failed' ? p.red('failed') : t.status === 'would-copy' ? p.yellow(t.replaced ? 'would replace a copy that does not verify' : 'would copy') : p.green(t.status)}${t.replaced && t.status === 'copied' ? p.yellow(' (replaced a copy that did not verify)') : ''}${t.verify ? ` (verified by ${t.verify})` : ''}${t.error ? `: ${t.error}` : ''}`);
  for (const t of r.retention)
    out.out(`retain:   ${t.target.padEnd(9)} ${r.dry_run ? `would keep ${t.kept}, would remove ${t.would_remove.length}${t.would_remove.length ? ` (${t.would_remove.join(', ')})` : ''}` : `kept ${t.kept}, removed ${t.removed.length}`}${t.error ? p.red(`: ${t.error}`) : ''}`);
  const verdict = code === 0 ? p.green('ok') : code === 1 ? p.yellow('finished with failures') : p.red(`failed (exit ${code})`);
  out.out(`run:      ${verdict} in ${(r.duration_ms / 1000).toFixed(1)}s${r.warnings.length ? `, ${r.warnings.length} warning(s)` : ''}`);
}

export const runCmd: Command = {
  summary: 'the scheduled job: snapshot, export + push when needed, verify, retention, report',
  usage: '[--dry-run] [--allow-deletions]',
  help: `  --dry-run  snapshot --check and prune --dry-run: report what would happen, write nothing
  --allow-deletions
             commit even when more than SNAPSHOT_MAX_DELETE_PERCENT of the tracked
             files would be deleted, a task would keep none of its files, or
             the role became unknown (else exit 9)
A run report (JSON) and a run log are written to LOG_PATH. Suggested cron line:
  17 * * * *  root  proxsave run -q`,
  options: { 'dry-run': { type: 'boolean' }, 'allow-deletions': { type: 'boolean' } },
  async run(c) {
    const ctx = await contextOf(c);
    const { runJob, writeRunReport } = await import('../../app/run.ts');
    // Notifications, metrics and the fleet push never change the exit code.
    const afterRun = async (rep: RunReport) => (await import('../../ops/after-run.ts')).afterRun({ ctx, report: rep, exitCode: runExitCode(rep), reporter: c.out.reporter });
    const r = await runJob(ctx, { dryRun: c.values['dry-run'] === true, allowDeletions: c.values['allow-deletions'] === true, afterRun, onPlanned: lowMemoryForManyFiles });
    const code = runExitCode(r);
    let paths: { json: string; log: string } | undefined;
    if (!r.dry_run) {
      try {
        paths = writeRunReport({ dir: ctx.config.LOG_PATH, report: r, exitCode: code, keep: ctx.config.LOG_KEEP });
      } catch (e) {
        c.out.reporter.log('warn', `cannot write the run report to ${ctx.config.LOG_PATH}: ${(e as Error).message}`);
      }
    }
    if (c.out.json) {
      const { fatal, log: _log, ...rest } = r;
      c.out.emit({ ...rest, exit_code: code, fatal: fatal ? { code: fatal.code, message: fatal.message } : null, report_path: paths?.json ?? null });
    } else if (!c.out.quiet || code !== 0) renderRun(c.out, r, code);
    return code;
  },
};

// What a notification says about a run, built once from the run report and
// rendered as a subject line and a plain-text body (mail, chat webhooks). Only
// paths, counts and messages: never file contents, never configured secrets.
import type { RunReport, TargetOutcome } from '../app/run.ts';
import { globToRegExp } from '../util/glob.ts';

export type RunStatus = 'ok' | 'partial' | 'failed';

export interface RunSummary {
  host: string;
  status: RunStatus;
  exit_code: number;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  commit: string | null;
  recap: { ok: number; changed: number; skipped: number; failed: number } | null;
  failed_tasks: string[];
  changed_paths: string[];
  critical_paths: string[];
  archive: string | null;
  targets: TargetOutcome[];
  warnings: string[];
  errors: string[];
  /** Extra lines from the hooks that ran before the notification (fleet push). */
  notes: string[];
}

export function statusOf(exitCode: number): RunStatus {
  return exitCode === 0 ? 'ok' : exitCode === 1 ? 'partial' : 'failed';
}

/** Paths matching one of the globs (relative snapshot paths, e.g. etc/pve/storage.cfg). */
export function criticalPaths(paths: string[], globs: string[]): string[] {
  const res = globs.map((g) => globToRegExp(g.replace(/^\/+/, '').replace(/\/$/, '/**')));
  return paths.filter((p) => res.some((re) => re.test(p)));
}

/** Removes configured secret values and URL credentials from free text. */
export function scrub(text: string, secrets: string[]): string {
  let t = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
  for (const s of secrets) if (s.length >= 4) t = t.split(s).join('********');
  return t;
}

export function buildRunSummary({ report, exitCode, changedPaths, criticalGlobs, notes = [], secrets = [] }: { report: RunReport; exitCode: number; changedPaths: string[]; criticalGlobs: string[]; notes?: string[]; secrets?: string[] }): RunSummary {
  const clean = (l: string[]) => l.map((x) => scrub(x, secrets));
  return {
    host: report.host,
    status: statusOf(exitCode),
    exit_code: exitCode,
    started_at: report.started_at,
    finished_at: report.finished_at,
    duration_ms: report.duration_ms,
    commit: report.snapshot?.commit ?? null,
    recap: report.snapshot?.recap ?? null,
    failed_tasks: report.snapshot?.failed_tasks ?? [],
    changed_paths: changedPaths,
    critical_paths: criticalPaths(changedPaths, criticalGlobs),
    archive: report.export?.archive ?? null,
    targets: report.targets.map((t) => ({ ...t, ...(t.error ? { error: scrub(t.error, secrets) } : {}), location: scrub(t.location, secrets) })),
    warnings: clean(report.warnings),
    errors: clean([...report.errors, ...(report.fatal && !report.errors.includes(report.fatal.message) ? [report.fatal.message] : [])]),
    notes: clean(notes),
  };
}

const STATUS_WORD: Record<RunStatus, string> = { ok: 'OK', partial: 'PARTIAL FAILURE', failed: 'FAILED' };

export function subjectOf(s: RunSummary): string {
  const change = s.commit ? `${s.changed_paths.length} path(s) changed` : 'no changes';
  const critical = s.critical_paths.length > 0 ? ` CRITICAL CHANGE: ${s.critical_paths.slice(0, 3).join(', ')}${s.critical_paths.length > 3 ? ` (+${s.critical_paths.length - 3})` : ''};` : '';
  return `[proxsave] ${s.host}: ${STATUS_WORD[s.status]} (exit ${s.exit_code});${critical} ${change}`;
}

const MAX_PATHS = 200;

export function bodyOf(s: RunSummary): string {
  const out: string[] = [];
  out.push(`Host:     ${s.host}`, `Status:   ${STATUS_WORD[s.status]} (exit code ${s.exit_code})`, `Started:  ${s.started_at}`, `Duration: ${(s.duration_ms / 1000).toFixed(1)} s`);
  if (s.recap) out.push(`Recap:    ok=${s.recap.ok} changed=${s.recap.changed} skipped=${s.recap.skipped} failed=${s.recap.failed}`);
  if (s.failed_tasks.length) out.push(`Failed tasks: ${s.failed_tasks.join(', ')}`);
  out.push(`Snapshot: ${s.commit ? `commit ${s.commit.slice(0, 12)}` : 'no changes, nothing committed'}`);
  if (s.archive) out.push(`Archive:  ${s.archive}`);
  if (s.critical_paths.length) {
    out.push('', 'CRITICAL paths changed:');
    for (const p of s.critical_paths) out.push(`  ${p}`);
  }
  if (s.changed_paths.length) {
    out.push('', `Changed paths (${s.changed_paths.length}):`);
    for (const p of s.changed_paths.slice(0, MAX_PATHS)) out.push(`  ${p}`);
    if (s.changed_paths.length > MAX_PATHS) out.push(`  … and ${s.changed_paths.length - MAX_PATHS} more (proxsave show ${s.commit?.slice(0, 12)})`);
  }
  if (s.targets.length) {
    out.push('', 'Targets:');
    for (const t of s.targets) out.push(`  ${t.target.padEnd(9)} ${t.status}${t.verify ? ` (verified by ${t.verify})` : ''}  ${t.location}${t.error ? `: ${t.error}` : ''}`);
  }
  if (s.notes.length) out.push('', ...s.notes);
  if (s.errors.length) out.push('', 'Errors:', ...s.errors.map((e) => `  ${e}`));
  if (s.warnings.length) out.push('', `Warnings (${s.warnings.length}):`, ...s.warnings.slice(0, 50).map((w) => `  ${w}`));
  out.push('', `See: proxsave log; proxsave show ${s.commit ? s.commit.slice(0, 12) : 'HEAD'}`);
  return out.join('\n') + '\n';
}

/** NOTIFY_ON: always | changes | failure | changes,failure | never. */
export function shouldNotify(on: string, s: Pick<RunSummary, 'commit' | 'exit_code'>): boolean {
  const when = new Set(on.split(','));
  if (when.has('never')) return false;
  if (when.has('always')) return true;
  return (when.has('changes') && s.commit !== null) || (when.has('failure') && s.exit_code !== 0);
}

// `proxsave run`, the scheduled job: lock → snapshot → (if the newest commit
// is not yet on every enabled target) space check, export, push, verify →
// retention on each target → report. A second run on an unchanged host
// commits, exports and uploads nothing.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { archiveFileName, parseArchiveName } from '../archive/archive-name.ts';
import { resolveCompression } from '../archive/resolve-compression.ts';
import { ProxsaveError, isProxsaveError } from '../core/errors.ts';
import type { Level, Reporter } from '../ports/reporter.ts';
import { readCommitInfo, readHead } from '../snapshot/repo.ts';
import { checkSpace } from '../storage/check-space.ts';
import { pushToTargets, type PushResult } from '../storage/push.ts';
import { createTargets } from '../storage/targets.ts';
import type { Target } from '../storage/target.ts';
import type { Context } from './context.ts';
import { VERSION } from './context.ts';
import { exportSnapshot, type ExportResult } from './export.ts';
import { encryptionFor } from './restore-crypto.ts';
import { acquireLock } from './lock.ts';
import { prune, type PruneReport } from './prune.ts';
import { snapshot, type SnapshotReport } from './snapshot.ts';

export interface Phase {
  name: string;
  start: string;
  end: string;
  duration_ms: number;
  status: 'ok' | 'failed' | 'skipped';
  detail?: string;
}

export interface TargetOutcome {
  target: string;
  location: string;
  critical: boolean;
  status: 'copied' | 'present' | 'failed' | 'skipped';
  verify?: string;
  error?: string;
}

export interface RunReport {
  version: string;
  host: string;
  dry_run: boolean;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  phases: Phase[];
  snapshot: { commit: string | null; head: string | null; recap: SnapshotReport['recap']; files: number; files_read: number; bytes_read: number; failed_tasks: string[] } | null;
  export: { archive: string; reused: boolean; entries: number; bytes_in: number; bytes_out: number; ratio: number | null } | null;
  targets: TargetOutcome[];
  retention: { target: string; status: string; removed: string[]; kept: number; error?: string }[];
  warnings: string[];
  errors: string[];
  /** The error that stopped the run, if any. */
  fatal: ProxsaveError | undefined;
  /** A non-critical task or target failed. */
  partial: boolean;
  log: { level: Level; message: string; at: string }[];
}

export interface RunOptions {
  dryRun?: boolean;
  /** Test seam: targets instead of the configured ones. */
  targets?: Target[];
}

/** A reporter that also keeps every line for the run log. */
function teeReporter(inner: Reporter, log: RunReport['log'], warnings: string[], errors: string[]): Reporter {
  return {
    log(level, message, fields) {
      log.push({ level, message, at: new Date().toISOString() });
      if (level === 'warn') warnings.push(message);
      if (level === 'error') errors.push(message);
      inner.log(level, message, fields);
    },
    progress: (...a) => inner.progress(...a),
  };
}

export async function runJob(ctx: Context, { dryRun = false, targets: givenTargets }: RunOptions = {}): Promise<RunReport> {
  const started = ctx.clock.now();
  const wallStart = Date.now();
  const report: RunReport = {
    version: VERSION,
    host: ctx.facts.hostname,
    dry_run: dryRun,
    started_at: new Date(wallStart).toISOString(),
    finished_at: '',
    duration_ms: 0,
    phases: [],
    snapshot: null,
    export: null,
    targets: [],
    retention: [],
    warnings: [],
    errors: [],
    fatal: undefined,
    partial: false,
    log: [],
  };
  const reporter = teeReporter(ctx.reporter, report.log, report.warnings, report.errors);
  const c = { ...ctx, reporter };
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const p: Phase = { name, start: new Date(t0).toISOString(), end: '', duration_ms: 0, status: 'ok' };
    report.phases.push(p);
    try {
      return await fn();
    } catch (e) {
      p.status = 'failed';
      p.detail = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      p.end = new Date().toISOString();
      p.duration_ms = Date.now() - t0;
    }
  };
  const skip = (name: string, detail: string) => {
    const now = new Date().toISOString();
    report.phases.push({ name, start: now, end: now, duration_ms: 0, status: 'skipped', detail });
  };

  const lock = acquireLock({ dir: ctx.config.LOCK_PATH, now: started });
  const release = () => lock.release();
  const onSignal = (sig: NodeJS.Signals) => {
    release();
    process.kill(process.pid, sig);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    // 1. Snapshot.
    const snap = await phase('snapshot', () => snapshot(c, { check: dryRun, locked: true }));
    for (const w of snap.warnings) reporter.log('warn', w);
    const failedTasks = snap.tasks.filter((t) => t.status === 'failed');
    for (const t of failedTasks) reporter.log(t.critical ? 'error' : 'warn', `task ${t.name} failed: ${t.reason ?? ''}`);
    const head = ctx.config.SNAPSHOT_PATH ? readHeadSafe(ctx.config.SNAPSHOT_PATH) : undefined;
    report.snapshot = { commit: snap.commit, head: head ?? null, recap: snap.recap, files: snap.files, files_read: snap.filesRead, bytes_read: snap.bytesRead, failed_tasks: failedTasks.map((t) => t.name) };
    if (snap.criticalFailures.length > 0) throw new ProxsaveError('COLLECTION', `critical task failed: ${snap.criticalFailures.join(', ')}; nothing was committed, exported or pruned`);
    if (failedTasks.length > 0) report.partial = true;
    if (!head) {
      skip('export', 'no snapshot commit yet');
      return report;
    }

    let requiredFailure: ProxsaveError | undefined;
    // 2. Is the newest commit already on every target?
    const targets = givenTargets ?? createTargets(ctx.config, { reporter });
    const info = await readCommitInfo({ dir: ctx.config.SNAPSHOT_PATH, oid: head });
    const comp = resolveCompression({ type: ctx.config.COMPRESSION_TYPE, level: ctx.config.COMPRESSION_LEVEL, mode: ctx.config.COMPRESSION_MODE, threads: ctx.config.COMPRESSION_THREADS, engine: ctx.config.COMPRESSION_ENGINE as 'auto' });
    const hostname = /^Proxsave-Host: (.*)$/m.exec(info.message)?.[1] ?? ctx.facts.hostname;
    const name = archiveFileName({ hostname, time: new Date(info.timestamp * 1000), type: comp.type, encrypted: ctx.config.ENCRYPT_ARCHIVE });
    const missing: Target[] = [];
    for (const t of targets) if (!(await holds(t, name, head))) missing.push(t);
    if (missing.length === 0) {
      skip('export', `${name} (commit ${head.slice(0, 12)}) is already on every target`);
      for (const t of targets) report.targets.push({ target: t.kind, location: t.location, critical: t.critical, status: 'present' });
    } else if (dryRun) {
      skip('export', `dry run: would export ${name} and push it to ${missing.map((t) => t.kind).join(', ')}`);
    } else {
      // 3. Space, export, push.
      const estimate = estimateArchiveSize(ctx.config.BACKUP_PATH, snap.bytesRead);
      // Only the local target can stop the run here: a required cloud that is
      // down still lets local and secondary get their copy, then exits 6.
      const usable = new Set<Target>(targets);
      await phase('space-check', async () => {
        for (const t of targets) {
          let why: string;
          try {
            const [s] = await checkSpace({ targets: [t], config: ctx.config, estimatedBytes: estimate });
            if (s!.status === 'ok' || s!.status === 'unknown') {
              if (s!.status === 'unknown') reporter.log('debug', `${t.kind}: free space unknown`);
              continue;
            }
            why = s!.status === 'error' ? (s!.error instanceof Error ? s!.error.message : String(s!.error)) : `${s!.freeBytes} bytes free, ${s!.requiredBytes} required`;
          } catch (e) {
            if (t.kind === 'local') throw e;
            why = e instanceof Error ? e.message : String(e);
          }
          usable.delete(t);
          report.targets.push({ target: t.kind, location: t.location, critical: t.critical, status: 'failed', error: why });
          reporter.log('warn', `${t.kind} target ${t.location} unusable: ${why}`);
          if (t.critical) requiredFailure ??= new ProxsaveError('CLOUD', `required ${t.kind} target ${t.location} unusable: ${why}`);
          report.partial = true;
        }
      });
      const encryption = encryptionFor(ctx.config);
      const exp: ExportResult = await phase('export', () =>
        exportSnapshot({
          repoDir: ctx.config.SNAPSHOT_PATH,
          rev: head,
          outDir: ctx.config.BACKUP_PATH,
          compression: { type: ctx.config.COMPRESSION_TYPE, level: ctx.config.COMPRESSION_LEVEL, mode: ctx.config.COMPRESSION_MODE, threads: ctx.config.COMPRESSION_THREADS, engine: ctx.config.COMPRESSION_ENGINE as 'auto' },
          reporter,
          scriptVersion: VERSION,
          ...(encryption ? { encryption } : {}),
        }),
      );
      report.export = { archive: exp.archivePath, reused: exp.reused, entries: exp.entries, bytes_in: exp.bytesIn, bytes_out: exp.bytesOut, ratio: exp.bytesIn > 0 ? exp.bytesOut / exp.bytesIn : null };
      let results: PushResult[];
      try {
        results = await phase('push', () => pushToTargets({ targets: targets.filter((t) => usable.has(t)), archivePath: exp.archivePath, sha256Path: exp.sha256Path, manifestPath: exp.manifestPath, reporter }));
      } catch (e) {
        const details = isProxsaveError(e) ? (e.details?.results as PushResult[] | undefined) : undefined;
        if (details) report.targets.push(...details.map(toOutcome));
        throw e;
      }
      report.targets.push(...results.map(toOutcome));
      if (results.some((r) => r.status === 'failed')) report.partial = true;
    }
    if (requiredFailure) throw requiredFailure;

    // 4. Retention.
    const pr: PruneReport = await phase('retention', () => prune({ config: ctx.config, hostname: ctx.facts.hostname, dryRun, reporter, targets }));
    for (const t of pr.targets) {
      report.retention.push({ target: t.target, status: t.status, removed: t.removed, kept: t.decisions.filter((d) => d.action === 'keep').length, ...(t.error ? { error: t.error.message } : {}) });
      if (t.status === 'failed') {
        if (t.critical) throw new ProxsaveError('LOCAL_STORAGE', `retention on the ${t.target} target failed: ${t.error?.message ?? ''}`);
        report.partial = true;
      }
    }
    return report;
  } catch (e) {
    report.fatal = e instanceof ProxsaveError ? e : new ProxsaveError('BACKUP', e instanceof Error ? e.message : String(e), { cause: e });
    reporter.log('error', report.fatal.message);
    if (!(e instanceof ProxsaveError)) throw e;
    return report;
  } finally {
    report.finished_at = new Date().toISOString();
    report.duration_ms = Date.now() - wallStart;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    release();
  }
}

function readHeadSafe(dir: string): string | undefined {
  try {
    return readHead({ dir });
  } catch {
    return undefined;
  }
}

/** True when `t` holds a complete archive `name` whose manifest names `commit`. */
async function holds(t: Target, name: string, commit: string): Promise<boolean> {
  try {
    const s = await t.stat(name);
    if (!s?.complete) return false;
    const m = JSON.parse((await t.readText(`${name}.manifest.json`)) ?? '{}') as { snapshot_commit?: string };
    return m.snapshot_commit === commit;
  } catch {
    return false;
  }
}

/** The previous archive's size is the best estimate; else a third of what was read. */
function estimateArchiveSize(dir: string, bytesRead: number): number {
  try {
    const sizes = readdirSync(dir)
      .filter((n) => parseArchiveName(n) !== null)
      .map((n) => statSync(join(dir, n)).size);
    if (sizes.length > 0) return Math.max(...sizes);
  } catch {
    /* no archives yet */
  }
  return Math.ceil(bytesRead / 3);
}

function toOutcome(r: PushResult): TargetOutcome {
  return { target: r.target, location: r.location, critical: r.critical, status: r.status, ...(r.verify ? { verify: r.verify.method } : {}), ...(r.error ? { error: r.error.message } : {}) };
}

/** Writes the JSON report and the run log into LOG_PATH. Returns the two paths. */
export function writeRunReport({ dir, report, exitCode }: { dir: string; report: RunReport; exitCode: number }): { json: string; log: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = report.started_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  const base = join(dir, `proxsave-run-${stamp}`);
  const { fatal, log, ...rest } = report;
  const doc = { ...rest, exit_code: exitCode, fatal: fatal ? { code: fatal.code, message: fatal.message } : null };
  writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(`${base}.log`, log.map((l) => `${l.at} ${l.level.toUpperCase().padEnd(5)} ${l.message}`).join('\n') + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'last-run.json'), JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  return { json: `${base}.json`, log: `${base}.log` };
}

// `proxsave run`, the scheduled job: lock → snapshot → (if the newest commit
// is not yet on every enabled target) space check, export, push, verify →
// retention on each target → report. A second run on an unchanged host
// commits, exports and uploads nothing.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { archiveFileName, parseArchiveName } from '../archive/archive-name.ts';
import { compressionSettings, resolveCompression } from '../archive/resolve-compression.ts';
import { ProxsaveError, errnoCode, isProxsaveError } from '../core/errors.ts';
import type { Level, Reporter } from '../ports/reporter.ts';
import { commitHost, readCommit } from '../git/commit.ts';
import { readHead } from '../git/refs.ts';
import { parseSha256Sidecar } from '../archive/manifest.ts';
import type { PushResult } from '../storage/push.ts';
import { createTargets } from '../storage/targets.ts';
import type { Target } from '../storage/target.ts';
import type { Context } from './context.ts';
import { VERSION } from './version.ts';
import type { ExportResult } from './export.ts';
import { acquireLock } from './lock.ts';
import { recordChecks } from './checks-log.ts';
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
  /** `would-copy`: --dry-run, a real run would copy (or replace) the archive there. */
  status: 'copied' | 'present' | 'failed' | 'skipped' | 'would-copy';
  verify?: string;
  /** The stored copy did not verify and was replaced (or, on --dry-run, would be). */
  replaced?: boolean;
  /** The archive this outcome is about. */
  archive?: string;
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
  snapshot: {
    commit: string | null;
    head: string | null;
    recap: SnapshotReport['recap'];
    files: number;
    files_read: number;
    bytes_read: number;
    failed_tasks: string[];
    /** --dry-run: a real run would commit now. */
    would_commit: boolean;
    /** Paths changed (volatile ones aside): committed, or that would be. */
    changes: number;
    deleted: number;
    refused: string | null;
  } | null;
  export: { archive: string; reused: boolean; entries: number; bytes_in: number; bytes_out: number; ratio: number | null } | null;
  targets: TargetOutcome[];
  retention: { target: string; status: string; removed: string[]; would_remove: string[]; kept: number; error?: string }[];
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
  /** --allow-deletions: see SnapshotOptions. */
  allowDeletions?: boolean;
  /** Test seam: targets instead of the configured ones. */
  targets?: Target[];
  /**
   * Called once the report is final, still under the lock (notifications,
   * metrics, fleet push). It must not throw; if it does, the error is a warning.
   */
  afterRun?: (report: RunReport) => Promise<void>;
  /** See SnapshotOptions. */
  onPlanned?: (entries: number) => void;
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

export async function runJob(ctx: Context, { dryRun = false, allowDeletions = false, targets: givenTargets, afterRun, onPlanned }: RunOptions = {}): Promise<RunReport> {
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
    const snap = await phase('snapshot', () => snapshot(c, { check: dryRun, locked: true, allowDeletions, ...(onPlanned ? { onPlanned } : {}) }));
    for (const w of snap.warnings) reporter.log('warn', w);
    const failedTasks = snap.tasks.filter((t) => t.status === 'failed');
    // Tasks failing for one reason (pmxcfs not mounted fails all of /etc/pve) are reported together.
    const byReason = new Map<string, typeof failedTasks>();
    for (const t of failedTasks) byReason.set(`${t.critical}\0${t.reason ?? ''}`, [...(byReason.get(`${t.critical}\0${t.reason ?? ''}`) ?? []), t]);
    for (const group of byReason.values())
      reporter.log(group[0]!.critical ? 'error' : 'warn', `task${group.length > 1 ? 's' : ''} ${group.map((t) => t.name).join(', ')} failed: ${group[0]!.reason ?? ''}`);
    const head = ctx.config.SNAPSHOT_PATH ? readHeadSafe(ctx.config.SNAPSHOT_PATH) : undefined;
    const commitWorthy = snap.changes.filter((ch) => !ch.volatile);
    // What a real run would commit: on --dry-run nothing is, and the rest of
    // the run is planned against that would-be commit, not against HEAD.
    const wouldCommit = dryRun && snap.criticalFailures.length === 0 && !snap.refused && commitWorthy.length > 0;
    report.snapshot = {
      commit: snap.commit,
      head: head ?? null,
      recap: snap.recap,
      files: snap.files,
      files_read: snap.filesRead,
      bytes_read: snap.bytesRead,
      failed_tasks: failedTasks.map((t) => t.name),
      would_commit: wouldCommit,
      changes: commitWorthy.filter((ch) => !ch.path.endsWith('/')).length,
      deleted: snap.deleted,
      refused: snap.refused ?? null,
    };
    if (snap.criticalFailures.length > 0) {
      throw new ProxsaveError('COLLECTION', `critical task failed: ${snap.criticalFailures.join(', ')}; nothing was committed, exported or pruned`);
    }
    if (snap.refused) throw new ProxsaveError('COLLECTION', `${snap.refused}; nothing was exported or pruned`, { hint: 'proxsave diff --stat shows what would be deleted' });
    if (failedTasks.length > 0) report.partial = true;
    if (!head && !wouldCommit) {
      skip('export', 'no snapshot commit yet');
      return report;
    }

    let requiredFailure: ProxsaveError | undefined;
    // 2. Is the newest commit already on every target, and does each copy still verify?
    const targets = givenTargets ?? createTargets(ctx.config, { reporter, env: ctx.env });
    const comp = resolveCompression(compressionSettings(ctx.config));
    let pending: { name: string; time: Date; targets: Target[] } | undefined;
    if (wouldCommit) {
      const time = new Date(Math.floor(ctx.clock.now().getTime() / 1000) * 1000);
      const name = archiveFileName({ hostname: ctx.facts.hostname, time, type: comp.type, encrypted: ctx.config.ENCRYPT_ARCHIVE });
      pending = { name, time, targets };
      for (const t of targets) report.targets.push({ target: t.kind, location: t.location, critical: t.critical, status: 'would-copy' });
      skip('export', `dry run: would commit ${report.snapshot.changes} path(s), export ${name} and push it to ${targets.map((t) => t.kind).join(', ')}`);
    } else {
      const info = await readCommit({ dir: ctx.config.SNAPSHOT_PATH, oid: head! });
      const hostname = commitHost(info);
      const time = new Date(info.timestamp * 1000);
      const name = archiveFileName({ hostname, time, type: comp.type, encrypted: ctx.config.ENCRYPT_ARCHIVE });
      const missing: Target[] = [];
      const checks = new Map<Target, StoredCheck>();
      for (const t of targets) {
        const c = await checkStored(t, name, head!, ctx.config.BACKUP_PATH);
        checks.set(t, c);
        if (c.state === 'ok') continue;
        missing.push(t);
        if (c.state === 'corrupt') reporter.log('warn', `${t.kind}: the stored ${name} on ${t.location} does not verify (${c.detail}); ${dryRun ? 'a real run would replace it' : 'replacing it'}`);
      }
      if (missing.length === 0) {
        skip('export', `${name} (commit ${head!.slice(0, 12)}) is already on every target`);
        for (const t of targets) report.targets.push({ target: t.kind, location: t.location, critical: t.critical, status: 'present', archive: name, ...(checks.get(t)?.method ? { verify: checks.get(t)!.method! } : {}) });
      } else if (dryRun) {
        pending = { name, time, targets: missing };
        for (const t of targets) {
          const c = checks.get(t);
          if (missing.includes(t)) report.targets.push({ target: t.kind, location: t.location, critical: t.critical, status: 'would-copy', ...(c?.state === 'corrupt' ? { replaced: true } : {}) });
          else report.targets.push({ target: t.kind, location: t.location, critical: t.critical, status: 'present', archive: name, ...(c?.method ? { verify: c.method } : {}) });
        }
        skip('export', `dry run: would export ${name} and push it to ${missing.map((t) => `${t.kind}${checks.get(t)?.state === 'corrupt' ? ' (replacing a copy that does not verify)' : ''}`).join(', ')}`);
      } else {
        // 3. Space, export, push. Loaded only here: an unchanged run never needs them.
        const [{ checkSpace }, { exportSnapshot }, { pushToTargets }, { encryptionFor }] = await Promise.all([import('../storage/check-space.ts'), import('./export.ts'), import('../storage/push.ts'), import('./restore-crypto.ts')]);
        const estimate = estimateArchiveSize(ctx.config.BACKUP_PATH, snap.bytesRead);
        // Only the local target can stop the run here: a required cloud that is
        // down still lets local and secondary get their copy, then exits 6.
        const usable = new Set<Target>(targets);
        await phase('space-check', async () => {
          for (const t of targets) {
            let why: string;
            if (t.kind === 'local') await probeWritable(ctx.config.BACKUP_PATH);
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
            rev: head!,
            outDir: ctx.config.BACKUP_PATH,
            compression: compressionSettings(ctx.config),
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
        report.targets.push(...results.map((x) => ({ ...toOutcome(x), archive: name, ...(checks.get(targets.find((t) => t.kind === x.target)!)?.state === 'corrupt' && x.status === 'copied' ? { replaced: true } : {}) })));
        if (results.some((r) => r.status === 'failed')) report.partial = true;
      }
    }
    if (requiredFailure) throw requiredFailure;

    // 4. Retention.
    const pr: PruneReport = await phase('retention', () => prune({ config: ctx.config, hostname: ctx.facts.hostname, dryRun, reporter, targets, ...(pending ? { pending: { name: pending.name, time: pending.time, targets: pending.targets.map((t) => t.kind) } } : {}) }));
    for (const t of pr.targets) {
      report.retention.push({ target: t.target, status: t.status, removed: t.removed, would_remove: dryRun ? t.decisions.filter((d) => d.action === 'remove').map((d) => d.name) : [], kept: t.decisions.filter((d) => d.action === 'keep').length, ...(t.error ? { error: t.error.message } : {}) });
      if (t.status === 'failed') {
        if (t.critical) throw new ProxsaveError(t.target === 'local' ? 'LOCAL_STORAGE' : 'CLOUD', `retention on the ${t.target} target ${t.location} failed: ${t.error?.message ?? ''}`, { cause: t.error });
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
    if (afterRun && !dryRun) await afterRun(report).catch((e: unknown) => reporter.log('warn', `after the run: ${e instanceof Error ? e.message : String(e)}`));
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

interface StoredCheck {
  state: 'ok' | 'missing' | 'corrupt';
  method?: string;
  detail?: string;
}

/**
 * Whether `t` holds a complete archive `name` of `commit` whose bytes still
 * match its sidecar: size and the backend's hash for rclone, a full re-hash
 * for directory targets. Bit rot or a truncated copy is found by the next
 * run, and replaced, instead of being reported as present forever.
 */
async function checkStored(t: Target, name: string, commit: string, backupPath: string): Promise<StoredCheck> {
  try {
    const s = await t.stat(name);
    if (!s?.complete) return { state: 'missing' };
    const m = JSON.parse((await t.readText(`${name}.manifest.json`)) ?? '{}') as { snapshot_commit?: string; archive_size?: unknown };
    if (m.snapshot_commit !== commit) return { state: 'missing' };
    const side = parseSha256Sidecar((await t.readText(`${name}.sha256`)) ?? '');
    if (!side || side.name !== name) return { state: 'corrupt', detail: 'the .sha256 sidecar is unreadable' };
    const size = typeof m.archive_size === 'number' ? m.archive_size : s.size;
    const local = join(backupPath, name);
    const v = await t.verify(name, { sha256: side.sha256, size, ...(t.kind !== 'local' && existsSync(local) ? { localPath: local } : {}) });
    return v.ok ? { state: 'ok', method: v.method } : { state: 'corrupt', method: v.method, detail: v.detail ?? 'mismatch' };
  } catch {
    return { state: 'missing' };
  }
}

/**
 * The local target must take the export: a directory that cannot be written
 * is a local storage failure (exit 5) naming BACKUP_PATH, found before any
 * archive is started (not an archive error about a .partial file).
 */
async function probeWritable(dir: string): Promise<void> {
  const probe = join(dir, `.proxsave-write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(probe, '', { flag: 'wx', mode: 0o600 });
    rmSync(probe, { force: true });
  } catch (e) {
    try {
      rmSync(probe, { force: true });
    } catch {
      /* nothing was created */
    }
    const code = errnoCode(e) ?? (e as Error).message;
    throw new ProxsaveError('LOCAL_STORAGE', `local target BACKUP_PATH=${dir} is not writable (${code}); nothing was exported`, {
      cause: e,
      hint: 'check BACKUP_PATH in backup.env: it must be a writable directory (read-only or immutable mount? a file in the way?)',
    });
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
export function writeRunReport({ dir, report, exitCode, keep = 60 }: { dir: string; report: RunReport; exitCode: number; keep?: number }): { json: string; log: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = report.started_at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  const base = join(dir, `proxsave-run-${stamp}`);
  const { fatal, log, ...rest } = report;
  const doc = { ...rest, exit_code: exitCode, fatal: fatal ? { code: fatal.code, message: fatal.message } : null };
  writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(`${base}.log`, log.map((l) => `${l.at} ${l.level.toUpperCase().padEnd(5)} ${l.message}`).join('\n') + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'last-run.json'), JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  rotateRunReports(dir, keep);
  recordChecks(dir, report.finished_at || new Date().toISOString(), report.targets.filter((t) => (t.status === 'present' || t.status === 'copied') && t.verify && t.archive).map((t) => ({ target: t.target, archive: t.archive! })));
  return { json: `${base}.json`, log: `${base}.log` };
}

const RUN_FILE_RE = /^proxsave-run-(\d{8}-\d{6}Z)\.(json|log)$/;

/** Keeps the reports of the newest `keep` runs (LOG_KEEP); an hourly cron would otherwise add 17,500 files a year. */
export function rotateRunReports(dir: string, keep: number): string[] {
  const byRun = new Map<string, string[]>();
  for (const n of readdirSync(dir)) {
    const m = RUN_FILE_RE.exec(n);
    if (m) byRun.set(m[1]!, [...(byRun.get(m[1]!) ?? []), n]);
  }
  const stamps = [...byRun.keys()].sort().reverse();
  const removed: string[] = [];
  for (const stamp of stamps.slice(Math.max(keep, 1))) {
    for (const n of byRun.get(stamp)!) {
      rmSync(join(dir, n), { force: true });
      removed.push(n);
    }
  }
  return removed;
}

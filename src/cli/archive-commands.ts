// export, verify, list, prune and run: the commands built on exported archives.
import type { RunReport } from '../app/run.ts';
import type { TargetKind } from '../storage/target.ts';
import { contextOf } from './commands.ts';
import { EXIT as X, exitCodeForError } from './exit-codes.ts';
import type { Output } from './output.ts';
import { VERSION } from '../app/context.ts';
import { ProxsaveError } from '../core/errors.ts';
import { formatBytes } from '../util/size.ts';
import type { Command } from './commands.ts';
const EXIT = X;

const exportCmd: Command = {
  summary: 'export a snapshot commit as a verified, compressed archive with .sha256 and .manifest.json',
  usage: '[REV] [--out DIR]',
  help: `  REV        commit to export (default: the newest snapshot)
  --out DIR  where to write (default: BACKUP_PATH)
Compression follows COMPRESSION_TYPE, COMPRESSION_LEVEL, COMPRESSION_MODE,
COMPRESSION_THREADS and COMPRESSION_ENGINE. An archive of the same commit with
the same settings that already exists and verifies is not rewritten.`,
  options: { out: { type: 'string' } },
  async run(c) {
    if (c.args.length > 1) throw new ProxsaveError('USAGE', `export: unexpected argument "${c.args[1]}"`);
    const { config } = c.loadConfig();
    const { exportSnapshot } = await import('../app/export.ts');
    const encryption = (await import('../app/restore-crypto.ts')).encryptionFor(config);
    const r = await exportSnapshot({
      repoDir: config.SNAPSHOT_PATH,
      ...(c.args[0] ? { rev: c.args[0] } : {}),
      outDir: typeof c.values.out === 'string' ? c.values.out : config.BACKUP_PATH,
      compression: { type: config.COMPRESSION_TYPE, level: config.COMPRESSION_LEVEL, mode: config.COMPRESSION_MODE, threads: config.COMPRESSION_THREADS, engine: config.COMPRESSION_ENGINE as 'auto' | 'cli' | 'library' },
      reporter: c.out.reporter,
      scriptVersion: VERSION,
      ...(encryption ? { encryption } : {}),
    });
    if (c.out.json) c.out.emit({ archive: r.archivePath, sha256: r.sha256Path, manifest_path: r.manifestPath, reused: r.reused, entries: r.entries, bytes_in: r.bytesIn, bytes_out: r.bytesOut, duration_ms: Math.round(r.durationMs), manifest: r.manifest });
    else {
      const ratio = r.bytesIn > 0 ? ` (${((r.bytesOut / r.bytesIn) * 100).toFixed(1)}% of ${formatBytes(r.bytesIn)})` : '';
      c.out.out(`${r.reused ? 'already exported and verified' : 'exported and verified'}: ${r.archivePath}`);
      c.out.out(`  ${r.entries} entries, ${formatBytes(r.bytesOut)}${ratio}, commit ${r.manifest.snapshot_commit.slice(0, 12)}, sha256 ${r.manifest.sha256}`);
    }
    return EXIT.OK;
  },
};

const verifyCmd: Command = {
  summary: 'verify archives on disk or where a target stores them: sidecar sha256, decompression, tar structure, manifest',
  usage: 'ARCHIVE… | --target local|secondary|cloud (--all | NAME…) [--download]',
  help: `  --target T   re-verify archives where target T stores them (directories: in place;
               cloud: rclone hashsum sha256 where the backend has it)
  --all        every archive on the target
  --download   cloud: download each archive and verify it fully
Encrypted archives (.age) need AGE_IDENTITY_FILE.`,
  options: { target: { type: 'string' }, all: { type: 'boolean' }, download: { type: 'boolean' } },
  async run(c) {
    if (c.values.target !== undefined || c.values.all || c.values.download) {
      const { runVerifyTarget } = await import('./restore-command.ts');
      return runVerifyTarget(c);
    }
    if (c.args.length === 0) throw new ProxsaveError('USAGE', 'verify: which archive(s)?', { hint: 'proxsave verify /var/lib/proxsave/backup/HOST-backup-….tar.zst' });
    const { verifyArchive } = await import('../app/verify.ts');
    // Only encrypted archives need the configuration (AGE_IDENTITY_FILE).
    const decrypter = c.args.some((a) => a.endsWith('.age')) ? (await import('../app/restore-crypto.ts')).decrypterFor(c.loadConfig().config) : () => undefined;
    const reports = [];
    for (const a of c.args) {
      const decrypt = decrypter(a);
      reports.push(await verifyArchive({ archivePath: a, reporter: c.out.reporter, ...(decrypt ? { decrypt } : {}) }));
    }
    if (c.out.json) c.out.emit({ archives: reports.map((r) => ({ archive: r.archivePath, ok: r.ok, problems: r.problems, entries: r.entries ?? null })) });
    else
      for (const r of reports) {
        if (r.ok) c.out.out(`${c.out.paint.green('ok')}      ${r.archivePath} (${r.entries} entries)`);
        else {
          c.out.out(`${c.out.paint.red('FAILED')}  ${r.archivePath}`);
          for (const p of r.problems) c.out.out(`        ${p}`);
        }
      }
    return reports.every((r) => r.ok) ? EXIT.OK : EXIT.VERIFY;
  },
};

function targetOption(v: unknown): TargetKind | undefined {
  if (v === undefined) return undefined;
  if (v === 'local' || v === 'secondary' || v === 'cloud') return v;
  throw new ProxsaveError('USAGE', `--target must be local, secondary or cloud, got "${String(v)}"`);
}

const listCmd: Command = {
  summary: "archives on each target: time, size, commit, verified",
  usage: '[--target local|secondary|cloud] [--all-hosts] [--verify]',
  help: `  --verify   check the bytes of every archive now (full re-hash on directory
             targets, the remote's hash or size on rclone); exit 8 if one fails
Without --verify, "verified" is never claimed: an archive whose sidecars are
present and consistent shows when a run last checked it.`,
  options: { target: { type: 'string' }, 'all-hosts': { type: 'boolean' }, verify: { type: 'boolean' } },
  async run(c) {
    const ctx = contextOf(c);
    const target = targetOption(c.values.target);
    const verify = c.values.verify === true;
    const { listArchives, describeState } = await import('../app/list.ts');
    const r = await listArchives({ config: ctx.config, ...(c.values['all-hosts'] ? {} : { hostname: ctx.facts.hostname }), ...(target ? { target } : {}), reporter: c.out.reporter, verify, env: ctx.env });
    const p = c.out.paint;
    if (c.out.json) c.out.emit({ checked_now: verify, targets: r.targets.map((t) => ({ ...t, archives: t.archives.map((a) => ({ ...a, state: describeState(a, verify).text })) })) });
    else
      for (const t of r.targets) {
        c.out.out(p.bold(`${t.target} (${t.location})${t.status === 'failed' ? p.red(` failed: ${t.error}`) : ''}`));
        if (t.status === 'ok' && t.archives.length === 0) c.out.out('  (no archives)');
        for (const a of t.archives) {
          const st = describeState(a, verify);
          const tone = st.tone === 'good' ? p.green : st.tone === 'bad' ? p.red : p.yellow;
          c.out.out(`  ${a.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}  ${formatBytes(a.size).padStart(10)}  ${(a.commit ?? '-').slice(0, 12).padEnd(12)}  ${a.name}  ${tone(st.text)}`);
        }
      }
    if (verify && r.targets.some((t) => t.archives.some((a) => a.sidecarsOk && !a.verified))) return EXIT.VERIFY;
    return r.targets.some((t) => t.status === 'failed') ? EXIT.PARTIAL : EXIT.OK;
  },
};

const pruneCmd: Command = {
  summary: 'apply retention (RETENTION_POLICY) to this host\'s archives on each target',
  usage: '[--target local|secondary|cloud] [--dry-run]',
  help: `  --dry-run  print each keep/remove decision with its reason; delete nothing`,
  options: { target: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  async run(c) {
    const ctx = contextOf(c);
    const target = targetOption(c.values.target);
    const dryRun = c.values['dry-run'] === true;
    const { prune } = await import('../app/prune.ts');
    const { acquireLock } = await import('../app/lock.ts');
    const lock = dryRun ? undefined : acquireLock({ dir: ctx.config.LOCK_PATH });
    let r;
    try {
      r = await prune({ config: ctx.config, hostname: ctx.facts.hostname, dryRun, reporter: c.out.reporter, env: ctx.env, ...(target ? { target } : {}) });
    } finally {
      lock?.release();
    }
    if (c.out.json) c.out.emit({ dry_run: dryRun, hostname: r.hostname, targets: r.targets.map((t) => ({ target: t.target, status: t.status, error: t.error?.message, decisions: t.decisions, removed: t.removed, ignored: t.ignored, foreign: t.foreign })) });
    else
      for (const t of r.targets) {
        c.out.out(c.out.paint.bold(`${t.target} (${t.location})`) + (t.status === 'failed' ? c.out.paint.red(` failed: ${t.error?.message}`) : ''));
        for (const d of t.decisions) c.out.out(`  ${d.action === 'keep' ? c.out.paint.green('keep  ') : c.out.paint.red(dryRun ? 'would remove' : 'remove')}  ${d.name}  ${c.out.paint.dim(d.reason)}`);
        for (const i of t.ignored) c.out.out(`  ${c.out.paint.yellow('ignore')}  ${i.name}  ${c.out.paint.dim(i.reason)}`);
        if (t.foreign > 0) c.out.out(c.out.paint.dim(`  ${t.foreign} archive(s) of other hosts left alone`));
      }
    const failed = r.targets.filter((t) => t.status === 'failed');
    if (failed.some((t) => t.critical && t.target === 'local')) return EXIT.LOCAL_STORAGE;
    if (failed.some((t) => t.critical)) return EXIT.CLOUD;
    return failed.length > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};

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

const runCmd: Command = {
  summary: 'the scheduled job: snapshot, export + push when needed, verify, retention, report',
  usage: '[--dry-run] [--allow-deletions]',
  help: `  --dry-run  snapshot --check and prune --dry-run: report what would happen, write nothing
  --allow-deletions
             commit even when more than SNAPSHOT_MAX_DELETE_PERCENT of the tracked
             files would be deleted or the role became unknown (else exit 9)
A run report (JSON) and a run log are written to LOG_PATH. Suggested cron line:
  17 * * * *  root  proxsave run -q`,
  options: { 'dry-run': { type: 'boolean' }, 'allow-deletions': { type: 'boolean' } },
  async run(c) {
    const ctx = contextOf(c);
    const { runJob, writeRunReport } = await import('../app/run.ts');
    // Notifications, metrics and the fleet push never change the exit code.
    const afterRun = async (rep: RunReport) => (await import('../ops/after-run.ts')).afterRun({ ctx, report: rep, exitCode: runExitCode(rep), reporter: c.out.reporter });
    const r = await runJob(ctx, { dryRun: c.values['dry-run'] === true, allowDeletions: c.values['allow-deletions'] === true, afterRun });
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

export const ARCHIVE_COMMANDS: Record<string, Command> = {
  export: exportCmd,
  verify: verifyCmd,
  list: listCmd,
  prune: pruneCmd,
  run: runCmd,
};

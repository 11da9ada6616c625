// Rendering of the restore modes (human and --json).
import type { Context } from '../app/context.ts';
import type { OpenedSource } from '../app/restore-source.ts';
import type { Selection } from '../app/restore.ts';
import type { PlannedPath } from '../app/restore-apply.ts';
import { ProxsaveError } from '../core/errors.ts';
import type { CommandEnv } from './command.ts';
import { EXIT } from './exit-codes.ts';

export async function runTo(c: CommandEnv, source: OpenedSource, dir: string, selection: Selection): Promise<number> {
  const { restoreTo } = await import('../app/restore.ts');
  const r = await restoreTo({ source: source.entries, dir, selection });
  if (c.out.json) c.out.emit({ source: source.info, to: r.dir, entries: r.written, paths: r.paths.map((p) => ({ path: `/${p}`, action: 'create' })) });
  else c.out.out(`restored ${r.written} entries of ${source.info.label} into ${r.dir}`);
  return EXIT.OK;
}

export async function runDiffLive(c: CommandEnv, ctx: Context, s: OpenedSource, selection: Selection): Promise<number> {
  const { diffLive } = await import('../app/restore-diff.ts');
  const diffs = await diffLive({ source: s.entries, liveRoot: ctx.config.SYSTEM_ROOT_PREFIX, selection, showSecrets: c.values['show-secrets'] === true });
  if (c.out.json) c.out.emit({ source: s.info, differences: diffs.map((d) => ({ path: `/${d.path}`, kind: d.kind, detail: d.detail, ...(d.patch ? { patch: d.patch } : {}) })) });
  else {
    for (const d of diffs) {
      c.out.out(`${d.kind.padEnd(8)} /${d.path}  ${c.out.paint.dim(d.detail)}`);
      if (d.patch) c.out.out(d.patch.trimEnd());
    }
    c.out.out(diffs.length ? `${diffs.length} difference(s) between ${s.info.label} and the live host` : `no differences between ${s.info.label} and the live host`);
  }
  return c.values['exit-code'] === true && diffs.length > 0 ? EXIT.PARTIAL : EXIT.OK;
}

export async function runCheck(c: CommandEnv, ctx: Context, s: OpenedSource, selection: Selection): Promise<number> {
  const { checkRestore } = await import('../app/restore-check.ts');
  const findings = await checkRestore({ source: s.entries, info: s.info, selection, liveRoot: ctx.config.SYSTEM_ROOT_PREFIX, facts: ctx.facts, runner: ctx.runner });
  const blocks = findings.filter((f) => f.level === 'block').length;
  if (c.out.json) c.out.emit({ source: s.info, findings, blocks });
  else {
    const p = c.out.paint;
    for (const f of findings) c.out.out(`${(f.level === 'ok' ? p.green : f.level === 'warn' ? p.yellow : p.red)(f.level.padEnd(5))} ${f.check.padEnd(11)} ${f.message}`);
    c.out.out(blocks ? `${blocks} blocking finding(s)` : 'no blocking findings');
  }
  return blocks > 0 ? EXIT.PARTIAL : EXIT.OK;
}

function renderPlan(c: CommandEnv, plan: PlannedPath[]): void {
  const p = c.out.paint;
  const color: Record<string, (s: string) => string> = { create: p.green, replace: p.yellow, chmod: p.cyan, chown: p.cyan, remove: p.red, staged: p.dim, unchanged: p.dim };
  for (const x of plan) {
    if (x.action === 'unchanged' && !c.out.verbose) continue;
    c.out.out(`${color[x.action]!(x.action.padEnd(9))} /${x.path}${x.detail ? p.dim(`  (${x.detail})`) : ''}`);
  }
}

const planJson = (plan: PlannedPath[]) => plan.map((x) => ({ path: `/${x.path}`, action: x.action, ...(x.detail ? { detail: x.detail } : {}) }));

export async function runApply(c: CommandEnv, ctx: Context, s: OpenedSource, selection: Selection): Promise<number> {
  const { applyRestore } = await import('../app/restore-apply.ts');
  const { acquireLock } = await import('../app/lock.ts');
  const dryRun = c.values['dry-run'] === true;
  const lock = dryRun ? undefined : acquireLock({ dir: ctx.config.LOCK_PATH });
  let r;
  try {
    r = await applyRestore({
      source: s.entries,
      sourceLabel: s.info.label,
      sourceHost: s.info.hostname,
      sourceRole: s.info.role,
      selection,
      liveRoot: ctx.config.SYSTEM_ROOT_PREFIX,
      backupPath: ctx.config.BACKUP_PATH,
      hostname: ctx.facts.hostname,
      role: ctx.facts.role,
      now: ctx.clock.now(),
      dryRun,
      force: c.values.force === true,
      pmxcfsDb: c.values['pmxcfs-db'] === true,
      runner: ctx.runner,
    });
  } finally {
    lock?.release();
  }
  const counts = new Map<string, number>();
  for (const x of r.plan) counts.set(x.action, (counts.get(x.action) ?? 0) + 1);
  const summary = [...counts].map(([a, n]) => `${a}=${n}`).join(' ');
  if (c.out.json) c.out.emit({ source: s.info, dry_run: r.dryRun, rollback_file: r.rollbackFile, staging_dir: r.stagingDir || null, staged: r.staged.map((x) => `/${x}`), paths: planJson(r.plan), next_steps: r.nextSteps });
  else {
    renderPlan(c, r.plan);
    c.out.out(`${r.dryRun ? 'dry run, nothing written' : 'applied'}: ${summary || 'nothing to do'}`);
    if (r.rollbackFile) c.out.out(`rollback file: ${r.rollbackFile}  (undo: proxsave restore --rollback ${r.rollbackFile})`);
    for (const l of r.nextSteps) c.out.out(l);
  }
  return EXIT.OK;
}

export async function runRollback(c: CommandEnv, file: string): Promise<number> {
  if (c.args.length > 0 || c.values.apply || c.values.to || c.values.rev || c.values.target) throw new ProxsaveError('USAGE', 'restore --rollback FILE takes no source and no other mode (only --dry-run)');
  const { rollback } = await import('../app/restore-rollback.ts');
  const { config } = c.loadConfig();
  const { acquireLock } = await import('../app/lock.ts');
  const dryRun = c.values['dry-run'] === true;
  const lock = dryRun ? undefined : acquireLock({ dir: config.LOCK_PATH });
  let r;
  try {
    r = await rollback({ file, dryRun });
  } finally {
    lock?.release();
  }
  if (c.out.json) c.out.emit({ rollback_file: file, root: r.root, dry_run: r.dryRun, paths: planJson(r.plan) });
  else {
    renderPlan(c, r.plan);
    c.out.out(`${r.dryRun ? 'dry run, nothing written' : 'rolled back'}: ${r.plan.length} paths under ${r.root} to their state before the apply of ${r.source} (${r.createdAt})`);
  }
  return EXIT.OK;
}

// `proxsave snapshot`: plan every task, compare with the repository, commit
// when a non-volatile path changed. A failed critical task means no commit.
import type { TaskStatus } from '../modules/types.ts';
import { takeSnapshot, type Change } from '../snapshot/take-snapshot.ts';
import type { Context } from './context.ts';
import { VERSION } from './context.ts';
import { planTasks, type Selection } from './plan-tasks.ts';

export interface TaskOutcome {
  name: string;
  status: TaskStatus;
  reason?: string;
  critical: boolean;
  warnings: string[];
  durationMs: number;
}

export interface Recap {
  ok: number;
  changed: number;
  skipped: number;
  failed: number;
}

export interface SnapshotReport {
  commit: string | null;
  parent: string | null;
  recap: Recap;
  tasks: TaskOutcome[];
  changes: Change[];
  /** Critical tasks that failed: nothing was committed. */
  criticalFailures: string[];
  volatileOnly: boolean;
  warnings: string[];
  files: number;
  filesRead: number;
  bytesRead: number;
  check: boolean;
}

export interface SnapshotOptions {
  check?: boolean;
  /** Keep new content of changes for --diff. */
  keepContent?: boolean;
  selection?: Selection;
  message?: string;
  signal?: AbortSignal;
  /** The caller holds the run lock (see takeSnapshot). */
  locked?: boolean;
}

export async function snapshot(ctx: Context, { check = false, keepContent = false, selection = {}, message, signal, locked = false }: SnapshotOptions = {}): Promise<SnapshotReport> {
  const { plans, partial } = await planTasks(ctx, selection, signal);
  const criticalFailures = plans.filter((p) => p.status === 'failed' && 'critical' in p.task.def && p.task.def.critical).map((p) => p.task.name);
  const warnings = plans.flatMap((p) => p.warnings.map((w) => `${p.task.name}: ${w}`));
  const f = ctx.facts;
  const result = await takeSnapshot({
    dir: ctx.config.SNAPSHOT_PATH,
    plans: plans.filter((p) => p.status !== 'skipped'),
    // A failed critical task must not produce a commit: plan, report, write nothing.
    check: check || criticalFailures.length > 0,
    keepContent,
    locked,
    ...(partial ? { ranTasks: new Set(plans.filter((p) => p.status !== 'skipped').map((p) => p.task.name)) } : {}),
    commit: {
      ...(message ? { message } : {}),
      author: { name: 'proxsave', email: `proxsave@${f.fqdn ?? f.hostname}` },
      timestamp: Math.floor(ctx.clock.now().getTime() / 1000),
      trailers: {
        'Proxsave-Host': f.hostname,
        'Proxsave-Version': VERSION,
        'Proxsave-Role': f.role,
        'Proxsave-Cluster': String(f.clustered),
        ...(f.pve_version ? { 'Proxsave-PVE-Version': f.pve_version } : {}),
        ...(f.pbs_version ? { 'Proxsave-PBS-Version': f.pbs_version } : {}),
      },
    },
    onProgress: (done, total) => ctx.reporter.progress('snapshot', done, total, 'items'),
  });
  warnings.push(...result.warnings);
  const tasks: TaskOutcome[] = plans.map((p) => {
    const critical = 'critical' in p.task.def && p.task.def.critical === true;
    // Errors found while reading (after planning) can fail a task late.
    const status: TaskStatus = p.status === 'planned' ? (result.changedTasks.has(p.task.name) ? 'changed' : 'ok') : p.status;
    return { name: p.task.name, status, ...(p.reason ? { reason: p.reason } : {}), critical, warnings: p.warnings, durationMs: Math.round(p.durationMs) };
  });
  const recap: Recap = { ok: 0, changed: 0, skipped: 0, failed: 0 };
  for (const t of tasks) {
    if (t.status === 'ok' || t.status === 'changed') recap.ok++;
    if (t.status === 'changed') recap.changed++;
    if (t.status === 'skipped') recap.skipped++;
    if (t.status === 'failed') recap.failed++;
  }
  return {
    commit: result.commit ?? null,
    parent: result.parent ?? null,
    recap,
    tasks,
    changes: result.changes,
    criticalFailures,
    volatileOnly: result.volatileOnly,
    warnings,
    files: result.files,
    filesRead: result.filesRead,
    bytesRead: result.bytesRead,
    check,
  };
}

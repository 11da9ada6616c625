// `proxsave snapshot`: plan every task, compare with the repository, commit
// when a non-volatile path changed. A failed critical task, a lost role or
// --check means the diff alone (checkSnapshot): nothing is written.
import type { TaskStatus } from '../modules/types.ts';
import { checkSnapshot, takeSnapshot } from '../snapshot/take-snapshot.ts';
import type { Change, EmptiedTask } from '../snapshot/diff.ts';
import { taskVerdict } from '../snapshot/task-status.ts';
import type { Context } from './context.ts';
import { VERSION } from './version.ts';
import { planTasks, type Selection } from './plan-tasks.ts';
import { failTasksUnder, mountProblems, roleOfCommit } from './host-guard.ts';
import { readCommit } from '../git/commit.ts';
import { readHead, isRepo } from '../git/refs.ts';

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
  /**
   * Why the snapshot was refused (nothing committed): a shrink beyond
   * SNAPSHOT_MAX_DELETE_PERCENT or a role lost. Undefined when not refused.
   */
  refused: string | undefined;
  /** Tracked files the snapshot would delete, and how many were tracked. */
  deleted: number;
  tracked: number;
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
  /** --allow-deletions: commit even a large shrink or a role change to unknown. */
  allowDeletions?: boolean;
  /** Told how many entries (files, directories, links, outputs) the tasks planned, before any is read. */
  onPlanned?: (entries: number) => void;
}

export async function snapshot(ctx: Context, { check = false, keepContent = false, selection = {}, message, signal, locked = false, allowDeletions = false, onPlanned }: SnapshotOptions = {}): Promise<SnapshotReport> {
  const { plans: planned, partial } = await planTasks(ctx, selection, signal);
  // pmxcfs not mounted (or a PBS config directory gone): the tasks reading
  // there fail as critical, whatever --allow-deletions says.
  const { plans, failed: unmounted } = failTasksUnder(planned, mountProblems(ctx));
  const criticalFailures = plans.filter((p) => p.status === 'failed' && (unmounted.includes(p.task.name) || ('critical' in p.task.def && p.task.def.critical))).map((p) => p.task.name);
  const warnings = plans.flatMap((p) => p.warnings.map((w) => `${p.task.name}: ${w}`));
  const f = ctx.facts;
  const dir = ctx.config.SNAPSHOT_PATH;
  let roleLost: string | undefined;
  if (!allowDeletions && f.role === 'unknown') {
    const head = isRepo(dir) ? readHead({ dir }) : undefined;
    const before = head ? roleOfCommit(await readCommit({ dir, oid: head })) : undefined;
    if (before && before !== 'unknown') roleLost = before;
  }
  const maxDeletePercent = allowDeletions ? undefined : ctx.config.SNAPSHOT_MAX_DELETE_PERCENT;
  const run = plans.filter((p) => p.status !== 'skipped');
  onPlanned?.(run.reduce((n, p) => n + p.entries.length, 0));
  const options = {
    dir,
    plans: run,
    keepContent,
    ...(maxDeletePercent === undefined ? {} : { maxDeletePercent }),
    ...(partial ? { ranTasks: new Set(run.map((p) => p.task.name)) } : {}),
    onProgress: (done: number, total: number) => ctx.reporter.progress('snapshot', done, total, 'items'),
  };
  // A failed critical task must not produce a commit: plan, report, write nothing.
  const result =
    check || criticalFailures.length > 0 || roleLost !== undefined
      ? await checkSnapshot(options)
      : await takeSnapshot({
          ...options,
          locked,
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
        });
  warnings.push(...result.warnings);
  const tasks: TaskOutcome[] = plans.map((p) => {
    const critical = unmounted.includes(p.task.name) || ('critical' in p.task.def && p.task.def.critical === true);
    const { status, reason } = taskVerdict(p, p.status === 'skipped' ? undefined : result);
    return { name: p.task.name, status, ...(reason === undefined ? {} : { reason }), critical, warnings: p.warnings, durationMs: Math.round(p.durationMs) };
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
    refused: refusal(ctx, result, roleLost),
    deleted: result.deleted,
    tracked: result.tracked,
  };
}

function refusal(ctx: Context, r: { deleted: number; tracked: number; emptied: readonly EmptiedTask[]; refusedDeletion: boolean }, roleLost: string | undefined): string | undefined {
  const share = r.tracked > 0 ? Math.round((r.deleted * 100) / r.tracked) : 0;
  const count = `${r.deleted} of ${r.tracked} tracked files (${share}%) would be deleted`;
  if (roleLost)
    return `refusing to commit: the detected role changed from ${roleLost} (newest snapshot) to unknown, no Proxmox package or binary under ${ctx.root.root}; ${count}. Nothing was committed. Is --root/SYSTEM_ROOT_PREFIX right? If the host really is no longer a Proxmox host, run again with --allow-deletions`;
  const pct = ctx.config.SNAPSHOT_MAX_DELETE_PERCENT;
  if (r.refusedDeletion && r.emptied.length > 0 && r.deleted * 100 <= pct * r.tracked) {
    const which = r.emptied.map((e) => `${e.task} (all ${e.files})`).join(', ');
    return `refusing to commit: ${count}, and ${r.emptied.length > 1 ? 'tasks' : 'task'} ${which} would keep none of ${r.emptied.length > 1 ? 'their' : 'its'} files. Nothing was committed. Check the host: is what it reads mounted and complete (/etc/pve served empty by pmxcfs means a damaged or new /var/lib/pve-cluster/config.db)? If the removal is intended, run again with --allow-deletions`;
  }
  if (r.refusedDeletion)
    return `refusing to commit: ${count}, more than SNAPSHOT_MAX_DELETE_PERCENT=${pct}%. Nothing was committed. Check the host (is /etc/pve mounted? is --root right?); if the removal is intended, run again with --allow-deletions`;
  return undefined;
}

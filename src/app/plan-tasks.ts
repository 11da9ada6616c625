// Runs the plan phase of every task: conditions and toggles first, then the
// module. Commands run concurrently (COMMAND_CONCURRENCY) while file tasks
// walk the host; results come back in task order.
import { planCommand } from '../modules/command.ts';
import { planFiles } from '../modules/files.ts';
import { planSqlite } from '../modules/sqlite.ts';
import { newPlan, type TaskPlan } from '../modules/types.ts';
import { evaluate, explain } from '../tasks/condition.ts';
import type { LoadedTask } from '../tasks/load-tasks.ts';
import { conditionValue, type Context } from './context.ts';

export interface Selection {
  tags?: string[];
  skipTags?: string[];
}

export const CUSTOM_TASK = 'custom backup paths';

/** Why a task will not run on this host, or undefined when it will. */
export function skipReason(ctx: Pick<Context, 'facts' | 'config'>, task: LoadedTask, sel: Selection = {}): string | undefined {
  const tags = task.def.tags;
  if (sel.tags && sel.tags.length > 0 && !tags.some((t) => sel.tags!.includes(t)) && !sel.tags.includes(task.name)) return 'not selected by --tags';
  if (sel.skipTags && tags.some((t) => sel.skipTags!.includes(t))) return 'excluded by --skip-tags';
  if (task.def.toggle && !conditionValue(ctx, task.def.toggle)) return `${task.def.toggle}=false`;
  if (task.when && !evaluate(task.when, (n) => conditionValue(ctx, n))) return `when: ${explain(task.def.when!, task.when, (n) => conditionValue(ctx, n))}`;
  return undefined;
}

/** The catalogue plus the built-in task for CUSTOM_BACKUP_PATHS. */
export function allTasks(ctx: Pick<Context, 'tasks' | 'config'>): LoadedTask[] {
  if (ctx.config.CUSTOM_BACKUP_PATHS.length === 0) return ctx.tasks;
  const custom: LoadedTask = {
    def: { name: CUSTOM_TASK, tags: ['custom', 'files'], secret: false, files: ctx.config.CUSTOM_BACKUP_PATHS.map((p) => (p.startsWith('/') ? p : '/' + p)), exclude: [], volatile: false },
    name: CUSTOM_TASK,
    module: 'files',
    file: 'CUSTOM_BACKUP_PATHS',
    line: 0,
    group: 'custom',
    when: undefined,
    dropLines: [],
    replace: [],
  };
  return [...ctx.tasks, custom];
}

export async function planTasks(ctx: Context, sel: Selection = {}, signal?: AbortSignal): Promise<{ plans: TaskPlan[]; partial: boolean }> {
  const tasks = allTasks(ctx);
  const plans: (TaskPlan | Promise<TaskPlan>)[] = [];
  const partial = Boolean(sel.tags?.length || sel.skipTags?.length);
  const limit = ctx.config.COMMAND_CONCURRENCY;
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((r) => queue.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
  let done = 0;
  const total = tasks.length;
  const tick = () => ctx.reporter.progress('collect', ++done, total, 'items');

  const excludes = [...ctx.config.BACKUP_EXCLUDE_PATTERNS, ...ownDirectories(ctx)];
  // Commands first, so they run while the file walks below keep the CPU busy.
  for (const task of tasks) {
    const reason = skipReason(ctx, task, sel);
    if (reason !== undefined) {
      const p = newPlan(task);
      p.status = 'skipped';
      p.reason = reason;
      plans.push(p);
      tick();
      continue;
    }
    if (task.module === 'command') {
      plans.push(
        slot(() => planCommand({ task, runner: ctx.runner, facts: ctx.facts, defaultTimeout: ctx.config.COMMAND_TIMEOUT, maxSize: ctx.config.MAX_FILE_SIZE, ...(signal ? { signal } : {}) })).finally(tick),
      );
    } else if (task.module === 'sqlite') {
      plans.push(slot(() => planSqlite({ task, root: ctx.root, accounts: ctx.accounts, defaultTimeout: ctx.config.COMMAND_TIMEOUT })).finally(tick));
    } else plans.push(undefined as never);
  }
  tasks.forEach((task, i) => {
    if (plans[i] === undefined) {
      plans[i] = planFiles({ task, root: ctx.root, accounts: ctx.accounts, globalExcludes: excludes, maxSize: ctx.config.MAX_FILE_SIZE });
      tick();
    }
  });
  return { plans: await Promise.all(plans), partial };
}

/**
 * proxsave's own repository, archives, logs and lock as host paths, so that
 * no files task (a CUSTOM_BACKUP_PATHS=/var/lib, say) ever collects them.
 */
export function ownDirectories(ctx: Pick<Context, 'config' | 'root'>): string[] {
  const { SNAPSHOT_PATH, BACKUP_PATH, LOG_PATH, LOCK_PATH, SECONDARY_PATH } = ctx.config;
  const root = ctx.root.root === '/' ? '' : ctx.root.root;
  const out: string[] = [];
  for (const real of [SNAPSHOT_PATH, BACKUP_PATH, LOG_PATH, LOCK_PATH, SECONDARY_PATH]) {
    if (real === '' || (root !== '' && !real.startsWith(root + '/'))) continue;
    const host = real.slice(root.length);
    out.push(host, `${host}/**`);
  }
  return out;
}

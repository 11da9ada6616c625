// The one place that decides a task's status after a snapshot: what its
// plan says (skipped, failed while planning) and what the diff found (files
// it could not read, changes).
import type { TaskPlan, TaskStatus } from '../modules/types.ts';
import type { SnapshotDiff } from './diff.ts';

export interface TaskVerdict {
  status: TaskStatus;
  reason?: string;
}

/** `diff` is undefined when the snapshot stage did not run for this plan. */
export function taskVerdict(plan: TaskPlan, diff: Pick<SnapshotDiff, 'changedTasks' | 'readErrors'> | undefined): TaskVerdict {
  const name = plan.task.name;
  const readError = diff?.readErrors.find((r) => r.task === name);
  const reason = plan.reason ?? readError?.message;
  const status: TaskStatus = plan.status !== 'planned' ? plan.status : readError ? 'failed' : diff?.changedTasks.has(name) ? 'changed' : 'ok';
  return { status, ...(reason === undefined ? {} : { reason }) };
}

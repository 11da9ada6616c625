// What modules produce: the wanted state of a set of snapshot paths. A module
// plans (reads the host, never writes); the snapshot stage compares the plan
// with the repository and applies only the difference.
import type { LoadedTask } from '../tasks/load-tasks.ts';

export type EntryType = 'f' | 'd' | 'l';

export interface Ownership {
  mode: number; // permission bits, 0o7777
  uid: number;
  gid: number;
  owner: string;
  group: string;
}

export interface Entry extends Ownership {
  /** Repository path: host path without the leading slash. */
  path: string;
  type: EntryType;
  /**
   * Host file to read lazily (files). `key` (size, mtime, ctime, inode,
   * device) decides, against the stat cache, whether to read it at all.
   */
  source?: { real: string; key: string };
  /** Generated content (command outputs, database copies). */
  content?: Buffer;
  /** Symlink target (name-bytes string form), stored as the link's blob. */
  target?: string;
  /** `dev:ino` of a host file or symlink with more than one link (files module); the snapshot links them (snapshot/diff.ts). */
  inode?: string;
  volatile: boolean;
  secret: boolean;
  task: string;
}

export type TaskStatus = 'ok' | 'changed' | 'skipped' | 'failed';

export interface TaskPlan {
  task: LoadedTask;
  /** 'planned' when planning went well; snapshot/task-status.ts decides the task's final status. */
  status: 'planned' | 'skipped' | 'failed';
  reason?: string;
  entries: Entry[];
  warnings: string[];
  /** Problems with single items that fail the task but keep what was read. */
  errors: string[];
  /** Paths the task wanted but could not read: their previous version is kept. */
  keep: string[];
  durationMs: number;
}

export function newPlan(task: LoadedTask): TaskPlan {
  return { task, status: 'planned', entries: [], warnings: [], errors: [], keep: [], durationMs: 0 };
}

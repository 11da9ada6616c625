// The sqlite module: an online, consistent copy of a live SQLite database
// (the pmxcfs store /var/lib/pve-cluster/config.db) through SQLite's backup
// API, checked with PRAGMA integrity_check. Never a raw copy of a live WAL
// database, which can be torn between the main file and its -wal.
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { errnoCode } from '../core/errors.ts';
import type { Accounts } from '../facts/accounts.ts';
import type { HostRoot } from '../ports/host-root.ts';
import type { LoadedTask } from '../tasks/load-tasks.ts';
import type { SqliteTask } from '../tasks/schema.ts';
import { newPlan, type TaskPlan } from './types.ts';
import { copyWithSqlite3, findSqlite3 } from './sqlite-cli.ts';

type BetterSqlite3 = typeof import('better-sqlite3');

async function loadBetterSqlite3(): Promise<BetterSqlite3 | undefined> {
  try {
    return (await import('better-sqlite3')).default;
  } catch {
    return undefined; // not installed (the packaged build ships no native module)
  }
}

export interface PlanSqliteOptions {
  task: LoadedTask;
  root: HostRoot;
  accounts: Accounts;
  /** Seconds the copy may take (COMMAND_TIMEOUT unless the task says). */
  defaultTimeout: number;
}

export async function planSqlite({ task, root, accounts, defaultTimeout }: PlanSqliteOptions): Promise<TaskPlan> {
  const started = performance.now();
  const plan = newPlan(task);
  const def = task.def as SqliteTask;
  const hostPath = posix.normalize(def.sqlite);
  const dest = (def.dest ?? hostPath).replace(/^\/+/, '');
  const fail = (reason: string) => {
    plan.status = 'failed';
    plan.reason = reason;
    plan.errors.push(reason);
    plan.keep.push(dest);
    plan.durationMs = performance.now() - started;
    return plan;
  };
  let st;
  try {
    st = lstatSync(root.real(hostPath));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      plan.status = 'skipped';
      plan.reason = `not present: ${hostPath}`;
      return plan;
    }
    return fail(`${hostPath}: cannot stat (${errnoCode(e) ?? (e as Error).message})`);
  }
  if (!st.isFile()) return fail(`${hostPath}: not a regular file`);

  // better-sqlite3 when it loads (twice the copies per second of the CLI under a busy
  // writer), else the sqlite3 CLI: the packaged build ships no native module.
  const Database = await loadBetterSqlite3();
  const sqlite3 = Database ? undefined : findSqlite3();
  if (!sqlite3 && !Database) return fail(`${hostPath}: neither the sqlite3 program nor the better-sqlite3 module is available (apt-get install sqlite3)`);
  const tmp = mkdtempSync(join(tmpdir(), 'proxsave-sqlite-'));
  const copy = join(tmp, 'copy.db');
  const timeoutMs = (def.timeout ?? defaultTimeout) * 1000;
  try {
    let verdict: string;
    if (sqlite3) verdict = await copyWithSqlite3({ sqlite3, src: root.real(hostPath), copy, timeoutMs });
    else {
      const src = new Database!(root.real(hostPath), { readonly: true, fileMustExist: true, timeout: Math.min(timeoutMs, 10_000) });
      try {
        const deadline = Date.now() + timeoutMs;
        await src.backup(copy, {
          // All remaining pages in one step: a stepwise copy restarts whenever
          // another process writes in between, which on a busy pmxcfs can be
          // forever. One step reads one consistent snapshot (WAL readers do not
          // block the writer), and config.db is small (pmxcfs caps it at 128 MiB).
          progress: () => {
            if (Date.now() > deadline) throw new Error(`backup took longer than ${timeoutMs / 1000}s`);
            return 0x7fffffff;
          },
        });
      } finally {
        src.close();
      }
      const check = new Database!(copy, { readonly: true });
      try {
        verdict = (check.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
      } finally {
        check.close();
      }
    }
    if (verdict !== 'ok') return fail(`${hostPath}: integrity_check failed on the copy: ${verdict.slice(0, 200)}`);
    plan.entries.push({
      path: dest,
      type: 'f',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      owner: accounts.user(st.uid),
      group: accounts.group(st.gid),
      content: readFileSync(copy),
      volatile: false,
      secret: def.secret === true,
      task: task.name,
    });
  } catch (e) {
    return fail(`${hostPath}: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  plan.durationMs = performance.now() - started;
  return plan;
}

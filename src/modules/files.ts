// The files module: collects host files, directories, symlinks and globs.
// It never follows a symlink (a link is stored as a link, so nothing outside
// the root is ever read and loops cannot happen) and skips FIFOs, sockets and
// devices with a warning. Reading content is left to the snapshot stage,
// which first asks its stat cache.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { errnoCode } from '../core/errors.ts';
import type { Accounts } from '../facts/accounts.ts';
import type { HostRoot } from '../ports/host-root.ts';
import type { FilesTask } from '../tasks/schema.ts';
import type { LoadedTask } from '../tasks/load-tasks.ts';
import { parseSize } from '../util/size.ts';
import { statKey } from '../util/stat-key.ts';
import { globBase, globToRegExp, hasGlob, matchesAny } from '../util/glob.ts';
import { decodeName, displayName, onPath } from '../util/name-bytes.ts';
import { readRegularFileSync } from '../util/read-regular.ts';
import { refusedName } from '../git/names.ts';
import { newPlan, type Entry, type TaskPlan } from './types.ts';

/**
 * The host file behind an entry: its stat key, and its real path made only
 * when the snapshot reads the file (most runs read few of them).
 */
class HostFile {
  constructor(private readonly root: HostRoot, private readonly hostPath: string, readonly key: string) {}
  get real(): string {
    return this.root.real(this.hostPath);
  }
}

export interface PlanFilesOptions {
  task: LoadedTask;
  root: HostRoot;
  accounts: Accounts;
  /** BACKUP_EXCLUDE_PATTERNS, applied on top of the task's own excludes. */
  globalExcludes: readonly string[];
  maxSize: number;
  /** Extra paths (CUSTOM_BACKUP_PATHS) for the built-in custom task. */
  paths?: readonly string[];
}

// Names are bytes (util/name-bytes): every fs call gets fsPath(), every
// name read from the host goes through decodeName().
const lstat = (real: string): Stats => onPath(real, (p) => lstatSync(p));

/**
 * pmxcfs' virtual status files: generated on every read, not configuration,
 * never stored in config.db (.debug is writable and toggles debug logging).
 * A task that lists them in `exclude:` skips them quietly; any other task
 * that reaches them skips them with a warning.
 */
const PMXCFS_VIRTUAL = new Set(['/etc/pve/.version', '/etc/pve/.members', '/etc/pve/.vmlist', '/etc/pve/.clusterlog', '/etc/pve/.rrd', '/etc/pve/.debug']);

const kindOf = (st: Stats): string =>
  st.isFIFO() ? 'FIFO' : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'character device' : st.isBlockDevice() ? 'block device' : 'special file';

export function planFiles({ task, root, accounts, globalExcludes, maxSize, paths }: PlanFilesOptions): TaskPlan {
  const started = performance.now();
  const plan = newPlan(task);
  const def = task.def as FilesTask;
  const excludes = [...def.exclude, ...globalExcludes];
  const secretGlobs = Array.isArray(def.secret) ? def.secret : [];
  const allSecret = def.secret === true;
  const limit = def.max_size === undefined ? maxSize : (parseSize(def.max_size) ?? maxSize);
  const seen = new Set<string>();
  const dirSeen = new Set<string>();

  const show = displayName;
  // Hard links: an inode seen twice (nlink > 1) carries its dev:ino, and the
  // snapshot stage links the group to its first path.
  const inodeOf = (st: Stats) => (st.nlink > 1 && !st.isDirectory() ? { inode: `${st.dev}:${st.ino}` } : {});
  const own = (st: Stats) => ({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, owner: accounts.user(st.uid), group: accounts.group(st.gid) });
  const isSecret = (hostPath: string) => allSecret || matchesAny(hostPath, secretGlobs);

  const addAncestors = (hostPath: string) => {
    let dir = posix.dirname(hostPath);
    while (dir !== '/' && !dirSeen.has(dir)) {
      dirSeen.add(dir);
      try {
        const st = lstat(root.real(dir));
        if (st.isDirectory()) plan.entries.push({ path: dir.slice(1), type: 'd', ...own(st), volatile: false, secret: false, task: task.name });
      } catch {
        /* an ancestor we cannot stat is recorded with defaults at export */
      }
      dir = posix.dirname(dir);
    }
  };

  const visit = (hostPath: string, st: Stats, filter: RegExp | undefined) => {
    if (seen.has(hostPath)) return;
    const name = posix.basename(hostPath);
    if (hostPath !== '/') {
      const kind = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'file';
      const why =
        hostPath === '/.proxsave'
          ? 'the snapshot keeps its own metadata under .proxsave/'
          : refusedName(name, kind, () => {
              try {
                return st.isFile() && st.size <= limit ? onPath(root.real(hostPath), readRegularFileSync) : undefined;
              } catch {
                return undefined;
              }
            });
      if (why !== undefined && !(hostPath !== '/' && matchesAny(hostPath, excludes))) {
        plan.warnings.push(`${show(hostPath)}: skipped, ${why}${kind === 'directory' ? ' (nothing below it is collected)' : ''}`);
        return;
      }
    }
    if (hostPath !== '/' && matchesAny(hostPath, excludes)) return;
    if (PMXCFS_VIRTUAL.has(hostPath)) {
      plan.warnings.push(`${hostPath}: skipped, a pmxcfs virtual status file (generated on every read, not configuration)`);
      return;
    }
    const matched = filter === undefined || filter.test(hostPath);
    const base = { volatile: def.volatile, secret: isSecret(hostPath), task: task.name };
    if (st.isDirectory()) {
      if (matched) {
        seen.add(hostPath);
        dirSeen.add(hostPath);
        if (hostPath !== '/') plan.entries.push({ path: hostPath.slice(1), type: 'd', ...own(st), ...base });
        addAncestors(hostPath);
      }
      let names: string[];
      try {
        names = onPath(root.real(hostPath), (p) => readdirSync(p, { encoding: 'buffer' })).map(decodeName).sort();
      } catch (e) {
        plan.errors.push(`${show(hostPath)}: cannot list directory (${errnoCode(e) ?? (e as Error).message})`);
        plan.keep.push(hostPath.slice(1) + '/');
        return;
      }
      for (const n of names) {
        // join() makes one flat string: a concatenation would keep a tree of
        // string pieces alive for every collected path.
        const child = hostPath === '/' ? '/' + n : [hostPath, n].join('/');
        let cst: Stats;
        try {
          cst = lstat(root.real(child));
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') continue; // vanished while walking
          plan.errors.push(`${show(child)}: cannot stat (${errnoCode(e) ?? (e as Error).message})`);
          plan.keep.push(child.slice(1));
          continue;
        }
        // Below a matched directory everything is collected.
        visit(child, cst, matched ? undefined : filter);
      }
      return;
    }
    if (!matched) return;
    seen.add(hostPath);
    if (st.isFile()) {
      if (st.size > limit) {
        plan.warnings.push(`${show(hostPath)}: skipped, ${st.size} bytes is over the size limit of ${limit} (MAX_FILE_SIZE; a version already in the snapshot is kept, none is added)`);
        plan.keep.push(hostPath.slice(1));
        return;
      }
      // One flat object per file, built without spreads (no out-of-object
      // property store); the real path is made only if the file is read.
      const e: Entry = { path: hostPath.slice(1), type: 'f', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, owner: accounts.user(st.uid), group: accounts.group(st.gid), source: new HostFile(root, hostPath, statKey(st)), volatile: base.volatile, secret: base.secret, task: base.task };
      if (st.nlink > 1) e.inode = `${st.dev}:${st.ino}`;
      plan.entries.push(e);
    } else if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = decodeName(onPath(root.real(hostPath), (p) => readlinkSync(p, { encoding: 'buffer' })));
      } catch (e) {
        plan.errors.push(`${show(hostPath)}: cannot read link (${errnoCode(e) ?? (e as Error).message})`);
        plan.keep.push(hostPath.slice(1));
        return;
      }
      plan.entries.push({ path: hostPath.slice(1), type: 'l', ...own(st), ...inodeOf(st), target, ...base });
    } else {
      plan.warnings.push(`${show(hostPath)}: skipped ${kindOf(st)} (not a file, directory or symlink)`);
      return;
    }
    addAncestors(hostPath);
  };

  // A start path below a symlink (/etc/x/y with /etc/x -> /elsewhere) would
  // be resolved by the kernel through the link: refuse it instead.
  const linkAbove = (hostPath: string): string | undefined => {
    let p = '';
    for (const part of posix.dirname(hostPath).split('/').filter(Boolean)) {
      p += '/' + part;
      try {
        if (lstat(root.real(p)).isSymbolicLink()) return p;
      } catch {
        return undefined; // missing: nothing below it to collect either
      }
    }
    return undefined;
  };

  for (const given of paths ?? def.files) {
    // `/opt/app/` is `/opt/app`: with the slash, lstat would follow a link
    // there and the entries would be named `opt/app//…`, which no git tree holds.
    const pattern = given.length > 1 ? given.replace(/\/+$/, '') || '/' : given;
    const glob = hasGlob(pattern);
    const start = glob ? globBase(pattern) : posix.normalize(pattern);
    const link = linkAbove(start);
    if (link) {
      plan.warnings.push(`${show(start)}: skipped, ${show(link)} is a symlink (links are stored, never followed)`);
      continue;
    }
    let st: Stats;
    try {
      st = lstat(root.real(start));
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // not on this host: nothing to collect
      plan.errors.push(`${show(start)}: cannot stat (${code ?? (e as Error).message})`);
      plan.keep.push(start.slice(1));
      continue;
    }
    visit(start, st, glob ? globToRegExp(pattern) : undefined);
  }
  if (plan.errors.length > 0) {
    plan.status = 'failed';
    plan.reason = plan.errors.length === 1 ? plan.errors[0]! : `${plan.errors.length} items unreadable, first: ${plan.errors[0]}`;
  }
  plan.durationMs = performance.now() - started;
  return plan;
}

